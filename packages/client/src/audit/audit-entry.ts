/**
 * One audit entry: made (numbered, linked, signed, its body sealed to the patient), opened, and the bytes
 * its signature and link hash cover.
 *
 * | field | covered by the signature | what it says |
 * | ----- | ------------------------ | ------------ |
 * | `audit.authorSeq`, `audit.prevHash`, `audit.at` | yes | position in the author's chain, link to the one before, signed time |
 * | `stream`, `id`, `rev`, `ct`, `author` | yes | the patient's log, the sealed body, the signing device |
 * | `sig` | — | Ed25519 over `utf8(label) ‖ 0 ‖ canonicalJson(payload)` (`auditSignaturePayload`) |
 *
 * - Link hash: `chainLinkHash(payload, sig)` = sha256(signed message ‖ sig); the next entry of the author
 *   names it as `prevHash`. It needs no key.
 * - A body is read only once checked against `AuditBody`: fields it does not name are dropped (entries of
 *   newer builds). One whose frame matches (AuditEntry: kind, action, actor, time; AccessEvent: also stream
 *   and count) opens without a detail field that does not; one whose frame does not opens as null, like
 *   one that does not open.
 */
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  chainLinkHash,
  concatBytes,
  hexEncode,
  openSealed,
  sealTo,
  sha256,
  signCanonical,
  signingMessage,
  utf8Decode,
  type BoxKeyPair,
  type Ed25519,
  type X25519,
} from '@hale/crypto';
import type { TSchema } from '@sinclair/typebox';
import { newId } from '@hale/model';
import {
  AccessEventBody,
  AuditBody,
  AuditEntryBody,
  auditSignaturePayload,
  validateTolerant,
  type PushDoc,
  type ServedDoc,
} from '@hale/protocol';

export type { AuditBody } from '@hale/protocol';

export interface ChainState {
  seq: number;
  hash: string | null;
}

/**
 * Builds one signed audit entry for a patient's audit stream, its body sealed to the patient's wrapping key
 * (`openAuditBody` opens it, `verifyAuditLog` checks the chain).
 */
export const makeAuditEntry = async (input: {
  patientId: string;
  patientWrappingKey: Uint8Array;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /** The host's X25519 for sealing the body (tweetnacl by default). */
  x25519?: X25519;
  chain: ChainState;
  body: AuditBody;
  now: () => number;
  /** The entry's id, chosen before (audit-log.ts names a batch of noted changes by it); else a new one. */
  id?: string;
}): Promise<{ doc: PushDoc; chain: ChainState }> => {
  const ct = sealTo(input.patientWrappingKey, canonicalBytes(input.body), input.x25519);
  const at = new Date(input.now()).toISOString();
  const doc = {
    stream: `${input.patientId}/audit` as PushDoc['stream'],
    id: input.id ?? newId(input.now),
    rev: `1-${hexEncode(sha256(ct)).slice(0, 24)}`,
    deleted: false,
    epoch: 0,
    ct: base64urlEncode(ct),
    author: input.device.deviceId,
    audit: { authorSeq: input.chain.seq + 1, prevHash: input.chain.hash, at },
  };
  const payload = auditSignaturePayload(doc);
  const sig = await signCanonical(input.ed, input.device.secretKey, payload.label, payload);
  return {
    doc: { ...doc, sig: base64urlEncode(sig) },
    chain: { seq: input.chain.seq + 1, hash: chainLinkHash(payload, sig) },
  };
};

/**
 * The sealed body of an audit entry, opened with the patient's wrapping key and checked against the
 * protocol's `AuditBody` schema (unknown fields dropped); null when it does not open, is no JSON, or does
 * not match the schema
 * (callers treat all three alike: the entry vouches for nothing).
 */
export const openAuditBody = (
  doc: Pick<ServedDoc, 'ct'>,
  patientKeys: BoxKeyPair,
  x25519?: X25519,
): AuditBody | null => {
  const bytes = base64urlDecode(doc.ct);
  if (!bytes.ok) return null;
  const opened = openSealed(patientKeys, bytes.value, x25519);
  if (!opened.ok) return null;
  const text = utf8Decode(opened.value);
  if (!text.ok) return null;
  let body: unknown;
  try {
    body = JSON.parse(text.value);
  } catch {
    return null;
  }
  // Tolerant: a field a newer build added is dropped, so its entries do not read as forged here.
  const checked = validateTolerant(AuditBody, body);
  if (checked.ok) return checked.value;
  return withoutBadDetails(body);
};

/**
 * Per body kind, its schema and the fields every entry of that kind has always carried (its frame):
 * without them an entry vouches for nothing.
 */
const FRAMES: Record<string, { properties: Record<string, TSchema>; frame: ReadonlySet<string> }> = {
  AuditEntry: {
    properties: AuditEntryBody.properties,
    frame: new Set(['kind', 'action', 'actorId', 'actorDeviceId', 'at']),
  },
  AccessEvent: {
    properties: AccessEventBody.properties,
    frame: new Set(['kind', 'action', 'actorId', 'actorDeviceId', 'at', 'stream', 'count']),
  },
};

/**
 * An entry a newer build (or a newer server) wrote with a detail this one does not know, or a detail out
 * of the limits this one knows: its frame must match, a detail field that does not is dropped. Views trust details only as far as the
 * entry's author anyway.
 */
const withoutBadDetails = (body: unknown): AuditBody | null => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  const kind = fields['kind'];
  const shape = typeof kind === 'string' && Object.hasOwn(FRAMES, kind) ? FRAMES[kind] : undefined;
  if (shape === undefined) return null;
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fields)) {
    const schema = Object.hasOwn(shape.properties, field) ? shape.properties[field] : undefined;
    if (schema === undefined) continue;
    if (shape.frame.has(field) || validateTolerant(schema, value).ok) kept[field] = value;
  }
  const again = validateTolerant(AuditBody, kept);
  return again.ok ? again.value : null;
};

/**
 * The link hash of a served entry (`chainLinkHash` of its payload and signature): what the next entry of
 * its author names, and what a position known stored was verified to hold. Needs no key; null without a
 * header or a signature that decodes.
 */
export const linkOf = (e: ServedDoc): string | null => {
  const sig = base64urlDecode(e.sig ?? '');
  if (!sig.ok || e.audit === undefined) return null;
  return chainLinkHash(auditSignaturePayload({ ...e, audit: e.audit }), sig.value);
};

/** Whether `e`'s signature holds under `key`. */
export const signedUnder = async (e: ServedDoc, key: Uint8Array, ed: Ed25519): Promise<boolean> => {
  const signed = signedBytes(e);
  return signed !== null && (await ed.verify(key, signed.message, signed.sig));
};

/**
 * `e`'s signed message and decoded signature, as its header is served: what a signature check verifies and
 * the link hash covers. Null without a header or signature, or when either does not decode (canonical JSON
 * cannot write the payload: no one signed it).
 */
export const signedBytes = (e: ServedDoc): { message: Uint8Array; sig: Uint8Array } | null => {
  if (!e.audit || e.sig === undefined) return null;
  const sig = base64urlDecode(e.sig);
  if (!sig.ok) return null;
  const payload = auditSignaturePayload({ ...e, audit: e.audit });
  try {
    return { message: signingMessage(payload.label, payload), sig: sig.value };
  } catch {
    return null;
  }
};

/** The link hash of signed bytes (`chainLinkHash` of the payload they hold, without writing it again). */
export const linkOfSigned = ({ message, sig }: { message: Uint8Array; sig: Uint8Array }): string =>
  base64urlEncode(sha256(concatBytes(message, sig)));
