// Valid example frames and bodies shared by this package's tests. Not exported from the package.
import type { ClientFrame, ServerFrame } from './messages';
import { b64uLength, streamId, toIsoDateTime } from './primitives';
import type { PushDoc, ServedDoc } from './documents';
import type { HttpBlobCreateRequest, HttpRegisterRequest } from './http-api';

const B64U_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Canonical base64url of `bytes` bytes, `fill` repeated: the last character has its unused bits cleared
 * (as an encoder writes it), since the schemas refuse any other spelling.
 */
export const b64 = (bytes: number, fill = 'A'): string => {
  const text = fill.repeat(b64uLength(bytes));
  const unused = [0, 4, 2][bytes % 3]!;
  const last = B64U_ALPHABET.indexOf(fill) & ~((1 << unused) - 1);
  return text.length === 0 ? text : `${text.slice(0, -1)}${B64U_ALPHABET[last]!}`;
};

export const PATIENT = 'PatientAccount_0123456';
export const PROVIDER = 'ProviderAccount-012345';
export const DEVICE = 'DeviceOfPatient_012345';
export const SERVER = 'ServerIdentity_0123456';
export const RECORD = '01HZY3K8Q5N9V7W2X4Y6Z8A0BC';
export const RECORD_2 = '01HZY3K8Q5N9V7W2X4Y6Z8A0BD';
export const GRANT_ID = '01HZY3K8Q5N9V7W2X4Y6Z8A0GR';
export const GRANT_ID_2 = '01HZY3K8Q5N9V7W2X4Y6Z8A0GS';
export const ALLERGY = streamId(PATIENT, 'allergy');
export const AUDIT = streamId(PATIENT, 'audit');
export const NOTE = streamId(PATIENT, 'note');
export const T0 = toIsoDateTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
export const T1 = toIsoDateTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
export const REV1 = '1-0123456789abcdef01234567';
export const REV2 = '2-89abcdef0123456789abcdef';
export const SIG = b64(64, 'S');

export const signedHead = {
  head: { v: 1 as const, stream: ALLERGY, n: 2, root: b64(32, 'r'), seq: 5, at: T0, device: DEVICE },
  sig: SIG,
};

export const pushDoc = (over: Partial<PushDoc> = {}): PushDoc => ({
  stream: ALLERGY,
  id: RECORD,
  rev: REV1,
  deleted: false,
  epoch: 0,
  ct: b64(100, 'c'),
  author: DEVICE,
  ...over,
});

export const servedDoc = (over: Partial<ServedDoc> = {}): ServedDoc => ({
  ...pushDoc(),
  seq: 1,
  at: T0,
  ...over,
});

export const auditDoc = (): ServedDoc =>
  servedDoc({ stream: AUDIT, sig: SIG, audit: { authorSeq: 1, prevHash: null, at: T0 }, seq: 2 });

const streamAccess = {
  stream: ALLERGY,
  patientId: PATIENT,
  type: 'allergy',
  access: 'read',
  head: 7,
  epoch: 1,
  grantId: GRANT_ID,
  expiresAt: T1,
} as const;

const envelope = {
  stream: ALLERGY,
  epoch: 1,
  recipient: PROVIDER,
  keyId: b64(16, 'k'),
  wrapped: b64(80, 'w'),
  createdBy: DEVICE,
  sig: SIG,
};

/** Every client frame type, with every optional field present. */
export const CLIENT_EXAMPLES: readonly ClientFrame[] = [
  { t: 'hello', versions: [1, 2], deviceId: DEVICE },
  { t: 'auth', sig: SIG },
  { t: 'pull', rid: 1, streams: [{ stream: ALLERGY, since: 0 }], limit: 500, maxBytes: 1_000_000 },
  {
    t: 'push',
    rid: 2,
    rows: [
      { doc: pushDoc({ sig: SIG }), assumedRev: null },
      {
        doc: pushDoc({ stream: AUDIT, sig: SIG, audit: { authorSeq: 2, prevHash: b64(32, 'h'), at: T0 } }),
        assumedRev: REV2,
      },
    ],
  },
  { t: 'subscribe', rid: 3, streams: [{ stream: ALLERGY, since: 4 }] },
  { t: 'unsubscribe', rid: 4, streams: [ALLERGY] },
  { t: 'listStreams', rid: 5 },
  { t: 'listGrants', rid: 11 },
  {
    t: 'grant',
    rid: 6,
    grant: {
      grant: {
        v: 1,
        grantId: GRANT_ID,
        patientId: PATIENT,
        granteeId: PROVIDER,
        scope: [
          { type: 'allergy', access: 'read' },
          { type: 'lab-result', access: 'write' },
        ],
        start: T0,
        expiresAt: T1,
        purpose: { ct: 'dHJlYXRtZW50', patient: 'dHJlYXRtZW50', grantee: 'dHJlYXRtZW50' },
        issuedAt: T0,
        supersedes: GRANT_ID_2,
      },
      sig: SIG,
    },
  },
  {
    t: 'revoke',
    rid: 7,
    revocation: { revocation: { v: 1, grantId: GRANT_ID, patientId: PATIENT, revokedAt: T1 }, sig: SIG },
  },
  { t: 'putEnvelopes', rid: 8, envelopes: [envelope] },
  { t: 'getEnvelopes', rid: 9, streams: [ALLERGY] },
  { t: 'listKeyHolders', rid: 12, streams: [ALLERGY] },
  { t: 'ping', rid: 10 },
  { t: 'acceptPatient', rid: 13, patientId: PATIENT, accept: true },
  { t: 'listAccepted', rid: 14 },
  { t: 'putHead', rid: 15, head: signedHead },
  { t: 'getHead', rid: 16, stream: ALLERGY, after: RECORD, limit: 100 },
];

/** Every server frame type, with every optional field present. */
export const SERVER_EXAMPLES: readonly ServerFrame[] = [
  { t: 'challenge', nonce: b64(32, 'n'), serverId: SERVER, version: 1 },
  { t: 'ready', accountId: PATIENT, deviceId: DEVICE, version: 2, sessionExpiresAt: T1, wrappedRootGen: 3 },
  {
    t: 'pulled',
    rid: 1,
    docs: [servedDoc({ seq: 3 }), servedDoc({ id: RECORD_2, seq: 5, deleted: true }), auditDoc()],
    streams: [
      { stream: ALLERGY, checkpoint: 5, done: true },
      { stream: AUDIT, checkpoint: 9, done: false },
    ],
    denied: [{ stream: NOTE, code: 'NO_CONSENT' }],
  },
  {
    t: 'pushed',
    rid: 2,
    results: [
      { status: 'ok', stream: ALLERGY, id: RECORD, rev: REV1, seq: 9 },
      { status: 'conflict', stream: ALLERGY, id: RECORD_2, master: servedDoc({ id: RECORD_2 }) },
      { status: 'error', stream: AUDIT, id: RECORD, code: 'APPEND_ONLY', message: 'audit entries are final' },
    ],
  },
  { t: 'ok', rid: 3 },
  { t: 'changes', docs: [servedDoc({ seq: 11 })], streams: [{ stream: ALLERGY, checkpoint: 11 }] },
  { t: 'streams', rid: 5, streams: [streamAccess] },
  {
    t: 'grants',
    rid: 11,
    grants: [
      {
        grant: {
          grant: {
            v: 1,
            grantId: GRANT_ID,
            patientId: PATIENT,
            granteeId: PROVIDER,
            scope: [{ type: 'allergy', access: 'read' }],
            start: T0,
            expiresAt: T1,
            purpose: { ct: 'dHJlYXRtZW50', patient: 'dHJlYXRtZW50', grantee: 'dHJlYXRtZW50' },
            issuedAt: T0,
          },
          sig: SIG,
        },
        revokedAt: T1,
        revocation: { revocation: { v: 1, grantId: GRANT_ID, patientId: PATIENT, revokedAt: T1 }, sig: SIG },
        supersededBy: {
          grant: {
            v: 1,
            grantId: GRANT_ID_2,
            patientId: PATIENT,
            granteeId: PROVIDER,
            scope: [{ type: 'allergy', access: 'write' }],
            start: T0,
            expiresAt: T1,
            purpose: { ct: 'dHJlYXRtZW50', patient: 'dHJlYXRtZW50', grantee: 'dHJlYXRtZW50' },
            issuedAt: T1,
            supersedes: GRANT_ID,
          },
          sig: SIG,
        },
      },
    ],
  },
  { t: 'accessChanged', streams: [streamAccess], removed: [{ stream: NOTE, reason: 'revoked' }] },
  { t: 'wrappedRootChanged', gen: 4 },
  { t: 'envelopes', rid: 9, envelopes: [envelope] },
  {
    t: 'keyHolders',
    rid: 12,
    holders: [{ stream: ALLERGY, epoch: 0, recipient: PATIENT, createdBy: DEVICE }],
  },
  { t: 'pong', rid: 10, time: T0 },
  { t: 'error', rid: 11, code: 'RATE_LIMITED', message: 'slow down', details: { retryAfterMs: 1000 } },
  { t: 'acceptedPatients', rid: 14, patients: [{ patientId: PATIENT, acceptedAt: T0 }] },
  {
    t: 'head',
    rid: 16,
    stream: ALLERGY,
    signed: signedHead,
    leaves: [{ id: RECORD_2, rv: 2, deleted: false, tag: '89abcdef0123456789abcdef' }],
    next: RECORD_2,
  },
];

export const registerBody = (): HttpRegisterRequest => ({
  account: {
    accountId: PATIENT,
    role: 'patient',
    identityPublicKey: b64(32, 'i'),
    wrappingPublicKey: b64(32, 'x'),
    wrappedRoot: {
      v: 1,
      kdf: { alg: 'scrypt', N: 2 ** 17, r: 8, p: 1, dkLen: 32, salt: b64(16, 's') },
      nonce: b64(24, 'n'),
      ct: b64(48, 'c'),
    },
    loginName: 'alice.smith',
    createdAt: T0,
  },
  device: {
    v: 1,
    cert: {
      accountId: PATIENT,
      deviceId: DEVICE,
      devicePublicKey: b64(32, 'd'),
      identityPublicKey: b64(32, 'i'),
      sealedName: 'c2VhbGVk',
      createdAt: T0,
    },
    sig: SIG,
  },
  sig: SIG,
  wrappedRootSig: SIG,
});

export const blobBody = (): HttpBlobCreateRequest => ({
  blobId: RECORD,
  stream: streamId(PATIENT, 'document'),
  size: 3 * 1024 * 1024 + 5,
  chunkSize: 1024 * 1024,
  chunkCount: 4,
  digests: [b64(32, 'a'), b64(32, 'b'), b64(32, 'c'), b64(32, 'd')],
  epoch: 2,
});
