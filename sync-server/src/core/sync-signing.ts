/*
 * Documents as the protocol serves them, the server's signatures over protocol payloads, and the links of
 * audit hash chains.
 *
 * Invariants:
 * - A signature is over the payload's canonical bytes under its own domain label (@hale/crypto); a `sig`
 *   that is not base64url never verifies.
 * - A chain link is computed from an entry exactly as stored, as a device computes it, so a damaged entry
 *   is continued from rather than forked around.
 */
import { auditSignaturePayload, type ServedDoc } from '@hale/protocol';
import {
  base64urlDecode,
  base64urlEncode,
  chainLinkHash,
  signCanonical,
  verifyCanonical,
  type Ed25519,
} from '@hale/crypto';
import type { Doc } from '../store/index';

export const toServedDoc = (doc: Doc): ServedDoc => {
  const out: ServedDoc = {
    stream: doc.stream as ServedDoc['stream'],
    id: doc.id,
    rev: doc.rev,
    deleted: doc.deleted,
    epoch: doc.epoch,
    ct: Buffer.from(doc.ct.buffer, doc.ct.byteOffset, doc.ct.byteLength).toString('base64url'),
    author: doc.author,
    seq: doc.seq,
    at: doc.at,
  };
  if (doc.sig !== undefined) out.sig = doc.sig;
  if (doc.audit !== undefined) out.audit = doc.audit;
  return out;
};

/** Verifies an Ed25519 signature over a protocol payload (which carries its own domain label). */
export const verifyPayload = async (
  ed: Ed25519,
  publicKey: Uint8Array,
  payload: { label: string },
  sig: string,
): Promise<boolean> => {
  const s = base64urlDecode(sig);
  if (!s.ok) return false;
  return verifyCanonical(ed, publicKey, payload.label, payload, s.value);
};

export const signPayload = async (
  ed: Ed25519,
  secretKey: Uint8Array,
  payload: { label: string },
): Promise<string> => base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));

/** Hash that links an audit entry to the same author's next one (shared with devices via @hale/crypto). */
export const auditEntryHash = (payload: { label: string }, sig: string): string => {
  const s = base64urlDecode(sig);
  return chainLinkHash(payload, s.ok ? s.value : new Uint8Array());
};

/**
 * Where the next entry of an author's chain goes: after `last`, the author's stored entry at its highest
 * position (`auditChainEnd`; null for none). The link is computed from the entry exactly as stored, as a
 * device computes it, so even a damaged entry is continued from rather than forked around (devices report
 * the damage itself).
 */
export const chainAfter = (last: Doc | null): { seq: number; hash: string | null } => {
  if (last?.audit === undefined) return { seq: 0, hash: null };
  const payload = auditSignaturePayload({ ...toServedDoc(last), audit: last.audit });
  return { seq: last.audit.authorSeq, hash: auditEntryHash(payload, last.sig ?? '') };
};
