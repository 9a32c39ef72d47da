/**
 * Seal once, step 1 of docs/architecture.md ("Seal once"): a stream record version kept in the device
 * store as the bytes it travels as (`PushDoc`'s `ct`, `epoch`, `rev`, `sig`), and `lb`, the local
 * binding that ties those bytes to the document's clear fields on disk with a keyed hash instead of a
 * seal. Stored by stream-versions.ts (records rows) and stream-meta.ts (their replication-meta copies).
 *
 * | value | what | bound to |
 * | --- | --- | --- |
 * | `ct` | `sealRecordVersion` bytes under the stream's write epoch (base64url, as sent) | stream, id, epoch, rv, deleted, tag (inside) |
 * | `lb` | base64url(HMAC-SHA256(at-rest key, LABEL ‖ canonical JSON [db, collection, id, `_rev`, clear digest, sha256(ct)])) | the clear fields, `_rev`, the document's place, the ciphertext |
 *
 * Invariants
 * - `lb` cannot be made without the account's at-rest key; any change to a bound value (a clear field,
 *   `_rev`, another document's place, one byte of `ct`) makes `checkLocalBinding` answer false.
 * - The comparison is constant-time; the key is not kept. `CtDigests` remembers sha256(ct) by the exact
 *   `ct` string (a changed byte is another string: hashed anew).
 * Failure modes: a key that is not 32 bytes throws HaleCryptoError INVALID_INPUT (hmac), as the wrapper's.
 */
import {
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  constantTimeEqual,
  cryptoError,
  hmacSha256,
  labeledSha256,
  utf8Encode,
} from '@hale/crypto';
import type { PushDoc } from '@hale/protocol';
import { createRecentMap } from '../core/recent-map';

const LOCAL_BINDING_LABEL = 'hale/local-bind/v1';
const CT_DIGEST_LABEL = 'hale/local-bind-ct/v1';

/** What a stored version keeps of the wire document, plus its local binding. */
export interface StoredVersion {
  readonly ct: string;
  readonly epoch: number;
  readonly rev: string;
  readonly sig?: string;
  readonly lb: string;
}

/** Where the version is stored and the document's clear state there. */
export interface LocalPlace {
  readonly db: string;
  readonly collection: string;
  readonly id: string;
  /** RxDB's `_rev` of the document. */
  readonly rxRev: string;
  /** The clear digest of the document's clear fields (clear-digest.ts). */
  readonly clearDigest: string;
}

/** How many `ct` digests a wrapper remembers (`createCtDigests`): a batch's records rows, then their meta copies. */
const CT_DIGESTS = 2048;
/** And at most this many characters of `ct` keys per generation. */
const CT_DIGEST_CHARS = 2 * 1024 * 1024;

const ctDigestOf = (ct: string): string => {
  const bytes = base64urlDecode(ct);
  if (!bytes.ok) throw cryptoError('INVALID_INPUT', 'stored version: ct is not base64url');
  return base64urlEncode(labeledSha256(CT_DIGEST_LABEL, bytes.value));
};

/**
 * The digests of `ct`s already hashed (at most 2 × CT_DIGESTS, and 2 × CT_DIGEST_CHARS of keys, by the
 * exact string): a records row and its replication-meta copy bind the same bytes, hashed once. Holds
 * ciphertext only.
 */
export interface CtDigests {
  of(ct: string): string;
  /** Drops every remembered digest (the wrapper's dispose). */
  forget(): void;
}

export function createCtDigests(): CtDigests {
  const byCt = { keep: CT_DIGEST_CHARS, of: (_digest: string, ct: string) => ct.length };
  let known = createRecentMap<string, string>(CT_DIGESTS, byCt);
  return {
    forget() {
      known = createRecentMap(CT_DIGESTS, byCt);
    },
    of(ct) {
      let digest = known.get(ct);
      if (digest === undefined) {
        digest = ctDigestOf(ct);
        known.set(ct, digest);
      }
      return digest;
    },
  };
}

const bindingInput = (place: LocalPlace, ct: string, digests?: CtDigests): Uint8Array =>
  utf8Encode(
    LOCAL_BINDING_LABEL +
      canonicalJson([
        place.db,
        place.collection,
        place.id,
        place.rxRev,
        place.clearDigest,
        digests?.of(ct) ?? ctDigestOf(ct),
      ]),
  );

/** `lb` of `ct` stored at `place`, under the at-rest key. */
export function localBinding(
  atRestKey: Uint8Array,
  place: LocalPlace,
  ct: string,
  digests?: CtDigests,
): string {
  if (atRestKey.length !== 32)
    throw cryptoError('INVALID_INPUT', 'stored version: at-rest key must be 32 bytes');
  return base64urlEncode(hmacSha256(atRestKey, bindingInput(place, ct, digests)));
}

/** Whether `stored` was bound at `place` under the at-rest key (false for anything malformed). */
export function checkLocalBinding(
  atRestKey: Uint8Array,
  place: LocalPlace,
  stored: StoredVersion,
  digests?: CtDigests,
): boolean {
  const given = base64urlDecode(stored.lb);
  if (!given.ok) return false;
  let expected: Uint8Array;
  try {
    expected = hmacSha256(atRestKey, bindingInput(place, stored.ct, digests));
  } catch {
    return false;
  }
  return constantTimeEqual(expected, given.value);
}

/** The version to keep for a sealed wire document (a local write sealed once, or a verified pull). */
export function storedVersionOf(
  atRestKey: Uint8Array,
  place: LocalPlace,
  doc: PushDoc,
  digests?: CtDigests,
): StoredVersion {
  const lb = localBinding(atRestKey, place, doc.ct, digests);
  return doc.sig === undefined
    ? { ct: doc.ct, epoch: doc.epoch, rev: doc.rev, lb }
    : { ct: doc.ct, epoch: doc.epoch, rev: doc.rev, sig: doc.sig, lb };
}

/** The wire document a push sends for a stored version: its bytes as stored, no seal. */
export function pushDocOf(
  stored: StoredVersion,
  clear: Pick<PushDoc, 'stream' | 'id' | 'deleted' | 'author'>,
): PushDoc {
  const doc: PushDoc = {
    stream: clear.stream,
    id: clear.id,
    rev: stored.rev,
    deleted: clear.deleted,
    epoch: stored.epoch,
    ct: stored.ct,
    author: clear.author,
  };
  if (stored.sig !== undefined) doc.sig = stored.sig;
  return doc;
}
