/**
 * The one check of an offload's reply (`checkCryptoJobResult`), run where a reply is received: by the
 * at-rest wrapper and the record codec for whatever offload they were given, and by the Node worker
 * host for its worker's messages. A reply crosses a thread boundary, so its static type is a claim.
 *
 * Invariants: a reply is accepted only as a well-formed answer to the job it answers: the job's `op`,
 * one outcome per item, each outcome of that op's shape (wireSeal: null | {ct, tag};
 * wireOpen: {ok: true, data, tag, deleted} | {ok: false, reason, message}; seal: null | {envelope, bound}
 * with an envelope of the envelope form (its prefix, and long enough for a nonce and a MAC); open: {ok: true, value, bound} | {ok: false, reason, message}, `value` not
 * undefined), failure reasons from the closed lists of wire-jobs.ts and at-rest-encryption.ts. Extra
 * members are ignored. Whether a binding (`bound`) or a tag is the one asked for is the caller's check:
 * only it knows the slot or the content. The payloads (`data`, `value`) are checked present, not walked: they are the worker's `JSON.parse` output, and whoever uses them checks
 * their shape (the codec answers BAD_CONTENT); walking them here would cost more than the rest.
 * - A failed item's message (open, wireOpen) is the offload's own text, which may quote what it failed
 *   on (a worker's error text: a job carries record content and keys), and it becomes the message of an
 *   AtRestError or of a decode failure. It is kept only when it is a text this build writes for that
 *   reason (`runAtRestJob`'s and `runWireJob`'s, so an item fails in the same words on a worker as on
 *   this thread — except a bad caller input's `String(error)` in `runWireJob`, which a worker's reply
 *   cannot vouch for and is replaced), as `isAtRestOpenText` (at-rest-open-failures.ts) and `isWireOpenText` (wire-jobs.ts,
 *   with @hale/crypto's `recordVersionOpenFailures`) tell from the texts where they are written, else
 *   replaced by a text of this thread naming the reason; the reply is copied only then.
 * The schemas are compiled once, on first use (interpreted where a CSP forbids code generation).
 * Failure modes: throws a plain Error, without any value of the reply in its message: "answered another
 * job" for another op or item count, "answered a malformed … reply" with the first offending paths
 * otherwise. Callers then fail their whole batch and apply nothing.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SECRETBOX_MAC_LENGTH, SECRETBOX_NONCE_LENGTH, type JsonValue } from '@hale/crypto';
import { createChecker, type Checker } from '@hale/protocol';
import type { AtRestJob, AtRestJobResult } from './at-rest-jobs';
import type { AtRestDecryptReason } from './at-rest-open-failures';
import { isAtRestOpenText } from './at-rest-open-failures';
import { isWireOpenText, type WireJob, type WireJobResult, type WireOpenFailure } from './wire-jobs';
import type { CryptoJob, CryptoJobResult } from './crypto-offload';

/** At most this many offending paths are named in an error. */
const REPORTED_ISSUES = 3;

const WireOpenFailureSchema = Type.Union([
  Type.Literal('WRONG_KEY'),
  Type.Literal('CONTEXT_MISMATCH'),
  Type.Literal('TAMPERED'),
]);
const AtRestDecryptReasonSchema = Type.Union([
  Type.Literal('MALFORMED'),
  Type.Literal('AUTH_FAILED'),
  Type.Literal('CONTEXT_MISMATCH'),
  Type.Literal('MISSING'),
]);
// The reason lists are the types' lists: a reason added to (or removed from) a type and not here fails
// to compile, instead of every reply carrying it being refused at run time.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _wireReasonsListed: Same<Static<typeof WireOpenFailureSchema>, WireOpenFailure> = true;
const _atRestReasonsListed: Same<Static<typeof AtRestDecryptReasonSchema>, AtRestDecryptReason> = true;

/**
 * The form of an at-rest envelope (`seal` in at-rest-encryption.ts): `v1.`, then at least the base64url
 * of a nonce, a MAC and one byte of plaintext. An envelope of another form would be stored, then refused
 * by every later open. Its characters are not scanned: that cost ≈4 µs per 1.5 kB envelope on this
 * thread, more than the rest of the check (measured).
 */
const ENVELOPE_PREFIX = '^v1\\.';
const ENVELOPE_MIN_LENGTH = 3 + Math.ceil(((SECRETBOX_NONCE_LENGTH + SECRETBOX_MAC_LENGTH + 1) * 4) / 3);

/** Present, not walked (see the header): typed as what the worker's `JSON.parse` made. */
const OpenedData = Type.Unsafe<JsonValue>(Type.Unknown());

const WireSealReply = Type.Object({
  op: Type.Literal('wireSeal'),
  items: Type.Array(Type.Union([Type.Null(), Type.Object({ ct: Type.String(), tag: Type.String() })])),
});
const WireOpenReply = Type.Object({
  op: Type.Literal('wireOpen'),
  items: Type.Array(
    Type.Union([
      Type.Object({ ok: Type.Literal(true), data: OpenedData, tag: Type.String(), deleted: Type.Boolean() }),
      Type.Object({ ok: Type.Literal(false), reason: WireOpenFailureSchema, message: Type.String() }),
    ]),
  ),
});
const SealReply = Type.Object({
  op: Type.Literal('seal'),
  envelopes: Type.Array(
    Type.Union([
      Type.Object({
        envelope: Type.String({ pattern: ENVELOPE_PREFIX, minLength: ENVELOPE_MIN_LENGTH }),
        bound: Type.String(),
      }),
      Type.Null(),
    ]),
  ),
});
const OpenReply = Type.Object({
  op: Type.Literal('open'),
  values: Type.Array(
    Type.Union([
      Type.Object({ ok: Type.Literal(true), value: Type.Unknown(), bound: Type.String() }),
      Type.Object({ ok: Type.Literal(false), reason: AtRestDecryptReasonSchema, message: Type.String() }),
    ]),
  ),
});

/** Compiles `schema` on first use only: most processes never offload. */
const lazily = <T extends TSchema>(schema: T): (() => Checker<T>) => {
  let checker: Checker<T> | null = null;
  return () => (checker ??= createChecker(schema));
};
const checkers = {
  wireSeal: lazily(WireSealReply),
  wireOpen: lazily(WireOpenReply),
  seal: lazily(SealReply),
  open: lazily(OpenReply),
};

/** Where each op's reply keeps its outcomes. */
const OUTCOMES = { wireSeal: 'items', wireOpen: 'items', seal: 'envelopes', open: 'values' } as const;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type SealJob = Extract<AtRestJob, { op: 'seal' }>;
type OpenJob = Extract<AtRestJob, { op: 'open' }>;

/**
 * Answers `result` typed as the reply to `job` when it is a well-formed one (see the header); throws
 * a plain Error naming what is wrong otherwise.
 */
export function checkCryptoJobResult(job: SealJob, result: unknown): Extract<AtRestJobResult, { op: 'seal' }>;
export function checkCryptoJobResult(job: OpenJob, result: unknown): Extract<AtRestJobResult, { op: 'open' }>;
export function checkCryptoJobResult(job: WireJob, result: unknown): WireJobResult;
export function checkCryptoJobResult(job: CryptoJob, result: unknown): CryptoJobResult;
export function checkCryptoJobResult(job: CryptoJob, result: unknown): CryptoJobResult {
  // Op and count first, by hand: they name the commonest confusion plainly, and they make sure the
  // compiled check below never walks a list longer than the job.
  if (!isRecord(result) || result['op'] !== job.op) {
    const op = isRecord(result) ? result['op'] : undefined;
    const got =
      typeof op === 'string' && Object.hasOwn(OUTCOMES, op) ? `a ${op} reply` : 'a reply without a known op';
    throw new Error(`crypto offload answered another job: a ${job.op} job got ${got}`);
  }
  const outcomes = result[OUTCOMES[job.op]];
  if (!Array.isArray(outcomes) || outcomes.length !== job.items.length) {
    const got = Array.isArray(outcomes) ? `${outcomes.length} outcomes` : 'no list of outcomes';
    throw new Error(
      `crypto offload answered another job: a ${job.op} job of ${job.items.length} items got ${got}`,
    );
  }
  switch (job.op) {
    case 'wireSeal':
      return accept(checkers.wireSeal(), job.op, result);
    case 'wireOpen': {
      const reply = accept(checkers.wireOpen(), job.op, result);
      const items = ownTexts(reply.items, isWireOpenText, (reason) => `sealed record: ${reason}${NOT_OWN}`);
      return items === reply.items ? reply : { ...reply, items };
    }
    case 'seal':
      return accept(checkers.seal(), job.op, result);
    case 'open': {
      const reply = accept(checkers.open(), job.op, result);
      // A value that is no JSON value: what `Type.Unknown` lets through and no envelope can hold.
      const missing = reply.values.findIndex((o) => o.ok && o.value === undefined);
      if (missing >= 0) {
        throw new Error(
          `crypto offload answered a malformed open reply: /values/${missing}/value: undefined`,
        );
      }
      const values = ownTexts(
        reply.values,
        isAtRestOpenText,
        (reason) => `at-rest decryption failed (${reason})${NOT_OWN}`,
      );
      return values === reply.values ? reply : { ...reply, values };
    }
  }
}

/** What follows the reason in a message that replaced the offload's own. */
const NOT_OWN = "; the offload's message for it is not one this build writes";

/**
 * `outcomes` with each failure's message kept when `isOwn` says this build writes it for its reason,
 * else replaced by `replacement(reason)`; the same array when nothing was replaced.
 */
function ownTexts<
  R extends string,
  O extends { readonly ok: true } | { readonly ok: false; readonly reason: R; readonly message: string },
>(
  outcomes: readonly O[],
  isOwn: (reason: R, message: string) => boolean,
  replacement: (reason: R) => string,
): readonly O[] {
  let out: O[] | null = null;
  for (const [n, o] of outcomes.entries()) {
    if (o.ok || isOwn(o.reason, o.message)) continue;
    out ??= outcomes.slice();
    out[n] = { ...o, message: replacement(o.reason) };
  }
  return out ?? outcomes;
}

function accept<T extends TSchema>(checker: Checker<T>, op: CryptoJob['op'], result: unknown): Static<T> {
  if (checker.check(result)) return result;
  const issues = checker
    .issues(result, REPORTED_ISSUES)
    .map((i) => `${i.path}: ${i.reason}`)
    .join('; ');
  throw new Error(`crypto offload answered a malformed ${op} reply: ${issues}`);
}
