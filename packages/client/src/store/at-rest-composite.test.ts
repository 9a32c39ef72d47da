// Replication-meta documents stored as composites: the copy of a replicated document refers to the
// records instance's own envelopes instead of sealing the same content again (at-rest-encryption.ts).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fillWithDefaultSettings, getRxReplicationMetaInstanceSchema, now } from 'rxdb';
import type { RxDocumentData, RxJsonSchema, RxStorage, RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { useSecretbox } from '@hale/crypto';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import {
  expectAtRest,
  flipAt,
  insertAll,
  naclLowLevel,
  openInstance,
  rawGet,
  rawReplace,
  rawSchemaOf,
  type Raw,
} from './at-rest.test-util';

interface Doc {
  id: string;
  tag: string;
  secret: { note: string };
  other: { note: string } | null;
}

const SCHEMA: RxJsonSchema<RxDocumentData<Doc>> = fillWithDefaultSettings<Doc>({
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 40 },
    tag: { type: 'string', maxLength: 40 },
    secret: { type: 'object' },
    other: { type: ['object', 'null'] },
  },
  required: ['id', 'tag', 'secret', 'other'],
  encrypted: ['secret', 'other'],
});
const META_SCHEMA = getRxReplicationMetaInstanceSchema(SCHEMA, true);

interface MetaDoc {
  id: string;
  isCheckpoint: '0' | '1';
  itemId: string;
  docData?: unknown;
}
const KEY = new Uint8Array(32).fill(7);
let dbCounter = 0;

const meta = (m: Omit<MetaDoc, 'id' | 'isCheckpoint'>, rev = '1-m'): RxDocumentData<MetaDoc> => ({
  id: `${m.itemId}|0`,
  isCheckpoint: '0',
  ...m,
  _rev: rev,
  _deleted: false,
  _attachments: {},
  _meta: { lwt: now() },
});

async function setup() {
  const dbName = `composite${++dbCounter}`;
  const base = getRxStorageMemory();
  const wrap = () => wrapWithAtRestEncryption({ storage: base, key: KEY }) as RxStorage<unknown, unknown>;
  const storage = wrap();
  const records = await openInstance<Doc>(storage, dbName, SCHEMA, 'things');
  const metas = await openInstance<MetaDoc>(storage, dbName, META_SCHEMA, 'things-meta');
  const rawRecords = await openInstance<Raw>(base, dbName, rawSchemaOf(SCHEMA), 'things');
  const rawMetas = await openInstance<Raw>(base, dbName, rawSchemaOf(META_SCHEMA), 'things-meta');
  // A second wrapper over the same stored data remembers nothing: every read really opens.
  const cold = async () => openInstance<MetaDoc>(wrap(), dbName, META_SCHEMA, 'things-meta');
  return { dbName, records, metas, rawRecords, rawMetas, cold };
}

/** Writes record `id` and answers the state RxDB would copy into the meta document (same objects). */
async function writeRecord(records: RxStorageInstance<Doc, unknown, unknown>, id: string, note: string) {
  const document: RxDocumentData<Doc> = {
    id,
    tag: 't',
    secret: { note },
    other: null,
    _rev: `1-${id}`,
    _deleted: false,
    _attachments: {},
    _meta: { lwt: now() },
  };
  expect((await records.bulkWrite([{ document }], 'test')).error).toEqual([]);
  const { _rev, _meta, _attachments, ...docData } = document;
  return docData;
}

// Seals are counted on tweetnacl's low-level box: a file before this one in the worker may have installed
// libsodium's (openHale on nodePlatform), which seals the same bytes without calling it.
beforeEach(() => useSecretbox(null));

describe('replication-meta composites', () => {
  it('stores a meta copy by reference to the record envelope, sealing only the rest', async () => {
    const { records, metas, rawRecords, rawMetas, cold } = await setup();
    const docData = await writeRecord(records, 'a', 'alpha');
    const seals = vi.spyOn(naclLowLevel, 'crypto_secretbox');
    try {
      expect((await metas.bulkWrite([{ document: meta({ itemId: 'a', docData }) }], 'test')).error).toEqual(
        [],
      );
      // One seal: the skeleton (clear members, the null `other`, the reference), not the content again.
      expect(seals).toHaveBeenCalledTimes(1);
    } finally {
      seals.mockRestore();
    }
    const stored = (await rawGet(rawMetas, 'a|0'))['docData'];
    const recordEnvelope = (await rawGet(rawRecords, 'a'))['secret'];
    expect(typeof stored).toBe('string');
    expect(String(stored).startsWith('r1:v1.')).toBe(true);
    expect(String(stored).endsWith(`:${String(recordEnvelope)}`)).toBe(true);
    expect(String(stored)).not.toContain('alpha');

    // Read back with nothing remembered: the same state, members in the same order.
    const [read] = await (await cold()).findDocumentsById(['a|0'], false);
    expect(read?.docData).toStrictEqual(docData);
    expect(Object.keys(read?.docData as object)).toEqual(Object.keys(docData));
    // And the copy outlives the record's next revision (the envelope it refers to is its own copy).
    const [current] = await records.findDocumentsById(['a'], false);
    if (!current) throw new Error('a missing');
    await records.bulkWrite(
      [{ previous: current, document: { ...current, secret: { note: 'x' }, _rev: '2-a' } }],
      't',
    );
    const [again] = await (await cold()).findDocumentsById(['a|0'], false);
    expect(again?.docData).toStrictEqual(docData);
  });

  it('seals a plain envelope when no member is a known envelope of the same document', async () => {
    const { records, metas, rawMetas } = await setup();
    const a = await writeRecord(records, 'a', 'alpha');
    // Fresh objects (nothing remembered for them), and a's content filed under document b.
    const docs = [
      meta({ itemId: 'c', docData: { ...a, id: 'c', secret: { note: 'gamma' } } }),
      meta({ itemId: 'b', docData: { ...a, id: 'b' } }),
    ];
    expect((await insertAll(metas, docs)).error).toEqual([]);
    for (const id of ['c|0', 'b|0']) expect(String((await rawGet(rawMetas, id))['docData'])).toMatch(/^v1\./);
    const read = await metas.findDocumentsById(['b|0', 'c|0'], false);
    expect(read.map((d) => d.docData)).toEqual([
      { ...a, id: 'b' },
      { ...a, id: 'c', secret: { note: 'gamma' } },
    ]);
  });

  it('refuses a referred envelope swapped, a composite moved, and a composite outside a meta instance', async () => {
    const { records, metas, rawRecords, rawMetas, cold } = await setup();
    const a = await writeRecord(records, 'a', 'alpha');
    const b = await writeRecord(records, 'b', 'beta');
    const writes = [meta({ itemId: 'a', docData: a }), meta({ itemId: 'b', docData: b })];
    expect(
      (
        await metas.bulkWrite(
          writes.map((document) => ({ document })),
          'test',
        )
      ).error,
    ).toEqual([]);
    const compositeA = String((await rawGet(rawMetas, 'a|0'))['docData']);
    const compositeB = String((await rawGet(rawMetas, 'b|0'))['docData']);
    const envelopeB = String((await rawGet(rawRecords, 'b'))['secret']);
    const ownA = compositeA.slice(0, compositeA.lastIndexOf(':'));

    // b's record envelope in place of a's: the nonce named inside a's sealed part differs.
    await rawReplace(rawMetas, 'a|0', { docData: `${ownA}:${envelopeB}` });
    await expectAtRest(
      (await cold()).findDocumentsById(['a|0'], false),
      'AT_REST_DECRYPT_FAILED',
      'MALFORMED',
    );
    // A referred envelope dropped.
    await rawReplace(rawMetas, 'a|0', { docData: ownA });
    await expectAtRest(
      (await cold()).findDocumentsById(['a|0'], false),
      'AT_REST_DECRYPT_FAILED',
      'MALFORMED',
    );
    // b's whole composite under a's meta document: its sealed part names another document.
    await rawReplace(rawMetas, 'a|0', { docData: compositeB });
    await expectAtRest(
      (await cold()).findDocumentsById(['a|0'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
    );
    // A composite where a record field belongs.
    await rawReplace(rawRecords, 'a', { secret: compositeA });
    await expectAtRest(records.findDocumentsById(['a'], false), 'AT_REST_DECRYPT_FAILED', 'MALFORMED');
  });

  it('refuses a meta document whose clear itemId was changed', async () => {
    const { records, metas, rawMetas, cold } = await setup();
    const a = await writeRecord(records, 'a', 'alpha');
    await writeRecord(records, 'b', 'beta');
    expect((await metas.bulkWrite([{ document: meta({ itemId: 'a', docData: a }) }], 'test')).error).toEqual(
      [],
    );
    // The referred envelope is then opened as b's: it names document a.
    await rawReplace(rawMetas, 'a|0', { itemId: 'b' });
    await expectAtRest(
      (await cold()).findDocumentsById(['a|0'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
    );
  });

  it('refuses a referred envelope that was tampered with', async () => {
    const { records, metas, rawMetas, cold } = await setup();
    const a = await writeRecord(records, 'a', 'alpha');
    expect((await metas.bulkWrite([{ document: meta({ itemId: 'a', docData: a }) }], 'test')).error).toEqual(
      [],
    );
    const composite = String((await rawGet(rawMetas, 'a|0'))['docData']);
    // Flip one character near the end (inside the referred envelope's ciphertext, past its nonce).
    await rawReplace(rawMetas, 'a|0', { docData: flipAt(composite, composite.length - 10) });
    await expectAtRest(
      (await cold()).findDocumentsById(['a|0'], false),
      'AT_REST_DECRYPT_FAILED',
      'AUTH_FAILED',
    );
  });
});

describe('replication-meta composites on disk', () => {
  it('refuses a composite stripped down to its own envelope (no r1: prefix, no referred envelope)', async () => {
    const { records, metas, rawMetas, cold } = await setup();
    const docData = await writeRecord(records, 'a', 'alpha');
    expect((await metas.bulkWrite([{ document: meta({ itemId: 'a', docData }) }], 'test')).error).toEqual([]);
    const composite = String((await rawGet(rawMetas, 'a|0'))['docData']);
    expect(composite.startsWith('r1:v1.')).toBe(true);
    // Someone who can write the disk keeps only the sealed skeleton, as a plain envelope: it would open as
    // { s: skeleton, refs } and stand for the replicated document.
    const own = composite.slice('r1:'.length).split(':')[0]!;
    await rawReplace(rawMetas, 'a|0', { docData: own });
    await expectAtRest((await cold()).findDocumentsById(['a|0'], false), 'AT_REST_DECRYPT_FAILED');
  });

  it('refuses a meta document whose copy was removed on disk (RxDB would read it as a state without content)', async () => {
    const { records, metas, rawMetas, cold } = await setup();
    const docData = await writeRecord(records, 'a', 'alpha');
    expect((await metas.bulkWrite([{ document: meta({ itemId: 'a', docData }) }], 'test')).error).toEqual([]);
    // RxDB's meta schema does not require `docData` (checkpoints have none); its replication and the
    // conflict handler then read members of an undefined copy, failing with a TypeError at every push.
    await rawReplace(rawMetas, 'a|0', (d) => {
      const { docData: _dropped, ...rest } = d;
      return rest;
    });
    await expectAtRest((await cold()).findDocumentsById(['a|0'], false), 'AT_REST_DECRYPT_FAILED', 'MISSING');
  });
});
