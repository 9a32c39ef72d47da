/**
 * Composite values (`r1:<own envelope>:<envelope>…`), only for `docData` of RxDB's replication-meta
 * documents: a member the records instance has just sealed or opened is stored as that very envelope.
 *
 * - The own envelope seals the rest with a null placeholder per member and, per member, [member, collection,
 *   field, revision, nonce, clear digest] of the envelope it refers to.
 * - Opening checks the own envelope, that each referred envelope carries the named nonce, and opens each
 *   with the binding it names and the meta document's `itemId`: a referred envelope swapped for any other is
 *   refused (AT_REST_DECRYPT_FAILED); a malformed skeleton or reference list → null here (MALFORMED there).
 * - Not covered: replaying a whole older meta document (as for any document).
 */
import { isRecord, VALUE_PREFIX } from '../offload/at-rest-jobs';

/**
 * Composite values, only for the `docData` field of RxDB's replication-meta documents (a full copy of a
 * replicated document, which RxDB writes after every push and pull): `r1:<own envelope>:<envelope>…`.
 * Each object-valued member of `docData` that the records instance has just sealed or opened (the same
 * object: RxDB shares it between the document and its meta copy) is stored as that very envelope, not
 * sealed again; the own envelope seals the rest with a null placeholder per member and, per member,
 * [member, collection, field, revision, nonce] of the envelope it refers to. Opening checks the own
 * envelope as usual, that each referred envelope carries the named nonce, and opens each one with the
 * binding it names and the meta document's `itemId` as document id: a referred envelope swapped for any
 * other (another document, field or revision, or a forged one) is refused. Replaying a whole older
 * meta document stays possible, as for any document (see "Not covered" above).
 */
export const COMPOSITE_PREFIX = 'r1:';

export const COMPOSITE_SEPARATOR = ':';

// Envelopes are remembered under their nonce (random per seal) and compared whole on a hit: hashing a
// kilobyte-long string for every Map lookup cost more than the lookup saved (≈2.5 µs each, measured).
// A composite value (`r1:`) is remembered under the nonce of its own small envelope.
const ENVELOPE_KEY_CHARS = 32;

export const envelopeKey = (stored: string): string => {
  const from = stored.startsWith(COMPOSITE_PREFIX)
    ? COMPOSITE_PREFIX.length + VALUE_PREFIX.length
    : VALUE_PREFIX.length;
  return stored.slice(from, from + ENVELOPE_KEY_CHARS);
};

/** `h`: the clear digest the referred envelope is bound to; '' in refs sealed before it existed (5 members). */
export type CompositeRef = readonly [
  member: string,
  c: string,
  f: string,
  r: string,
  nonce: string,
  h: string,
];

export const parseComposite = (stored: string) => {
  const parts = stored.slice(COMPOSITE_PREFIX.length).split(COMPOSITE_SEPARATOR);
  return { own: parts[0] ?? '', referred: parts.slice(1) };
};

/** The checked skeleton and references of a composite's own plaintext; null when malformed. */
export const compositeRefs = (
  inner: unknown,
  referred: readonly string[],
): { skeleton: Record<string, unknown>; refs: CompositeRef[] } | null => {
  if (!isRecord(inner) || !isRecord(inner['s']) || !Array.isArray(inner['refs'])) return null;
  const skeleton = inner['s'];
  const refs = inner['refs'] as unknown[];
  if (refs.length === 0 || refs.length !== referred.length) return null;
  const out: CompositeRef[] = [];
  for (const [n, ref] of refs.entries()) {
    // A 5-member ref (no digest) can only name an envelope sealed before digests, which opens with any.
    if (!Array.isArray(ref) || (ref.length !== 5 && ref.length !== 6)) return null;
    if (!ref.every((p) => typeof p === 'string')) return null;
    const [member, c, f, r, nonce, h = ''] = ref as [string, string, string, string, string, string?];
    if (!Object.hasOwn(skeleton, member) || skeleton[member] !== null) return null;
    if (envelopeKey(referred[n]!) !== nonce) return null;
    out.push([member, c, f, r, nonce, h]);
  }
  return { skeleton, refs: out };
};

export const assembleComposite = (
  skeleton: Record<string, unknown>,
  refs: readonly CompositeRef[],
  values: readonly unknown[],
): Record<string, unknown> => {
  const out = { ...skeleton };
  refs.forEach(([member], n) => {
    out[member] = values[n];
  });
  return out;
};
