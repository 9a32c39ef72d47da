import { afterEach, describe, expect, it } from 'vitest';
import type { PushResult } from '@hale/protocol';
import { dataOf, patient, record } from './codec-fixture.test-util';
import {
  closeOpened,
  openTestDb,
  ownStreamConnection,
  patientEngine,
  settled,
  until,
} from './scripted-server.test-util';

// `lastSyncedAt` is the last completed pull, push or live change. A push the server stored nothing of
// (every row refused STALE_EPOCH, the batch handed back to RxDB to send again) is none: while a write stays
// stuck that way, RxDB's retries must not make the device say it just synced.

const STREAM = `${patient.accountId}/allergy`;
const ID = '01J5000000000000000000CCCC';

/** A server holding STREAM (owned by the device's account) that refuses every pushed row STALE_EPOCH. */
const staleServer = () => {
  const pushes = { count: 0 };
  const connection = ownStreamConnection({
    stream: STREAM,
    epoch: 0,
    push: (frame) => {
      pushes.count++;
      const results = frame.rows.map(({ doc }): PushResult => ({
        status: 'error',
        stream: doc.stream,
        id: doc.id,
        code: 'STALE_EPOCH',
        message: 'stream key epoch moved on',
      }));
      return { t: 'pushed', rid: 1, results };
    },
  });
  return { connection, pushes };
};

afterEach(closeOpened);

describe('lastSyncedAt', () => {
  it('does not advance on a push the server stored nothing of (STALE_EPOCH, retried by RxDB)', async () => {
    const server = staleServer();
    const clock = { t: Date.parse('2026-03-01T10:00:00.000Z') };
    const raw = new Map<string, unknown>();
    const db = await openTestDb(`engine-last-synced-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection: server.connection,
      replicationId: 'engine-last-synced',
      raw,
      now: () => clock.t,
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    await settled(engine);
    const caughtUp = engine.state().lastSyncedAt;
    expect(caughtUp).toBe('2026-03-01T10:00:00.000Z');

    // An hour later a record is written; the server refuses its push (STALE_EPOCH) again and again.
    clock.t += 60 * 60_000;
    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    await until(() => engine.state().errors.some((e) => e.code === 'STALE_EPOCH'), 'the push refused');
    expect(server.pushes.count).toBeGreaterThan(0);
    expect(engine.state().pendingWrites).toBe(1);
    // Nothing was pulled, pushed or received live since the catch-up: it is still the last sync.
    expect(engine.state().lastSyncedAt).toBe(caughtUp);
  });
});
