// Shared by the record-codec and wire-job tests: a patient and a provider account with one certified
// device each, keyrings over those accounts, codec dependencies, a valid allergy record (its data a
// valid record of its kind, as `records.add` writes it), documents sealed and served as the server would
// serve them, ciphertexts with a byte flipped, key envelopes signed by the patient's device, and other
// content sealed beside a doc's tag as any holder of the stream key can.
import { assertRecordKind, exampleRecord } from '@hale/model';
import {
  base64urlDecode,
  base64urlEncode,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  keyId,
  keyIdBytes,
  sealSecretbox,
  signCanonical,
  wrapKey,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { envelopeSignaturePayload, type KeyEnvelope, type PushDoc, type ServedDoc } from '@hale/protocol';
import { createKeyring, type KeyringDeps } from './keyring';
import { encodeRecord, encodeRecords, type CodecDeps, type EncodeInput } from './record-codec';
import type { PlainRecord } from '../records/plain-record';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

export const ed = nodeEd25519;
export const patientRoot = generateRootSecret();
export const patient = deriveAccountKeys(patientRoot);
export const patientDevice = generateDeviceKeys();
/** The patient's other device (certified like the first): its versions are another device's. */
export const patientDevice2 = generateDeviceKeys();
export const providerRoot = generateRootSecret();
export const provider = deriveAccountKeys(providerRoot);
export const providerDevice = generateDeviceKeys();
const certified = new Map<string, Map<string, Uint8Array>>([
  [
    patient.accountId,
    new Map([
      [patientDevice.deviceId, patientDevice.publicKey],
      [patientDevice2.deviceId, patientDevice2.publicKey],
    ]),
  ],
  [provider.accountId, new Map([[providerDevice.deviceId, providerDevice.publicKey]])],
]);
export const deviceKey = async (account: string, device: string) =>
  certified.get(account)?.get(device) ?? null;

/** A keyring that fetches `envelopes`; `extra` adds or overrides keyring dependencies. */
export const keyringFor = (
  keys: typeof patient,
  root: Uint8Array,
  device: typeof patientDevice,
  envelopes: KeyEnvelope[] = [],
  extra: Partial<KeyringDeps> = {},
) =>
  createKeyring({
    accountId: keys.accountId,
    root,
    keys,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed,
    fetchEnvelopes: async () => envelopes,
    publishEnvelopes: async () => undefined,
    deviceKey,
    ...extra,
  });

/** Codec dependencies of an account's device, its keyring fetching `envelopes`. */
export const depsFor = (
  keys: typeof patient,
  root: Uint8Array,
  device: typeof patientDevice,
  envelopes: KeyEnvelope[] = [],
): CodecDeps => ({
  keyring: keyringFor(keys, root, device, envelopes),
  ed,
  device: { deviceId: device.deviceId, secretKey: device.secretKey },
  accountId: keys.accountId,
  lookupDeviceKey: async (account, device) => {
    const key = await deviceKey(account, device);
    return key ? { status: 'found', key } : { status: 'unknown' };
  },
});

export const patientDeps = depsFor(patient, patientRoot, patientDevice);
export const providerDeps = depsFor(provider, providerRoot, providerDevice);

/** A record id (a ULID) numbered `n`. */
export const idOf = (n: number) => `01J0000000000000000000${String(n).padStart(4, '0')}`;

/**
 * Valid data of `kind` for record `id` of `patientId`, as a genuine write stores it (the data carries
 * the record's id and patient); `over` replaces fields. An Allergy is to Latex unless `over` says otherwise.
 */
export const dataOf = (
  kind: string,
  id: string,
  patientId: string,
  over: Record<string, unknown> = {},
): PlainRecord['data'] => {
  assertRecordKind(kind);
  return {
    ...(exampleRecord(kind) as unknown as Record<string, unknown>),
    ...(kind === 'Allergy' ? { substance: 'Latex' } : {}),
    id,
    patientId,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
};

/** A record (by default the patient's own allergy); its data follows its kind, id and patient unless given. */
export const record = (over: Partial<PlainRecord> = {}): PlainRecord => {
  const r: PlainRecord = {
    id: '01J00000000000000000000001',
    stream: `${patient.accountId}/allergy`,
    kind: 'Allergy',
    patientId: patient.accountId,
    updatedAt: '2026-01-01T00:00:00.000Z',
    rv: 1,
    epoch: 0,
    author: patientDevice.deviceId,
    by: patient.accountId,
    conflict: false,
    data: {},
    conflictData: null,
    _deleted: false,
    ...over,
  };
  return over.data === undefined ? { ...r, data: dataOf(r.kind, r.id, r.patientId) } : r;
};

/** The write key (current epoch) of a stream; throws when the keyring has none. */
export const writeKeyOf = async (deps: CodecDeps, stream: string) => {
  const write = await deps.keyring.writeKey(stream);
  if (!write) throw new Error(`no write key for ${stream}`);
  return write;
};

/** Each record with its stream's write key, ready for `encodeRecords`. */
export const inputsOf = async (deps: CodecDeps, rs: readonly PlainRecord[]): Promise<EncodeInput[]> =>
  Promise.all(rs.map(async (r) => ({ record: r, write: await writeKeyOf(deps, r.stream) })));

/** A pushed document as the server serves it: with its sequence number and a fixed time. */
export const servedAs = (doc: PushDoc, seq = 1): ServedDoc => ({
  ...doc,
  seq,
  at: '2026-01-01T00:00:00.000Z',
});

/** Pushed documents as the server serves them, numbered 1, 2, …; throws for one that was not sealed. */
export const asServed = (docs: ReadonlyArray<PushDoc | null>): ServedDoc[] =>
  docs.map((d, i) => {
    if (!d) throw new Error(`record ${i} was not sealed`);
    return servedAs(d, i + 1);
  });

/** One record sealed with `encodeRecord` and served (seq 1). */
export const servedRecord = async (r: PlainRecord, deps: CodecDeps = patientDeps): Promise<ServedDoc> => {
  const doc = await encodeRecord(deps, r, await writeKeyOf(deps, r.stream));
  if (!doc) throw new Error('no tag key');
  return servedAs(doc);
};

/** Records sealed as one batch with `encodeRecords` in this thread (no offload) and served. */
export const servedRecords = async (
  rs: readonly PlainRecord[],
  deps: CodecDeps = patientDeps,
): Promise<ServedDoc[]> =>
  asServed(await encodeRecords({ ...deps, offload: null }, await inputsOf(deps, rs)));

/** The same base64url ciphertext with the byte at `at` (counted from the end when negative) XORed with `mask`. */
export const flipByte = (ct: string, at: number, mask: number): string => {
  const bytes = base64urlDecode(ct);
  if (!bytes.ok) throw new Error('ct is not base64url');
  const out = Uint8Array.from(bytes.value);
  out[at < 0 ? out.length + at : at]! ^= mask;
  return base64urlEncode(out);
};

/** Each outcome as 'ok' or its failure reason. */
export const reasons = (out: ReadonlyArray<{ ok: true } | { ok: false; reason: string }>): string[] =>
  out.map((o) => (o.ok ? 'ok' : o.reason));

/** An envelope of `key` for (stream, epoch) addressed to `recipient`, signed by `signer` (the patient's device). */
export const signedEnvelope = async (
  stream: string,
  epoch: number,
  key: Uint8Array,
  recipient: typeof patient,
  signer: typeof patientDevice = patientDevice,
): Promise<KeyEnvelope> => {
  const env = {
    stream: stream as KeyEnvelope['stream'],
    epoch,
    recipient: recipient.accountId,
    keyId: keyId(key),
    wrapped: wrapKey(key, recipient.wrapping.publicKey, { stream, epoch }),
    createdBy: signer.deviceId,
  };
  const p = envelopeSignaturePayload(env);
  return { ...env, sig: base64urlEncode(await signCanonical(ed, signer.secretKey, p.label, p)) };
};

/**
 * `doc` with its ciphertext replaced by `content` sealed under `key` beside the doc's own tag and deletion
 * flag, as any holder of the stream key can (a grantee, read-only or revoked, the patient) and a server
 * can then serve: rev, author and signature untouched. The plaintext is written with JSON.stringify, as a
 * forger need not write canonical JSON.
 */
export const forgedBeside = (doc: ServedDoc, key: Uint8Array, content: unknown): ServedDoc => {
  const rv = Number(doc.rev.split('-')[0]);
  const body = {
    v: 1,
    s: doc.stream,
    i: doc.id,
    e: doc.epoch,
    r: rv,
    t: doc.rev,
    x: doc.deleted,
    d: content,
  };
  const header = Uint8Array.of(1, ...keyIdBytes(key));
  return { ...doc, ct: base64urlEncode(sealSecretbox(header, key, JSON.stringify(body))) };
};

export { contentOf } from './record-codec';
