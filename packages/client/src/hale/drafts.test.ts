// session.drafts over a real device store (RxDB on fake IndexedDB, sealed at rest): kept across a reopen
// with the same at-rest key, nothing of the typing readable on disk, unreadable under another key, refusals
// of bad input, the oldest dropped past the limit, every call refused once the session ended.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { addRxPlugin, type DexieSettings, type RxStorage } from 'rxdb';
import { RxDBDevModePlugin, disableWarnings } from 'rxdb/plugins/dev-mode';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { closeDeviceDb, openDeviceDb, type DeviceDb } from '../store/device-db';
import { dumpIndexedDb } from '../store/indexeddb-dump.test-util';
import { isHaleError } from '../core/hale-error';
import { createDrafts, MAX_DRAFTS } from './drafts';

const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(8);
const TYPED = 'Itchy rash after amoxicillin';
let counter = 0;
const uniqueName = () => `hale-drafts-${Date.now().toString(36)}-${++counter}`;
const storage = (): RxStorage<unknown, unknown> =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

beforeAll(() => {
  disableWarnings();
  addRxPlugin(RxDBDevModePlugin);
});
const openDbs: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(openDbs.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
});
const open = async (name: string, key = KEY): Promise<DeviceDb> => {
  const db = await openDeviceDb({
    name,
    storage: storage(),
    atRestKey: key,
    validation: wrappedValidateAjvStorage,
  });
  openDbs.push(db);
  return db;
};
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    return isHaleError(e) ? e.code : String(e);
  }
  return 'resolved';
};

describe('session.drafts', () => {
  it('keeps a draft across a reopen, sealed: the typing is not on disk in clear', async () => {
    const name = uniqueName();
    const db = await open(name);
    let t = Date.parse('2025-03-01T10:00:00Z');
    const drafts = createDrafts({ db, assertOpen: () => undefined, now: () => t });
    await drafts.set('allergies:new', { substance: TYPED, active: true, count: 2, note: null });
    t += 1000;
    await drafts.set('medications:new', { name: 'Metformin' });
    expect(await drafts.list()).toEqual([
      { key: 'medications:new', at: '2025-03-01T10:00:01.000Z' },
      { key: 'allergies:new', at: '2025-03-01T10:00:00.000Z' },
    ]);
    await closeDeviceDb(db);
    const dump = await dumpIndexedDb(name);
    expect(dump).toContain('meta-app-drafts');
    expect(dump).not.toContain('amoxicillin');
    expect(dump).not.toContain('Metformin');

    const again = createDrafts({ db: await open(name), assertOpen: () => undefined });
    expect(await again.get('allergies:new')).toEqual({
      values: { substance: TYPED, active: true, count: 2, note: null },
      at: '2025-03-01T10:00:00.000Z',
    });
    await again.delete('allergies:new');
    expect(await again.get('allergies:new')).toBeNull();
    expect(await again.get('medications:new')).not.toBeNull();
    await again.clear();
    expect(await again.list()).toEqual([]);
  });

  it('under another at-rest key the store does not open', async () => {
    const name = uniqueName();
    const db = await open(name);
    await createDrafts({ db, assertOpen: () => undefined }).set('notes:new', { subjective: TYPED });
    await closeDeviceDb(db);
    // The store is bound to its key (at-rest-db-binding): under another it does not open at all.
    expect(await refusal(open(name, OTHER_KEY))).toBe('AT_REST_DECRYPT_FAILED');
  });

  it('refuses bad keys and values, drops the oldest past the limit, and refuses after lock', async () => {
    const db = await open(uniqueName());
    let t = 0;
    let ended = false;
    const drafts = createDrafts({
      db,
      now: () => (t += 1000),
      assertOpen: () => {
        if (ended) throw Object.assign(new Error('locked'), { code: 'LOCKED' });
      },
    });
    expect(await refusal(drafts.set('', { a: 'b' }))).toBe('INVALID_DRAFT');
    expect(await refusal(drafts.set('k', { a: { nested: true } } as never))).toBe('INVALID_DRAFT');
    expect(await refusal(drafts.set('k', { a: 'x'.repeat(300 * 1024) }))).toBe('INVALID_DRAFT');
    expect(await drafts.list()).toEqual([]);

    for (let i = 0; i <= MAX_DRAFTS; i++) await drafts.set(`form-${i}`, { n: i });
    const kept = await drafts.list();
    expect(kept).toHaveLength(MAX_DRAFTS);
    expect(kept.map((d) => d.key)).not.toContain('form-0');
    expect(await drafts.get(`form-${MAX_DRAFTS}`)).toMatchObject({ values: { n: MAX_DRAFTS } });

    ended = true;
    expect(await refusal(drafts.get('form-1'))).toContain('locked');
    expect(await refusal(drafts.set('form-1', { n: 1 }))).toContain('locked');
  });
});
