import { afterEach, describe, expect, it } from 'vitest';
import type { PushFrame, PushResult, ServedDoc, StreamAccess } from '@hale/protocol';
import type { Connection, RequestFrame } from './connection';
import { dataOf, patient, record } from './codec-fixture.test-util';
import { closeOpened, openTestDb, patientEngine, settled, until } from './scripted-server.test-util';

// `lastSyncedAt` is the last completed pull, push or live change. A push the server stored nothing of
// (every row refused STALE_EPOCH, the batch handed back to RxDB to send again) is none: while a write stays
// stuck that way, RxDB's retries must not make the device say it just synced.

const STREAM = `${patient.accountId}/allergy`;
const ID = '01J5000000000000000000CCCC';

/** A server holding STREAM (owned by the device's account) that refuses every pushed row STALE_EPOCH. */
const staleServer = () => {
  const pushes = { count: 0 };
  const connection = {
    version: (): number => 6,
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams') {
        const access = {
          stream: STREAM,
          patientId: patient.accountId,
          type: 'allergy',
          access: 'owner',
          head: 0,
          epoch: 0,
        };
        return { t: 'streams', rid: 1, streams: [access as StreamAccess] };
      }
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
      if (frame.t === 'push') {
        pushes.count++;
        const results = (frame as PushFrame).rows.map(({ doc }): PushResult => ({
          status: 'error',
          stream: doc.stream,
          id: doc.id,
          code: 'STALE_EPOCH',
          message: 'stream key epoch moved on',
        }));
        return { t: 'pushed', rid: 1, results };
      }
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      const docs: ServedDoc[] = [];
      return {
        t: 'pulled',
        rid: 1,
        docs,
        streams: frame.streams.map(({ stream, since }) => ({ stream, checkpoint: since, done: true })),
        denied: [],
      };
    },
  } as unknown as Connection;
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
