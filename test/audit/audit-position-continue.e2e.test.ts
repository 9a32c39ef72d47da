// A device restored from a backup of its app data (its audit chain state older than what the server holds)
// appends again: its next entry lands on a chain position the server already holds for it. The server
// refuses it APPEND_ONLY and names where it holds the device's chain end; the device continues its chain
// after that end (the refused entry and the later ones re-signed there) instead of giving its entries up
// for good, and the patient's devices verify the log whole. Both for a provider's chain in a patient's log
// (which it cannot read) and for a patient device's chain in its own account's log (which it can).
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { addDevice, registerAccount, type TestAccount, type TestDevice } from '@hale/sync-server/testing';
import { openDeviceDb, type DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, waitOnline } from '../support/devices';

/** The ids of the device database's local documents (device metadata) the memory storage holds. */
const localIds = (dbName: string): string[] => {
  const out: string[] = [];
  for (const [key, state] of getRxStorageMemory().collectionStates) {
    if (!key.startsWith(`${dbName}--`) || !key.includes('plugin-local-documents')) continue;
    // Removed ones too (RxDB keeps them until cleanup): `getLocal` finds none under those.
    out.push(...state.documents.keys());
  }
  return out;
};

const isAuditMeta = (id: string): boolean => id.startsWith('meta-audit');

/** The device's audit metadata as its app-data backup would hold it: local document id → stored data. */
const backupAuditMeta = async (dbName: string, account: TestAccount): Promise<Map<string, unknown>> => {
  const db = await openDeviceDb({
    name: dbName,
    storage: getRxStorageMemory(),
    atRestKey: account.keys.localKey,
  });
  const out = new Map<string, unknown>();
  for (const id of localIds(dbName).filter(isAuditMeta)) {
    const doc = await db.getLocal<Record<string, unknown>>(id);
    if (doc) out.set(id, structuredClone(doc.toJSON().data));
  }
  await db.close();
  return out;
};

/** The device's audit metadata put back as `backup` held it (what was written since is gone). */
const restoreAuditMeta = async (
  dbName: string,
  account: TestAccount,
  backup: ReadonlyMap<string, unknown>,
): Promise<void> => {
  const db = await openDeviceDb({
    name: dbName,
    storage: getRxStorageMemory(),
    atRestKey: account.keys.localKey,
  });
  for (const id of localIds(dbName).filter(isAuditMeta)) {
    if (!backup.has(id)) await (await db.getLocal(id))?.remove();
  }
  for (const [id, data] of backup) await db.upsertLocal(id, data as Record<string, unknown>);
  await db.close();
};

/** Positions of `author`'s chain in the patient's log as `reader` (a patient device) is served it. */
const positionsOf = async (reader: DeviceSession, author: string): Promise<number[]> =>
  (await reader.audit.fetchAll(reader.account.accountId))
    .filter((e) => e.author === author)
    .map((e) => e.audit?.authorSeq ?? 0)
    .sort((a, b) => a - b);

describe('a device whose audit chain state was rolled back (restored from an app-data backup)', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const open = async (account: TestAccount, device: TestDevice, dbName: string): Promise<DeviceSession> => {
    const s = await openDevice(server.t, account, { device, dbName });
    sessions.push(s);
    await waitOnline(s);
    return s;
  };
  const close = async (s: DeviceSession): Promise<void> => {
    sessions.splice(sessions.indexOf(s), 1);
    await s.close();
  };

  it("a provider's chain in a patient's log continues after the server's end; nothing is given up", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    const dbName = `position-continue-${Date.now()}`;
    let d = await open(provider, provider.device, dbName);
    await grantRead(p, provider.accountId, 'allergy', 3600_000, 'follow-up');
    const author = provider.device.keys.deviceId;

    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(0);
    await close(d);
    const backup = await backupAuditMeta(dbName, provider);

    d = await open(provider, provider.device, dbName);
    for (const action of ['export', 'record-viewed']) await d.audit.append(patient.accountId, { action });
    await d.audit.flush();
    await eventually(async () => (await d.audit.pendingCount()) === 0, 'positions 2 and 3 stored');
    expect(await positionsOf(p, author)).toEqual([1, 2, 3]);
    expect((await p.audit.verify()).ok).toBe(true);
    await close(d);

    // Restored from the backup: its chain for the patient is at position 1 again.
    await restoreAuditMeta(dbName, provider, backup);
    d = await open(provider, provider.device, dbName);
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.append(patient.accountId, { action: 'export' });
    await d.audit.flush();
    await eventually(async () => (await d.audit.pendingCount()) === 0, 'the outbox drains');
    const about = (kind: string) => d.audit.issues().filter((i) => i.startsWith(kind));
    console.log(`provider issues: ${d.audit.issues().join(' | ')}`);
    const served = await positionsOf(p, author);
    console.log(`provider's chain in the patient's log: ${served.join(',')}`);
    expect(about('AUDIT_GIVEN_UP')).toEqual([]);
    expect(served).toEqual([1, 2, 3, 4, 5]);
    const v = await p.audit.verify();
    expect(v.problems).toEqual([]);

    // Later entries go on from there.
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.flush();
    expect(await positionsOf(p, author)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await p.audit.verify()).problems).toEqual([]);
  }, 60_000);

  it("a patient device's chain in its own log continues after the served end it verified", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    const qDevice = await addDevice(t, patient);
    const dbName = `position-continue-own-${Date.now()}`;
    let q = await open(patient, qDevice, dbName);
    const author = qDevice.keys.deviceId;
    await q.audit.append(patient.accountId, { action: 'export', count: 0 });
    await q.audit.flush();
    await eventually(async () => (await q.audit.pendingCount()) === 0, "q's first entries stored");
    await close(q);
    const backup = await backupAuditMeta(dbName, patient);
    const atBackup = (await positionsOf(p, author)).length;

    q = await open(patient, qDevice, dbName);
    await q.audit.append(patient.accountId, { action: 'export', count: 1 });
    await q.audit.flush();
    await eventually(async () => (await q.audit.pendingCount()) === 0, "q's later entries stored");
    const beforeRollback = await positionsOf(p, author);
    expect(beforeRollback.length).toBeGreaterThan(atBackup);
    expect((await p.audit.verify()).ok).toBe(true);
    await close(q);

    await restoreAuditMeta(dbName, patient, backup);
    q = await open(patient, qDevice, dbName);
    await q.audit.append(patient.accountId, { action: 'export', count: 2 });
    await q.audit.flush();
    await eventually(async () => (await q.audit.pendingCount()) === 0, 'the outbox drains');
    console.log(`q issues: ${q.audit.issues().join(' | ')}`);
    const served = await positionsOf(p, author);
    console.log(`q's chain: ${beforeRollback.join(',')} before the rollback, ${served.join(',')} after`);
    expect(q.audit.issues().filter((i) => i.startsWith('AUDIT_GIVEN_UP'))).toEqual([]);
    expect(served).toEqual(served.map((_, i) => i + 1));
    expect(served.length).toBeGreaterThan(beforeRollback.length);
    expect((await p.audit.verify()).problems).toEqual([]);
    expect((await q.audit.verify()).problems).toEqual([]);
  }, 60_000);
});
