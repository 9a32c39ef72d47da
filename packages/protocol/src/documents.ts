/**
 * Documents as they travel: routing metadata in the clear, the record itself sealed in `ct`.
 *
 * Invariants: the server never sees plaintext; it stores `ct` as opaque bytes and only compares
 * revision tags for equality. `seq` and `at` are assigned by the server and exist only on documents
 * it serves (`ServedDoc`); a device never sends them (`PushDoc`). The `audit` header appears on
 * documents of `audit` streams and nowhere else; audit and clinical documents always carry `sig`
 * (the codec enforces both).
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_DOC_BYTES } from './limits';
import {
  B64u,
  DeviceId,
  Epoch,
  IsoDateTime,
  RecordId,
  RevTag,
  Seq,
  Signature,
  StreamId,
  b64uDecodedLength,
} from './primitives';

/** Public header of an audit entry: per-author hash chain position. */
export const AuditHeader = Type.Object(
  {
    /** 1 for an author device's first entry, +1 for each next one. */
    authorSeq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    /** Hash of the same author's previous entry; null for its first. */
    prevHash: Type.Union([B64u(64), Type.Null()]),
    at: IsoDateTime,
  },
  { additionalProperties: false },
);
export type AuditHeader = Static<typeof AuditHeader>;

const docProperties = {
  stream: StreamId,
  id: RecordId,
  rev: RevTag,
  deleted: Type.Boolean(),
  epoch: Epoch,
  ct: B64u(MAX_DOC_BYTES, 'sealed record'),
  author: DeviceId,
  sig: Type.Optional(Signature),
  audit: Type.Optional(AuditHeader),
};

/** A document as a device pushes it: no server-assigned fields. */
export const PushDoc = Type.Object(docProperties, { additionalProperties: false });
export type PushDoc = Static<typeof PushDoc>;

/** A document as the server serves it: `seq` orders it within its stream, `at` is when it was stored. */
export const ServedDoc = Type.Object(
  { ...docProperties, seq: Seq, at: IsoDateTime },
  { additionalProperties: false },
);
export type ServedDoc = Static<typeof ServedDoc>;

/** Either form (server fields optional), for code that handles both. */
export const WireDoc = Type.Object(
  { ...docProperties, seq: Type.Optional(Seq), at: Type.Optional(IsoDateTime) },
  { additionalProperties: false },
);
export type WireDoc = Static<typeof WireDoc>;

/** Decoded size of a document's sealed record; counts against MAX_BATCH_BYTES. */
export const docBytes = (doc: Pick<WireDoc, 'ct'>): number => b64uDecodedLength(doc.ct) ?? doc.ct.length;

/**
 * Cuts items into batches of at most `maxCount` items and `maxBytes` bytes (by `sizeOf`). An item
 * larger than `maxBytes` travels alone, so a batch sequence always makes progress.
 */
export function batchByLimits<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxCount: number,
  maxBytes: number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
