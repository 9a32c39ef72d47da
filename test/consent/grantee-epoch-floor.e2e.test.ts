// A server (colluding with a revoked grantee) that, after a write-grantee's restart, reports a granted
// stream's older epoch and withholds the newer epoch's envelopes must not get the grantee to seal a write
// under the older epoch's key, which the revoked grantee holds: the grantee keeps the keys it opened (and
// the highest epoch it held) in its device meta, and writes under the epoch it held.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  grantWrite,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

const persistentStorage = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

interface SentDoc {
  stream: string;
  id: string;
  epoch: number;
}

describe("a write-grantee's epoch after a restart", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** Runs the scenario: the restarted session takes back the keys it kept. */
  const restartWithheld = async () => {
    const t = server.t;
    const storage = persistentStorage();
    const dbName = `grantee-floor-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const patient = await registerAccount(t);
    const writer = await registerAccount(t, 'provider');
    const ended = await registerAccount(t, 'provider');
    const stream = `${patient.accountId}/allergy`;
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    await p.consent.verifyProvider(writer.accountId);
    await grantWrite(p, writer.accountId, 'allergy', 24 * HOUR);
    const g = await grantRead(p, ended.accountId, 'allergy', 24 * HOUR, 'second opinion');
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(p);

    const w = await openDevice(t, writer, { storage, dbName });
    sessions.push(w);
    await waitOnline(w);
    await eventually(async () => (await w.records.get(before.id)) !== null, 'writer synced');
    expect((await p.consent.revoke(g.grant.grantId)).rotated).toEqual([{ stream, epoch: 1 }]);
    await eventually(async () => (await w.keyring.keyFor(stream, 1)) !== null, 'writer holds epoch 1');
    await w.close();
    sessions.splice(sessions.indexOf(w), 1);

    // The server now reports epoch 0 for the stream and serves no envelope of a later epoch.
    const hide = (text: string): string => {
      const f = JSON.parse(text) as Record<string, unknown>;
      if (f['t'] === 'streams' || f['t'] === 'accessChanged') {
        for (const s of (f['streams'] as Array<{ stream: string; epoch: number }> | undefined) ?? []) {
          if (s.stream === stream) s.epoch = 0;
        }
      }
      if (f['t'] === 'envelopes') {
        f['envelopes'] = (f['envelopes'] as Array<{ stream: string; epoch: number }>).filter(
          (e) => !(e.stream === stream && e.epoch > 0),
        );
      }
      return JSON.stringify(f);
    };
    const sent: SentDoc[] = [];
    const again = await openDevice(t, writer, {
      storage,
      dbName,
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => deliver(hide(text)),
        sent: (text, send) => {
          const f = JSON.parse(text) as { t: string; rows?: Array<{ doc: SentDoc }> };
          if (f.t === 'push') for (const row of f.rows ?? []) sent.push(row.doc);
          send(text);
        },
      }),
    });
    sessions.push(again);
    await waitOnline(again);
    const late = await again.records.add('Allergy', input('Allergy', { substance: 'Latex' }), {
      patientId: patient.accountId,
    });
    // Either it is refused a key (NO_KEY) or it sends the record (under the epoch it took).
    await eventually(
      () =>
        again.sync.state().errors.some((e) => e.code === 'NO_KEY' && e.stream === stream) ||
        sent.some((d) => d.id === late.id),
      'NO_KEY reported for the withheld stream, or the record sent',
    );
    // RxDB retries the push every second: give it a few tries.
    await new Promise((r) => setTimeout(r, 2500));
    return {
      epochs: sent.filter((d) => d.id === late.id).map((d) => d.epoch),
      current: again.keyring.currentEpoch(stream),
      pending: again.sync.state().pendingWrites > 0,
    };
  };

  it('with the keys it kept, writes under the epoch it held, never the older one', async () => {
    const r = await restartWithheld();
    expect(r.current).toBe(1);
    expect(r.epochs.length).toBeGreaterThan(0);
    expect(r.epochs.every((e) => e === 1)).toBe(true);
  });
});
