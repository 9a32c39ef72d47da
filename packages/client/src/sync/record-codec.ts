/**
 * Plaintext device records ↔ sealed wire documents.
 *
 * Invariants:
 * - What is sealed is the record's whole content {kind, updatedAt, by, data, conflict, conflictData}
 *   under the stream key of the doc's epoch, bound to {stream, id, epoch, rv}; opening checks the binding,
 *   so ciphertext moved to another stream, id, epoch or revision is refused.
 * - The revision tag is a keyed hash of that content (recomputable by every holder), so the tag of the
 *   assumed master state needs no server-assigned field. The writer binds the tag and the deletion
 *   flag inside the ciphertext; readers compare them with the clear ones (no HMAC per read).
 * - Authorship: the author device must be a certified device of the account named in `by`; records of
 *   clinical types and records written by someone other than the patient carry an Ed25519 signature of
 *   that device, which every reader verifies.
 * Failure modes: `decode` never throws for bad input; it answers a typed reason (NO_KEY, WRONG_KEY,
 * TAMPERED, CONTEXT_MISMATCH, BAD_TAG, BAD_AUTHOR, BAD_SIGNATURE, BAD_CONTENT) and the caller quarantines.
 */
import { CLINICAL_STREAM_TYPES } from '@hale/model';
import {
  base64urlDecode,
  base64urlEncode,
  contentRevisionTag,
  openRecordVersion,
  sealRecordVersion,
  signCanonical,
  verifyCanonical,
  type Ed25519,
} from '@hale/crypto';
import {
  docSignaturePayload,
  parseRevTag,
  parseStreamId,
  type PushDoc,
  type ServedDoc,
} from '@hale/protocol';
import type { Keyring } from './keyring';
import type { DeviceRecord } from '../store/device-db';

/** A device record as RxDB hands it to replication: the stored fields plus RxDB's deletion flag. */
export type PlainRecord = DeviceRecord & { _deleted: boolean };

export type DecodeFailure =
  | 'NO_KEY'
  | 'WRONG_KEY'
  | 'TAMPERED'
  | 'CONTEXT_MISMATCH'
  | 'BAD_TAG'
  | 'BAD_AUTHOR'
  | 'BAD_SIGNATURE'
  | 'BAD_CONTENT';

export interface CodecDeps {
  keyring: Keyring;
  ed: Ed25519;
  device: { deviceId: string; secretKey: Uint8Array };
  accountId: string;
  deviceKey: (accountId: string, deviceId: string) => Promise<Uint8Array | null>;
}

const contentOf = (
  r: Pick<PlainRecord, 'kind' | 'updatedAt' | 'by' | 'data' | 'conflict' | 'conflictData'>,
) => ({
  kind: r.kind,
  updatedAt: r.updatedAt,
  by: r.by,
  data: r.data,
  conflict: r.conflict,
  conflictData: r.conflictData,
});

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const mustSign = (stream: string, by: string): boolean => {
  const p = parseStreamId(stream);
  if (!p.ok) return true;
  return CLINICAL_STREAM_TYPES.includes(p.value.type) || p.value.patientId !== by;
};

/** The tag of a plaintext state (e.g. RxDB's assumed master state); null without the stream's tag key. */
export const tagOf = async (keyring: Keyring, r: PlainRecord): Promise<string | null> => {
  const tagKey = await keyring.tagKey(r.stream);
  if (!tagKey) return null;
  return contentRevisionTag(tagKey, {
    stream: r.stream,
    id: r.id,
    rev: r.rv,
    deleted: r._deleted,
    data: contentOf(r),
  });
};

export const encodeRecord = async (
  deps: CodecDeps,
  r: PlainRecord,
  write: { epoch: number; key: Uint8Array },
): Promise<PushDoc | null> => {
  const tagKey = await deps.keyring.tagKey(r.stream);
  if (!tagKey) return null;
  const { sealed, tag } = sealRecordVersion(
    write.key,
    tagKey,
    { stream: r.stream, id: r.id, epoch: write.epoch, rev: r.rv, deleted: r._deleted },
    contentOf(r),
  );
  const doc: PushDoc = {
    stream: r.stream as PushDoc['stream'],
    id: r.id,
    rev: tag,
    deleted: r._deleted,
    epoch: write.epoch,
    ct: base64urlEncode(sealed),
    author: deps.device.deviceId,
  };
  if (mustSign(r.stream, r.by)) {
    const payload = docSignaturePayload(doc);
    doc.sig = base64urlEncode(await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload));
  }
  return doc;
};

export const decodeRecord = async (
  deps: CodecDeps,
  doc: ServedDoc,
): Promise<{ ok: true; record: PlainRecord } | { ok: false; reason: DecodeFailure; message: string }> => {
  const fail = (reason: DecodeFailure, message: string) => ({ ok: false as const, reason, message });
  const parsed = parseStreamId(doc.stream);
  if (!parsed.ok) return fail('BAD_CONTENT', 'bad stream id');
  const key = await deps.keyring.keyFor(doc.stream, doc.epoch);
  if (!key) return fail('NO_KEY', `no key for ${doc.stream} epoch ${doc.epoch}`);
  const bytes = base64urlDecode(doc.ct);
  if (!bytes.ok) return fail('TAMPERED', 'ciphertext is not base64url');
  const rv = parseRevTag(doc.rev)?.n;
  if (rv === undefined) return fail('BAD_TAG', 'malformed revision tag');
  const opened = openRecordVersion(key, bytes.value, {
    stream: doc.stream,
    id: doc.id,
    epoch: doc.epoch,
    rev: rv,
  });
  if (!opened.ok) {
    const code = opened.error.code;
    const reason: DecodeFailure =
      code === 'WRONG_KEY' ? 'WRONG_KEY' : code === 'CONTEXT_MISMATCH' ? 'CONTEXT_MISMATCH' : 'TAMPERED';
    return fail(reason, opened.error.message);
  }
  // The tag and deletion flag in clear must be the ones the writer sealed (the server cannot swap them).
  if (opened.value.tag !== doc.rev || opened.value.deleted !== doc.deleted) {
    return fail('BAD_TAG', 'revision tag or deletion flag differs from the sealed version');
  }
  const c = opened.value.data;
  if (
    !isObject(c) ||
    typeof c['kind'] !== 'string' ||
    typeof c['updatedAt'] !== 'string' ||
    typeof c['by'] !== 'string' ||
    !isObject(c['data']) ||
    typeof c['conflict'] !== 'boolean' ||
    !(c['conflictData'] === null || isObject(c['conflictData']))
  ) {
    return fail('BAD_CONTENT', 'sealed content has the wrong shape');
  }
  const record: PlainRecord = {
    id: doc.id,
    stream: doc.stream,
    kind: c['kind'],
    patientId: parsed.value.patientId,
    updatedAt: c['updatedAt'],
    rv,
    epoch: doc.epoch,
    author: doc.author,
    by: c['by'],
    conflict: c['conflict'],
    data: c['data'],
    conflictData: c['conflictData'],
    _deleted: doc.deleted,
  };
  const pk = await deps.deviceKey(record.by, doc.author);
  if (!pk) return fail('BAD_AUTHOR', `author ${doc.author} is not a certified device of ${record.by}`);
  if (mustSign(doc.stream, record.by) || doc.sig !== undefined) {
    const sig = doc.sig === undefined ? null : base64urlDecode(doc.sig);
    const payload = docSignaturePayload(doc);
    if (!sig?.ok || !(await verifyCanonical(deps.ed, pk, payload.label, payload, sig.value))) {
      return fail('BAD_SIGNATURE', 'author signature missing or invalid');
    }
  }
  return { ok: true, record };
};
