// At-rest cryptography on a real worker thread (`@hale/client/node`): the same envelopes, the same
// refusals, and a failed worker, or an offload answering another job or items of the wrong shape,
// refuses writes instead of storing anything (and reads instead of answering anything).
import { afterAll, describe, expect, it } from 'vitest';
import { fillWithDefaultSettings, normalizeMangoQuery, now, prepareQuery } from 'rxdb';
import type { RxDocumentData, RxJsonSchema, RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import { runAtRestJob, wrapWithAtRestEncryption } from './at-rest-encryption';
import {
  expectAtRest,
  flipAt,
  insertAll,
  openInstance,
  rawGet,
  rawReplace,
  rawSchemaOf,
  type Raw,
} from './at-rest.test-util';
import type { CryptoJob, CryptoJobResult, CryptoOffload } from '../offload/crypto-offload';
import { runCryptoJob } from '../offload/run-crypto-job';

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
const RAW_SCHEMA = rawSchemaOf(SCHEMA);

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
    openInstance<Doc>(
      wrapWithAtRestEncryption({ storage: base, key, ...(offload ? { offload } : {}) }),
      dbName,
      SCHEMA,
    );
  const raw = await openInstance<Raw>(base, dbName, RAW_SCHEMA);
  return { wrapper, raw };
}

const all = (instance: RxStorageInstance<Doc, unknown, unknown>) =>
  instance.query(prepareQuery(SCHEMA, normalizeMangoQuery(SCHEMA, { selector: {} })));

describe('at-rest offload to a worker thread', () => {
  it('seals a bulk write in one batch on the worker; this thread opens the envelopes', async () => {
    const { jobs, offload } = counting(worker);
    const { wrapper, raw } = await setup();
    const writer = await wrapper(offload);
    const docs = Array.from({ length: 50 }, (_, i) => doc(`d${i}`, `${MARKER} ${i}`));
    expect((await insertAll(writer, docs)).error).toEqual([]);
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
    await insertAll(await wrapper(), docs);
    const { jobs, offload } = counting(worker);
    const back = await all(await wrapper(offload));
    expect(jobs).toEqual(['open:30']);
    expect(back.documents.map((d) => d.secret.note).sort()).toEqual(docs.map((d) => d.secret.note).sort());
  });

  it('refuses tampered and moved envelopes opened on the worker', async () => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`f${i}`, `${MARKER} ${i}`));
    await insertAll(await wrapper(), docs);
    const f1 = await rawGet(raw, 'f1');
    await rawReplace(raw, 'f0', (f0) => ({ ...f0, secret: flipAt(String(f0['secret']), 40) }));
    await expectAtRest(all(await wrapper(worker)), 'AT_REST_DECRYPT_FAILED', 'AUTH_FAILED', MARKER);

    await rawReplace(raw, 'f0', { secret: f1['secret'] });
    await expectAtRest(all(await wrapper(worker)), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
  });

  it('stores nothing when a value of the batch is not JSON, or when the worker is gone', async () => {
    const { wrapper, raw } = await setup();
    const writer = await wrapper(worker);
    const docs = Array.from({ length: 20 }, (_, i) => doc(`g${i}`, `note ${i}`));
    const bad = { ...docs[5]!, secret: { note: 'x', n: Number.NaN } };
    const error = await expectAtRest(
      writer.bulkWrite(
        docs.map((d, i) => ({ document: i === 5 ? bad : d })),
        'test',
      ),
      'AT_REST_ENCRYPT_FAILED',
    );
    expect(error.details).toMatchObject({ reason: 'NOT_JSON', documentId: 'g5', field: 'secret' });
    expect((await all(await wrapper())).documents).toEqual([]);

    const gone = createNodeCryptoOffload();
    await gone.close();
    const stopped = await wrapper(gone);
    await expectAtRest(insertAll(stopped, docs), 'AT_REST_ENCRYPT_FAILED');
    expect(await raw.findDocumentsById(['g0'], true)).toEqual([]);
  });
});

describe('an offload that answers wrongly', () => {
  it('refuses a write answered for another job or with the wrong number of items, and stores nothing', async () => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 20 }, (_, i) => doc(`h${i}`, `note ${i}`));
    const ids = docs.map((d) => d.id);
    const anotherJob = {
      run: async (): Promise<CryptoJobResult> => ({ op: 'open', values: [] }),
      close: async () => {},
    };
    // Real envelopes, one short.
    const oneShort = {
      run: async (job: CryptoJob): Promise<CryptoJobResult> => {
        const result = runCryptoJob(job);
        return result.op === 'seal' ? { ...result, envelopes: result.envelopes.slice(1) } : result;
      },
    };
    for (const offload of [anotherJob, oneShort]) {
      const error = await expectAtRest(insertAll(await wrapper(offload), docs), 'AT_REST_ENCRYPT_FAILED');
      expect(error.message).toContain('offload answered another job');
      expect(await raw.findDocumentsById(ids, true)).toEqual([]);
    }
  });

  it('refuses a read answered for another job or with the wrong number of items', async () => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 20 }, (_, i) => doc(`k${i}`, `note ${i}`));
    const writer = await wrapper();
    expect((await insertAll(writer, docs)).error).toEqual([]);
    const anotherJob = { run: async (): Promise<CryptoJobResult> => ({ op: 'seal', envelopes: [] }) };
    const oneShort = {
      run: async (job: CryptoJob): Promise<CryptoJobResult> => {
        const result = runCryptoJob(job);
        return result.op === 'open' ? { ...result, values: result.values.slice(1) } : result;
      },
    };
    for (const offload of [anotherJob, oneShort]) {
      const error = await expectAtRest(all(await wrapper(offload)), 'AT_REST_ENCRYPT_FAILED');
      expect(error.message).toContain('offload answered another job');
    }
  });
});

describe('an offload that answers items of the wrong shape', () => {
  /** The real reply with outcome 3 replaced by `bad`. */
  const badAt3 = (bad: unknown): CryptoOffload => ({
    run: async (job) => {
      const real = runCryptoJob(job);
      return (
        real.op === 'seal'
          ? { ...real, envelopes: real.envelopes.map((e, n) => (n === 3 ? bad : e)) }
          : real.op === 'open'
            ? { ...real, values: real.values.map((v, n) => (n === 3 ? bad : v)) }
            : real
      ) as CryptoJobResult;
    },
  });

  it.each([
    ['a number where an envelope belongs', 42],
    ['a missing envelope', undefined],
    ['an object where an envelope belongs', { envelope: 'v1.x' }],
  ])('refuses a write answered with %s, and stores nothing', async (_, bad) => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 20 }, (_, i) => doc(`m${i}`, `note ${i}`));
    const error = await expectAtRest(
      (await wrapper(badAt3(bad))).bulkWrite(
        docs.map((document) => ({ document })),
        'test',
      ),
      'AT_REST_ENCRYPT_FAILED',
    );
    expect(error.message).toContain('offload answered a malformed seal reply: /envelopes/3');
    expect(
      await raw.findDocumentsById(
        docs.map((d) => d.id),
        true,
      ),
    ).toEqual([]);
  });

  it.each([
    ['an unknown failure reason', { ok: false, reason: 'NOT_JSON', message: 'm' }, '/values/3/reason'],
    ['a failure without its message', { ok: false, reason: 'AUTH_FAILED' }, '/values/3/message'],
    ['a number where the message belongs', { ok: false, reason: 'AUTH_FAILED', message: 7 }, '/values/3'],
    ['a success without its value', { ok: true }, '/values/3'],
  ])('refuses a read answered with %s', async (_, bad, path) => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 20 }, (_, i) => doc(`p${i}`, `note ${i}`));
    const writer = await wrapper();
    expect((await insertAll(writer, docs)).error).toEqual([]);
    const error = await expectAtRest(all(await wrapper(badAt3(bad))), 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toContain(`offload answered a malformed open reply: ${path}`);
  });
});

describe('an offload that mixes up its answers', () => {
  /** An offload answering with the real reply of each job changed by `change` (same op, same count). */
  const changing = (change: (result: CryptoJobResult) => CryptoJobResult): CryptoOffload => ({
    run: async (job) => change(runCryptoJob(job)),
  });
  const reversed = (op: 'seal' | 'open') =>
    changing((r) =>
      r.op === 'seal' && op === 'seal'
        ? { ...r, envelopes: [...r.envelopes].reverse() }
        : r.op === 'open' && op === 'open'
          ? { ...r, values: [...r.values].reverse() }
          : r,
    );

  it('refuses a read whose open outcomes were permuted within the batch, and remembers none', async () => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`q${i}`, `note of q${i}`));
    expect((await insertAll(await wrapper(), docs)).error).toEqual([]);
    const reader = await wrapper(reversed('open'));
    const error = await expectAtRest(all(reader), 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toContain('answered an item for another slot');
    // Nothing of the refused batch was remembered: the same wrapper still refuses.
    await expectAtRest(all(reader), 'AT_REST_ENCRYPT_FAILED');
  });

  it("refuses a read answered with another read's reply of the same size", async () => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 20 }, (_, i) => doc(`u${i}`, `note of u${i}`));
    expect((await insertAll(await wrapper(), docs)).error).toEqual([]);
    let first: CryptoJobResult | null = null;
    const stale = changing((r) => (first ??= r));
    const reader = await wrapper(stale);
    const byId = (ids: string[]) => reader.findDocumentsById(ids, false);
    const firstTen = await byId(docs.slice(0, 10).map((d) => d.id));
    expect(firstTen.map((d) => d.secret.note)).toEqual(docs.slice(0, 10).map((d) => d.secret.note));
    await expectAtRest(byId(docs.slice(10).map((d) => d.id)), 'AT_REST_ENCRYPT_FAILED');
  });

  it('refuses a read answered with an undefined value', async () => {
    const { wrapper } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`w${i}`, `note of w${i}`));
    expect((await insertAll(await wrapper(), docs)).error).toEqual([]);
    const undefinedAt3 = changing((r) =>
      r.op === 'open'
        ? { ...r, values: r.values.map((v, n) => (n === 3 && v.ok ? { ...v, value: undefined } : v)) }
        : r,
    );
    const error = await expectAtRest(all(await wrapper(undefinedAt3)), 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toContain('offload answered a malformed open reply: /values/3/value');
  });

  it('refuses a write whose envelopes were permuted within the batch, and stores nothing', async () => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`s${i}`, `note of s${i}`));
    const writer = await wrapper(reversed('seal'));
    const error = await expectAtRest(insertAll(writer, docs), 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toContain('answered an item for another slot');
    expect(
      await raw.findDocumentsById(
        docs.map((d) => d.id),
        true,
      ),
    ).toEqual([]);
  });

  it.each([
    ['no envelope prefix', (e: string) => e.slice(3)],
    ['too short to hold a nonce and a MAC', () => 'v1.AAAA'],
  ])('refuses a write answered with an envelope with %s, and stores nothing', async (_, bad) => {
    const { wrapper, raw } = await setup();
    const docs = Array.from({ length: 10 }, (_, i) => doc(`t${i}`, `note of t${i}`));
    const badAt3 = changing((r) =>
      r.op === 'seal'
        ? {
            ...r,
            envelopes: r.envelopes.map((e, n) =>
              n === 3 && e !== null ? { ...e, envelope: bad(e.envelope) } : e,
            ),
          }
        : r,
    );
    const error = await expectAtRest(insertAll(await wrapper(badAt3), docs), 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toContain('offload answered a malformed seal reply: /envelopes/3');
    expect(
      await raw.findDocumentsById(
        docs.map((d) => d.id),
        true,
      ),
    ).toEqual([]);
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
    // Each envelope comes with the binding it was sealed with (context has no clear digest: null).
    const bound = JSON.stringify(['d', 'c', 'x', 'secret', '1-a', null]);
    expect(sealed.envelopes[0]).toEqual({ envelope: expect.stringMatching(/^v1\./) as unknown, bound });
    expect(sealed.envelopes[1]).toBeNull();
    const envelope = sealed.envelopes[0]!.envelope;
    const flipped = flipAt(envelope, 40);
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
        { ok: true, value: { ok: 1 }, bound },
        expect.objectContaining({ ok: false, reason: 'CONTEXT_MISMATCH' }),
        expect.objectContaining({ ok: false, reason: 'AUTH_FAILED' }),
        expect.objectContaining({ ok: false, reason: 'MALFORMED' }),
      ],
    });
  });

  it('throws for the whole job when the key is not 32 bytes', () => {
    const context = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
    for (const bad of [new Uint8Array(31), new Uint8Array(33), Array.from(key) as unknown as Uint8Array]) {
      expect(() => runAtRestJob({ op: 'seal', key: bad, items: [{ context, value: { ok: 1 } }] })).toThrow(
        expect.objectContaining({ code: 'AT_REST_INVALID_KEY' }),
      );
      expect(() => runAtRestJob({ op: 'open', key: bad, items: [{ context, stored: 'v1.AAAA' }] })).toThrow(
        expect.objectContaining({ code: 'AT_REST_INVALID_KEY' }),
      );
    }
  });
});
