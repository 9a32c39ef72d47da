// At-rest values are bound to their database: two device databases of one account share its at-rest key
// (and may hold the same collection, document id and revision), so a value copied from one into the other
// must not open there (CONTEXT_MISMATCH).
import { describe, expect, it } from 'vitest';
import { fillWithDefaultSettings, now } from 'rxdb';
import type { RxDocumentData, RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { expectAtRest, insertAll, openInstance, rawGet, rawSchemaOf, type Raw } from './at-rest.test-util';

interface Doc {
  id: string;
  tag: string;
  secret: { note: string };
}

const SCHEMA: RxJsonSchema<RxDocumentData<Doc>> = fillWithDefaultSettings<Doc>({
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 40 },
    tag: { type: 'string', maxLength: 40 },
    secret: { type: 'object' },
  },
  required: ['id', 'tag', 'secret'],
  encrypted: ['secret'],
});
const RAW_SCHEMA = rawSchemaOf(SCHEMA);

const MARKER = 'PLAINTEXT-MARKER-db-41a9';
let dbCounter = 0;

const doc = (id: string, note: string): RxDocumentData<Doc> => ({
  id,
  tag: 'clear-tag',
  secret: { note },
  _rev: '1-aaaa',
  _deleted: false,
  _attachments: {},
  _meta: { lwt: now() },
});

/** Two databases of one account (one at-rest key, one wrapper), each with its raw view. */
async function twoDatabases() {
  const base = getRxStorageMemory();
  const accountKey = new Uint8Array(32).fill(7);
  const storage = wrapWithAtRestEncryption({ storage: base, key: accountKey });
  const first = `db-binding-a${++dbCounter}`;
  const second = `db-binding-b${dbCounter}`;
  return {
    accountKey,
    first,
    instanceA: await openInstance<Doc>(storage, first, SCHEMA),
    rawA: await openInstance<Raw>(base, first, RAW_SCHEMA),
    instanceB: await openInstance<Doc>(storage, second, SCHEMA),
    rawB: await openInstance<Raw>(base, second, RAW_SCHEMA),
  };
}

describe('a value copied to another database of the same account', () => {
  it('does not open there: CONTEXT_MISMATCH, the copy in its own database still opens', async () => {
    const { instanceA, rawA, instanceB, rawB } = await twoDatabases();
    expect((await instanceA.bulkWrite([{ document: doc('a', MARKER) }], 'test')).error).toEqual([]);
    const copied = await rawGet(rawA, 'a');
    expect(typeof copied['secret']).toBe('string');
    expect((await insertAll(rawB, [copied])).error).toEqual([]);

    await expectAtRest(
      instanceB.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );
    expect((await instanceA.findDocumentsById(['a'], false))[0]?.secret).toEqual({ note: MARKER });
  });
});
