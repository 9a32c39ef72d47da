/*
 * Pushes: a device's rows checked (access, author, signature, epoch, revision, audit rules) and written
 * in one batch with the access events that log them.
 *
 * Invariants:
 * - The server never interprets `ct`; it checks routing facts (author = the pushing device, signatures).
 * - The epoch is checked in the write's transaction (`expectedEpoch`): a rotation meanwhile → STALE_EPOCH.
 * - A row below an epoch the store reported current (`knownEpochs`) is refused early, without a read.
 * - A batch commits atomically; a rejected row stores nothing; a stored revision pushed again is `ok`.
 * - A record's creator is the account whose push first stored it, never changed (`notTheAuthor` uses it).
 * - An answer holds at most PUSHED_MASTER_BYTES of conflict masters (first always); over → TOO_LARGE.
 * - An audit entry re-pushed byte for byte is `ok`; anything else written to its id is APPEND_ONLY.
 * - Audit appends per (account, stream) are capped per rolling day over all its devices: RATE_LIMITED.
 * - The cap is counted and written under a per-(stream, account) lock; later rows of that stream fail too.
 * - A device holds each audit-chain position once: a second is APPEND_ONLY with its `chainEnd`.
 * - `chainEnd` names only the pushing device's own entries (dropped below AUDIT_CHAIN_END_VERSION).
 * - No row is stored without a committed access event counting it (`expectRefused`, MAX_PUSH_RECOUNTS).
 * - Rows sharing a `group` are stored all or none; the others of a refused row's group: GROUP_REFUSED.
 *
 * Failure modes: row problems come back as `{ status: 'error', code }` rows beside accepted ones; the push
 * as a whole throws TOO_LARGE, UNAVAILABLE (after MAX_PUSH_RECOUNTS counts) or as an access log write
 * does, storing nothing.
 */
import { CLINICAL_STREAM_TYPES, streamAuthorship, type StreamType } from '@hale/model';
import {
  auditSignaturePayload,
  docSignaturePayload,
  MAX_BATCH_BYTES,
  parseRevTag,
  parseStreamId,
  type ErrorCode,
  type PushDoc,
  type PushFrame,
  type PushResult,
} from '@hale/protocol';
import type { Doc, DocWrite, DocWriteResult } from '../store/index';
import { isStoreError } from '../store/index';
import { sameBytes } from '../store/bytes';
import { decodeBase64url as b64 } from './base64url';
import { ServiceError } from './service-error';
import { decideAccess, type Principal } from './access';
import { keyedLocks } from './keyed-locks';
import { DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY } from '../config';
import { chainAfter, toServedDoc, verifyPayload } from './sync-signing';
import { AccessEnded, type Consent } from './sync-consent';
import type { AccessLog } from './sync-access-log';
import type { AccessEvent, AuthenticatedDevice, SyncContext } from './sync-context';

/** The window `auditEntriesPerAccountPerDay` counts over. */
const AUDIT_APPEND_WINDOW_MS = 24 * 3600_000;

/**
 * Most `ct` bytes of the stored versions one `pushed` answer carries in its conflicts: a pull answer's
 * budget, so the answer stays within MAX_FRAME_BYTES as a full pull answer does (MAX_BATCH_DOCS rows of
 * metadata beside it; push-answer-size.test.ts). The batch's first one always goes: it is at most
 * MAX_DOC_BYTES, so a push of one row is always answered.
 */
const PUSHED_MASTER_BYTES = MAX_BATCH_BYTES;

/**
 * Times in all a push's batch is counted and written while a row it counted out (read in conflict) is
 * given the revision it assumes meanwhile (`expectRefused`): the first count and two more; then the push
 * fails UNAVAILABLE, nothing stored, and the device sends it again. Each time needs another write to the same record in the
 * short gap between the count's read and the batch.
 */
const MAX_PUSH_RECOUNTS = 3;

/** Streams whose epoch a push remembers (`knownEpochs`); all are forgotten when it is full. */
const KNOWN_EPOCHS = 10_000;

/**
 * Whether a pushed audit entry is the stored one byte for byte. Every field counts: an entry that differs
 * in anything, even one the signature would not catch, is a change and stays refused.
 */
const sameAuditEntry = (stored: Doc, pushed: DocWrite['doc']): boolean =>
  stored.rev === pushed.rev &&
  stored.author === pushed.author &&
  stored.sig !== undefined &&
  stored.sig === pushed.sig &&
  stored.deleted === pushed.deleted &&
  stored.epoch === pushed.epoch &&
  stored.audit !== undefined &&
  pushed.audit !== undefined &&
  stored.audit.authorSeq === pushed.audit.authorSeq &&
  stored.audit.prevHash === pushed.audit.prevHash &&
  stored.audit.at === pushed.audit.at &&
  sameBytes(stored.ct, pushed.ct);

export const createPush = (
  { deps, store, now, ed }: SyncContext,
  { grantsFor, endedLookups, explain, accessGuard, refusalsOf }: Consent,
  { writeLogged }: AccessLog,
) => {
  /** Serialises an account's counted audit appends per stream, from the count to the write. */
  const lockAuditAppends = keyedLocks();
  const auditCap = deps.auditEntriesPerAccountPerDay ?? DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY;

  /** Per stream, the highest epoch the store reported current (a lower bound of the current one). */
  const knownEpochs = new Map<string, number>();
  const learnEpoch = (stream: string, epoch: number): void => {
    if ((knownEpochs.get(stream) ?? -1) >= epoch) return;
    if (knownEpochs.size >= KNOWN_EPOCHS) knownEpochs.clear();
    knownEpochs.set(stream, epoch);
  };

  const needsSignature = (stream: string, p: Principal): boolean => {
    const parsed = parseStreamId(stream);
    if (!parsed.ok) return true;
    const type: StreamType = parsed.value.type;
    return type === 'audit' || CLINICAL_STREAM_TYPES.includes(type) || parsed.value.patientId !== p.accountId;
  };

  /**
   * Why `p` may not write a version over the stored record `doc.id` (NOT_AUTHOR), from what the server
   * holds in clear (the stream's type and patient, the record's creator). Allowed:
   * - a creation (no stored row), and any row of an `open` stream (the model's `streamAuthorship`);
   * - in `author` streams, the creator's account, or anyone when the creator is the patient (the patient's
   *   own entries are shared with the accounts it gave write access, which the consent check enforces);
   * - in `writer` streams (comments), the creator's account only, the patient's comments too;
   * - in `plan` streams, the same as `author` and the patient (its acknowledgement; readers judge the fields).
   * The creator is the account whose push first stored the record (`Doc.creator`, never changed by later
   * versions).
   */
  const notTheAuthor = async (p: Principal, doc: PushDoc): Promise<string | null> => {
    const parsed = parseStreamId(doc.stream);
    if (!parsed.ok) return null;
    const rule = streamAuthorship(parsed.value.type);
    const patientId = parsed.value.patientId;
    if (rule === 'open' || (rule === 'plan' && p.accountId === patientId)) return null;
    const stored = await store.docs.getDoc(doc.stream, doc.id);
    if (stored === null) return null;
    const creator = stored.creator;
    if (creator === undefined || creator === p.accountId) return null;
    if (creator === patientId && rule !== 'writer') return null;
    return `only the account that created this record (${creator}) may change or remove it`;
  };

  const push = async (p: AuthenticatedDevice, frame: Pick<PushFrame, 'rows'>): Promise<PushResult[]> => {
    const grants = await grantsFor(
      p,
      frame.rows.map((r) => r.doc.stream),
    );
    const t = now();
    const ended = endedLookups();
    const results: Array<PushResult | null> = [];
    const writes: DocWrite[] = [];
    const writeIndex: number[] = [];
    /** Indexes (in `writes`) of the rows a grantee writes to another account's streams: logged. */
    const counted: number[] = [];
    const rowError = (stream: string, id: string, code: ErrorCode, message: string): PushResult => ({
      status: 'error',
      stream: stream as PushResult['stream'],
      id,
      code,
      message,
    });
    const staleEpoch = (doc: PushDoc, epoch: number): PushResult =>
      rowError(
        doc.stream,
        doc.id,
        'STALE_EPOCH',
        `stream key epoch is ${epoch}; the document was sealed under ${doc.epoch}`,
      );
    for (const [i, row] of frame.rows.entries()) {
      const { doc, assumedRev } = row;
      const isAudit = doc.stream.endsWith('/audit');
      // Updating or deleting an audit entry is refused for everyone, whatever their access.
      if (isAudit && (assumedRev !== null || doc.deleted)) {
        results.push(rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries can only be appended'));
        continue;
      }
      const decision = await explain(p, doc.stream, decideAccess(p, doc.stream, 'push', grants, t), t, ended);
      if (!decision.ok) {
        results.push(rowError(doc.stream, doc.id, decision.code, decision.message));
        continue;
      }
      if (doc.author !== p.deviceId) {
        results.push(rowError(doc.stream, doc.id, 'FORBIDDEN', 'author must be the pushing device'));
        continue;
      }
      // Decided by the store in the write's own transaction: a rotation may be stored while this row's
      // signature is checked and the audit chain's lock awaited, or on another node.
      let expectedEpoch: number | undefined;
      if (isAudit) {
        if (doc.audit === undefined) {
          results.push(rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries can only be appended'));
          continue;
        }
      } else {
        if (doc.audit !== undefined) {
          results.push(rowError(doc.stream, doc.id, 'BAD_MESSAGE', 'audit header outside the audit stream'));
          continue;
        }
        const known = knownEpochs.get(doc.stream);
        if (known !== undefined && doc.epoch < known) {
          results.push(staleEpoch(doc, known));
          continue;
        }
        expectedEpoch = doc.epoch;
        const next = parseRevTag(doc.rev);
        const prev = assumedRev === null ? null : parseRevTag(assumedRev);
        if (!next || (prev !== null && next.n <= prev.n)) {
          results.push(rowError(doc.stream, doc.id, 'REV_MISMATCH', 'revision number must increase'));
          continue;
        }
      }
      if (doc.sig === undefined && needsSignature(doc.stream, p)) {
        results.push(
          rowError(doc.stream, doc.id, 'BAD_SIGNATURE', 'this record must be signed by its author'),
        );
        continue;
      }
      if (doc.sig !== undefined) {
        const payload =
          isAudit && doc.audit
            ? auditSignaturePayload({ ...doc, audit: doc.audit })
            : docSignaturePayload(doc);
        if (!(await verifyPayload(ed, p.devicePublicKey, payload, doc.sig))) {
          results.push(rowError(doc.stream, doc.id, 'BAD_SIGNATURE', 'author signature does not verify'));
          continue;
        }
      }
      if (!isAudit) {
        const refusal = await notTheAuthor(p, doc);
        if (refusal !== null) {
          results.push(rowError(doc.stream, doc.id, 'NOT_AUTHOR', refusal));
          continue;
        }
      }
      const ct = b64(doc.ct, 'ct');
      const input: DocWrite['doc'] = {
        stream: doc.stream,
        id: doc.id,
        rev: doc.rev,
        deleted: doc.deleted,
        epoch: doc.epoch,
        ct,
        size: ct.byteLength,
        author: doc.author,
      };
      if (doc.sig !== undefined) input.sig = doc.sig;
      if (doc.audit !== undefined) input.audit = doc.audit;
      // Kept by the store only when this row creates the record (`notTheAuthor` reads it back).
      if (!isAudit) input.creator = p.accountId;
      writes.push({
        doc: input,
        assumedRev,
        ...(expectedEpoch === undefined ? {} : { expectedEpoch }),
        ...(row.group === undefined ? {} : { group: row.group }),
      });
      writeIndex.push(i);
      results.push(null);
      if (decision.level !== 'owner' && !isAudit) counted.push(writes.length - 1);
    }
    /** Per group, the index (in `results`) of its first row refused: none of the group is stored. */
    const refusedGroups = new Map<string, number>();
    const noteRefused = (i: number): void => {
      const group = frame.rows[i]!.group;
      if (group !== undefined && !refusedGroups.has(group)) refusedGroups.set(group, i);
    };
    for (const [i, r] of results.entries()) if (r !== null) noteRefused(i);
    /** `kept` without the rows of refused groups, which answer GROUP_REFUSED naming the refused row. */
    const withoutRefusedGroups = (kept: readonly number[]): number[] =>
      kept.filter((k) => {
        const i = writeIndex[k]!;
        const { doc, group } = frame.rows[i]!;
        const by = group === undefined ? undefined : refusedGroups.get(group);
        if (by === undefined || by === i) return by === undefined;
        const other = frame.rows[by]!.doc;
        const answer = results[by];
        const why = answer?.status === 'error' ? answer.code : 'a newer version stored';
        results[i] = rowError(
          doc.stream,
          doc.id,
          'GROUP_REFUSED',
          `another row of this action (${other.stream} ${other.id}) was not stored (${why}); nothing of the ` +
            'action was stored',
        );
        return false;
      });
    const isCounted = new Set(counted);
    /**
     * The rows of `kept` as the batch writes them, and the push events that count them. Logged only if the
     * store will take them: a row whose assumed revision is not the stored one (a conflict, a re-push of
     * a stored revision) stores nothing. Read before the batch, whose event is sealed with the count;
     * each counted row read so is marked `expectRefused`, so should a write in between give it the
     * revision it assumes, the batch rejects CONFLICT and stores nothing (it is counted again). Rows of
     * the batch see the effect of its earlier rows, so a record's later row is compared with the revision
     * its earlier one will leave (read once per record).
     */
    const countStored = async (
      kept: readonly number[],
    ): Promise<{ rows: DocWrite[]; logged: AccessEvent[] }> => {
      const events = new Map<string, number>();
      const revAfter = new Map<string, string | null>();
      const rows: DocWrite[] = [];
      for (const k of kept) {
        const write = writes[k]!;
        if (!isCounted.has(k)) {
          rows.push(write);
          continue;
        }
        const { doc, assumedRev } = write;
        const record = `${doc.stream}\n${doc.id}`;
        let current = revAfter.get(record);
        if (current === undefined) current = (await store.docs.getDoc(doc.stream, doc.id))?.rev ?? null;
        if (current === assumedRev) {
          events.set(doc.stream, (events.get(doc.stream) ?? 0) + 1);
          current = doc.rev;
          rows.push(write);
        } else {
          rows.push({ ...write, expectRefused: true });
        }
        revAfter.set(record, current);
      }
      return {
        rows,
        logged: [...events].map(([stream, count]) => ({ action: 'push' as const, stream, count })),
      };
    };
    /** The answer to the row `writes[k]` the store answered `result`. */
    const answerOf = async (k: number, result: DocWriteResult): Promise<PushResult> => {
      const doc = frame.rows[writeIndex[k]!]!.doc;
      if (result.status === 'ok') {
        if (writes[k]!.expectedEpoch !== undefined) learnEpoch(doc.stream, doc.epoch);
        return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: result.seq };
      }
      if (result.status === 'stale-epoch') {
        learnEpoch(doc.stream, result.epoch);
        return staleEpoch(doc, result.epoch);
      }
      if (result.status === 'conflict') {
        // The same revision is already stored: a retry of an acknowledged write.
        if (result.master && result.master.rev === doc.rev)
          return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: result.master.seq };
        return {
          status: 'conflict',
          stream: doc.stream,
          id: doc.id,
          master: result.master ? toServedDoc(result.master) : null,
          ...(result.keptFrom === undefined ? {} : { keptFrom: result.keptFrom }),
        };
      }
      if (result.status === 'append-only') {
        const stored = await store.docs.getDoc(doc.stream, doc.id);
        // The entry is already stored exactly as pushed: a retry whose acknowledgement was lost.
        if (stored !== null && sameAuditEntry(stored, writes[k]!.doc))
          return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.seq };
        return rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries cannot be changed');
      }
      // The loop below writes again until no position is taken and no group is refused.
      return rowError(doc.stream, doc.id, 'INTERNAL', `row ${result.status}`);
    };
    const auditStreams = [
      ...new Set(writes.filter((w) => w.doc.audit !== undefined).map((w) => w.doc.stream)),
    ];
    // Held from the count to the write, so concurrent pushes of the account's devices cannot pass the cap
    // together.
    const releaseAudit =
      auditStreams.length === 0
        ? () => undefined
        : await lockAuditAppends(auditStreams.map((stream) => `${stream}\n${p.accountId}`));
    try {
      const over =
        auditStreams.length === 0
          ? new Map<number, string>()
          : await auditOverCap(p, writes, auditStreams, t);
      for (const [k, message] of over) {
        const doc = frame.rows[writeIndex[k]!]!.doc;
        results[writeIndex[k]!] = rowError(doc.stream, doc.id, 'RATE_LIMITED', message);
        noteRefused(writeIndex[k]!);
      }
      let kept = withoutRefusedGroups([...writes.keys()].filter((k) => !over.has(k)));
      let written: DocWriteResult[] = [];
      /** Per stream, the index (in `results`) of the row refused for a position the device holds there. */
      const positionTaken = new Map<string, number>();
      /** Batches refused because a row counted out was stored meanwhile (`expectRefused`). */
      let recounts = 0;
      // A batch holding an entry at a chain position the device already holds stores nothing (the store's
      // `position-taken`): that entry and the rows of its stream after it are refused, the others written
      // again. Each round refuses at least one row or is a recount (at most MAX_PUSH_RECOUNTS), so this ends.
      while (kept.length > 0) {
        const streams = kept.map((k) => writes[k]!.doc.stream);
        const { rows, logged } = await countStored(kept);
        try {
          written = await writeLogged(p, rows, logged, new Date(t).toISOString(), PUSHED_MASTER_BYTES, () =>
            accessGuard(p, streams, 'push'),
          );
        } catch (error) {
          if (isStoreError(error, 'CONFLICT')) {
            // A record was given the revision a row counted out assumes: nothing was stored; count again.
            if (++recounts < MAX_PUSH_RECOUNTS) continue;
            throw new ServiceError(
              'UNAVAILABLE',
              'records of this push kept changing while it was stored; nothing was stored: push again',
            );
          }
          if (isStoreError(error, 'TOO_LARGE')) {
            throw new ServiceError(
              'TOO_LARGE',
              `the stored versions of the records this push conflicts with would not fit in one answer ` +
                `(${PUSHED_MASTER_BYTES} bytes at most); nothing was stored: push fewer rows`,
            );
          }
          if (!(error instanceof AccessEnded)) throw error;
          // Access to some of its streams ended after the rows were decided (a revocation committed, a
          // grant's end passed) and nothing of the batch was written: their rows answer the consent code,
          // the others are written again without them (and without their access events).
          const refused = await refusalsOf(p, error.refused);
          kept = kept.filter((k) => {
            const doc = frame.rows[writeIndex[k]!]!.doc;
            const refusal = refused.get(doc.stream);
            if (refusal === undefined) return true;
            results[writeIndex[k]!] = rowError(doc.stream, doc.id, refusal.code, refusal.message);
            noteRefused(writeIndex[k]!);
            return false;
          });
          kept = withoutRefusedGroups(kept);
          written = [];
          continue;
        }
        if (
          written.some((r) => r.status === 'not-written') &&
          !written.some((r) => r.status === 'position-taken')
        ) {
          // A group would have been stored in part, so nothing was (`groupRefusal`): its refused rows answer
          // as they would, the rest of their groups GROUP_REFUSED; the others are written again.
          const refusedNow = new Set<number>();
          for (const [n, result] of written.entries()) {
            if (result.status === 'not-written') continue;
            const k = kept[n]!;
            results[writeIndex[k]!] = await answerOf(k, result);
            noteRefused(writeIndex[k]!);
            refusedNow.add(k);
          }
          kept = withoutRefusedGroups(kept.filter((k) => !refusedNow.has(k)));
          written = [];
          continue;
        }
        const refusedFrom = new Map<string, number>();
        for (const [n, result] of written.entries()) {
          const stream = writes[kept[n]!]!.doc.stream;
          if (result.status === 'position-taken' && !refusedFrom.has(stream))
            refusedFrom.set(stream, kept[n]!);
        }
        if (refusedFrom.size === 0) break;
        kept = kept.filter((k) => {
          const doc = frame.rows[writeIndex[k]!]!.doc;
          const from = refusedFrom.get(doc.stream);
          if (from === undefined || k < from) return true;
          if (k === from) positionTaken.set(doc.stream, writeIndex[k]!);
          noteRefused(writeIndex[k]!);
          results[writeIndex[k]!] = rowError(
            doc.stream,
            doc.id,
            'APPEND_ONLY',
            k === from
              ? `this device already has an entry at position ${doc.audit?.authorSeq ?? '?'} of its chain in ` +
                  'this audit log; another cannot be added there'
              : 'an earlier entry of this chain in the push was refused (APPEND_ONLY); this one was not stored',
          );
          return false;
        });
        kept = withoutRefusedGroups(kept);
      }
      if (kept.length > 0) {
        for (const [n, result] of written.entries()) {
          results[writeIndex[kept[n]!]!] = await answerOf(kept[n]!, result);
        }
      }
      // Looked up once everything of the push is written, still under the account's audit lock: the end
      // the device is told is the one its next entry meets. Only the pushing device's own chain is named.
      for (const [stream, i] of positionTaken) {
        const refusal = results[i];
        const end = chainAfter(await store.docs.auditChainEnd(stream, p.deviceId));
        if (refusal?.status !== 'error' || end.hash === null) continue;
        results[i] = { ...refusal, chainEnd: { authorSeq: end.seq, linkHash: end.hash } };
      }
    } finally {
      releaseAudit();
    }
    const final = results.map((r) => r ?? rowError('', '', 'INTERNAL', 'row lost'));
    for (const r of final) deps.onPush?.(r.status, 1);
    return final;
  };

  /**
   * The rows of `writes` (by index) that would take `p`'s account past its audit cap in their stream, each
   * with its refusal's message: per stream, the first ones fit into what the window leaves, the rest are
   * over, except an entry already stored (its re-push is acknowledged by the write, never refused here).
   * The caller holds the streams' audit-append locks.
   */
  const auditOverCap = async (
    p: Principal,
    writes: readonly DocWrite[],
    streams: readonly string[],
    t: number,
  ): Promise<Map<number, string>> => {
    const over = new Map<number, string>();
    // An entry stored exactly a window ago has left it.
    const since = new Date(t - AUDIT_APPEND_WINDOW_MS + 1).toISOString();
    for (const stream of streams) {
      const { count, first } = await store.docs.auditEntriesOfAccountSince(stream, p.accountId, since);
      let room = auditCap - count;
      // The oldest entry counted leaves the window first (or those of this batch, stored at t).
      const frees = new Date((first === null ? t : Date.parse(first)) + AUDIT_APPEND_WINDOW_MS).toISOString();
      const rows = [...writes.keys()].filter((k) => writes[k]!.doc.stream === stream && writes[k]!.doc.audit);
      // Only when the batch may not fit are its rows looked up: an entry already stored (a re-push whose
      // answer was lost) takes no slot, or it would push a new entry of the same batch over the cap.
      if (rows.length <= room) continue;
      for (const k of rows) {
        if ((await store.docs.getDoc(stream, writes[k]!.doc.id)) !== null) continue;
        if (room > 0) {
          room--;
          continue;
        }
        over.set(
          k,
          `this account's devices appended ${auditCap} audit entries to this patient's log within a day, ` +
            `the most allowed; retry from ${frees}`,
        );
      }
    }
    return over;
  };

  return push;
};
