// Replication checkpoints in RxDB's meta instance (at-rest-encryption.ts): the pull position (per stream)
// and the push position are where the next pull and push start, so one rewritten on disk would make the
// device skip records the server serves, or never push its own edits, with nothing failing.
import { describe, expect, it } from 'vitest';
import { fillWithDefaultSettings, getRxReplicationMetaInstanceSchema, now } from 'rxdb';
import type { RxDocumentData, RxJsonSchema, RxStorage } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { expectAtRest, openInstance, rawGet, rawReplace, rawSchemaOf, type Raw } from './at-rest.test-util';

interface Doc {
  id: string;
  secret: { note: string };
}
const SCHEMA: RxJsonSchema<RxDocumentData<Doc>> = fillWithDefaultSettings<Doc>({
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 40 }, secret: { type: 'object' } },
  required: ['id', 'secret'],
  encrypted: ['secret'],
});
const META_SCHEMA = getRxReplicationMetaInstanceSchema(SCHEMA, true);

interface CheckpointDoc {
  id: string;
  isCheckpoint: '0' | '1';
  itemId: string;
  checkpointData?: unknown;
  docData?: unknown;
}
const KEY = new Uint8Array(32).fill(7);
let dbCounter = 0;

/** A checkpoint document as RxDB's `setCheckpoint` writes it. */
const checkpoint = (direction: 'UP' | 'DOWN', data: unknown, rev = '1-c'): RxDocumentData<CheckpointDoc> => ({
  id: `${direction}|1`,
  isCheckpoint: '1',
  itemId: direction,
  checkpointData: data,
  _rev: rev,
  _deleted: false,
  _attachments: {},
  _meta: { lwt: now() },
});

async function setup() {
  const dbName = `checkpoint${++dbCounter}`;
  const base = getRxStorageMemory();
  const wrap = () => wrapWithAtRestEncryption({ storage: base, key: KEY }) as RxStorage<unknown, unknown>;
  const metas = await openInstance<CheckpointDoc>(wrap(), dbName, META_SCHEMA, 'things-meta');
  const rawMetas = await openInstance<Raw>(base, dbName, rawSchemaOf(META_SCHEMA), 'things-meta');
  // A second wrapper over the same stored data remembers nothing: every read really opens.
  const cold = async () => openInstance<CheckpointDoc>(wrap(), dbName, META_SCHEMA, 'things-meta');
  return { metas, rawMetas, cold };
}

const DOWN = { s: { 'p/observations': 12, 'p/allergies': 3 } };
const UP = { id: '01HZZZZZZZ0000000000000001', lwt: 1_700_000_000_000 };

/** Writes the pull (DOWN) and push (UP) checkpoints through the wrapper. */
const writeBoth = async (metas: Awaited<ReturnType<typeof setup>>['metas']) => {
  const docs = [checkpoint('DOWN', DOWN), checkpoint('UP', UP)];
  expect(
    (
      await metas.bulkWrite(
        docs.map((document) => ({ document })),
        'test',
      )
    ).error,
  ).toEqual([]);
};

describe('replication checkpoints at rest', () => {
  it('reads back what was written, and keeps the positions off the disk', async () => {
    const { metas, rawMetas, cold } = await setup();
    await writeBoth(metas);
    const read = await (await cold()).findDocumentsById(['DOWN|1', 'UP|1'], false);
    expect(read.map((d) => d.checkpointData)).toEqual([DOWN, UP]);
    expect(JSON.stringify(await rawGet(rawMetas, 'DOWN|1'))).not.toContain('p/observations');
  });

  it('never answers a position rewritten on disk: a forged pull position would skip records', async () => {
    const { metas, rawMetas, cold } = await setup();
    expect((await metas.bulkWrite([{ document: checkpoint('DOWN', DOWN) }], 'test')).error).toEqual([]);
    // Far ahead of what the server has served: every later record of the stream would be skipped.
    const forged = { s: { 'p/observations': 1_000_000_000, 'p/allergies': 3 } };
    await rawReplace(rawMetas, 'DOWN|1', { checkpointData: forged });
    const [read] = await (await cold()).findDocumentsById(['DOWN|1'], false);
    // Stored in clear (as before checkpoints were sealed): no position at all, so RxDB starts over.
    expect(read?.checkpointData).toBeUndefined();
  });

  it('takes the next position over one stored in clear (a store written before checkpoints were sealed)', async () => {
    const { metas, rawMetas, cold } = await setup();
    const legacy = { ...checkpoint('DOWN', DOWN), checkpointData: DOWN };
    expect((await rawMetas.bulkWrite([{ document: legacy }], 'test')).error).toEqual([]);
    const [previous] = await metas.findDocumentsById(['DOWN|1'], false);
    expect(previous).toBeDefined();
    expect(previous?.checkpointData).toBeUndefined();
    const next = { s: { 'p/observations': 2 } };
    const document = checkpoint('DOWN', next, '2-c');
    expect((await metas.bulkWrite([{ previous: previous!, document }], 'test')).error).toEqual([]);
    const [read] = await (await cold()).findDocumentsById(['DOWN|1'], false);
    expect(read?.checkpointData).toEqual(next);
    expect(typeof (await rawGet(rawMetas, 'DOWN|1'))['checkpointData']).toBe('string');
  });

  it('refuses a sealed position moved to the other direction', async () => {
    const { metas, rawMetas, cold } = await setup();
    await writeBoth(metas);
    const up = (await rawGet(rawMetas, 'UP|1'))['checkpointData'];
    await rawReplace(rawMetas, 'DOWN|1', { checkpointData: up });
    await expectAtRest(
      (await cold()).findDocumentsById(['DOWN|1'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
    );
  });
});
