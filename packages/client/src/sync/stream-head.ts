// Signed stream heads, the pure part (docs/architecture.md, "Signed stream heads"): a patient device's
// signed statement of a stream's state, and the check of a device's copy against it, which names a record
// the server withholds or serves rolled back. The root itself is @hale/crypto's (head-root.ts), which the
// server uses too; head-sync.ts wires this to the wire and the engine.
//
// | piece              | what                                                                               |
// | ------------------ | ---------------------------------------------------------------------------------- |
// | leaf               | SHA-256("hale/head-leaf/v1" ‖ canonicalJSON([id, rv, deleted, tag])), one per id   |
// | root               | Merkle root over the leaves sorted by id ("hale/head-node/v1"; odd node carried)   |
// | statement          | { v: 1, stream, n, root, seq, at, device }, signed "hale/stream-head/v1"           |
// | check              | served leaves hash to root and count n; then each leaf's id held at rv ≥ its rv     |
//
// Invariants: the root depends on the set of leaves only (order of input aside), and one id appears once
// (a list naming an id twice is refused: it cannot be a state). Writes after a statement never fail its
// check (they raise rv or add ids). Failure modes: `headRoot` throws HeadError DUPLICATE_LEAF;
// `verifyStreamHead` answers false, never throws, for a malformed statement; `checkAgainstHead` answers
// LEAVES_MISMATCH when the served leaves are not the signed ones.
import {
  base64urlDecode,
  base64urlEncode,
  headRoot,
  signCanonical,
  verifyCanonical,
  STREAM_HEAD_LABEL,
  type Ed25519,
  type HeadLeaf,
} from '@hale/crypto';

export { HeadError, headRoot, leafHash, STREAM_HEAD_LABEL, type HeadLeaf } from '@hale/crypto';

export interface StreamHead {
  readonly v: 1;
  readonly stream: string;
  /** Leaves (records, tombstones included). */
  readonly n: number;
  /** base64url Merkle root over the leaves. */
  readonly root: string;
  /** The server seq the signing device had pulled to. */
  readonly seq: number;
  /** The signing device's clock (ISO). */
  readonly at: string;
  /** The signing device's id. */
  readonly device: string;
}

export interface SignedStreamHead {
  readonly head: StreamHead;
  /** base64url Ed25519 signature by `head.device`. */
  readonly sig: string;
}

/** The statement of `leaves` for `stream`, signed by the device whose key is `deviceSecretKey`. */
export const signStreamHead = async (
  ed: Ed25519,
  deviceSecretKey: Uint8Array,
  about: Omit<StreamHead, 'v' | 'n' | 'root'>,
  leaves: readonly HeadLeaf[],
): Promise<SignedStreamHead> => {
  const head: StreamHead = { v: 1, ...about, ...headRoot(leaves) };
  const sig = await signCanonical(ed, deviceSecretKey, STREAM_HEAD_LABEL, head);
  return { head, sig: base64urlEncode(sig) };
};

/** Whether `signed` is a statement `devicePublicKey` signed (the caller checks the device is the patient's). */
export const verifyStreamHead = async (
  ed: Ed25519,
  devicePublicKey: Uint8Array,
  signed: SignedStreamHead,
): Promise<boolean> => {
  const sig = base64urlDecode(signed.sig);
  if (!sig.ok || signed.head.v !== 1) return false;
  return verifyCanonical(ed, devicePublicKey, STREAM_HEAD_LABEL, signed.head, sig.value);
};

/** A record the statement names that the device's copy does not hold as confirmed. */
export type HeadFinding =
  | { readonly kind: 'withheld'; readonly id: string; readonly rv: number }
  | { readonly kind: 'rolled-back'; readonly id: string; readonly rv: number; readonly held: number }
  | { readonly kind: 'replaced'; readonly id: string; readonly rv: number };

export type HeadCheck =
  | { readonly ok: true; readonly findings: readonly HeadFinding[] }
  | { readonly ok: false; readonly reason: 'LEAVES_MISMATCH' };

/**
 * Checks the device's copy (`held`: the version it holds of an id, or undefined) against a verified
 * statement and the leaves the server served for it. Findings name each record withheld (not held),
 * rolled back (held at a lower rv) or replaced (held at the same rv with another tag).
 */
export const checkAgainstHead = (
  head: StreamHead,
  leaves: readonly HeadLeaf[],
  held: (id: string) => { readonly rv: number; readonly tag: string } | undefined,
): HeadCheck => {
  let computed: { n: number; root: string };
  try {
    computed = headRoot(leaves);
  } catch {
    return { ok: false, reason: 'LEAVES_MISMATCH' };
  }
  if (computed.n !== head.n || computed.root !== head.root) return { ok: false, reason: 'LEAVES_MISMATCH' };
  const findings: HeadFinding[] = [];
  for (const leaf of leaves) {
    const mine = held(leaf.id);
    if (mine === undefined) findings.push({ kind: 'withheld', id: leaf.id, rv: leaf.rv });
    else if (mine.rv < leaf.rv)
      findings.push({ kind: 'rolled-back', id: leaf.id, rv: leaf.rv, held: mine.rv });
    else if (mine.rv === leaf.rv && mine.tag !== leaf.tag)
      findings.push({ kind: 'replaced', id: leaf.id, rv: leaf.rv });
  }
  return { ok: true, findings };
};

/** A finding as a sync issue a person can read: which record, what the server did, who confirmed what. */
export const headIssue = (
  head: StreamHead,
  finding: HeadFinding,
): { code: 'HEAD_WITHHELD' | 'HEAD_ROLLED_BACK'; stream: string; id: string; message: string } => {
  const confirmed = `device ${head.device} confirmed revision ${finding.rv} at ${head.at}`;
  if (finding.kind === 'withheld')
    return {
      code: 'HEAD_WITHHELD',
      stream: head.stream,
      id: finding.id,
      message: `the server holds back record ${finding.id} of ${head.stream}: ${confirmed}; tell the server's operator`,
    };
  return {
    code: 'HEAD_ROLLED_BACK',
    stream: head.stream,
    id: finding.id,
    message:
      finding.kind === 'rolled-back'
        ? `the server serves an older version of record ${finding.id} of ${head.stream} (revision ${finding.held}): ${confirmed}; tell the server's operator`
        : `the server serves other content as revision ${finding.rv} of record ${finding.id} of ${head.stream}: ${confirmed}; tell the server's operator`,
  };
};
