import { afterEach, describe, expect, it } from 'vitest';
import { SyncError } from './connection';
import { dataOf, patient, record } from './codec-fixture.test-util';
import {
  closeOpened,
  openTestDb,
  ownStreamConnection,
  patientEngine,
  until,
} from './scripted-server.test-util';

// `RATE_LIMITED`, `UNAVAILABLE`, `INTERNAL` (the server busy or failing) are retried with backoff. RxDB sends a failed push again after a constant `retryTime` (1 s), so the
// push handler waits the rest of a growing backoff before it hands the failure back: a failing server does
// not get the same push from every device once a second for as long as it fails. The waits here are the
// engine's (1 s retry, backoff doubling from 1 s) scaled down (QUICK).

const STREAM = `${patient.accountId}/allergy`;
/** The engine's retry and backoff, a quarter as long: five attempts at 0, 0.25, 0.75, 1.75 and 3.75 s. */
const QUICK = { retryMs: 250, baseMs: 250, maxMs: 15_000 };
/** Less than the five attempts take with the backoff (3.75 s); without it they take 1 s. */
const SLOWEST = 3_000;

/** Until five attempts are noted in `at` (or 15 s have passed). */
const attempts = async (at: readonly number[]): Promise<void> => {
  const end = Date.now() + 15_000;
  while (at.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(at.length).toBeGreaterThanOrEqual(5);
};
const ID = '01J5000000000000000000EEEE';

/** A server holding STREAM (owned) that answers every push `UNAVAILABLE`, noting when each came. */
const failingServer = () => {
  const pushedAt: number[] = [];
  const connection = ownStreamConnection({
    stream: STREAM,
    epoch: 0,
    push: () => {
      pushedAt.push(Date.now());
      // What connection.request throws for the server's `error` reply UNAVAILABLE.
      throw new SyncError('UNAVAILABLE', 'server busy', true);
    },
  });
  return { connection, pushedAt };
};

afterEach(closeOpened);

describe('retry of a push the server answers UNAVAILABLE', () => {
  it('backs off: the waits between attempts grow', { timeout: 20_000 }, async () => {
    const server = failingServer();
    const raw = new Map<string, unknown>();
    const db = await openTestDb(`engine-push-backoff-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection: server.connection,
      replicationId: 'engine-push-backoff',
      raw,
      busyRetry: QUICK,
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');

    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    await attempts(server.pushedAt);

    const waits = server.pushedAt.slice(1).map((t, i) => t - server.pushedAt[i]!);
    expect(engine.state().errors.map((e) => e.code)).toContain('UNAVAILABLE');
    // With any backoff, the last wait is well over the first, and the attempts took their time.
    expect(waits.at(-1)!, JSON.stringify(waits)).toBeGreaterThan(1.5 * waits[0]!);
    expect(server.pushedAt.at(-1)! - server.pushedAt[0]!, JSON.stringify(waits)).toBeGreaterThan(SLOWEST);
  });
});

describe('retry of a pull the server answers UNAVAILABLE', () => {
  it('backs off likewise: the waits between attempts grow', { timeout: 20_000 }, async () => {
    const pulledAt: number[] = [];
    const own = ownStreamConnection({ stream: STREAM, epoch: 0, push: () => ({}) });
    const connection = {
      ...own,
      request: (frame: { t: string }, ...rest: unknown[]) => {
        if (frame.t !== 'pull') return (own.request as (...a: unknown[]) => unknown)(frame, ...rest);
        pulledAt.push(Date.now());
        return Promise.reject(new SyncError('UNAVAILABLE', 'server busy', true));
      },
    } as typeof own;
    const db = await openTestDb(`engine-pull-backoff-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection,
      replicationId: 'engine-pull-backoff',
      raw: new Map(),
      busyRetry: QUICK,
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await attempts(pulledAt);

    const waits = pulledAt.slice(1).map((t, i) => t - pulledAt[i]!);
    expect(engine.state().errors.map((e) => e.code)).toContain('UNAVAILABLE');
    // Once a retry wait without a backoff: the five attempts within about a second.
    expect(pulledAt.at(-1)! - pulledAt[0]!, JSON.stringify(waits)).toBeGreaterThan(SLOWEST);
    expect(waits.at(-1)!, JSON.stringify(waits)).toBeGreaterThan(1.5 * waits[0]!);
  });
});

describe('a push backoff under way', () => {
  it('ends at a new connection: the server reached may be another', { timeout: 30_000 }, async () => {
    const pushedAt: number[] = [];
    let failing = true;
    const stored = new Set<string>();
    const connection = ownStreamConnection({
      stream: STREAM,
      epoch: 0,
      push: (frame) => {
        pushedAt.push(Date.now());
        if (failing) throw new SyncError('UNAVAILABLE', 'server restarting', true);
        for (const { doc } of frame.rows) stored.add(doc.id);
        return {
          t: 'pushed',
          rid: 1,
          results: frame.rows.map(({ doc }) => ({
            status: 'ok',
            stream: doc.stream,
            id: doc.id,
            rev: doc.rev,
            seq: 1,
          })),
        };
      },
    });
    const db = await openTestDb(`engine-push-backoff-wake-${Math.random().toString(36).slice(2)}`);
    const engine = patientEngine({
      db,
      connection,
      replicationId: 'engine-push-backoff-wake',
      raw: new Map(),
      // Half as long: four refusals in 3.5 s, the next send 4 s after the fourth.
      busyRetry: { retryMs: 500, baseMs: 500, maxMs: 30_000 },
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    // Four refusals: the next send would come some 4 s after the fourth.
    const end = Date.now() + 15_000;
    while (pushedAt.length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(pushedAt.length).toBe(4);

    failing = false;
    engine.onStatus('offline');
    engine.onStatus('ready');
    const reconnected = Date.now();
    await engine.onReady();
    await until(() => stored.has(ID), 'the push is sent again at the new connection');
    expect(Date.now() - reconnected).toBeLessThan(3_000);
  });
});
