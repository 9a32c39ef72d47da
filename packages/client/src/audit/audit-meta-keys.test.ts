import { afterEach, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { Connection } from '../sync/connection';
import { createDeviceMeta } from '../store/device-meta';
import { closeDeviceDb, openDeviceDb, type DeviceDb } from '../store/device-db';
import { deviceMetaStore } from '../store/meta-store';
import { patientKeyName } from './audit-log';
import { auditLogOpener, wrappingDirectory } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const Any = Type.Unknown();
let counter = 0;
const opened: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
});

/** Everything the RxDB memory storage holds for `dbName` (its state is process-global). */
const dumpMemory = (dbName: string): string => {
  const out: unknown[] = [];
  for (const [collectionKey, state] of getRxStorageMemory().collectionStates) {
    if (collectionKey.startsWith(`${dbName}--`)) out.push(collectionKey, [...state.documents.values()]);
  }
  return JSON.stringify(out);
};

/**
 * A provider device's audit log over device metadata in a real device database (memory storage, sealed
 * at rest), and two patients it appends for. `failNextWrite` / `failNextRemove` make the store's next
 * such call fail once.
 */
const setup = async () => {
  const provider = deriveAccountKeys(generateRootSecret());
  const a = deriveAccountKeys(generateRootSecret());
  const b = deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const name = `hale-audit-meta-keys-${Date.now().toString(36)}-${++counter}`;
  const db = await openDeviceDb({ name, storage: getRxStorageMemory(), atRestKey: provider.localKey });
  opened.push(db);
  const store = deviceMetaStore(db);
  const fail = { write: null as string | null, remove: false };
  const meta = createDeviceMeta({
    ...store,
    async write(key, value) {
      if (key === fail.write) {
        fail.write = null;
        throw new Error(`write of ${key} lost`);
      }
      await store.write(key, value);
    },
    async remove(keys) {
      if (fail.remove) {
        fail.remove = false;
        throw new Error('removal failed');
      }
      await store.remove(keys);
    },
  });
  const open = auditLogOpener({
    keys: provider,
    device,
    ed: nodeEd25519,
    now: () => Date.parse('2026-01-01T00:00:00.000Z'),
    // Offline: appends go to the outbox only.
    connection: { status: () => 'offline' } as unknown as Connection,
    directory: wrappingDirectory([a, b]),
    meta,
  });
  const nameOf = (kind: 'audit-chain' | 'audit-seen' | 'audit-kept', id: string): string =>
    patientKeyName(provider.localKey, kind, id);
  /** Closes the database and answers everything it holds on "disk". */
  const disk = async (): Promise<string> => {
    await closeDeviceDb(db);
    return dumpMemory(name);
  };
  return {
    open,
    meta,
    store,
    nameOf,
    disk,
    own: provider.accountId,
    a: a.accountId,
    b: b.accountId,
    failNextWrite: (key: string) => void (fail.write = key),
    failNextRemove: () => void (fail.remove = true),
  };
};

describe("audit: per-patient device metadata an older build named by the patient's id", () => {
  it('is moved at the start, values unchanged (unread), and the old names are purged', async () => {
    const s = await setup();
    const chainA = { seq: 3, hash: 'h30A' };
    const keptA = { rows: [] };
    const chainB = { seq: 1, hash: 'h10A' };
    // What this build's schema refuses (a newer build's, say): moved as it is all the same.
    const seenB = { newer: { shape: true } };
    const seenOwn = { [s.own]: { seq: 2, hash: 'o2' } };
    await s.meta.set(`audit-chain/${s.a}`, chainA);
    await s.meta.set(`audit-kept/${s.a}`, keptA);
    await s.meta.set(`audit-chain/${s.b}`, chainB);
    await s.meta.set(`audit-seen/${s.b}`, seenB);
    await s.meta.set(`audit-seen/${s.own}`, seenOwn);
    await s.meta.set('audit-outbox', []);

    const log = s.open();
    await log.resumeNoted();
    expect(log.issues()).toEqual([]);
    expect((await s.store.list('audit-')).sort()).toEqual(
      [
        'audit-outbox',
        // Every old name moved: later starts list none.
        'audit-keys-renamed',
        s.nameOf('audit-chain', s.a),
        s.nameOf('audit-kept', s.a),
        s.nameOf('audit-chain', s.b),
        s.nameOf('audit-seen', s.b),
        s.nameOf('audit-seen', s.own),
      ].sort(),
    );
    expect(await s.meta.get(s.nameOf('audit-chain', s.a), Any)).toEqual(chainA);
    expect(await s.meta.get(s.nameOf('audit-kept', s.a), Any)).toEqual(keptA);
    expect(await s.meta.get(s.nameOf('audit-chain', s.b), Any)).toEqual(chainB);
    expect(await s.meta.get(s.nameOf('audit-seen', s.b), Any)).toEqual(seenB);
    expect(await s.meta.get(s.nameOf('audit-seen', s.own), Any)).toEqual(seenOwn);
    // The chains go on from where the older build left them.
    expect((await log.append(s.a, { action: 'note' })).audit).toMatchObject({
      authorSeq: 4,
      prevHash: 'h30A',
    });
    expect((await log.append(s.b, { action: 'note' })).audit).toMatchObject({
      authorSeq: 2,
      prevHash: 'h10A',
    });
    const disk = await s.disk();
    expect(disk).toContain(s.nameOf('audit-chain', s.a));
    expect(disk).not.toContain(s.a);
    expect(disk).not.toContain(s.b);
  });

  it("a patient's are moved at their first use when the start has not moved them", async () => {
    const s = await setup();
    await s.meta.set(`audit-chain/${s.a}`, { seq: 3, hash: 'h30A' });
    const log = s.open();
    expect((await log.append(s.a, { action: 'note' })).audit).toMatchObject({
      authorSeq: 4,
      prevHash: 'h30A',
    });
    expect(await s.store.list('audit-chain/')).toEqual([]);
    expect(await s.disk()).not.toContain(s.a);
  });

  it('both names (a crash between a move and the removal): the new one is kept, the old one removed', async () => {
    const s = await setup();
    await s.meta.set(`audit-chain/${s.a}`, { seq: 3, hash: 'h30A' });
    await s.meta.set(s.nameOf('audit-chain', s.a), { seq: 5, hash: 'h50A' });
    const log = s.open();
    await log.resumeNoted();
    expect(await s.store.list('audit-chain/')).toEqual([]);
    expect((await log.append(s.a, { action: 'note' })).audit).toMatchObject({
      authorSeq: 6,
      prevHash: 'h50A',
    });
  });

  it('a move that fails fails the append (no chain restarted at 1); the next append moves it and goes on', async () => {
    const s = await setup();
    await s.meta.set(`audit-chain/${s.a}`, { seq: 3, hash: 'h30A' });
    const log = s.open();
    s.failNextWrite(s.nameOf('audit-chain', s.a));
    await expect(log.append(s.a, { action: 'first' })).rejects.toThrow('lost');
    expect(await s.store.list('audit-chain/')).toEqual([`audit-chain/${s.a}`]);
    expect(await log.pendingCount()).toBe(0);
    expect((await log.append(s.a, { action: 'again' })).audit).toMatchObject({
      authorSeq: 4,
      prevHash: 'h30A',
    });
    expect(await s.store.list('audit-chain/')).toEqual([]);
  });

  it('a removal that fails is reported and done at the next start', async () => {
    const s = await setup();
    await s.meta.set(`audit-chain/${s.a}`, { seq: 3, hash: 'h30A' });
    await s.meta.set(`audit-kept/${s.a}`, { rows: [] });
    const first = s.open();
    s.failNextRemove();
    await first.resumeNoted();
    expect(first.issues()).toEqual([
      expect.stringMatching(/^AUDIT_KEYS_NOT_RENAMED: 2 audit metadata entries/),
    ]);
    // Moved all the same: the chain goes on.
    expect((await first.append(s.a, { action: 'note' })).audit).toMatchObject({ authorSeq: 4 });
    expect((await s.store.list('audit-')).filter((k) => k.includes('/'))).toHaveLength(2);

    const next = s.open();
    await next.resumeNoted();
    expect(next.issues()).toEqual([]);
    expect((await s.store.list('audit-')).filter((k) => k.includes('/'))).toEqual([]);
    // The old value did not overwrite what was appended since the move.
    expect((await next.append(s.a, { action: 'note' })).audit).toMatchObject({ authorSeq: 5 });
    expect(await s.disk()).not.toContain(s.a);
  });
});
