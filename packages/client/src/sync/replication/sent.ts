/**
 * What this device sent: the tag of the last version pushed per record (`sent`), the versions whose
 * answer has not come (`unanswered`, also across restarts), and the positions at which the server held
 * versions its pushes were stored as or met as conflicts (`storedAt`).
 *
 * Invariants:
 * - `sent` is registered before a frame goes out (the echo can overtake the reply) and dropped when the
 *   server refuses that version: a served version equal to it is this device's own, never decoded nor
 *   applied (a replayed old version of this device's is never applied either).
 * - A version this device sent is never met as another's change, also when its answer was lost and the
 *   session ended before it came: the tags of versions sent are written to device meta as each frame
 *   goes out (one write of that frame's ids and tags into the next of UNANSWERED_SLOTS slots, in turn: a
 *   constant cost per frame), and the push handler returns once it is written; read at start. A server
 *   version a push meets that is one of them (same tag, written by this device) and numbered below the
 *   local version is what that version was made on, and the local version is sent on top of it, once.
 *   Only the exact tag counts: a device store rolled back to an older copy never writes over a version it
 *   lost (a conflict, both sides kept).
 * - An answer forgets the tag in memory (with those sent before it; STALE_EPOCH: that tag only); the slots
 *   are not rewritten for it.
 * - `storedAt` is the highest position at which a push of this device found the server holding a version
 *   of the record: where it stored the push, or where the verified version the push met as a conflict
 *   stands (in memory, the newest MAX_STORED_AT records). Any version of the record served at or below it
 *   was the server's before, a late copy, never a replay. Forgotten when the server's store was restored
 *   (its positions are numbered anew).
 */
import type { PushRow, ServedDoc } from '@hale/protocol';
import { createRecentMap } from '../../core/recent-map';
import { SYNC_STATE } from '../stored-state';
import { recordKey, type EngineCore } from '../engine-core';
import type { PlainRecord } from '../../records/plain-record';
import type { SentLog } from '../engine-parts';

/** Pushed versions remembered for echo detection (at least this many; a forgotten echo is just decoded). */
const MAX_SENT = 50_000;
/** Device meta key prefix of the slots naming the versions in the last frames sent (`unanswered`). */
const UNANSWERED_KEY = 'push-unanswered-';
/** Slots written in turn, one per push frame: the versions of the last this many frames are known after a restart. */
const UNANSWERED_SLOTS = 32;
/** Records kept in memory in `unanswered` (beyond it the oldest go: a conflict, both sides kept, as before). */
const MAX_UNANSWERED = 10_000;
/**
 * Tags kept per record in `unanswered`: each restart whose push of the record goes unanswered again adds
 * one (a newer local version sent before the older one's answer came); the oldest go first.
 */
const MAX_UNANSWERED_REVS = 8;
/** Records whose position is remembered (`storedAt`; a forgotten one makes a late copy reported). */
const MAX_STORED_AT = 50_000;

export const createSentLog = (core: EngineCore): SentLog => {
  const { deps } = core;
  const sent = createRecentMap<string, string>(MAX_SENT);
  let storedAt = createRecentMap<string, number>(MAX_STORED_AT);
  const unanswered = new Map<string, string[]>();
  /** Frames noted so far (the last one read at start included): the next slot is the next number's. */
  let unansweredSeq = 0;
  const remember = (id: string, rev: string): void => {
    const revs = (unanswered.get(id) ?? []).filter((r) => r !== rev);
    revs.push(rev);
    // Re-inserted: the map's order is the order of sends, the oldest dropped first.
    unanswered.delete(id);
    unanswered.set(id, revs.slice(-MAX_UNANSWERED_REVS));
    if (unanswered.size > MAX_UNANSWERED) unanswered.delete(unanswered.keys().next().value!);
  };
  /** Notes the rows of a frame being sent, in the next slot; resolves once the slot is written. */
  const noteUnanswered = (rows: readonly PushRow[]): Promise<void> => {
    for (const { doc } of rows) remember(doc.id, doc.rev);
    const seq = ++unansweredSeq;
    return deps.meta.set(`${UNANSWERED_KEY}${seq % UNANSWERED_SLOTS}`, {
      seq,
      rows: rows.map(({ doc }) => ({ id: doc.id, rev: doc.rev })),
    });
  };
  /**
   * Whether server version `master` (opened as `version`), met by the push of `local`, is a version this
   * device sent and heard no answer for, numbered below `local`: an ancestor of it (see `unanswered`).
   */
  const followsUnanswered = (master: ServedDoc, version: PlainRecord, local: PlainRecord): boolean =>
    master.author === deps.device.deviceId &&
    version.rv < local.rv &&
    (unanswered.get(master.id)?.includes(master.rev) ?? false);
  /**
   * The server answered the version `rev` of `id`: forgets it, and with `older` the versions sent before it
   * (the server holds this one or another's over them). In memory only: the slots keep it (see the header).
   */
  const answeredRev = (id: string, rev: string, older: boolean): void => {
    const revs = unanswered.get(id);
    const at = revs?.indexOf(rev) ?? -1;
    if (revs === undefined || at < 0) return;
    const left = older ? revs.slice(at + 1) : revs.filter((r) => r !== rev);
    if (left.length === 0) unanswered.delete(id);
    else unanswered.set(id, left);
  };
  /** The server held a version of the record at `seq`: positions at or below it are late copies. */
  const noteHeld = (stream: string, id: string, seq: number): void => {
    const key = recordKey(stream, id);
    if (seq > (storedAt.get(key) ?? 0)) storedAt.set(key, seq);
  };
  return {
    /** The tag of the last version of `id` this device pushed, while remembered. */
    get: (id: string): string | undefined => sent.get(id),
    set: (id: string, rev: string): void => sent.set(id, rev),
    /** Forgets `rev` as the version of `id` sent (refused, or sealed again under another epoch). */
    forget(id: string, rev: string): void {
      if (sent.get(id) === rev) sent.delete(id);
    },
    /** Whether `doc` is the echo of this device's own push. */
    isEcho: (doc: ServedDoc): boolean => doc.author === deps.device.deviceId && sent.get(doc.id) === doc.rev,
    noteUnanswered,
    followsUnanswered,
    answeredRev,
    /** A push of this device met a verified server version of the record at `seq` as a conflict. */
    metInConflict: noteHeld,
    /** The server stored a version of the record this device pushed at `seq` (its push answered ok). */
    noteStored: noteHeld,
    /** Forgets every stored position (a restore of the server's store numbers positions anew). */
    forgetStored(): void {
      storedAt = createRecentMap<string, number>(MAX_STORED_AT);
    },
    /** The highest position a push of this device found a version of the record at (0: none known). */
    storedAt: (stream: string, id: string): number => storedAt.get(recordKey(stream, id)) ?? 0,
    /** Reads the slots at start, oldest frame first, so a record's newest tag ends last. */
    async load(): Promise<void> {
      const frames = await Promise.all(
        Array.from({ length: UNANSWERED_SLOTS }, (_, i) =>
          deps.meta.get(`${UNANSWERED_KEY}${i}`, SYNC_STATE.pushUnanswered),
        ),
      );
      for (const slot of frames
        .filter((x): x is NonNullable<typeof x> => x !== null)
        .sort((a, b) => a.seq - b.seq)) {
        unansweredSeq = Math.max(unansweredSeq, slot.seq);
        for (const { id, rev } of slot.rows) {
          remember(id, rev);
          sent.set(id, rev);
        }
      }
    },
  };
};
