/**
 * Seal once, step 5 (docs/architecture.md "Seal once"): RxDB's replication-meta copy (`docData`, the state
 * the device assumes the server holds) of a record kept as a stream version refers to that version's bytes
 * instead of being sealed again under the at-rest key.
 *
 * Stored form of `docData`: `m1.<epoch>.<rev>.<sig or empty>.<lb>.<ct>.<clear>`
 * | part | what |
 * | --- | --- |
 * | `epoch`, `rev`, `sig`, `ct` | the version's wire bytes, as the records row (or the server) holds them: no seal |
 * | `clear` | JSON of the copy's members other than `data` and `conflictData` (the record's clear fields) |
 * | `lb` | stored-version.ts `localBinding` under the at-rest key at this meta document: db, meta collection, meta id, `_rev`, clear digest of the meta document ‖ digest of `clear`, sha256(ct) |
 *
 * Invariants
 * - Written only for a copy that is exactly a version the records instance stored or opened (stream-versions
 *   `versionFor`: the same content objects, every clear field equal) or one received verified and decoded as
 *   it (`receivedFor`), whose `id` is the meta document's `itemId`, whose stream key every later session holds (`keptNow`) and
 *   whose epoch is the stream's current one (`isCurrent`: a version re-sealed at push after a rotation is
 *   not kept under the old epoch); anything else is left to the at-rest path (composite or whole seal).
 * - Opening checks, in order: the form; `lb` (a clear member rewritten on disk, another meta document's
 *   value moved in, an older value replayed under a later `_rev`, a flipped byte of `ct`, are refused);
 *   then stream-versions `openVersion` with the meta document's `itemId` as record id (stream key of the epoch,
 *   sealed context {stream, id, epoch, rv}, tag, deletion flag, sealed kind/updatedAt/by/conflict against
 *   `clear`).
 * - Plaintext is remembered (AT_REST_RECENT_VALUES) only for the exact stored string at the exact binding;
 *   dropped with the sealing's `forget` (lock, dispose).
 * Failure modes: every refusal → AT_REST_DECRYPT_FAILED (MALFORMED, CONTEXT_MISMATCH, AUTH_FAILED, MISSING);
 * after the sealing was forgotten its owner's `refusal` (LOCKED); after dispose → AT_REST_CLOSED.
 * Not covered: rolling the whole meta document back (clear members, `_rev` and `docData` together), as for
 * any document.
 */
import { base64urlEncode, labeledSha256, utf8Encode } from '@hale/crypto';
import { AtRestError, decryptError, isRecord } from '../offload/at-rest-jobs';
import type { Keyring } from './clear-digest';
import { createRecentMap, type RecentMap } from '../core/recent-map';
import { AT_REST_RECENT_CHARS, AT_REST_RECENT_VALUES, type DocBinding } from './value-memory';
import { checkLocalBinding, localBinding, type CtDigests, type StoredVersion } from './stored-version';
import type { StreamRecordState, StreamSealing } from './stream-sealing';
import { openVersion, type StreamVersions } from './stream-versions';

export const META_STREAM_PREFIX = 'm1.';
const META_CLEAR_LABEL = 'hale/meta-clear/v1';
/** The members of a record a meta copy takes from the version's ciphertext, not from `clear`. */
const CONTENT_MEMBERS = ['data', 'conflictData'] as const;

interface MetaValue {
  readonly version: StoredVersion;
  readonly clear: string;
}

/** The parts of a stored meta copy; null when it is not one. */
export const parseMetaStreamValue = (stored: string): MetaValue | null => {
  if (!stored.startsWith(META_STREAM_PREFIX)) return null;
  const parts: string[] = [];
  let from = META_STREAM_PREFIX.length;
  for (let n = 0; n < 5; n++) {
    const dot = stored.indexOf('.', from);
    if (dot < 0) return null;
    parts.push(stored.slice(from, dot));
    from = dot + 1;
  }
  const [epochText, rev, sig, lb, ct] = parts as [string, string, string, string, string];
  const clear = stored.slice(from);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(epochText) || rev === '' || lb === '' || ct === '' || clear === '')
    return null;
  const epoch = Number(epochText);
  return { version: sig === '' ? { ct, epoch, rev, lb } : { ct, epoch, rev, sig, lb }, clear };
};

const formatMetaStreamValue = ({ version: v, clear }: MetaValue): string =>
  `${META_STREAM_PREFIX}${v.epoch}.${v.rev}.${v.sig ?? ''}.${v.lb}.${v.ct}.${clear}`;

export function createStreamMetaCopies(options: {
  readonly keyring: Keyring;
  readonly database: string;
  /** The meta instance's collection. */
  readonly collection: string;
  readonly sealing: StreamSealing;
  /** The records instance's stored versions of this database, once it is open. */
  readonly versions: () => StreamVersions | null;
  readonly ctDigests: CtDigests;
}) {
  const { keyring, database, collection, sealing, versions, ctDigests } = options;
  const contextOf = (b: DocBinding): string => `${b.i}\u0000${b.r}\u0000${b.h}`;
  const byStored = { keep: AT_REST_RECENT_CHARS, of: (e: { readonly stored: string }) => e.stored.length };
  let opened: RecentMap<string, { context: string; stored: string; docData: Record<string, unknown> }> =
    createRecentMap(AT_REST_RECENT_VALUES, byStored);
  sealing.onForget(() => {
    opened = createRecentMap(AT_REST_RECENT_VALUES, byStored);
  });
  const atRestKey = (): Uint8Array => {
    const key = keyring.current();
    if (key === null) throw new AtRestError('AT_REST_NO_KEY', 'no at-rest key', { collection });
    return key;
  };
  const placeOf = (b: DocBinding, clear: string) => ({
    db: database,
    collection,
    id: b.i,
    rxRev: b.r,
    clearDigest: `${b.h}.${base64urlEncode(labeledSha256(META_CLEAR_LABEL, utf8Encode(clear)))}`,
  });
  const where = (b: DocBinding) => ({ database, collection, field: 'docData', documentId: b.i });

  /** The version `docData` is exactly, kept by reference (see the header), or null. */
  const versionOf = (docData: Record<string, unknown>): Omit<StoredVersion, 'lb'> | null => {
    const sealer = sealing.sealer();
    if (sealer === null) return null;
    const kept = versions()?.versionFor(docData) ?? null;
    const version: Omit<StoredVersion, 'lb'> | null =
      kept ?? sealing.receivedFor(docData as unknown as StreamRecordState);
    const stream = docData['stream'];
    if (version === null || typeof stream !== 'string') return null;
    if (sealer.keptNow(stream, version.epoch) === null || !sealer.isCurrent(stream, version.epoch))
      return null;
    return version;
  };

  return {
    isForm: (stored: unknown): stored is string =>
      typeof stored === 'string' && stored.startsWith(META_STREAM_PREFIX),
    /** The stored form of the meta copy `docData` of record `itemId`, or null (the at-rest path then). */
    formOf(b: DocBinding, itemId: string | undefined, docData: unknown): string | null {
      keyring.current();
      if (itemId === undefined || !isRecord(docData) || docData['id'] !== itemId) return null;
      const version = versionOf(docData);
      if (version === null) return null;
      const rest: Record<string, unknown> = {};
      for (const [member, value] of Object.entries(docData)) {
        if ((CONTENT_MEMBERS as readonly string[]).includes(member)) continue;
        // A member JSON would drop or change would not read back as written.
        if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) return null;
        if (typeof value === 'number' && !Number.isFinite(value)) return null;
        rest[member] = value;
      }
      const clear = JSON.stringify(rest);
      const lb = localBinding(atRestKey(), placeOf(b, clear), version.ct, ctDigests);
      const stored = formatMetaStreamValue({ version: { ...version, lb }, clear });
      opened.set(lb, { context: contextOf(b), stored, docData });
      return stored;
    },
    /** Opens the stored meta copy of record `itemId` (checked as the header says), from memory when it can. */
    open(b: DocBinding, itemId: unknown, stored: string): Record<string, unknown> {
      keyring.current();
      const parsed = parseMetaStreamValue(stored);
      if (parsed === null) throw decryptError('MALFORMED', 'not a stored meta copy', where(b));
      const { version, clear } = parsed;
      const hit = opened.get(version.lb);
      if (hit !== undefined && hit.context === contextOf(b) && hit.stored === stored) return hit.docData;
      if (!checkLocalBinding(atRestKey(), placeOf(b, clear), version, ctDigests))
        throw decryptError('CONTEXT_MISMATCH', 'stored meta copy not bound to this document', where(b));
      let members: unknown;
      try {
        members = JSON.parse(clear);
      } catch {
        members = null;
      }
      if (!isRecord(members))
        throw decryptError('MALFORMED', 'clear members of a stored meta copy', where(b));
      // `clear.id` is `itemId`: checked when the copy was bound (`formOf`), under `lb` since.
      if (typeof itemId !== 'string')
        throw decryptError('MALFORMED', 'meta document without itemId', where(b));
      const { content } = openVersion(sealing, version, itemId, members, where(b));
      const docData = { ...members, data: content.data, conflictData: content.conflictData };
      opened.set(version.lb, { context: contextOf(b), stored, docData });
      return docData;
    },
  };
}
export type StreamMetaCopies = ReturnType<typeof createStreamMetaCopies>;
