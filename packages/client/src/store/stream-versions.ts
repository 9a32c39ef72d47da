/**
 * Seal once, the records instance's side (docs/architecture.md "Seal once"): a local stream record
 * version stored as the wire document it travels as, and opened again on read.
 *
 * Stored form (instead of two at-rest envelopes):
 * | field | stored |
 * | --- | --- |
 * | `data` | `s1.<epoch>.<rev>.<sig or empty>.<lb>.<ct>`: `PushDoc`'s ct, epoch, rev, sig as sealed, and `lb` (stored-version.ts) |
 * | `conflictData` | `s1` (it is inside `ct`, with kind, updatedAt, by, conflict and data) |
 *
 * Invariants
 * - Opening checks, in order: the form; `lb` under the at-rest key against db, collection, id, `_rev`,
 *   clear digest and the ciphertext (a clear field rewritten on disk, another document's bytes, a flipped
 *   byte are refused); the stream key of the stored epoch (held now, no fetch); the sealed context
 *   {stream, id, epoch, rv}; the sealed tag and deletion flag against the stored ones; the sealed kind,
 *   updatedAt, by and conflict against the clear fields.
 * - Plaintext is remembered (bounded, AT_REST_RECENT_VALUES) only for the exact stored string at the
 *   exact binding it was checked at; `forget` (the wrapper's dispose, the session's lock) drops it all.
 * - A state this device cannot seal once (`sealLater` answers null) is left to the at-rest path.
 * - `versionFor` answers the version remembered for exactly a record state (found by its `data` object,
 *   every clear field equal): what a replication-meta copy of it refers to (stream-meta.ts).
 * - A pulled version is kept as received (`received`) only for the state decoded from those very bytes
 *   (stream-sealing.ts `receivedFor`) and an epoch every later session opens without a fetch (`keptNow`:
 *   epoch 0 of the account's own streams, kept stream keys); any other pulled version is left to the
 *   at-rest path.
 * Failure modes: every refusal → AT_REST_DECRYPT_FAILED (MALFORMED, CONTEXT_MISMATCH, AUTH_FAILED, or
 * MISSING when no stream key is held now); after the sealing was forgotten (lock) its owner's `refusal`
 * (the session's AccountError LOCKED) instead; a sealer that fails →
 * AT_REST_ENCRYPT_FAILED for its batch; after the wrapper is disposed → AT_REST_CLOSED (keyring).
 */
import { base64urlDecode, openRecordVersion } from '@hale/crypto';
import type { PushDoc } from '@hale/protocol';
import { AtRestError, decryptError, isRecord, type AtRestErrorDetails } from '../offload/at-rest-jobs';
import type { Keyring } from './clear-digest';
import { createRecentMap, type RecentMap } from '../core/recent-map';
import { AT_REST_RECENT_CHARS, AT_REST_RECENT_VALUES, type DocBinding } from './value-memory';
import {
  checkLocalBinding,
  pushDocOf,
  storedVersionOf,
  type CtDigests,
  type StoredVersion,
} from './stored-version';
import type { StreamRecordState, StreamSealing } from './stream-sealing';

export const STREAM_VALUE_PREFIX = 's1.';
/** What `conflictData` holds beside a stored version: it is inside the version's ciphertext. */
export const STREAM_CONFLICT_MARK = 's1';

/** The parts of a stored form; null when it is not one. */
export const parseStreamValue = (stored: string): StoredVersion | null => {
  if (!stored.startsWith(STREAM_VALUE_PREFIX)) return null;
  const parts = stored.slice(STREAM_VALUE_PREFIX.length).split('.');
  if (parts.length !== 5) return null;
  const [epochText, rev, sig, lb, ct] = parts as [string, string, string, string, string];
  if (!/^(0|[1-9][0-9]{0,9})$/.test(epochText) || rev === '' || lb === '' || ct === '') return null;
  const epoch = Number(epochText);
  return sig === '' ? { ct, epoch, rev, lb } : { ct, epoch, rev, sig, lb };
};

export const formatStreamValue = (v: StoredVersion): string =>
  `${STREAM_VALUE_PREFIX}${v.epoch}.${v.rev}.${v.sig ?? ''}.${v.lb}.${v.ct}`;

export interface Content {
  readonly data: Record<string, unknown>;
  readonly conflictData: Record<string, unknown> | null;
}

export function createStreamVersions(options: {
  readonly keyring: Keyring;
  readonly database: string;
  readonly collection: string;
  readonly sealing: StreamSealing;
  readonly ctDigests: CtDigests;
}) {
  const { keyring, database, collection, sealing, ctDigests } = options;
  const contextOf = (b: DocBinding): string => `${b.i}\u0000${b.r}\u0000${b.h}`;
  const byStored = { keep: AT_REST_RECENT_CHARS, of: (e: { readonly stored: string }) => e.stored.length };
  let opened: RecentMap<string, { context: string; stored: string; content: Content }> = createRecentMap(
    AT_REST_RECENT_VALUES,
    byStored,
  );
  // By the content object; the stored form is made again from the version when asked (not kept twice).
  let sealed = new WeakMap<
    object,
    { context: string; version: StoredVersion; state: StreamRecordState | null }
  >();
  const atRestKey = (): Uint8Array => {
    const key = keyring.current();
    if (key === null) throw new AtRestError('AT_REST_NO_KEY', 'no at-rest key', { collection });
    return key;
  };
  const placeOf = (b: DocBinding) => ({ db: database, collection, id: b.i, rxRev: b.r, clearDigest: b.h });
  const where = (b: DocBinding) => ({ database, collection, field: 'data', documentId: b.i });

  const forget = (): void => {
    opened = createRecentMap(AT_REST_RECENT_VALUES, byStored);
    sealed = new WeakMap();
  };
  sealing.onForget(forget);

  const remember = (
    b: DocBinding,
    stored: string,
    version: StoredVersion,
    content: Content,
    state: StreamRecordState | null,
  ): void => {
    const context = contextOf(b);
    opened.set(version.lb, { context, stored, content });
    sealed.set(content.data, { context, version, state });
  };

  type Pending = {
    state: StreamRecordState;
    binding: DocBinding;
    resolve: (v: string | null) => void;
    reject: (e: unknown) => void;
  };
  let queue: Pending[] = [];
  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    const sealer = sealing.sealer();
    if (sealer === null) {
      for (const p of batch) p.resolve(null);
      return;
    }
    let docs: ReadonlyArray<PushDoc | null>;
    try {
      docs = await sealer.seal(batch.map((p) => p.state));
      if (docs.length !== batch.length) throw new Error('the stream sealer answered another batch');
      keyring.current();
    } catch (error) {
      const failure =
        error instanceof AtRestError
          ? error
          : new AtRestError('AT_REST_ENCRYPT_FAILED', `sealing once failed: ${String(error)}`, {
              collection,
            });
      for (const p of batch) p.reject(failure);
      return;
    }
    batch.forEach((p, n) => {
      const doc = docs[n] ?? null;
      const s = p.state;
      if (doc === null) return p.resolve(null);
      if (doc.stream !== s.stream || doc.id !== s.id || doc.deleted !== s._deleted)
        return p.reject(
          new AtRestError('AT_REST_ENCRYPT_FAILED', 'the stream sealer answered another record', {
            collection,
            documentId: s.id,
          }),
        );
      try {
        const version = storedVersionOf(atRestKey(), placeOf(p.binding), doc, ctDigests);
        const stored = formatStreamValue(version);
        remember(
          p.binding,
          stored,
          version,
          {
            data: s.data as Record<string, unknown>,
            conflictData: s.conflictData as Record<string, unknown> | null,
          },
          s,
        );
        sealing.noteStored(s, doc);
        p.resolve(stored);
      } catch (error) {
        p.reject(error);
      }
    });
  };

  return {
    /** Whether local writes of this device may be sealed once now (a sealer is attached). */
    sealsFor: (author: unknown): boolean => sealing.sealer()?.deviceId === author,
    isStreamValue: (stored: unknown): stored is string =>
      typeof stored === 'string' && stored.startsWith(STREAM_VALUE_PREFIX),
    /** The stored form of `data` already made or read at this binding (no seal needed). */
    known(b: DocBinding, data: unknown): string | undefined {
      if (typeof data !== 'object' || data === null) return undefined;
      const hit = sealed.get(data);
      return hit !== undefined && hit.context === contextOf(b) ? formatStreamValue(hit.version) : undefined;
    },
    /**
     * The stored form of a pulled version kept as received (no seal): only for the very state decoded
     * from it (`receivedFor`) and an epoch whose key every unlocked session holds (`keptNow`); else null.
     */
    received(b: DocBinding, state: StreamRecordState): string | null {
      const sealer = sealing.sealer();
      if (sealer === null) return null;
      const doc = sealing.receivedFor(state);
      if (doc === null || sealer.keptNow(doc.stream, doc.epoch) === null) return null;
      const version = storedVersionOf(atRestKey(), placeOf(b), doc, ctDigests);
      const stored = formatStreamValue(version);
      remember(
        b,
        stored,
        version,
        {
          data: state.data as Record<string, unknown>,
          conflictData: state.conflictData as Record<string, unknown> | null,
        },
        state,
      );
      return stored;
    },
    /** Seals `state` once (batched per turn); null when the sealer cannot (the at-rest path then). */
    sealLater(b: DocBinding, state: StreamRecordState): Promise<string | null> {
      keyring.current();
      if (!isRecord(state.data) || !(state.conflictData === null || isRecord(state.conflictData)))
        return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        queue.push({ state, binding: b, resolve, reject });
        if (queue.length === 1) queueMicrotask(() => void flush());
      });
    },
    /** Opens a stored version of `doc` (checked as the header says), from memory when it can. */
    open(b: DocBinding, doc: Readonly<Record<string, unknown>>, stored: string): Content {
      keyring.current();
      const context = contextOf(b);
      const version = parseStreamValue(stored);
      if (version === null) throw decryptError('MALFORMED', 'not a stored version', where(b));
      const hit = opened.get(version.lb);
      if (hit !== undefined && hit.context === context && hit.stored === stored) return hit.content;
      if (doc['conflictData'] !== STREAM_CONFLICT_MARK)
        throw decryptError('MALFORMED', 'conflictData beside a stored version', where(b));
      if (!checkLocalBinding(atRestKey(), placeOf(b), version, ctDigests))
        throw decryptError('CONTEXT_MISMATCH', 'stored version not bound to this document', where(b));
      const { content, state } = openVersion(sealing, version, b.i, doc, where(b));
      remember(b, stored, version, content, state);
      if (state !== null)
        sealing.noteStored(
          state,
          pushDocOf(version, {
            stream: state.stream as PushDoc['stream'],
            id: b.i,
            deleted: state._deleted,
            author: state.author,
          }),
        );
      return content;
    },
    /**
     * The stored version remembered for exactly the record state `docData` (the same content objects,
     * every clear field equal; a replication-meta copy of the document), or null (stream-meta.ts).
     */
    versionFor(docData: Readonly<Record<string, unknown>>): StoredVersion | null {
      const data = docData['data'];
      if (typeof data !== 'object' || data === null) return null;
      const hit = sealed.get(data);
      if (hit === undefined || !sameState(hit.state, docData)) return null;
      return hit.version;
    },
    /** Drops every remembered plaintext (dispose, lock). */
    forget,
  };
}
export type StreamVersions = ReturnType<typeof createStreamVersions>;

/** Whether `doc` (found by its `data` object) is exactly `state`: the same `conflictData`, every clear field equal. */
const sameState = (state: StreamRecordState | null, doc: Readonly<Record<string, unknown>>): boolean =>
  state !== null &&
  doc['conflictData'] === state.conflictData &&
  doc['id'] === state.id &&
  doc['stream'] === state.stream &&
  doc['rv'] === state.rv &&
  doc['_deleted'] === state._deleted &&
  doc['kind'] === state.kind &&
  doc['updatedAt'] === state.updatedAt &&
  doc['by'] === state.by &&
  doc['author'] === state.author &&
  doc['conflict'] === state.conflict;

/**
 * Opens `version` of record `id` whose clear fields are `clear` (a stored document, or a meta copy's clear
 * part) after its binding was checked: the stream key of its epoch held now, the sealed context {stream,
 * id, epoch, rv}, the sealed tag and deletion flag against the stored ones, the sealed kind, updatedAt,
 * by and conflict against the clear fields. Answers the content, and the whole state when `clear` names
 * an author (else null). Throws as the header says.
 */
export function openVersion(
  sealing: StreamSealing,
  version: StoredVersion,
  id: string,
  clear: Readonly<Record<string, unknown>>,
  where: AtRestErrorDetails,
): { content: Content; state: StreamRecordState | null } {
  const stream = clear['stream'];
  const rv = clear['rv'];
  const deleted = clear['_deleted'];
  if (typeof stream !== 'string' || typeof rv !== 'number' || typeof deleted !== 'boolean')
    throw decryptError('MALFORMED', 'clear fields of a stored version', where);
  const sealer = sealing.sealer();
  const refusal = sealer === null ? sealing.refusal() : null;
  if (refusal !== null) throw refusal;
  const key = sealer?.keyNow(stream, version.epoch) ?? null;
  if (key === null) throw decryptError('MISSING', 'no stream key held for a stored version (locked?)', where);
  const bytes = base64urlDecode(version.ct);
  if (!bytes.ok) throw decryptError('MALFORMED', 'stored ciphertext', where);
  let result: ReturnType<typeof openRecordVersion>;
  try {
    result = openRecordVersion(key, bytes.value, { stream, id, epoch: version.epoch, rev: rv });
  } catch {
    throw decryptError('CONTEXT_MISMATCH', 'stored version context', where);
  }
  if (!result.ok)
    throw decryptError(
      result.error.code === 'CONTEXT_MISMATCH' ? 'CONTEXT_MISMATCH' : 'AUTH_FAILED',
      'stored version does not open',
      where,
    );
  const { data: c, tag, deleted: sealedDeleted } = result.value;
  if (tag !== version.rev || sealedDeleted !== deleted)
    throw decryptError('CONTEXT_MISMATCH', 'stored tag or deletion flag', where);
  if (
    !isRecord(c) ||
    typeof c['kind'] !== 'string' ||
    typeof c['updatedAt'] !== 'string' ||
    typeof c['by'] !== 'string' ||
    typeof c['conflict'] !== 'boolean' ||
    !isRecord(c['data']) ||
    !(c['conflictData'] === null || isRecord(c['conflictData'])) ||
    c['kind'] !== clear['kind'] ||
    c['updatedAt'] !== clear['updatedAt'] ||
    c['by'] !== clear['by'] ||
    c['conflict'] !== clear['conflict']
  )
    throw decryptError('CONTEXT_MISMATCH', 'sealed content differs from the clear fields', where);
  const content: Content = { data: c['data'], conflictData: c['conflictData'] };
  const author = clear['author'];
  const state: StreamRecordState | null =
    typeof author === 'string'
      ? {
          id,
          stream,
          rv,
          _deleted: deleted,
          kind: c['kind'],
          updatedAt: c['updatedAt'],
          by: c['by'],
          author,
          conflict: c['conflict'],
          data: content.data,
          conflictData: content.conflictData,
        }
      : null;
  return { content, state };
}
