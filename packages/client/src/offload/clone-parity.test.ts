// Values that structured clone changes on their way to a worker (a class instance loses its prototype, a
// symbol key is dropped, a function cannot be copied at all): a seal answers for each item exactly what
// it answers on this thread, on a real worker thread, at rest and on the wire; one such value fails only
// its own item, and no error message repeats the content. A job that fails as a whole inside the worker
// fails with the typed error it fails with on this thread (same code and message), never with the
// worker's own rendering of the error.
import { afterAll, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { fillWithDefaultSettings, now } from 'rxdb';
import type { RxDocumentData, RxJsonSchema } from 'rxdb';
import { deriveRevisionTagKey, generateStreamKey } from '@hale/crypto';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import { isAtRestError, wrapWithAtRestEncryption } from '../store/at-rest-encryption';
import { expectAtRest, insertAll, openInstance, rawSchemaOf, type Raw } from '../store/at-rest.test-util';
import type { CryptoJob } from './crypto-offload';
import { runCryptoJob } from './run-crypto-job';
import { createWorkerOffload, isCryptoOffloadError } from './worker-offload';

const MARKER = 'CLONE-PARITY-PLAINTEXT-71c3';

class Note {
  constructor(readonly text = MARKER) {}
}

/** An array whose JSON.stringify is its toJSON (MARKER), while its structured clone is a plain array. */
class Tagged extends Array<unknown> {
  toJSON(): string {
    return MARKER;
  }
}
const tagged = (): Tagged => {
  const a = new Tagged();
  a.push(1, 2);
  return a;
};

/** Values this thread refuses as not JSON, each carrying MARKER, which structured clone alters or refuses. */
const altered: ReadonlyArray<readonly [string, () => unknown]> = [
  ['a class instance', () => new Note()],
  ['an object with a symbol key', () => ({ text: MARKER, [Symbol('s')]: 1 })],
  ['a function member', () => ({ text: MARKER, f: () => MARKER })],
  ['a function', () => () => MARKER],
  ['a nested class instance', () => ({ list: [{ ok: 1 }, new Note()] })],
  ['an array subclass with toJSON', tagged],
  ['a nested array subclass', () => ({ list: tagged() })],
  ['an array with another prototype', () => Object.setPrototypeOf([MARKER], Note.prototype) as unknown],
];

const worker = createNodeCryptoOffload();
afterAll(() => worker.close());

const atRestJob = (values: readonly unknown[]): CryptoJob => ({
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: values.map((value, i) => ({
    context: { db: 'd', c: 'records', i: `x${i}`, f: 'data', r: '1-a' },
    value,
  })),
});

const wireJob = (values: readonly unknown[]): CryptoJob => {
  const key = generateStreamKey();
  return {
    op: 'wireSeal',
    keys: [key, deriveRevisionTagKey(key)],
    items: values.map((content, i) => ({
      key: 0,
      tagKey: 1,
      stream: 'acc/notes',
      id: `r${i}`,
      epoch: 0,
      rev: 1,
      deleted: false,
      content,
    })),
  };
};

/** Which items were sealed (true) or refused (false). */
const sealedItems = (result: Awaited<ReturnType<typeof worker.run>>): boolean[] =>
  result.op === 'seal'
    ? result.envelopes.map((e) => e !== null)
    : result.op === 'wireSeal'
      ? result.items.map((e) => e !== null)
      : [];

describe('a seal on the worker answers each item as this thread does', () => {
  for (const [what, make] of altered) {
    for (const [name, job] of [
      ['at rest', atRestJob],
      ['wire', wireJob],
    ] as const) {
      it(`${name}: ${what} among plain values is refused alone`, async () => {
        const values = [{ n: 0 }, make(), { n: 2 }, 'plain', [1, 2], null, 7, { n: 7 }];
        const here = sealedItems(runCryptoJob(job(values)));
        expect(here).toEqual([true, false, true, true, true, true, true, true]);
        const there = await worker.run(job(values)).then(sealedItems, (e: unknown) => String(e));
        expect(there).toEqual(here);
      });
    }
  }

  it('a job of only refused values is answered without the worker', async () => {
    const posted: unknown[] = [];
    const offload = createWorkerOffload((events) => ({
      post: (m) => {
        posted.push(m);
        queueMicrotask(() => events.message({ id: m.id, result: runCryptoJob(m.job) }));
      },
      terminate: () => undefined,
    }));
    const result = await offload.run(atRestJob([new Note(), () => 1]));
    expect(sealedItems(result)).toEqual([false, false]);
    expect(posted).toEqual([]);
    await offload.close();
  });

  it('a job the worker cannot be sent fails without repeating what it carried', async () => {
    const offload = createWorkerOffload(() => ({
      post: () => {
        throw new DOMException(`${MARKER} could not be cloned.`, 'DataCloneError');
      },
      terminate: () => undefined,
    }));
    const error: unknown = await offload.run(atRestJob([{ n: 1 }])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toContain('DataCloneError');
    expect(String(error)).not.toContain(MARKER);
    await offload.close();
  });
});

/** What a rejection says about itself: its class, typed code and message. */
const described = (error: unknown) => ({
  name: error instanceof Error ? error.name : typeof error,
  code: typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined,
  message: error instanceof Error ? error.message : String(error),
});

/** What `run` throws here, for a job that fails as a whole. */
const thrownHere = (job: CryptoJob) => {
  try {
    runCryptoJob(job);
  } catch (error) {
    return described(error);
  }
  throw new Error('expected the job to fail here');
};

describe('a job that fails inside the worker', () => {
  const rejection = (job: CryptoJob) =>
    worker.run(job).then(
      () => {
        throw new Error('expected the job to fail on the worker');
      },
      (e: unknown) => e,
    );

  for (const [what, key] of [
    ['a key of 31 bytes', new Uint8Array(31).fill(7)],
    ['a key that is no byte array', [7, 7]],
  ] as const) {
    it(`(${what}) fails with the typed error it fails with here, without the job's content`, async () => {
      const values = Array.from({ length: 9 }, (_, n) => ({ note: `${MARKER} ${n}` }));
      // The shape a caller's bug would send: the worker refuses the key, not this thread.
      const job = { ...atRestJob(values), key } as unknown as CryptoJob;
      const here = thrownHere(job);
      expect(here.code).toBe('AT_REST_INVALID_KEY');
      const error = await rejection(job);
      expect(described(error)).toEqual(here);
      expect(isAtRestError(error, 'AT_REST_INVALID_KEY')).toBe(true);
      expect(String(error)).not.toContain(MARKER);
    });
  }

  it('that is no typed error here fails as WORKER_JOB_FAILED, naming only the op and the error class', async () => {
    // An open job whose items are no list (a caller's bug): the worker's TypeError is not passed on.
    const job = { op: 'open', key: new Uint8Array(32).fill(7), items: { stored: MARKER } };
    expect(thrownHere(job as unknown as CryptoJob).name).toBe('TypeError');
    const error = await rejection(job as unknown as CryptoJob);
    expect(isCryptoOffloadError(error)).toBe(true);
    expect(described(error)).toEqual({
      name: 'CryptoOffloadError',
      code: 'WORKER_JOB_FAILED',
      message: 'crypto worker could not run the open job (TypeError)',
    });
    // The worker is still the one that answers the next job.
    expect((await worker.run(atRestJob([{ n: 1 }]))).op).toBe('seal');
  });
});

interface Doc {
  id: string;
  secret: unknown;
}

const SCHEMA: RxJsonSchema<RxDocumentData<Doc>> = fillWithDefaultSettings<Doc>({
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 40 }, secret: {} },
  required: ['id', 'secret'],
  encrypted: ['secret'],
});

let counter = 0;

describe('an at-rest write of such a value through the worker', () => {
  for (const [what, make] of altered) {
    it(`${what}: refused as on this thread, naming the document, not the content; nothing stored`, async () => {
      const outcomes: Array<Record<string, unknown>> = [];
      for (const offload of [undefined, worker]) {
        const dbName = `parity${++counter}`;
        const base = getRxStorageMemory();
        const writer = await openInstance<Doc>(
          wrapWithAtRestEncryption({
            storage: base,
            key: new Uint8Array(32).fill(7),
            ...(offload ? { offload } : {}),
          }),
          dbName,
          SCHEMA,
        );
        const docs: Array<RxDocumentData<Doc>> = Array.from({ length: 12 }, (_, i) => ({
          id: `d${i}`,
          secret: i === 4 ? make() : { note: `note ${i}` },
          _rev: '1-a',
          _deleted: false,
          _attachments: {},
          _meta: { lwt: now() },
        }));
        const error = await expectAtRest(
          insertAll(writer, docs),
          'AT_REST_ENCRYPT_FAILED',
          'NOT_JSON',
          MARKER,
        );
        // The offload's refusal also names the database (the in-thread one does not: left as it was).
        const { database: _database, ...details } = error.details;
        outcomes.push({ message: error.message, details });
        const raw = await openInstance<Raw>(base, dbName, rawSchemaOf(SCHEMA));
        expect(await raw.findDocumentsById(['d0', 'd4'], true)).toEqual([]);
      }
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(outcomes[0]).toMatchObject({ details: { documentId: 'd4', field: 'secret' } });
    });
  }
});
