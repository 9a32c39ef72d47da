// A provider's device keeps the keys of the streams granted to it (sync/key-cache.ts): the next session
// holds them before it reaches the server, they lie on disk only sealed, and a rotation that shuts the
// provider out still takes effect (the new epoch is never answered from what was kept).
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { dumpIndexedDb } from '../../packages/client/src/store/indexeddb-dump.test-util';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

const persistentStorage = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

describe("a provider's kept stream keys", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('are held by the next session offline, sealed on disk, and do not outlive a rotation', async () => {
    const t = server.t;
    const storage = persistentStorage();
    const dbName = `kept-keys-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = `${patient.accountId}/allergy`;
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    const grant = await grantRead(p, provider.accountId, 'allergy', 24 * HOUR, 'treatment');
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(p);

    const d = await openDevice(t, provider, { storage, dbName });
    sessions.push(d);
    await waitOnline(d);
    await eventually(async () => (await d.records.get(before.id)) !== null, 'provider synced');
    const held = await d.keyring.keyFor(stream, 0);
    expect(held).not.toBeNull();
    // A copy: the close zeroes the keyring's.
    const key = base64urlEncode(held!);
    await d.close();
    sessions.splice(sessions.indexOf(d), 1);

    // On disk: the key only sealed (the stream's id is in clear anyway, on its records).
    const disk = await dumpIndexedDb(dbName);
    expect(disk).toContain('meta-stream-keys');
    expect(disk).not.toContain(key);

    // Offline, before any envelope could be fetched: the kept key.
    const offline = await openDevice(t, provider, { storage, dbName, offline: true });
    sessions.push(offline);
    expect(base64urlEncode((await offline.keyring.keyFor(stream, 0))!)).toBe(key);
    await offline.close();
    sessions.splice(sessions.indexOf(offline), 1);

    // Revoked: the stream rotates; what the patient writes after is under an epoch this device never gets.
    await p.consent.revoke(grant.grant.grantId);
    await eventually(() => p.keyring.currentEpoch(stream) >= 1, 'rotated');
    const after = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(p);
    const again = await openDevice(t, provider, { storage, dbName });
    sessions.push(again);
    await waitOnline(again);
    again.keyring.noteServerEpoch(stream, 1);
    expect(await again.keyring.keyFor(stream, 1)).toBeNull();
    expect(await again.records.get(after.id)).toBeNull();
  });
});
