// The Merkle root of a stream head (docs/architecture.md, "Signed stream heads"): shared by the device
// that signs or checks a statement (@hale/client stream-head.ts) and the server that compares a statement
// with its own rows. Pure.
//
// | piece | what                                                                              |
// | ----- | --------------------------------------------------------------------------------- |
// | leaf  | SHA-256("hale/head-leaf/v1" ‖ canonicalJSON([id, rv, deleted, tag])), one per id  |
// | root  | Merkle root over the leaves sorted by id ("hale/head-node/v1"; odd node carried)  |
// | empty | SHA-256("hale/head-empty/v1"), n = 0                                              |
//
// Invariants: the root depends on the set of leaves only (input order aside); a list naming an id twice
// is refused (HeadError DUPLICATE_LEAF: it cannot be a state).
import { base64urlEncode, utf8Encode } from './encoding';
import { labeledSha256 } from './hash';

export const STREAM_HEAD_LABEL = 'hale/stream-head/v1';

/** One record's version as the server holds it in clear: id, write count, deletion, revision tag. */
export interface HeadLeaf {
  readonly id: string;
  readonly rv: number;
  readonly deleted: boolean;
  readonly tag: string;
}

export class HeadError extends Error {
  constructor(
    readonly code: 'DUPLICATE_LEAF',
    message: string,
  ) {
    super(message);
    this.name = 'HeadError';
  }
}

// JSON.stringify of an array of strings, a number and a boolean is canonical JSON already, and much
// cheaper than the general canonicaliser (100k leaves per check).
export const leafHash = (leaf: HeadLeaf): Uint8Array =>
  labeledSha256('hale/head-leaf/v1', utf8Encode(JSON.stringify([leaf.id, leaf.rv, leaf.deleted, leaf.tag])));

const byId = (a: HeadLeaf, b: HeadLeaf): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The count and Merkle root of `leaves` (any order; one leaf per id). */
export const headRoot = (leaves: readonly HeadLeaf[]): { n: number; root: string } => {
  const sorted = [...leaves].sort(byId);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id)
      throw new HeadError('DUPLICATE_LEAF', `record ${sorted[i]!.id} is named twice`);
  }
  if (sorted.length === 0) return { n: 0, root: base64urlEncode(labeledSha256('hale/head-empty/v1')) };
  let level = sorted.map(leafHash);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? level[i]! : labeledSha256('hale/head-node/v1', level[i]!, right));
    }
    level = next;
  }
  return { n: sorted.length, root: base64urlEncode(level[0]!) };
};
