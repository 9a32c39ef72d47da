/**
 * Digests of a document's clear fields (`h` in every sealed value), and the key a wrapper holds.
 *
 * - `h` = base64url(SHA-256(CLEAR_DIGEST_LABEL ‖ canonical JSON of the clear fields)), `_rev`, `_meta` and
 *   `_attachments` left out: a clear field rewritten on disk changes it, so the sealed values no longer open.
 * - Digests are remembered by their canonical text (RECENT_CLEAR_DIGESTS): a rewritten field changes the
 *   text, so it misses; a value that is not JSON throws the caller's error.
 * - `Keyring.current` throws AT_REST_CLOSED once the wrapper is disposed.
 */
import { createRecentMap } from '../core/recent-map';
import { base64urlEncode, labeledSha256, utf8Encode, canonicalJson } from '@hale/crypto';

/** The key of a wrapper, until it is disposed (then `current` throws `AT_REST_CLOSED`). */
export interface Keyring {
  current(): Uint8Array | null;
}

// Fixed label, so this digest cannot be mistaken for any other hash of the same bytes (see hash.ts).
const CLEAR_DIGEST_LABEL = 'hale/at-rest-clear/v1';

/** Not in the clear digest: `_rev` is bound on its own; `_meta` and `_attachments` are RxDB bookkeeping. */
const UNDIGESTED_FIELDS: ReadonlySet<string> = new Set(['_rev', '_meta', '_attachments']);

/**
 * How many clear-field texts a wrapper remembers the digest of (see `createClearDigests`): half as many
 * as values (a document has one or two), each ≈ 0.5 kB.
 */
const RECENT_CLEAR_DIGESTS = 4096;

/**
 * Digests of documents' clear fields: base64url(SHA-256(label ‖ canonical JSON of the clear fields)),
 * one short hash per document instead of the clear fields themselves inside every sealed value. RxDB
 * handles the same state many times (write, change event, `previous` of the next write, replication
 * reads), so digests are remembered by their canonical text: a hit costs building that text, not the
 * hash (≈4 µs of ≈7 µs per document, measured). A rewritten field changes the text, so it misses.
 */
export function createClearDigests() {
  let known = createRecentMap<string, string>(RECENT_CLEAR_DIGESTS);
  return {
    /** `notJson` throws the caller's error. */
    of(text: string | null, notJson: () => never): string {
      if (text === null) return notJson();
      let digest = known.get(text);
      if (digest === undefined) {
        digest = base64urlEncode(labeledSha256(CLEAR_DIGEST_LABEL, utf8Encode(text)));
        known.set(text, digest);
      }
      return digest;
    },
    forget(): void {
      known = createRecentMap(RECENT_CLEAR_DIGESTS);
    },
  };
}

/**
 * `canonicalJson` of a document's clear fields (a lone surrogate at the top level is escaped, not
 * refused), or null if they are not JSON; members whose value is undefined are left out (not JSON).
 * Built here because it runs for every document read or written: primitives as JSON.stringify writes
 * them, nested values through `canonicalJson`, and the sorted field order worked out again only when a
 * document's key order differs from the previous one's, which within one collection is rare.
 */
export function createClearText(
  encrypted: ReadonlySet<string>,
): (doc: Readonly<Record<string, unknown>>) => string | null {
  let lastKeys: readonly string[] = [];
  let order: ReadonlyArray<readonly [field: string, prefix: string]> = [];
  return (doc) => {
    const keys = Object.keys(doc);
    if (keys.length !== lastKeys.length || keys.some((k, n) => k !== lastKeys[n])) {
      lastKeys = keys;
      order = keys
        .filter((f) => !encrypted.has(f) && !UNDIGESTED_FIELDS.has(f))
        .sort()
        .map((f) => [f, `${JSON.stringify(f)}:`] as const);
    }
    let text = '';
    for (const [field, prefix] of order) {
      const value = doc[field];
      if (value === undefined) continue;
      let json: string;
      if (typeof value === 'string' || typeof value === 'boolean' || value === null)
        json = JSON.stringify(value);
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) return null;
        json = JSON.stringify(value);
      } else if (typeof value === 'object') {
        try {
          json = canonicalJson(value);
        } catch {
          return null;
        }
      } else return null;
      text += text === '' ? prefix + json : `,${prefix}${json}`;
    }
    return `{${text}}`;
  };
}
