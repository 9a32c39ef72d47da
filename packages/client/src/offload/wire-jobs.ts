/**
 * Batches of wire cryptography (sealing record versions for push, opening served versions) as plain
 * data, so that a batch can run on another thread (a worker running `runCryptoJob`) or in this one.
 *
 * Invariants:
 * - Keys travel in a per-job table (each item names its key by index, so a batch of one stream sends
 *   its key once); nothing is kept after the job.
 * - One answer per item, in item order. Sealing is `sealRecordVersion` (tag and deletion flag bound
 *   inside); opening is `openRecordVersion` with the binding {stream, id, epoch, rev} the caller expects.
 * Failure modes: never throws for a bad item. A value that cannot be sealed (not JSON, bad key) answers
 * null; a ciphertext that is not base64url or does not open answers its reason (WRONG_KEY,
 * CONTEXT_MISMATCH, TAMPERED) with a text `isWireOpenText` knows for it, except that an error thrown for
 * bad caller input (a key of the wrong length) answers its own text. A key index outside the table is a
 * bad item too.
 */
import {
  base64urlDecode,
  base64urlEncode,
  openRecordVersion,
  recordVersionOpenFailures,
  sealRecordVersion,
  type CryptoErrorCode,
  type JsonValue,
} from '@hale/crypto';

/** One record to seal for the wire. */
export interface WireSealItem {
  /** Index of the stream key in the job's key table. */
  readonly key: number;
  /** Index in the job's key table of the revision-tag key of the item's epoch (`deriveRevisionTagKey(key)`). */
  readonly tagKey: number;
  readonly stream: string;
  readonly id: string;
  readonly epoch: number;
  readonly rev: number;
  readonly deleted: boolean;
  readonly content: unknown;
}

/** One served record to open. */
export interface WireOpenItem {
  readonly key: number;
  readonly stream: string;
  readonly id: string;
  readonly epoch: number;
  readonly rev: number;
  /** base64url ciphertext as served. */
  readonly ct: string;
}

/** A batch of wire seals or opens, with its table of stream keys (zeroed after the job). */
export type WireJob =
  | { readonly op: 'wireSeal'; readonly keys: readonly Uint8Array[]; readonly items: readonly WireSealItem[] }
  | {
      readonly op: 'wireOpen';
      readonly keys: readonly Uint8Array[];
      readonly items: readonly WireOpenItem[];
    };

/** Why a served record did not open. */
export type WireOpenFailure = 'WRONG_KEY' | 'CONTEXT_MISMATCH' | 'TAMPERED';

/** One opened record, or why it did not open. */
export type WireOpenOutcome =
  | { readonly ok: true; readonly data: JsonValue; readonly tag: string; readonly deleted: boolean }
  | { readonly ok: false; readonly reason: WireOpenFailure; readonly message: string };

/** One sealed record (ciphertext and revision tag), or null when it could not be sealed. */
export type WireSealOutcome = { readonly ct: string; readonly tag: string } | null;

/** What a `WireJob` answers, item by item. */
export type WireJobResult =
  | { readonly op: 'wireSeal'; readonly items: readonly WireSealOutcome[] }
  | { readonly op: 'wireOpen'; readonly items: readonly WireOpenOutcome[] };

const sealOne = (keys: readonly Uint8Array[], item: WireSealItem): WireSealOutcome => {
  const key = keys[item.key];
  const tagKey = keys[item.tagKey];
  if (key === undefined || tagKey === undefined) return null;
  try {
    const { sealed, tag } = sealRecordVersion(
      key,
      tagKey,
      { stream: item.stream, id: item.id, epoch: item.epoch, rev: item.rev, deleted: item.deleted },
      item.content,
    );
    return { ct: base64urlEncode(sealed), tag };
  } catch {
    return null;
  }
};

/** This module's own texts for an item that does not open; the others are `openRecordVersion`'s. */
const NO_KEY = 'no key for this item';
const NOT_BASE64URL = 'ciphertext is not base64url';

/** The reason an item answers for a failure of `openRecordVersion` with `code`. */
const reasonOf = (code: CryptoErrorCode): WireOpenFailure =>
  code === 'WRONG_KEY' || code === 'CONTEXT_MISMATCH' ? code : 'TAMPERED';

/**
 * Whether `message` is a text `runWireJob` answers a failed open with for `reason` (not the text of an
 * error thrown for bad caller input, which may quote anything): what an offload's answer is checked by.
 */
export function isWireOpenText(reason: WireOpenFailure, message: string): boolean {
  if (message === NO_KEY) return reason === 'WRONG_KEY';
  if (message === NOT_BASE64URL) return reason === 'TAMPERED';
  const code = recordVersionOpenFailures().get(message);
  return code !== undefined && reasonOf(code) === reason;
}

const openOne = (keys: readonly Uint8Array[], item: WireOpenItem): WireOpenOutcome => {
  const key = keys[item.key];
  if (key === undefined) return { ok: false, reason: 'WRONG_KEY', message: NO_KEY };
  const bytes = base64urlDecode(item.ct);
  if (!bytes.ok) return { ok: false, reason: 'TAMPERED', message: NOT_BASE64URL };
  try {
    const opened = openRecordVersion(key, bytes.value, {
      stream: item.stream,
      id: item.id,
      epoch: item.epoch,
      rev: item.rev,
    });
    if (opened.ok) return { ok: true, ...opened.value };
    return { ok: false, reason: reasonOf(opened.error.code), message: opened.error.message };
  } catch (error) {
    // Bad caller input: a key of the wrong length, or an expected binding that no record can have.
    const reason: WireOpenFailure = key.length === 32 ? 'CONTEXT_MISMATCH' : 'WRONG_KEY';
    return { ok: false, reason, message: String(error) };
  }
};

/** Runs one batch of wire cryptography; what an offload runs on the other side. Never throws for bad items. */
export function runWireJob(job: WireJob): WireJobResult {
  if (job.op === 'wireSeal') return { op: 'wireSeal', items: job.items.map((i) => sealOne(job.keys, i)) };
  return { op: 'wireOpen', items: job.items.map((i) => openOne(job.keys, i)) };
}
