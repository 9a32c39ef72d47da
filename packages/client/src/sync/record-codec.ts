/**
 * Plaintext device records ↔ sealed wire documents.
 *
 * Invariants:
 * - The whole content {kind, updatedAt, by, data, conflict, conflictData} is sealed under the epoch's stream
 *   key, bound to {stream, id, epoch, rv}: ciphertext moved elsewhere is refused.
 * - The revision tag: a keyed hash of the content under the epoch's tag key, recomputable by its holders.
 * - Tag and deletion flag are bound inside the ciphertext; readers compare them with the clear ones.
 * - The author must be a certified device of `by`; clinical kinds and others' writes are signed by it.
 * - A signature covers the clear tag: for a signed doc the reader recomputes it from the content (BAD_TAG).
 * - A revoked device authors only versions whose `updatedAt` is before its revocation (else BAD_AUTHOR).
 * - With `writeGrants` (the patient's devices), another account's version needs a write grant of the stream's
 *   type at its `updatedAt` (a merge: at its sides' times too, `sideTimesBy`), from start to expiry or signed
 *   revocation, ± WRITE_GRANT_SLACK_MS; else NO_WRITE_GRANT, after one `fresh` lookup.
 * - Content: the kind travels in the stream's type, the data is a valid record (`validateRecord`) naming the
 *   doc's id and the stream's patient (a deletion may carry `{}`); checked on this thread.
 * - A batch the offload fails, or answers off `checkCryptoJobResult`, fails whole; this device signs only a
 *   tag it recomputed.
 * Limits: `updatedAt` is the writer's word (a revoked device or ended grantee can date back with the server's
 * help); devices keeping no grants of the patient take others' writes on authorship alone.
 * Failure modes: `decode` never throws; it answers a reason (NO_KEY, WRONG_KEY, TAMPERED, CONTEXT_MISMATCH,
 * BAD_TAG, BAD_AUTHOR, BAD_SIGNATURE, BAD_CONTENT, AUTHOR_LOOKUP_FAILED, NO_WRITE_GRANT) and the caller
 * quarantines. BAD_CONTENT may pass under another model: callers keep the model's `version` with it.
 */
import {
  CLINICAL_STREAM_TYPES,
  MODEL_VERSION,
  RECORD_KINDS,
  isInstantBefore,
  isIsoDateTime,
  isRecordKind,
  validateRecord,
  type RecordKind,
  type StreamType,
} from '@hale/model';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  checkContentRevisionTag,
  contentRevisionTag,
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
import { revisionTagKeyOf, type Keyring } from './keyring';
import { offloadMinBatch, type CryptoOffload } from '../offload/crypto-offload';
import { checkCryptoJobResult } from '../offload/job-result';
import {
  runWireJob,
  type WireJob,
  type WireOpenItem,
  type WireOpenOutcome,
  type WireSealItem,
  type WireSealOutcome,
} from '../offload/wire-jobs';
import type { DeviceKeyLookup } from './device-directory';
import { sideTimesBy } from '../records/conflicts';
import { emptied, type PlainRecord } from '../records/plain-record';

export const DECODE_FAILURES = [
  'NO_KEY',
  'WRONG_KEY',
  'TAMPERED',
  'CONTEXT_MISMATCH',
  'BAD_TAG',
  'BAD_AUTHOR',
  'BAD_SIGNATURE',
  'BAD_CONTENT',
  /** The author's device list could not be fetched (not "unknown device"): worth trying again later. */
  'AUTHOR_LOOKUP_FAILED',
  /**
   * On the patient's device: the author account (`by`) is not the patient and held no write grant the
   * patient signed covering the stream at the version's time, as far as this device knows its grants
   * (`writeGrants`); it may pass once this device learns a grant made elsewhere.
   */
  'NO_WRITE_GRANT',
] as const;
/** One of `DECODE_FAILURES`: why a served version was quarantined. */
export type DecodeFailure = (typeof DECODE_FAILURES)[number];

/** The record rules served content is judged by, and their identity (`MODEL_VERSION`). */
export interface ContentModel {
  readonly version: string;
  readonly validateRecord: (
    kind: RecordKind,
    data: unknown,
  ) => { readonly ok: true } | { readonly ok: false; readonly error: { readonly message: string } };
}

/** This build's record rules. */
export const BUILD_CONTENT_MODEL: ContentModel = { version: MODEL_VERSION, validateRecord };

export interface CodecDeps {
  keyring: Keyring;
  ed: Ed25519;
  device: { deviceId: string; secretKey: Uint8Array };
  accountId: string;
  /** The author device's key: `unknown` fails BAD_AUTHOR, `unavailable` (could not ask) AUTHOR_LOOKUP_FAILED. */
  lookupDeviceKey: (accountId: string, deviceId: string) => Promise<DeviceKeyLookup>;
  /** Where batches of seals and opens run (a worker); this thread when absent. */
  offload?: CryptoOffload | null;
  /** The rules content is judged by; `BUILD_CONTENT_MODEL` when absent. */
  model?: ContentModel;
  /**
   * When `accountId` held write access to `patientId`'s streams of `type`, by the grants the patient
   * signed that this device keeps (consent.ts `writeSpans`); null where this device keeps no grants of
   * that patient (not the patient's own device). Absent, or null: versions by other accounts than the
   * patient are taken on authorship and signature alone (see the header).
   */
  writeGrants?: WriteGrantLookup;
}

/**
 * A time during which an account held write access to a patient's streams of one type, by one grant the
 * patient signed: from its `start` until its `end` (its expiry, or its revocation's time when earlier),
 * as milliseconds since the epoch.
 */
export interface WriteSpan {
  readonly grantId: string;
  readonly start: number;
  readonly end: number;
}

/**
 * `fresh`: asked again after the first answer let the account write nothing at the version's time — the
 * device then reads the grants from the server first when it can (a grant made on another of the
 * patient's devices since this one last read them), so a legitimate write is not set aside until the
 * next periodic reading.
 */
export type WriteGrantLookup = (
  patientId: string,
  type: StreamType,
  accountId: string,
  fresh?: boolean,
) => Promise<readonly WriteSpan[] | null>;

/**
 * How far a version's time (`updatedAt`, its writer's clock) may lie outside a write grant's span
 * (patient's clock for the grant's start and expiry, the revoking device's for a revocation) and still
 * count as within it: the server decides access by its own clock, so an honest provider's device whose
 * clock is a little off writes records dated just before the start or after the end of its grant.
 */
export const WRITE_GRANT_SLACK_MS = 5 * 60_000;

/** The content a record seals (what its tag covers). */
export const contentOf = (
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

/**
 * The tag of a plaintext state (e.g. RxDB's assumed master state) sealed under `epoch`, by default the
 * record's. `epoch` of a version received from the server is the one it was sealed under; a version this
 * device wrote keeps the epoch of the version it was based on (0 for a creation) although it was sealed
 * and tagged under the stream's epoch current when it was pushed, so its tag under its own `epoch` is
 * not the server's once the stream was re-keyed in between. Null without that epoch's key.
 */
export const tagOf = async (
  keyring: Keyring,
  r: PlainRecord,
  epoch: number = r.epoch,
): Promise<string | null> => {
  const tagKey = await keyring.tagKey(r.stream, epoch);
  if (!tagKey) return null;
  return contentRevisionTag(tagKey, {
    stream: r.stream,
    id: r.id,
    rev: r.rv,
    deleted: r._deleted,
    data: contentOf(r),
  });
};

/**
 * Whether two states are one version of one record: same stream, id, revision number, deletion flag and
 * content (what its tag covers), whatever epoch each was sealed under.
 */
export const sameVersion = (a: PlainRecord, b: PlainRecord): boolean => {
  if (a.stream !== b.stream || a.id !== b.id || a.rv !== b.rv || a._deleted !== b._deleted) return false;
  const content = canonicalOrNull(contentOf(a));
  return content !== null && content === canonicalOrNull(contentOf(b));
};

/** canonicalJson, or null for what no writer can have sealed (not plain JSON: e.g. a lone surrogate). */
export const canonicalOrNull = (v: unknown): string | null => {
  try {
    return canonicalJson(v);
  } catch {
    return null;
  }
};

/** Memoises one async lookup per key for the length of a batch (keys, device keys). */
const perBatch = <T>() => {
  const seen = new Map<string, Promise<T>>();
  return (k: string, lookup: () => Promise<T>): Promise<T> => {
    let p = seen.get(k);
    if (p === undefined) {
      p = lookup();
      seen.set(k, p);
    }
    return p;
  };
};

/** A job's key table: each distinct key once, items refer to it by index. */
const keyTable = () => {
  const keys: Uint8Array[] = [];
  const index = new Map<Uint8Array, number>();
  return {
    keys,
    add(key: Uint8Array): number {
      let i = index.get(key);
      if (i === undefined) {
        i = keys.push(key) - 1;
        index.set(key, i);
      }
      return i;
    },
  };
};

/**
 * Runs a wire job on the offload (big batches) or here; rejects when the offload fails or its reply is
 * not a well-formed answer to the job (`checkCryptoJobResult`).
 */
function runWire(
  deps: CodecDeps,
  job: Extract<WireJob, { op: 'wireSeal' }>,
): Promise<readonly WireSealOutcome[]>;
function runWire(
  deps: CodecDeps,
  job: Extract<WireJob, { op: 'wireOpen' }>,
): Promise<readonly WireOpenOutcome[]>;
async function runWire(
  deps: CodecDeps,
  job: WireJob,
): Promise<readonly WireSealOutcome[] | readonly WireOpenOutcome[]> {
  if (!offloads(deps, job)) return runWireJob(job).items;
  // The reply crossed a thread boundary: checked against the job before any item is used.
  return checkCryptoJobResult(job, await deps.offload.run(job)).items;
}

/** Whether `runWire` sends `job` to the offload (there is one, and the batch is big enough for it). */
const offloads = (deps: CodecDeps, job: WireJob): deps is CodecDeps & { offload: CryptoOffload } =>
  !!deps.offload && job.items.length >= offloadMinBatch(deps.offload);

/**
 * Throws unless each tag the offload answered for a record this device signs is the tag of the content
 * it was asked to seal: the signature covers that tag (see the header), and a worker is no party to
 * choose what this device signs. Unsigned records are not checked: the stream key alone authenticates
 * them, and the worker holds it. The ciphertext is not checked either (that would be opening it here, the
 * cost the offload saves): readers of a signed version require its opened content to have the signed
 * tag, so a ciphertext of other content reads as BAD_TAG, never as this device's signed record.
 */
const checkSignedTags = (
  inputs: readonly EncodeInput[],
  items: readonly WireSealItem[],
  sealed: readonly WireSealOutcome[],
): void => {
  for (const [n, { record: r, write }] of inputs.entries()) {
    const s = sealed[n];
    if (!s || !mustSign(r.stream, r.by)) continue;
    const asked = items[n]!;
    let tag: string | null;
    try {
      tag = contentRevisionTag(revisionTagKeyOf(write.key), {
        stream: asked.stream,
        id: asked.id,
        rev: asked.rev,
        deleted: asked.deleted,
        data: asked.content,
      });
    } catch {
      // Content no tag can be made of (not plain JSON) was answered as sealed: not what was asked.
      tag = null;
    }
    if (tag !== s.tag) {
      throw new Error(
        'crypto offload answered a wireSeal item whose tag is not that of the content asked; nothing of the batch is signed',
      );
    }
  }
};

export interface EncodeInput {
  readonly record: PlainRecord;
  readonly write: { readonly epoch: number; readonly key: Uint8Array };
}

/**
 * Seals a batch of records for push (one offload job), each under its write key and tagged with the tag
 * key of that same epoch. Answers one PushDoc per input, in order, or null where the content cannot be
 * sealed.
 */
export const encodeRecords = async (
  deps: CodecDeps,
  inputs: readonly EncodeInput[],
): Promise<Array<PushDoc | null>> => {
  const table = keyTable();
  // One item per input, in order.
  const items: WireSealItem[] = [];
  for (const { record: r, write } of inputs) {
    items.push({
      key: table.add(write.key),
      tagKey: table.add(revisionTagKeyOf(write.key)),
      stream: r.stream,
      id: r.id,
      epoch: write.epoch,
      rev: r.rv,
      deleted: r._deleted,
      content: contentOf(r),
    });
  }
  const job = { op: 'wireSeal', keys: table.keys, items } as const;
  const sealed = items.length > 0 ? await runWire(deps, job) : [];
  // Before anything is signed: a reply that fails here signs nothing of its batch.
  if (offloads(deps, job)) checkSignedTags(inputs, items, sealed);
  const out: Array<PushDoc | null> = [];
  for (const [n, { record: r, write }] of inputs.entries()) {
    const s = sealed[n];
    if (!s) {
      out.push(null);
      continue;
    }
    const doc: PushDoc = {
      stream: r.stream as PushDoc['stream'],
      id: r.id,
      rev: s.tag,
      deleted: r._deleted,
      epoch: write.epoch,
      ct: s.ct,
      author: deps.device.deviceId,
    };
    if (mustSign(r.stream, r.by)) {
      const payload = docSignaturePayload(doc);
      doc.sig = base64urlEncode(await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload));
    }
    out.push(doc);
  }
  return out;
};

/** A record's sealed, signed wire form. */
export const encodeRecord = async (
  deps: CodecDeps,
  r: PlainRecord,
  write: { epoch: number; key: Uint8Array },
): Promise<PushDoc | null> => (await encodeRecords(deps, [{ record: r, write }]))[0] ?? null;

export type Decoded =
  { ok: true; record: PlainRecord } | { ok: false; reason: DecodeFailure; message: string };

const fail = (reason: DecodeFailure, message: string) => ({ ok: false as const, reason, message });

/**
 * Opens and verifies a batch of served documents (one offload job for the ciphertexts); answers one
 * outcome per document, in order. Never throws for bad documents; rejects only when the offload fails.
 */
export const decodeRecords = async (deps: CodecDeps, docs: readonly ServedDoc[]): Promise<Decoded[]> => {
  const keys = perBatch<Uint8Array | null>();
  const table = keyTable();
  const items: WireOpenItem[] = [];
  // Per document: an early failure, or the index of its item in the job, its parsed parts and its key.
  const early: Array<Decoded | (Parsed & { item: number })> = [];
  for (const doc of docs) {
    const parsed = parseStreamId(doc.stream);
    if (!parsed.ok) {
      early.push(fail('BAD_CONTENT', 'bad stream id'));
      continue;
    }
    const key = await keys(`${doc.stream}\u0000${doc.epoch}`, () =>
      deps.keyring.keyFor(doc.stream, doc.epoch),
    );
    if (!key) {
      early.push(fail('NO_KEY', `no key for ${doc.stream} epoch ${doc.epoch}`));
      continue;
    }
    const rv = parseRevTag(doc.rev)?.n;
    if (rv === undefined) {
      early.push(fail('BAD_TAG', 'malformed revision tag'));
      continue;
    }
    early.push({ item: items.length, patientId: parsed.value.patientId, type: parsed.value.type, rv, key });
    items.push({
      key: table.add(key),
      stream: doc.stream,
      id: doc.id,
      epoch: doc.epoch,
      rev: rv,
      ct: doc.ct,
    });
  }
  const opened = items.length > 0 ? await runWire(deps, { op: 'wireOpen', keys: table.keys, items }) : [];
  const deviceKeys = perBatch<DeviceKeyLookup>();
  const spans = perBatch<SpansLookup>();
  const out: Decoded[] = [];
  for (const [n, doc] of docs.entries()) {
    const pre = early[n]!;
    if ('ok' in pre) {
      out.push(pre);
      continue;
    }
    const o = opened[pre.item];
    if (o === undefined) {
      out.push(fail('TAMPERED', 'not opened'));
      continue;
    }
    const verified = await verifyOpened(deps, doc, pre, o, deviceKeys);
    // The patient's own versions (nearly all) are not looked up: not even a call more.
    const lookup = deps.writeGrants;
    out.push(
      verified.ok && verified.record.by !== pre.patientId && lookup !== undefined
        ? await checkWriteGrant(lookup, pre, verified.record, spans)
        : verified,
    );
  }
  return out;
};

/** A write-grant lookup's answer, or why there is none (it rejected). */
type SpansLookup =
  | { readonly ok: true; readonly spans: readonly WriteSpan[] | null }
  | { readonly ok: false; readonly message: string };

/** Instant `ms` (ms since the epoch) as the model writes instants; null beyond a Date's range. */
const isoAt = (ms: number): string | null => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
};

/** Whether instant `at` lies in `span`, widened by WRITE_GRANT_SLACK_MS either way. */
const withinSpan = (at: string, span: WriteSpan): boolean => {
  const from = isoAt(span.start - WRITE_GRANT_SLACK_MS);
  const until = isoAt(span.end + WRITE_GRANT_SLACK_MS);
  return from !== null && until !== null && !isInstantBefore(at, from) && isInstantBefore(at, until);
};

/**
 * A verified version by another account than the stream's patient, on a device that keeps the patient's
 * grants (`lookup`, the codec's `writeGrants`): taken only when that account held a write grant covering
 * the stream at the version's `updatedAt` (covered by the signature, checked before). A batch asks once
 * per (type, account), and once more with `fresh` when that answer does not cover the version.
 */
const checkWriteGrant = async (
  lookup: WriteGrantLookup,
  pre: Parsed,
  record: PlainRecord,
  spans: (k: string, ask: () => Promise<SpansLookup>) => Promise<SpansLookup>,
): Promise<Decoded> => {
  const ask = (fresh: boolean): Promise<SpansLookup> =>
    spans(`${pre.type}\u0000${record.by}\u0000${fresh ? 'fresh' : 'held'}`, () =>
      // Without the flag when not fresh: the lookup's own default.
      (fresh
        ? lookup(pre.patientId, pre.type, record.by, true)
        : lookup(pre.patientId, pre.type, record.by)
      ).then(
        (s): SpansLookup => ({ ok: true, spans: s }),
        (error: unknown): SpansLookup => ({
          ok: false,
          message: (error instanceof Error ? error.message : String(error)).slice(0, 300),
        }),
      ),
    );
  // The version's time; for a merge (dated by the side it shows, maybe another writer's), also the
  // times of the sides this account wrote: what it merged in is its own write, made within its grant.
  const times = record.conflict
    ? [record.updatedAt, ...sideTimesBy(record.conflictData, record.by)]
    : [record.updatedAt];
  const covers = (l: SpansLookup): boolean =>
    l.ok && (l.spans === null || l.spans.some((s) => times.some((at) => withinSpan(at, s))));
  const held = await ask(false);
  if (covers(held)) return { ok: true, record };
  // Not by the grants held: read them again (a grant made on another of the patient's devices since).
  const found = held.ok ? await ask(true) : held;
  if (!found.ok) {
    return fail(
      'NO_WRITE_GRANT',
      `the grants this device keeps could not be read to check that ${record.by} may write ${pre.type} records: ${found.message}`,
    );
  }
  if (covers(found) || found.spans === null) return { ok: true, record };
  return fail(
    'NO_WRITE_GRANT',
    found.spans.length === 0
      ? `written by ${record.by}, whom this device knows no write grant of the patient for ${pre.type} records; it is tried again when this device learns new grants`
      : `written by ${record.by} at ${record.updatedAt}, outside every write grant of the patient for ${pre.type} records this device knows (${found.spans.length}); it is tried again when this device learns new grants`,
  );
};

/**
 * Why sealed content may not stand in its stream, or null when it may: the kind must travel in the
 * stream's type and the data must be a valid record of that kind naming the doc's id and the stream's
 * patient. A deletion may carry emptied data.
 */

const contentRefusal = (
  model: ContentModel,
  doc: Pick<ServedDoc, 'id' | 'deleted'>,
  stream: { patientId: string; type: StreamType },
  kind: string,
  data: Record<string, unknown>,
): string | null => {
  if (!isRecordKind(kind) || RECORD_KINDS[kind].streamType !== stream.type) {
    return `a ${JSON.stringify(kind).slice(0, 40)} record does not belong in a ${stream.type} stream`;
  }
  if (doc.deleted && emptied({ data })) return null;
  if (data['id'] !== doc.id) return 'the record data names another id';
  if (data['patientId'] !== stream.patientId)
    return "the record data names another patient than the stream's";
  const valid = model.validateRecord(kind, data);
  return valid.ok ? null : valid.error.message.slice(0, 500);
};

/** What a served document's reading starts from: its stream's patient and type, its rv, its epoch's key. */
interface Parsed {
  readonly patientId: string;
  readonly type: StreamType;
  readonly rv: number;
  readonly key: Uint8Array;
}

/**
 * Whether the clear tag a signature covers is the tag of the opened content: recomputed under the tag key
 * of the doc's epoch.
 */
const signedTagMatches = (doc: ServedDoc, pre: Parsed, content: unknown): boolean => {
  const state = { stream: doc.stream, id: doc.id, rev: pre.rv, deleted: doc.deleted, data: content };
  // Content no writer could have tagged (not plain JSON, e.g. a lone surrogate) throws: no match.
  try {
    return checkContentRevisionTag(revisionTagKeyOf(pre.key), doc.rev, state).ok;
  } catch {
    return false;
  }
};

const verifyOpened = async (
  deps: CodecDeps,
  doc: ServedDoc,
  pre: Parsed,
  opened: WireOpenOutcome,
  deviceKeys: (k: string, lookup: () => Promise<DeviceKeyLookup>) => Promise<DeviceKeyLookup>,
): Promise<Decoded> => {
  if (!opened.ok) return fail(opened.reason, opened.message);
  // The tag and deletion flag in clear must be the ones the writer sealed (the server cannot swap them).
  if (opened.tag !== doc.rev || opened.deleted !== doc.deleted) {
    return fail('BAD_TAG', 'revision tag or deletion flag differs from the sealed version');
  }
  const c = opened.data;
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
  // What canonical JSON cannot write (a lone surrogate in a string: valid JSON) no writer sealed, since
  // sealing writes it so; nor could this device tag or store it. The model checks `data` (refusing such
  // strings); this, the rest (`conflictData` is null on nearly every record, so it costs next to nothing).
  const { kind, updatedAt, by, conflictData } = c;
  if (canonicalOrNull({ kind, updatedAt, by, conflictData }) === null) {
    return fail('BAD_CONTENT', 'sealed content holds a value canonical JSON cannot write');
  }
  // The version's time orders it (lists, conflict tie-breaks, an author's revocation) and is indexed in
  // the store: one naming no instant the model takes would sort and compare as no writer meant, and one
  // beginning with characters above the index's range would drop out of the store's queries.
  if (!isIsoDateTime(c['updatedAt'])) {
    return fail('BAD_CONTENT', 'sealed updatedAt is not a date-time the record model takes');
  }
  const refusal = contentRefusal(deps.model ?? BUILD_CONTENT_MODEL, doc, pre, c['kind'], c['data']);
  if (refusal !== null) return fail('BAD_CONTENT', refusal);
  // A signed version: the content must be the one whose tag the author signed (see the header).
  const signed = mustSign(doc.stream, c['by']) || doc.sig !== undefined;
  if (signed && !signedTagMatches(doc, pre, c)) {
    return fail('BAD_TAG', 'the content is not the one the signed revision tag names');
  }
  const record: PlainRecord = {
    id: doc.id,
    stream: doc.stream,
    kind: c['kind'],
    patientId: pre.patientId,
    updatedAt: c['updatedAt'],
    rv: pre.rv,
    epoch: doc.epoch,
    author: doc.author,
    by: c['by'],
    conflict: c['conflict'],
    data: c['data'],
    conflictData: c['conflictData'],
    _deleted: doc.deleted,
  };
  const author = await deviceKeys(`${record.by}\u0000${doc.author}`, () =>
    deps.lookupDeviceKey(record.by, doc.author),
  );
  if (author.status === 'unavailable') {
    return fail(
      'AUTHOR_LOOKUP_FAILED',
      `the devices of ${record.by} could not be looked up: ${author.message}`,
    );
  }
  if (author.status === 'unknown') {
    return fail('BAD_AUTHOR', `author ${doc.author} is not a certified device of ${record.by}`);
  }
  // A revoked author counts for versions dated before its revocation. A signed version's `updatedAt` is
  // covered by the signed tag (checked above). An unsigned one's (the patient's own non-clinical records)
  // is the stream key holder's word, as everything about an unsigned version is, an active author's too:
  // refusing it would hide the records of a lost phone from every device that reads them afterwards.
  // Compared as instants, to the nanosecond: the writer may have stamped any offset and 1–9 fraction
  // digits, which Date.parse reads as the engine likes (V8 drops digits past the millisecond, takes a
  // bare date); a top-level `updatedAt` naming no instant the model takes is not before anything.
  if (author.revokedAt !== undefined) {
    if (!isInstantBefore(record.updatedAt, author.revokedAt)) {
      return fail(
        'BAD_AUTHOR',
        `author ${doc.author} of ${record.by} was revoked at ${author.revokedAt}, before this version (${record.updatedAt})`,
      );
    }
  }
  const pk = author.key;
  if (signed) {
    const sig = doc.sig === undefined ? null : base64urlDecode(doc.sig);
    const payload = docSignaturePayload(doc);
    if (!sig?.ok || !(await verifyCanonical(deps.ed, pk, payload.label, payload, sig.value))) {
      return fail('BAD_SIGNATURE', 'author signature missing or invalid');
    }
  }
  return { ok: true, record };
};

/**
 * A served version opened and checked (key, binding, revision tag, author certificate, signature, write
 * grant), or why it fails (`DecodeFailure`).
 */
export const decodeRecord = async (deps: CodecDeps, doc: ServedDoc): Promise<Decoded> =>
  (await decodeRecords(deps, [doc]))[0]!;
