// Shared by the offload tests: seal jobs, worker ports that stay silent or answer on this thread, a
// pending job watched without waiting on it, and documents with one encrypted member for the at-rest
// wrapper.
import { fillWithDefaultSettings, now, type RxDocumentData, type RxJsonSchema } from 'rxdb';
import type { CryptoJob } from './crypto-offload';
import { runCryptoJob } from './run-crypto-job';
import type { WorkerEvents, WorkerPort } from './worker-offload';

/** A seal job of `items` values (`{ note }`, the first one `first` when given), under one fixed key. */
export const sealJob = (items = 1, first?: unknown): CryptoJob => ({
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: Array.from({ length: items }, (_, i) => ({
    context: { db: 'd', c: 'c', i: `x${i}`, f: 'secret', r: '1-a' },
    value: i === 0 && first !== undefined ? first : { note: `n${i}` },
  })),
});

/** A worker that takes every job and never answers. */
export const idlePort = (): WorkerPort => ({ post: () => undefined, terminate: () => undefined });

/** A worker that answers each job on this thread, as the shipped entries would. */
export const answeringPort = (events: WorkerEvents): WorkerPort => ({
  post: (m) => queueMicrotask(() => events.message({ id: m.id, result: runCryptoJob(m.job) })),
  terminate: () => undefined,
});

/** Settles `job` into a flag, so a test can see it is still pending without waiting on it. */
export const watch = (job: Promise<unknown>) => {
  const seen: { settled: boolean; ok?: boolean; error?: unknown } = { settled: false };
  job.then(
    () => void Object.assign(seen, { settled: true, ok: true }),
    (error: unknown) => void Object.assign(seen, { settled: true, ok: false, error }),
  );
  return seen;
};

/** A document whose one member `secret` the at-rest wrapper encrypts. */
export interface SecretDoc<S = { note: string }> {
  id: string;
  secret: S;
}

/** The schema of `SecretDoc`: `secret` encrypted. */
export const secretSchema = <S = { note: string }>(): RxJsonSchema<RxDocumentData<SecretDoc<S>>> =>
  fillWithDefaultSettings<SecretDoc<S>>({
    version: 0,
    primaryKey: 'id',
    type: 'object',
    properties: { id: { type: 'string', maxLength: 40 }, secret: { type: 'object' } },
    required: ['id', 'secret'],
    encrypted: ['secret'],
  });

/** `SecretDoc` `id` as a first revision to insert. */
export const secretDoc = <S>(id: string, secret: S): RxDocumentData<SecretDoc<S>> => ({
  id,
  secret,
  _rev: '1-a',
  _deleted: false,
  _attachments: {},
  _meta: { lwt: now() },
});
