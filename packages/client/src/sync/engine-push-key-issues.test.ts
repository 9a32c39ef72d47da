import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, PushResult, ServedDoc } from '@hale/protocol';
import { randomBytes } from '@hale/crypto';
import {
  dataOf,
  keyringFor,
  patient,
  patientDevice,
  patientRoot,
  record,
  signedEnvelope,
} from './codec-fixture.test-util';
import {
  closeOpened,
  openTestDb,
  ownStreamConnection,
  patientEngine,
  until,
} from './scripted-server.test-util';

// A push row with no write key yet is reported per record (`NO_KEY`, "No key to write …; will retry"), and
// a push still behind a re-keying after its one re-send as `STALE_EPOCH`; RxDB sends the batch again. Both
// are failures of the push request: they leave `errors` once the write was stored (a push passed), so a
// device with nothing pending does not still say it waits for a key.

const STREAM = `${patient.accountId}/allergy`;
const ID = '01J5000000000000000000DDDD';
const AT = '2026-01-01T00:00:00.000Z';

/** A server holding STREAM at epoch 1 (owned by the device's account) that stores every push. */
const server = (staleFirst = 0) => {
  const docs = new Map<string, ServedDoc>();
  let head = 0;
  let stale = staleFirst;
  const connection = ownStreamConnection({
    stream: STREAM,
    epoch: 1,
    head: () => head,
    push: (frame) => {
      if (stale > 0) {
        stale--;
        const refused = frame.rows.map(({ doc }): PushResult => ({
          status: 'error',
          stream: doc.stream,
          id: doc.id,
          code: 'STALE_EPOCH',
          message: 'stream key epoch moved on',
        }));
        return { t: 'pushed', rid: 1, results: refused };
      }
      const results = frame.rows.map(({ doc }): PushResult => {
        const served = { ...doc, seq: ++head, at: AT };
        docs.set(doc.id, served);
        return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: served.seq };
      });
      return { t: 'pushed', rid: 1, results };
    },
  });
  return { docs, connection };
};

afterEach(closeOpened);

describe('NO_KEY and STALE_EPOCH issues of a push', () => {
  it('leaves errors once the key came and the write was stored', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const raw = new Map<string, unknown>();
    const db = await openTestDb(`engine-push-key-issues-nokey-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection: s.connection,
      replicationId: 'engine-push-key-issues-nokey',
      raw,
      keyring: keyringFor(patient, patientRoot, patientDevice, arriving),
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');

    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    await until(
      () => engine.state().errors.some((e) => e.code === 'NO_KEY' && e.id === ID),
      'the write waits for its key',
    );
    expect(s.docs.has(ID)).toBe(false);

    // The key of epoch 1 arrives: the write goes out and the server stores it.
    arriving.push(await signedEnvelope(STREAM, 1, randomBytes(32), patient));
    await until(() => s.docs.has(ID) && engine.state().pendingWrites === 0, 'the write is stored');
    await new Promise((r) => setTimeout(r, 100));

    expect(engine.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
  });

  it('STALE_EPOCH: its "waiting for the current key" issue leaves errors once the write was stored', async () => {
    // The server refuses the first 2 pushes STALE_EPOCH (the first attempt and its one re-send), then
    // stores the batch RxDB sends again.
    const s = server(2);
    const raw = new Map<string, unknown>();
    const db = await openTestDb(`engine-push-key-issues-stale-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection: s.connection,
      replicationId: 'engine-push-key-issues-stale',
      raw,
      keyring: keyringFor(patient, patientRoot, patientDevice, [
        await signedEnvelope(STREAM, 1, randomBytes(32), patient),
      ]),
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');

    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    await until(() => engine.state().errors.some((e) => e.code === 'STALE_EPOCH'), 'the push refused');
    await until(() => s.docs.has(ID) && engine.state().pendingWrites === 0, 'the write is stored');
    await new Promise((r) => setTimeout(r, 100));

    expect(engine.state().errors.filter((e) => e.code === 'STALE_EPOCH')).toEqual([]);
  });
});
