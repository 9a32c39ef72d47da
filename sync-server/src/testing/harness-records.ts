// Test harness (harness-records): Real sealed records, audit entries, grants, revocations and key
// envelopes, signed as a device would.
// Re-exported by harness.ts, which tests import.
import {
  docSignaturePayload,
  auditSignaturePayload,
  envelopeSignaturePayload,
  grantSignaturePayload,
  revocationSignaturePayload,
  type Grant,
  type GrantScopeEntry,
  type KeyEnvelope,
  type PushDoc,
} from '@hale/protocol';
import {
  base64urlEncode,
  sealGrantPurpose,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  hexEncode,
  keyId,
  sealRecordVersion,
  sha256,
  wrapKey,
} from '@hale/crypto';
import { newId } from '@hale/model';
import { x25519, sign, iso } from './harness-server';
import type { TestDevice, TestAccount } from './harness-accounts';
import { streamOf } from './harness-ws';

/** A real sealed record under the patient's derived epoch-0 key, with a content revision tag. */
export const makeDoc = async (
  patient: TestAccount,
  author: TestDevice,
  type: string,
  data: unknown,
  options: {
    id?: string;
    rv?: number;
    deleted?: boolean;
    epoch?: number;
    key?: Uint8Array;
    signed?: boolean;
  } = {},
): Promise<PushDoc> => {
  const stream = streamOf(patient.accountId, type);
  const id = options.id ?? newId();
  const rv = options.rv ?? 1;
  const deleted = options.deleted ?? false;
  const key = options.key ?? deriveInitialStreamKey(patient.root, stream);
  const epoch0 = deriveInitialStreamKey(patient.root, stream);
  const { sealed: ct, tag: rev } = sealRecordVersion(
    key,
    deriveRevisionTagKey(epoch0),
    { stream, id, epoch: options.epoch ?? 0, rev: rv, deleted },
    data,
  );
  const doc: PushDoc = {
    stream,
    id,
    rev,
    deleted,
    epoch: options.epoch ?? 0,
    ct: base64urlEncode(ct),
    author: author.deviceId,
  };
  if (options.signed ?? true) doc.sig = await sign(author.keys.secretKey, docSignaturePayload(doc));
  return doc;
};

export const makeAuditDoc = async (
  patient: TestAccount,
  author: TestDevice,
  options: { authorSeq?: number; prevHash?: string | null } = {},
): Promise<PushDoc> => {
  const stream = streamOf(patient.accountId, 'audit');
  const ct = base64urlEncode(sha256(new TextEncoder().encode(`entry ${Math.random()}`)));
  const doc = {
    stream,
    id: newId(),
    rev: `1-${hexEncode(sha256(new TextEncoder().encode(ct))).slice(0, 24)}`,
    deleted: false,
    epoch: 0,
    ct,
    author: author.deviceId,
    audit: { authorSeq: options.authorSeq ?? 1, prevHash: options.prevHash ?? null, at: iso() },
  };
  return { ...doc, sig: await sign(author.keys.secretKey, auditSignaturePayload(doc)) };
};

/** `text` sealed as a grant's purpose (`sealGrantPurpose`) to `patient` and `grantee`. */
export const purposeFor = (
  text: string,
  grantId: string,
  patient: Pick<TestAccount, 'keys'>,
  grantee: Pick<TestAccount, 'keys'>,
): Grant['purpose'] =>
  sealGrantPurpose(text, grantId, patient.keys.wrapping.publicKey, grantee.keys.wrapping.publicKey, x25519);

export const makeGrant = async (
  patient: TestAccount,
  grantee: TestAccount,
  scope: GrantScopeEntry[],
  options: {
    start?: number;
    expiresAt?: number;
    purpose?: string;
    signer?: Uint8Array;
    /** The server's (injected) clock; defaults to real time. */
    now?: number;
    /** The grant this one replaces (`Grant.supersedes`); none unless given. */
    supersedes?: string;
  } = {},
) => {
  const now = options.now ?? Date.now();
  const grantId = newId();
  const grant: Grant = {
    v: 1,
    grantId,
    patientId: patient.accountId,
    granteeId: grantee.accountId,
    scope,
    start: iso(options.start ?? now - 1000),
    expiresAt: iso(options.expiresAt ?? now + 48 * 3600_000),
    purpose: purposeFor(options.purpose ?? 'treatment', grantId, patient, grantee),
    issuedAt: iso(now),
    ...(options.supersedes === undefined ? {} : { supersedes: options.supersedes }),
  };
  return {
    grant,
    sig: await sign(options.signer ?? patient.keys.identity.secretKey, grantSignaturePayload(grant)),
  };
};

export const makeRevocation = async (patient: TestAccount, grantId: string) => {
  const revocation = { v: 1 as const, grantId, patientId: patient.accountId, revokedAt: iso() };
  return {
    revocation,
    sig: await sign(patient.keys.identity.secretKey, revocationSignaturePayload(revocation)),
  };
};

export const makeEnvelope = async (
  patient: TestAccount,
  author: TestDevice,
  recipient: TestAccount,
  type: string,
  epoch = 0,
  key?: Uint8Array,
): Promise<KeyEnvelope> => {
  const stream = streamOf(patient.accountId, type);
  const k = key ?? deriveInitialStreamKey(patient.root, stream);
  const env = {
    stream,
    epoch,
    recipient: recipient.accountId,
    keyId: keyId(k),
    wrapped: wrapKey(k, recipient.keys.wrapping.publicKey, { stream, epoch }, x25519),
    createdBy: author.deviceId,
  };
  return { ...env, sig: await sign(author.keys.secretKey, envelopeSignaturePayload(env)) };
};
