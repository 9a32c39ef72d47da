/**
 * Signed stream heads on the wire (docs/architecture.md, "Signed stream heads"): a patient device's signed
 * statement of a stream's state, and the leaves it covers, one per record as the server holds it in clear.
 *
 * | schema       | what                                                                             |
 * | ------------ | -------------------------------------------------------------------------------- |
 * | HeadLeaf     | { id, rv, deleted, tag }: a record's id, write count, deletion, revision tag hex  |
 * | HeadStatement| { v: 1, stream, n, root, seq, at, device }, signed "hale/stream-head/v1"         |
 * | SignedHead   | { head, sig }: the statement and its signer's Ed25519 signature                  |
 *
 * Invariants: closed objects; `tag` is the hex part of the record's revision tag (`${rv}-${tag}`), so a leaf
 * says nothing the server does not hold in clear. A `head` page lists leaves by id strictly ascending
 * (semantics.ts), so a reader can tell a page that repeats or reorders ids.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_HEAD_LEAVES } from './limits';
import { B64uFixed, DeviceId, IsoDateTime, RecordId, Seq, Signature, StreamId } from './primitives';

const closed = { additionalProperties: false } as const;

/** Largest write count a revision tag can carry (`[1-9][0-9]{0,9}`). */
export const MAX_REV_NUMBER = 9_999_999_999;

export const HeadLeaf = Type.Object(
  {
    id: RecordId,
    rv: Type.Integer({ minimum: 1, maximum: MAX_REV_NUMBER }),
    deleted: Type.Boolean(),
    tag: Type.String({ pattern: '^[0-9a-f]{24}$' }),
  },
  closed,
);
export type HeadLeaf = Static<typeof HeadLeaf>;

export const HeadStatement = Type.Object(
  {
    v: Type.Literal(1),
    stream: StreamId,
    n: Type.Integer({ minimum: 0, maximum: MAX_HEAD_LEAVES }),
    root: B64uFixed(32, 'SHA-256 Merkle root'),
    seq: Seq,
    at: IsoDateTime,
    device: DeviceId,
  },
  closed,
);
export type HeadStatement = Static<typeof HeadStatement>;

export const SignedHead = Type.Object({ head: HeadStatement, sig: Signature }, closed);
export type SignedHead = Static<typeof SignedHead>;

/** A leaf from a stored revision tag `${rv}-${tag}`, or null when the tag is not of that form. */
export const leafOfRev = (id: string, rev: string, deleted: boolean): HeadLeaf | null => {
  const match = /^([1-9][0-9]{0,9})-([0-9a-f]{24})$/.exec(rev);
  if (match === null) return null;
  return { id, rv: Number(match[1]), deleted, tag: match[2]! };
};
