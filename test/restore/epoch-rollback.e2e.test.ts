// A server (colluding with a revoked grantee) that withholds the epoch minted by a revocation — reports the
// older epoch, drops the new envelopes and silently refuses every claim of a new one — must not get a
// patient device to write under the old epoch's key, which the revoked grantee holds: after a restart, or on
// another of the patient's devices, new records stay pending (NO_KEY) until the rotation is confirmed, then
// go out under the new epoch.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, openRecordVersion, unwrapKey } from '@hale/crypto';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

/** The server forgets every epoch after 0 of `stream` and silently ignores any envelope for one. */
const withholdNewEpochs = (t: TestServer, stream: string): void => {
  t.store.db.prepare('DELETE FROM envelopes WHERE stream = ? AND epoch > 0').run(stream);
  t.store.db.exec(
    `CREATE TRIGGER withhold_epochs BEFORE INSERT ON envelopes
     WHEN NEW.stream = '${stream}' AND NEW.epoch > 0 BEGIN SELECT RAISE(IGNORE); END`,
  );
};
const stopWithholding = (t: TestServer): void => {
  t.store.db.exec('DROP TRIGGER withhold_epochs');
};

const storedDoc = (t: TestServer, id: string) =>
  t.store.db.prepare('SELECT ct, epoch FROM docs WHERE id = ?').get(id) as
    { ct: Buffer; epoch: number } | undefined;

const noKeyIssue = (s: DeviceSession, stream: string): boolean =>
  s.sync.state().errors.some((e) => e.code === 'NO_KEY' && e.stream === stream);

const persistentStorage = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

describe('a server withholding the epoch minted by a revocation', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** Patient (persistent store) and a provider revoked after syncing; the rotation to epoch 1 completed. */
  const setup = async () => {
    const t = server.t;
    const storage = persistentStorage();
    const dbName = `epoch-rollback-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const patient = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { storage, dbName });
    const d = await openDevice(t, revoked);
    sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const grant = await grantRead(p, revoked.accountId, 'allergy', 24 * HOUR, 'treatment');
    await eventually(async () => (await d.records.get(before.id)) !== null, 'revoked provider synced');
    const stream = `${patient.accountId}/allergy`;
    const row = t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = 0')
      .get(stream, revoked.accountId) as { wrapped: string };
    const opened = unwrapKey(row.wrapped, deriveAccountKeys(revoked.root).wrapping, { stream, epoch: 0 });
    if (!opened.ok) throw new Error('cannot open the revoked provider envelope');
    expect((await p.consent.revoke(grant.grant.grantId)).pending).toEqual([]);
    expect(serverEpoch(t, stream)).toBe(1);
    return { t, storage, dbName, patient, p, stream, held: opened.value };
  };

  /** `writer` adds a record while the epoch is withheld: it must stay pending, never pushed under epoch 0. */
  const staysPending = async (t: TestServer, writer: DeviceSession, stream: string) => {
    const after = await writer.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await eventually(() => noKeyIssue(writer, stream), 'NO_KEY reported for the withheld stream');
    // RxDB retries the push every second: give it a few tries.
    await new Promise((r) => setTimeout(r, 2500));
    expect(storedDoc(t, after.id)).toBeUndefined();
    expect(writer.sync.state().pendingWrites).toBeGreaterThan(0);
    return after.id;
  };

  /** Once the server serves the new epoch again, the record goes out under it, closed to the old key. */
  const pushedUnderNewEpoch = async (
    s: Awaited<ReturnType<typeof setup>>,
    writer: DeviceSession,
    id: string,
  ) => {
    stopWithholding(s.t);
    writer.connection.drop();
    await eventually(() => writer.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(writer);
    await allPushed(writer, 'pending write pushed after the rotation was confirmed');
    const row = storedDoc(s.t, id)!;
    // The current epoch (a claim re-made after the withheld one may take the next number).
    expect(row.epoch).toBeGreaterThan(0);
    expect(row.epoch).toBe(serverEpoch(s.t, s.stream));
    const attempt = openRecordVersion(s.held, new Uint8Array(row.ct), {
      stream: s.stream,
      id,
      epoch: row.epoch,
      rev: 1,
    });
    expect(attempt.ok).toBe(false);
  };

  it('after a restart, the patient device does not write under the revoked epoch', async () => {
    const s = await setup();
    await s.p.close();
    sessions.splice(sessions.indexOf(s.p), 1);
    withholdNewEpochs(s.t, s.stream);

    const again = await openDevice(s.t, s.patient, { storage: s.storage, dbName: s.dbName });
    sessions.push(again);
    await waitOnline(again);
    // The re-keying on connect cannot be confirmed: the server drops the claim.
    await expect(again.consent.rotateExpired()).rejects.toMatchObject({ code: 'CLAIM_UNCONFIRMED' });
    const id = await staysPending(s.t, again, s.stream);
    await pushedUnderNewEpoch(s, again, id);
  });

  it("another of the patient's devices does not write under the revoked epoch", async () => {
    const s = await setup();
    withholdNewEpochs(s.t, s.stream);
    const b = await openDevice(s.t, s.patient, { device: await addDevice(s.t, s.patient) });
    sessions.push(b);
    await waitOnline(b);
    // Learns of the revocation from the server's signed grants; the re-keying cannot be confirmed.
    await expect(b.consent.rotateExpired()).rejects.toMatchObject({ code: 'CLAIM_UNCONFIRMED' });
    const id = await staysPending(s.t, b, s.stream);
    await pushedUnderNewEpoch(s, b, id);
  });
});
