// Seal once, step 5: RxDB's replication-meta copy (`docData`) of a record kept as a stream version refers
// to that version's bytes (`m1.` form, bound by a keyed hash) instead of being sealed under the at-rest key.
// Every test that attempts a forbidden thing reads through a fresh wrapper (nothing remembered), so the
// refusal comes from the checks, not from a memory miss.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  fillWithDefaultSettings,
  getRxReplicationMetaInstanceSchema,
  type RxDocumentData,
  type RxStorage,
  type RxStorageInstance,
} from 'rxdb';
import { randomBytes, useSecretbox } from '@hale/crypto';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { RECORDS_SCHEMA, type DeviceRecord } from './device-db';
import { createStreamSealing, type StreamSealer } from './stream-sealing';
import { parseStreamValue } from './stream-versions';
import { parseMetaStreamValue } from './stream-meta';
import {
  expectAtRest,
  flipAt,
  naclLowLevel,
  openInstance,
  rawGet,
  rawReplace,
  rawSchemaOf,
  type Raw,
} from './at-rest.test-util';
import { createStreamSealer } from '../sync/stream-sealer';
import { patientDeps, record } from '../sync/codec-fixture.test-util';

type Doc = RxDocumentData<DeviceRecord>;
type DocData = Omit<Doc, '_rev' | '_meta' | '_attachments'>;
interface MetaDoc {
  id: string;
  isCheckpoint: '0' | '1';
  itemId: string;
  docData?: unknown;
  isResolvedConflict?: string;
}
const SCHEMA = fillWithDefaultSettings(RECORDS_SCHEMA);
const META_SCHEMA = getRxReplicationMetaInstanceSchema(SCHEMA, true);
const META = 'rx-replication-meta-test';
const memory = getRxStorageMemory() as RxStorage<unknown, unknown>;
const key = randomBytes(32);
const id1 = record().id;
const id2 = '01J00000000000000000000002';
let dbN = 0;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const i of open.splice(0)) await i.close().catch(() => undefined);
});
// Seals are counted on tweetnacl's low-level box (libsodium's, once installed, would not call it).
beforeEach(() => useSecretbox(null));

const sealerFor = (): StreamSealer =>
  createStreamSealer({ codec: patientDeps, keyring: patientDeps.keyring });

/** A wrapper over the shared memory storage of `db` (records and meta instances), seal once attached. */
const wrapped = async (db: string, sealer: StreamSealer | null = sealerFor()) => {
  const sealing = createStreamSealing();
  if (sealer !== null) sealing.attach(sealer);
  const storage = wrapWithAtRestEncryption<unknown, unknown>({
    storage: memory,
    key,
    streamSealing: { collection: 'records', sealing },
  });
  const records = await openInstance<DeviceRecord>(storage, db, SCHEMA, 'records');
  const metas = await openInstance<MetaDoc>(storage, db, META_SCHEMA, META);
  open.push(records, metas);
  return { records, metas, sealing };
};
const raw = async (db: string) => {
  const records = await openInstance<Raw>(memory, db, rawSchemaOf(SCHEMA), 'records');
  const metas = await openInstance<Raw>(memory, db, rawSchemaOf(META_SCHEMA), META);
  open.push(records, metas);
  return { records, metas };
};
const fresh = () => `seal-once-meta-${++dbN}-${Date.now()}`;

const docOf = (over: Partial<DeviceRecord> & { _rev?: string } = {}): Doc => {
  const { _deleted, ...plain } = record(over);
  return {
    ...plain,
    _deleted,
    _rev: over._rev ?? '1-aaaa',
    _meta: { lwt: 1_700_000_000_000 },
    _attachments: {},
  };
};
/** What RxDB copies into the meta document: the record's state without its bookkeeping (same objects). */
const docDataOf = (doc: Doc): DocData => {
  const { _rev, _meta, _attachments, ...docData } = doc;
  return docData;
};
const metaOf = (docData: unknown, itemId: string, rev = '1-m', previous?: RxDocumentData<MetaDoc>) => ({
  previous,
  document: {
    id: `${itemId}|0`,
    isCheckpoint: '0' as const,
    itemId,
    docData,
    _rev: rev,
    _deleted: false,
    _attachments: {},
    _meta: { lwt: 1_700_000_000_001 },
  } as RxDocumentData<MetaDoc>,
});

const write = async <T>(
  instance: RxStorageInstance<T, unknown, unknown>,
  rows: Array<{ document: RxDocumentData<T>; previous?: RxDocumentData<T> | undefined }>,
) => {
  const result = await instance.bulkWrite(
    rows.map(({ document, previous }) => (previous === undefined ? { document } : { document, previous })),
    'test',
  );
  expect(result.error).toEqual([]);
};
const readMeta = async (metas: RxStorageInstance<MetaDoc, unknown, unknown>, itemId: string) => {
  const [found] = await metas.findDocumentsById([`${itemId}|0`], true);
  return found;
};

/** Writes records 1 and 2 sealed once and their meta copies; answers what was written. */
const setup = async (db: string) => {
  const w = await wrapped(db);
  const docs = [docOf(), docOf({ id: id2 })];
  await write(
    w.records,
    docs.map((document) => ({ document })),
  );
  await write(
    w.metas,
    docs.map((d) => metaOf(docDataOf(d), d.id)),
  );
  return { ...w, docs };
};

describe('seal once: replication-meta copies refer to the stored version', () => {
  it('stores the copy as the same ciphertext and a binding, seals nothing, reads back through a fresh wrapper', async () => {
    const db = fresh();
    const { records, metas } = await wrapped(db);
    const doc = docOf();
    await write(records, [{ document: doc }]);
    const docData = docDataOf(doc);
    const seals = vi.spyOn(naclLowLevel, 'crypto_secretbox');
    try {
      await write(metas, [metaOf(docData, doc.id)]);
      // No seal under the at-rest key (the whole copy was sealed before step 5), none under a stream key.
      expect(seals).not.toHaveBeenCalled();
    } finally {
      seals.mockRestore();
    }
    const r = await raw(db);
    const stored = String((await rawGet(r.metas, `${doc.id}|0`))['docData']);
    expect(stored).toMatch(/^m1\.0\./);
    const parsed = parseMetaStreamValue(stored)!;
    // The very bytes the records row holds: the same ct, tag and epoch; no at-rest envelope beside them.
    const row = parseStreamValue(String((await rawGet(r.records, doc.id))['data']))!;
    expect(parsed.version).toMatchObject({ ct: row.ct, rev: row.rev, epoch: row.epoch });
    expect(parsed.version.lb).not.toBe(row.lb);
    expect(stored).not.toContain('v1.');
    expect(stored).not.toContain('peanut');
    expect(JSON.parse(parsed.clear)).toEqual({ ...docData, data: undefined, conflictData: undefined });
    // Nothing remembered: the copy opens through the stream key's checks, equal to what RxDB wrote.
    const again = await wrapped(db);
    expect((await readMeta(again.metas, doc.id))?.docData).toStrictEqual(docData);
    // The same wrapper answers the very object it was given (no open).
    expect((await readMeta(metas, doc.id))?.docData).toBe(docData);
  });

  it('keeps the copy readable once the record moved on (the assumed master state before a push)', async () => {
    const db = fresh();
    const { records, docs } = await setup(db);
    const [before] = await records.findDocumentsById([id1], true);
    const next = {
      ...docOf({ rv: 2, updatedAt: '2026-02-01T00:00:00.000Z', data: { note: 'edited' } }),
      _rev: '2-bbbb',
    };
    await write(records, [{ previous: before!, document: next }]);
    expect(String((await rawGet((await raw(db)).records, id1))['data'])).toMatch(/^s1\./);
    const again = await wrapped(db);
    const copy = (await readMeta(again.metas, id1))?.docData as DocData;
    expect(copy).toStrictEqual(docDataOf(docs[0]!));
    expect(copy.rv).toBe(1);
  });

  it('keeps a copy of a pulled version by reference to the received bytes', async () => {
    const db = fresh();
    const { records, metas, sealing } = await wrapped(db);
    const [wire] = await sealerFor().seal([{ ...record(), _deleted: false }]);
    const doc = docOf();
    const state = docDataOf(doc);
    sealing.noteReceived(state, wire!);
    await write(records, [{ document: doc }]);
    await write(metas, [metaOf(state, doc.id)]);
    const stored = String((await rawGet((await raw(db)).metas, `${doc.id}|0`))['docData']);
    expect(parseMetaStreamValue(stored)?.version.ct).toBe(wire!.ct);
    expect((await readMeta((await wrapped(db)).metas, doc.id))?.docData).toStrictEqual(state);
  });

  it('leaves every other copy to the at-rest path', async () => {
    const db = fresh();
    const { records, metas } = await wrapped(db);
    const doc = docOf();
    await write(records, [{ document: doc }]);
    const docData = docDataOf(doc);
    const storedAs = async (copy: unknown, itemId = doc.id) => {
      const [held] = await metas.findDocumentsById([`${itemId}|0`], true);
      await write(metas, [metaOf(copy, itemId, held ? `${Number(held._rev[0]) + 1}-m` : '1-m', held)]);
      return String((await rawGet((await raw(db)).metas, `${itemId}|0`))['docData']);
    };
    // A copy of the content, a clear field that differs, a copy filed under another record: not that version.
    expect(await storedAs({ ...docData, data: { ...docData.data } })).toMatch(/^(v1|r1:)/);
    for (const change of [{ kind: 'Medication' }, { rv: 2 }, { author: 'x' }, { conflictData: {} }])
      expect(await storedAs({ ...docData, ...change })).toMatch(/^(v1|r1:)/);
    expect(await storedAs(docData, id2)).toMatch(/^(v1|r1:)/);
    // A member other than a scalar (JSON might not give it back as written).
    expect(await storedAs({ ...docData, extra: { at: 0 } })).toMatch(/^(v1|r1:)/);
    expect(await storedAs(docData)).toMatch(/^m1\./);
    // Its stream rotated since (the version re-sealed at push under the new epoch): not kept under epoch 0.
    const rotated = fresh();
    const w = await wrapped(rotated, { ...sealerFor(), isCurrent: () => false });
    const d = docOf();
    await write(w.records, [{ document: d }]);
    await write(w.metas, [metaOf(docDataOf(d), d.id)]);
    const r = await raw(rotated);
    expect(String((await rawGet(r.records, d.id))['data'])).toMatch(/^s1\./);
    expect(String((await rawGet(r.metas, `${d.id}|0`))['docData'])).toMatch(/^(v1|r1:)/);
    // Without a sealer (seal once off, or locked): as before.
    const off = fresh();
    const o = await wrapped(off, null);
    const e = docOf();
    await write(o.records, [{ document: e }]);
    await write(o.metas, [metaOf(docDataOf(e), e.id)]);
    expect(String((await rawGet((await raw(off)).metas, `${e.id}|0`))['docData'])).toMatch(/^(v1|r1:)/);
  });

  it('refuses a flipped byte, a rewritten clear member, a moved copy, a replayed older copy, a forged binding', async () => {
    const db = fresh();
    const { docs } = await setup(db);
    const r = await raw(db);
    const m1 = String((await rawGet(r.metas, `${id1}|0`))['docData']);
    const m2 = String((await rawGet(r.metas, `${id2}|0`))['docData']);
    const reread = async (itemId: string) => readMeta((await wrapped(db)).metas, itemId);
    const restore = () => rawReplace(r.metas, `${id1}|0`, { docData: m1 });
    expect((await reread(id1))?.docData).toStrictEqual(docDataOf(docs[0]!));

    // One byte of ct flipped.
    const { version, clear } = parseMetaStreamValue(m1)!;
    await rawReplace(r.metas, `${id1}|0`, { docData: m1.replace(version.ct, flipAt(version.ct, 40)) });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    // A clear member of the copy rewritten (kind, author account, tombstone, an unsealed one: author device).
    for (const change of [
      { kind: 'Medication' },
      { by: 'someone-else' },
      { _deleted: true },
      { author: 'x' },
    ]) {
      const rewritten = JSON.stringify({ ...JSON.parse(clear), ...change });
      await rawReplace(r.metas, `${id1}|0`, { docData: m1.replace(clear, rewritten) });
      await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    }
    // A clear field of the meta document itself rewritten (a resolved conflict's mark).
    await rawReplace(r.metas, `${id1}|0`, { docData: m1, isResolvedConflict: '9-zzzz' });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    await rawReplace(r.metas, `${id1}|0`, (d) => {
      const rest: Raw = { ...d };
      delete rest['isResolvedConflict'];
      return { ...(rest as typeof d), docData: m1 };
    });
    expect((await reread(id1))?.docData).toStrictEqual(docDataOf(docs[0]!));
    // Another record's meta copy moved in; the records row's own stored version moved in.
    await rawReplace(r.metas, `${id1}|0`, { docData: m2 });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    await rawReplace(r.metas, `${id1}|0`, { docData: (await rawGet(r.records, id1))['data'] });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'MALFORMED');
    await restore();

    // An older copy replayed: the meta document moved on to rv 2, its rv 1 copy put back.
    const w = await wrapped(db);
    const [before] = await w.records.findDocumentsById([id1], true);
    const next = { ...docOf({ rv: 2, updatedAt: '2026-02-01T00:00:00.000Z' }), _rev: '2-bbbb' };
    await write(w.records, [{ previous: before!, document: next }]);
    const held = await readMeta(w.metas, id1);
    await write(w.metas, [metaOf(docDataOf(next), id1, '2-m', held)]);
    expect(String((await rawGet(r.metas, `${id1}|0`))['docData'])).toMatch(/^m1\./);
    expect(((await reread(id1))?.docData as DocData).rv).toBe(2);
    await rawReplace(r.metas, `${id1}|0`, { docData: m1 });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');

    // Rebound by someone without the at-rest key.
    await rawReplace(r.metas, `${id1}|0`, { docData: m1.replace(version.lb, flipAt(version.lb, 5)) });
    await expectAtRest(reread(id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
  });

  it('answers from memory only the exact stored string at the exact document', async () => {
    const db = fresh();
    const { metas, docs } = await setup(db);
    const r = await raw(db);
    // Both copies remembered by this wrapper; each moved into the other's row is still refused.
    expect((await readMeta(metas, id2))?.docData).toStrictEqual(docDataOf(docs[1]!));
    await rawReplace(r.metas, `${id1}|0`, { docData: (await rawGet(r.metas, `${id2}|0`))['docData'] });
    await expectAtRest(readMeta(metas, id1), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
  });

  it('holds no plaintext once locked: the copy is not read without the stream key', async () => {
    const db = fresh();
    const { metas, sealing, docs } = await setup(db);
    expect((await readMeta(metas, id1))?.docData).toStrictEqual(docDataOf(docs[0]!));
    sealing.forget();
    await expectAtRest(readMeta(metas, id1), 'AT_REST_DECRYPT_FAILED', 'MISSING');
  });
});
