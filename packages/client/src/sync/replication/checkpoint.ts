/**
 * Pull positions: where the next pull starts, beyond what RxDB's stored checkpoint says.
 *
 * Invariants:
 * - Checkpoints are per stream ({ s: { [stream]: seq } }): a stream that becomes readable starts at 0, so
 *   a new grantee receives the whole history.
 * - A pull starts from the checkpoint RxDB hands over (what it has stored), never from what the engine has
 *   merely seen: RxDB drops live changes it had not stored yet when it resyncs, and those are served again.
 * - RxDB stores a batch's position only with a document in it: a batch that hands it nothing (echoes, the
 *   settled local copy, stale, clashing or set-aside versions) moves the pull floor instead (`carry`,
 *   persisted `pull-floor`), which the next pull starts from once RxDB's stored checkpoint reaches what was
 *   handed before that batch. No record is handed to RxDB only to carry a position.
 * - A stream purged and readable again is pulled from 0: it stays marked (`purged`) until RxDB hands back
 *   a checkpoint carrying that pull's token (`r`, `pull-restarted`), so a failed call RxDB retries, or a
 *   session opened again, never resumes it from before the purge. Tokens are written before marks.
 * - After a restore's pull from 0 began, RxDB's stored checkpoint of then stands for no position until
 *   RxDB stored another (`voided`, persisted with the floor).
 */
import { base64urlEncode, randomBytes } from '@hale/crypto';
import { SYNC_STATE } from '../stored-state';
import type { EngineCore } from '../engine-core';
import type { StreamCheckpoint } from '../types';
import type { Checkpoints, Positions } from '../engine-parts';

/** Whether `a` is at or past `b` on every stream of `b`. */
export const reaches = (a: Positions, b: Positions): boolean =>
  Object.entries(b).every(([s, seq]) => (a[s] ?? 0) >= seq);
const sameCheckpoint = (a: Positions, b: Positions): boolean => reaches(a, b) && reaches(b, a);
/** The per-stream positions of a pull checkpoint RxDB stored (its meta holds it untyped); none if malformed. */
export const storedPositions = (data: unknown): Positions => {
  if (typeof data !== 'object' || data === null || !('s' in data)) return {};
  const s: unknown = data.s;
  if (typeof s !== 'object' || s === null) return {};
  return Object.fromEntries(Object.entries(s).filter((e): e is [string, number] => typeof e[1] === 'number'));
};

export const createCheckpoints = (core: EngineCore): Checkpoints => {
  const { deps } = core;
  const known = core.known;
  /**
   * Positions past served batches that handed RxDB nothing to store (all echoes, the settled local copy,
   * stale, clashing or set aside), which RxDB cannot store (it stores a position only with a document):
   * `at` is where the next pull may start, valid once RxDB's stored checkpoint reaches `after` (everything
   * handed to it before them is then stored). Persisted (`pull-floor`); null when there is none.
   */
  let floor: { at: Record<string, number>; after: Record<string, number> } | null = null;
  /**
   * RxDB's stored checkpoint as it stood when a restore's pull from 0 began: positions in the store from
   * before the restore, which RxDB replaces only with a document. While RxDB hands over exactly this, it
   * stands for no position at all (the floor then says where the pull from 0 got to); once RxDB stored
   * another, it is forgotten. Persisted with the floor; null when there is none.
   */
  let voided: Record<string, number> | null = null;
  let floorWriting: Promise<void> = Promise.resolve();
  /**
   * Streams purged and not pulled again since, as far as RxDB stored (see `restartTokens`): RxDB's stored
   * checkpoint may still hold their old positions (it is not rewritten by a pull that brings nothing), so
   * they start from 0 when readable again, and what RxDB holds for them is ignored while marked.
   */
  const restart = new Set<string>();
  /**
   * Streams of `restart` whose pull from 0 began → a random token put in every checkpoint the pull
   * handler hands RxDB (`r`). RxDB retries a failed call, and starts after a restart, with the checkpoint it
   * stored, which holds the stream's position from before the purge until it stores one of the pull from
   * 0; only a checkpoint handed back with the token proves it did, and ends the mark. Persisted
   * (`pull-restarted`; a token whose stream is not in `purged` means nothing).
   */
  const restartTokens = new Map<string, string>();
  /**
   * Tokens first: a purge drops the stream's token before it marks it, so no crash between the writes
   * leaves a stream marked with an old token, which RxDB's checkpoint from before this purge may carry.
   */
  const saveRestart = async (): Promise<void> => {
    await deps.meta.set('pull-restarted', Object.fromEntries(restartTokens));
    await deps.meta.set('purged', [...restart]);
  };
  // One write in flight at a time, of the floor as it is when the write starts: a burst of batches that
  // hand nothing (e.g. the echoes of a large push) costs one or two writes, not one each.
  let floorDue = false;
  const saveFloor = (): void => {
    if (floorDue) return;
    floorDue = true;
    floorWriting = floorWriting
      .then(() => {
        floorDue = false;
        return deps.meta.set('pull-floor', {
          ...(floor ?? { at: {}, after: {} }),
          ...(voided ? { voided } : {}),
        });
      })
      .catch(() => undefined);
  };
  /**
   * A batch that handed RxDB nothing moved the positions from `after` (everything before it handed to
   * RxDB or needing nothing) to `at`. Continues the floor when that floor already reaches `after`.
   */
  const carry = (after: Record<string, number>, at: Record<string, number>): void => {
    if (floor !== null && reaches(floor.at, after)) {
      const merged = { ...floor.at };
      for (const [s, seq] of Object.entries(at)) merged[s] = Math.max(merged[s] ?? 0, seq);
      floor = { at: merged, after: floor.after };
    } else {
      floor = { at: { ...at }, after: { ...after } };
    }
    saveFloor();
  };
  /** Forgets a stream's floor (purged, or pulled from 0 again). */
  const dropFloor = (streams: readonly string[]): void => {
    if (floor === null || !streams.some((s) => s in floor!.at || s in floor!.after)) return;
    const at = { ...floor.at };
    const after = { ...floor.after };
    for (const s of streams) {
      delete at[s];
      delete after[s];
    }
    floor = { at, after };
    saveFloor();
  };

  const snapshot = (): StreamCheckpoint => ({ s: { ...known } });
  /**
   * Where a pull handed `lastCheckpoint` starts (`pos`), and what of that RxDB holds (`stored`, `given`):
   * RxDB's positions, without those of streams purged and not pulled again since, past the floor once
   * RxDB holds everything handed before it. Ends the marks of restarted streams RxDB proved it stored.
   */
  const startOf = async (lastCheckpoint: StreamCheckpoint | undefined) => {
    const given: Positions = { ...lastCheckpoint?.s };
    // RxDB's checkpoint of the store before a restore stands for nothing until RxDB stored another.
    if (voided !== null && !sameCheckpoint(given, voided)) {
      voided = null;
      saveFloor();
    }
    // A checkpoint handed back with a restarted stream's token is one of its pull from 0.
    const proven = [...restartTokens].filter(([s, token]) => lastCheckpoint?.r?.[s] === token);
    for (const [s] of proven) {
      restart.delete(s);
      restartTokens.delete(s);
    }
    const stored: Positions = voided === null ? { ...given } : {};
    for (const s of restart) delete stored[s];
    const pos: Positions = { ...stored };
    if (floor !== null && reaches(stored, floor.after)) {
      for (const [s, seq] of Object.entries(floor.at)) pos[s] = Math.max(pos[s] ?? 0, seq);
    }
    for (const [s, seq] of Object.entries(pos)) known[s] = Math.max(known[s] ?? 0, seq);
    if (proven.length > 0) await saveRestart();
    return { given, stored, pos };
  };
  /**
   * A restore's pull from 0 begins: positions of the store before it say nothing of the restored one,
   * `known` starts over, and RxDB's checkpoint of now (`given`) stands for nothing until it stores another.
   */
  const restartAll = (pos: Positions, given: Positions): void => {
    for (const s of Object.keys(pos)) delete pos[s];
    for (const s of Object.keys(known)) delete known[s];
    voided = given;
    floor = null;
    saveFloor();
  };
  /**
   * Streams purged and readable again begin their pull from 0 here, under a new token; until RxDB hands
   * back a checkpoint with it, every call goes on from what that pull carried past (the floor). Positions
   * of streams not readable are dropped.
   */
  const beginRestarts = async (pos: Positions): Promise<void> => {
    const readable = core.access.readable;
    const starting = [...restart].filter((s) => readable(s) && !restartTokens.has(s));
    if (starting.length > 0) {
      for (const s of starting) {
        delete pos[s];
        delete known[s];
        restartTokens.set(s, base64urlEncode(randomBytes(12)));
      }
      dropFloor(starting);
      await saveRestart();
    }
    for (const s of Object.keys(pos)) {
      if (readable(s)) continue;
      delete pos[s];
      delete known[s];
      dropFloor([s]);
    }
  };
  return {
    carry,
    dropFloor,
    snapshot,
    startOf,
    restartAll,
    beginRestarts,
    /** The checkpoint handed to RxDB for positions `pos` (with the tokens of pulls from 0 under way). */
    checkpointOf: (pos: Positions): StreamCheckpoint => ({
      s: { ...pos },
      ...(restartTokens.size > 0 ? { r: Object.fromEntries(restartTokens) } : {}),
    }),
    /** `stream` was purged: it is pulled from 0 when readable again (marks persisted before the purge goes on). */
    async purged(stream: string): Promise<void> {
      dropFloor([stream]);
      restartTokens.delete(stream);
      restart.add(stream);
      await saveRestart();
    },
    /** Waits for the floor write under way (stop). */
    settled: (): Promise<void> => floorWriting,
    async load(): Promise<void> {
      for (const s of (await deps.meta.get('purged', SYNC_STATE.purged)) ?? []) restart.add(s);
      for (const [s, token] of Object.entries(
        (await deps.meta.get('pull-restarted', SYNC_STATE.restartTokens)) ?? {},
      )) {
        if (restart.has(s)) restartTokens.set(s, token);
      }
      const savedFloor = await deps.meta.get('pull-floor', SYNC_STATE.pullFloor);
      if (savedFloor !== null && Object.keys(savedFloor.at).length > 0) {
        floor = { at: savedFloor.at, after: savedFloor.after };
      }
      voided = savedFloor?.voided ?? null;
    },
  };
};
