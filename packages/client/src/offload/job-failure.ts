/**
 * What a crypto worker answers for a job it could not run (`{ id, error: CryptoJobFailure }`), and what
 * the offload reads from it. An error's own text may quote the job it failed on (a DataCloneError quotes
 * the value it could not copy, V8 names values in some TypeErrors), and a job carries record content and
 * keys, so neither side passes such text on.
 *
 * Invariants: the worker (`jobFailureOf`) answers an AtRestError — the one typed error `runCryptoJob`
 * throws for a whole job, whose messages never carry values (at-rest-encryption.ts) — as its code and
 * message, and anything else as WORKER_JOB_FAILED with a message naming only the job's op and the error's
 * class. The offload (`readJobFailure`) takes an AtRestError code or WORKER_JOB_FAILED, checked against
 * `CryptoJobFailure`, and never the worker's text: a message is kept only when it is one this build's
 * `jobFailureOf` writes for that code (`at-rest key must be 32 bytes`; for WORKER_JOB_FAILED the op and a
 * class name in their places), and replaced by a text of this thread naming the code otherwise. It reads
 * anything else — a string (what an older or a host's own entry sends), another shape, a code this build
 * does not know — as a failure without a reason (null), dropping what was sent. The AtRestError's details
 * are not carried: `runAtRestJob` throws none for a whole job.
 * Failure modes: neither throws.
 */
import { Type } from '@sinclair/typebox';
import { createChecker, type Checker } from '@hale/protocol';
import { AT_REST_ERROR_CODES, AT_REST_KEY_LENGTH, isAtRestError, type AtRestErrorCode } from './at-rest-jobs';
import type { CryptoOffloadErrorCode } from './crypto-offload';

/** A worker's answer for a job it could not run: a code and a message without any value of the job. */
export interface CryptoJobFailure {
  readonly code: AtRestErrorCode | Extract<CryptoOffloadErrorCode, 'WORKER_JOB_FAILED'>;
  readonly message: string;
}

const CryptoJobFailureSchema = Type.Object({
  code: Type.Union([...AT_REST_ERROR_CODES.map((c) => Type.Literal(c)), Type.Literal('WORKER_JOB_FAILED')]),
  message: Type.String({ maxLength: 1000 }),
});

let checker: Checker<typeof CryptoJobFailureSchema> | null = null;

const OPS = new Set(['seal', 'open', 'wireSeal', 'wireOpen']);
const CLASS_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** The job's op when it is one, else "unknown" (a job that is no job carries nothing else worth naming). */
const opOf = (job: unknown): string =>
  typeof job === 'object' && job !== null && 'op' in job && typeof job.op === 'string' && OPS.has(job.op)
    ? job.op
    : 'unknown';

/** An error's class name when it looks like one, else its type: never its message. */
export const errorClassOf = (error: unknown): string =>
  typeof error === 'object' &&
  error !== null &&
  'name' in error &&
  typeof error.name === 'string' &&
  CLASS_NAME.test(error.name)
    ? error.name
    : typeof error;

/** The worker's answer for `job`, which threw `error` (or whose answer could not be posted). */
export function jobFailureOf(error: unknown, job: unknown): CryptoJobFailure {
  if (isAtRestError(error)) return { code: error.code, message: error.message };
  return {
    code: 'WORKER_JOB_FAILED',
    message: `crypto worker could not run the ${opOf(job)} job (${errorClassOf(error)})`,
  };
}

/** What `jobFailureOf` writes for WORKER_JOB_FAILED: an op and a class name, nothing of the error's text. */
const WORKER_JOB_FAILED_TEXT =
  /^crypto worker could not run the (?:seal|open|wireSeal|wireOpen|unknown) job \([A-Za-z][A-Za-z0-9]{0,63}\)$/;

/**
 * The messages of the AtRestErrors `runAtRestJob` throws for a whole job (parity with this thread: the
 * offloaded job rejects as the one run here throws; clone-parity.test pins it).
 */
const WHOLE_JOB_TEXTS: ReadonlyMap<string, string> = new Map([
  ['AT_REST_INVALID_KEY', `at-rest key must be ${AT_REST_KEY_LENGTH} bytes`],
]);

/** Whether `message` is a text this build writes for `code` (so it carries nothing the worker chose). */
const isOwnText = (code: CryptoJobFailure['code'], message: string): boolean =>
  code === 'WORKER_JOB_FAILED' ? WORKER_JOB_FAILED_TEXT.test(message) : WHOLE_JOB_TEXTS.get(code) === message;

/**
 * A worker's failure, when what it sent is a `CryptoJobFailure`, with a message of this build's (see the
 * header); null for anything else.
 */
export function readJobFailure(sent: unknown): CryptoJobFailure | null {
  checker ??= createChecker(CryptoJobFailureSchema);
  if (!checker.check(sent)) return null;
  const { code, message } = sent;
  return {
    code,
    message: isOwnText(code, message)
      ? message
      : `crypto worker failed the job with ${code}, and its message was not one this build writes`,
  };
}
