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

// docs/client-api.md, sync issue codes: "`RATE_LIMITED`, `UNAVAILABLE`, `INTERNAL` — the server is busy or
// failing — retried with backoff". RxDB sends a failed push again after a constant `retryTime` (1 s), so the
// push handler waits the rest of a growing backoff before it hands the failure back: a failing server does
// not get the same push from every device once a second for as long as it fails.

const STREAM = `${patient.accountId}/allergy`;
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
    });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');

    await db.records.insert(
      record({ id: ID, rv: 1, data: dataOf('Allergy', ID, patient.accountId, { substance: 'Latex' }) }),
    );
    engine.notePending(ID, 1);
    await new Promise((r) => setTimeout(r, 7_500));

    const waits = server.pushedAt.slice(1).map((t, i) => t - server.pushedAt[i]!);
    expect(engine.state().errors.map((e) => e.code)).toContain('UNAVAILABLE');
    // With any backoff, seven seconds of a failing server see a handful of attempts at most, the last
    // wait well over the first.
    expect(waits.length, JSON.stringify(waits)).toBeGreaterThanOrEqual(2);
    expect(waits.at(-1)!, JSON.stringify(waits)).toBeGreaterThan(1.5 * waits[0]!);
  });
});
