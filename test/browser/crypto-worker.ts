// Web Worker side of the browser device's crypto offload, as docs/client-api.md (Platform injection)
// describes it: each `{ id, job }` is answered `{ id, result: runCryptoJob(job) }`, a job that throws (or
// whose answer cannot be posted) `{ id, error: jobFailureOf(error, job) }`, never the error's own text
// (it may quote the job). A message without a numeric id is ignored: nobody waits for it. The offload
// checks every answer against its job, so nothing is checked here.
import { jobFailureOf, runCryptoJob, type CryptoJob } from '@hale/client';

// The worker global, typed here for the same reason as the page's platform (no DOM lib in the program).
interface WorkerScope {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as typeof globalThis & WorkerScope;

const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

// The job's frame only: runCryptoJob judges each item by itself (a bad item answers its own failure)
// and refuses a key of the wrong length, so a deeper check here would only repeat it.
const isCryptoJob = (job: unknown): job is CryptoJob => {
  const op = field(job, 'op');
  if (!Array.isArray(field(job, 'items'))) return false;
  if (op === 'seal' || op === 'open') return isBytes(field(job, 'key'));
  const keys = field(job, 'keys');
  return (op === 'wireSeal' || op === 'wireOpen') && Array.isArray(keys) && keys.every(isBytes);
};

scope.onmessage = (ev) => {
  const id = field(ev.data, 'id');
  if (typeof id !== 'number') return;
  const job = field(ev.data, 'job');
  try {
    if (!isCryptoJob(job)) throw new TypeError('not a crypto job');
    scope.postMessage({ id, result: runCryptoJob(job) });
  } catch (error) {
    scope.postMessage({ id, error: jobFailureOf(error, job) });
  }
};
