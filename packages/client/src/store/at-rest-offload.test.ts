// At-rest cryptography on a real worker thread (`@hale/client/node`): the same envelopes, the same
// refusals, and a failed worker refuses writes instead of storing anything.
import { afterAll, describe, expect, it } from 'vitest';
import { fillWithDefaultSettings, normalizeMangoQuery, now, prepareQuery } from 'rxdb';
import type { RxDocumentData, RxJsonSchema, RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import { AtRestError, runAtRestJob, wrapWithAtRestEncryption } from './at-rest-encryption';
import { openInstance } from './at-rest.test-util';
import type { CryptoOffload } from '../offload/crypto-offload';

interface Doc {
  id: string;
  tag: string;
  secret: { note: string; n?: number };
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
  indexes: ['tag'],
});
const RAW_SCHEMA = {
  ...SCHEMA,
  encrypted: [],
  properties: { ...SCHEMA.properties, secret: { type: 'string' } },
};

const MARKER = 'OFFLOAD-PLAINTEXT-5d2e';
const key = new Uint8Array(32).fill(7);
let counter = 0;

const doc = (id: string, note: string, rev = '1-a'): RxDocumentData<Doc> => ({
  id,
  tag: 't',
  secret: { note },
  _rev: rev,
  _deleted: false,
  _attachments: {},
  _meta: { lwt: now() },
});

const open = openInstance;

const worker = createNodeCryptoOffload();
afterAll(() => worker.close());

/** Counts the batches an offload is given. */
const counting = (inner: CryptoOffload) => {
  const jobs: string[] = [];
  return {
    jobs,
    offload: {
      run: (job: Parameters<CryptoOffload['run']>[0]) => (
        jobs.push(`${job.op}:${job.items.length}`),
        inner.run(job)
      ),
    },
  };
};

async function setup() {
  const dbName = `offload${++counter}`;
  const base = getRxStorageMemory();
  // Each wrapper has its own memory of values, so a fresh one really opens what it reads.
  const wrapper = (offload?: CryptoOffload) =>
    open<Doc>(
      wrapWithAtRestEncryption({ storage: base, key, ...(offload ? { offload } : {}) }),
      dbName,
      SCHEMA,
    );
  const raw = await open<Record<string, unknown>>(base, dbName, RAW_SCHEMA as never);
  return { wrapper, raw };
}

const all = (instance: RxStorageInstance<Doc, unknown, unknown>) =>
  instance.query(prepareQuery(SCHEMA, normalizeMangoQuery(SCHEMA, { selector: {} })));

const failure = async (promise: Promise<unknown>): Promise<AtRestError> => {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AtRestError);
  return error as AtRestError;
};

describe('at-rest offload to a worker thread', () => {
  it('seals a bulk write in one batch on the worker; this thread opens the envelopes', async () => {
    const { jobs, offload } = counting(worker);
    const { wrapper, raw } = await setup();
    const writer = await wrapper(offload);
    const docs = Array.from({ length: 50 }, (_, i) => doc(`d${i}`, `${MARKER} ${i}`));
    expect(
      (
        await writer.bulkWrite(
          docs.map((document) => ({ document })),
          'test',
        )
      ).error,
    ).toEqual([]);
    expect(jobs).toEqual(['seal:50']);
    const stored = await raw.findDocumentsById(['d0', 'd49'], false);
    expect(JSON.stringify(stored)).not.toContain(MARKER);
    expect(stored.every((d) => String(d['secret']).startsWith('v1.'))).toBe(true);
    const back = await all(await wrapper());
    expect(back.documents.map((d) => d.secret.note).sort()).toEqual(docs.map((d) => d.secret.note).sort());
  });

  it('opens what this thread sealed in one batch on the worker', async () => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 30 }, (_, i) => doc(`e${i}`, `inline ${i}`));
    await (
      await wrapper()
    ).bulkWrite(
      docs.map((document) => ({ document })),
      'test',
    );
    const { jobs, offload } = counting(worker);
    const back = await all(await wrapper(offload));
    expect(jobs).toEqual(['open:30']);
    expect(back.documents.map((d) => d.secret.note).sort()).toEqual(docs.map((d) => d.secret.note).sort());
  });

  it('refuses tampered and moved envelopes opened on the worker', async () => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`f${i}`, `${MARKER} ${i}`));
    await (
      await wrapper()
    ).bulkWrite(
      docs.map((document) => ({ document })),
      'test',
    );
    const [f0, f1] = await raw.findDocumentsById(['f0', 'f1'], false);
    const envelope = String(f0!['secret']);
    const flipped = envelope.slice(0, 40) + (envelope[40] === 'A' ? 'B' : 'A') + envelope.slice(41);
    await raw.bulkWrite([{ previous: f0!, document: { ...f0!, secret: flipped } }], 'tamper');
    let error = await failure(all(await wrapper(worker)));
    expect(error.code).toBe('AT_REST_DECRYPT_FAILED');
    expect(error.details.reason).toBe('AUTH_FAILED');
    expect(error.message).not.toContain(MARKER);

    const [f0now] = await raw.findDocumentsById(['f0'], false);
    await raw.bulkWrite([{ previous: f0now!, document: { ...f0now!, secret: f1!['secret'] } }], 'move');
    error = await failure(all(await wrapper(worker)));
    expect(error.details.reason).toBe('CONTEXT_MISMATCH');
  });

  it('stores nothing when a value of the batch is not JSON, or when the worker is gone', async () => {
    const { wrapper, raw } = await setup();
    const writer = await wrapper(worker);
    const docs = Array.from({ length: 20 }, (_, i) => doc(`g${i}`, `note ${i}`));
    const bad = { ...docs[5]!, secret: { note: 'x', n: Number.NaN } };
    const error = await failure(
      writer.bulkWrite(
        docs.map((d, i) => ({ document: i === 5 ? bad : d })),
        'test',
      ),
    );
    expect(error.code).toBe('AT_REST_ENCRYPT_FAILED');
    expect(error.details).toMatchObject({ reason: 'NOT_JSON', documentId: 'g5', field: 'secret' });
    expect((await all(await wrapper())).documents).toEqual([]);

    const gone = createNodeCryptoOffload();
    await gone.close();
    const stopped = await wrapper(gone);
    const refused = await failure(
      stopped.bulkWrite(
        docs.map((document) => ({ document })),
        'test',
      ),
    );
    expect(refused.code).toBe('AT_REST_ENCRYPT_FAILED');
    expect(await raw.findDocumentsById(['g0'], true)).toEqual([]);
  });
});

describe('runAtRestJob', () => {
  it('answers null for values that are not JSON and a reason for envelopes that do not open', () => {
    const context = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
    const sealed = runAtRestJob({
      op: 'seal',
      key,
      items: [
        { context, value: { ok: 1 } },
        { context, value: { bad: NaN } },
      ],
    });
    expect(sealed.op).toBe('seal');
    if (sealed.op !== 'seal') return;
    expect(typeof sealed.envelopes[0]).toBe('string');
    expect(sealed.envelopes[1]).toBeNull();
    const envelope = sealed.envelopes[0]!;
    const flipped = envelope.slice(0, 40) + (envelope[40] === 'A' ? 'B' : 'A') + envelope.slice(41);
    const opened = runAtRestJob({
      op: 'open',
      key,
      items: [
        { context, stored: envelope },
        { context: { ...context, i: 'y' }, stored: envelope },
        { context, stored: flipped },
        { context, stored: 42 },
      ],
    });
    expect(opened).toEqual({
      op: 'open',
      values: [
        { ok: true, value: { ok: 1 } },
        expect.objectContaining({ ok: false, reason: 'CONTEXT_MISMATCH' }),
        expect.objectContaining({ ok: false, reason: 'AUTH_FAILED' }),
        expect.objectContaining({ ok: false, reason: 'MALFORMED' }),
      ],
    });
  });
});
