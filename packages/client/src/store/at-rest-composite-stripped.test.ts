// A replication-meta composite (`r1:<own>:<referred>`) cut down on disk to its bare own envelope is refused.
import { describe, expect, it } from 'vitest';
import { fillWithDefaultSettings, getRxReplicationMetaInstanceSchema, now } from 'rxdb';
import type { RxDocumentData, RxJsonSchema, RxStorage, RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { expectAtRest, openInstance, rawGet, rawReplace, rawSchemaOf, type Raw } from './at-rest.test-util';

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

async function setup() {
  const dbName = `stripped${Math.random().toString(36).slice(2)}`;
  const base = getRxStorageMemory();
  const wrap = () => wrapWithAtRestEncryption({ storage: base, key: KEY }) as RxStorage<unknown, unknown>;
  const storage = wrap();
  const records = await openInstance<Doc>(storage, dbName, SCHEMA, 'things');
  const metas = await openInstance<MetaDoc>(storage, dbName, META_SCHEMA, 'things-meta');
  const rawMetas = await openInstance<Raw>(base, dbName, rawSchemaOf(META_SCHEMA), 'things-meta');
  const cold = async () => openInstance<MetaDoc>(wrap(), dbName, META_SCHEMA, 'things-meta');
  return { records, metas, rawMetas, cold };
}

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

describe('replication-meta composites on disk', () => {
  it('refuses a composite stripped down to its own envelope (no r1: prefix, no referred envelope)', async () => {
    const { records, metas, rawMetas, cold } = await setup();
    const docData = await writeRecord(records, 'a', 'alpha');
    const document: RxDocumentData<MetaDoc> = {
      id: 'a|0',
      isCheckpoint: '0',
      itemId: 'a',
      docData,
      _rev: '1-m',
      _deleted: false,
      _attachments: {},
      _meta: { lwt: now() },
    };
    expect((await metas.bulkWrite([{ document }], 'test')).error).toEqual([]);
    const composite = String((await rawGet(rawMetas, 'a|0'))['docData']);
    expect(composite.startsWith('r1:v1.')).toBe(true);
    // Someone who can write the disk keeps only the sealed skeleton, as a plain envelope.
    const own = composite.slice('r1:'.length).split(':')[0]!;
    await rawReplace(rawMetas, 'a|0', { docData: own });
    const read = (await cold()).findDocumentsById(['a|0'], false);
    // Expected: refused like any other tampering. Actual: it opens, as {s: skeleton, refs: [...]}.
    const outcome = await read.then(
      (docs) => ({ opened: docs[0]?.docData }),
      (e: unknown) => ({ refused: e }),
    );
    expect(outcome).not.toHaveProperty('opened');
    await expectAtRest(read, 'AT_REST_DECRYPT_FAILED');
  });
});
