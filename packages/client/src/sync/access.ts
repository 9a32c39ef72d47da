/**
 * What this device may access: the server's list at each connection, then its access changes.
 *
 * Invariants:
 * - Kept in device meta (`access`, sealed at rest: a provider's patient list) with the streams whose
 *   access ended and whose purge has not completed (`ending`): a stream is always either listed or owed
 *   a purge, also across a crash.
 * - Each grant's end holds on this device's clock: `readable`, `writable` and `access()` go by it at
 *   once, and a timer armed for the soonest end (at start, at every access change, after each end it
 *   enforced) purges the stream. Where a read grant outlasts the write grant (`readExpiresAt`), writing
 *   ends at the write grant's end and the read grant's end purges.
 * - Never for the account's own streams: the server saying access to one ended or narrowed is refused
 *   and reported (OWN_ACCESS_REFUSED), nothing removed or changed.
 * - A stream the server's list leaves out ended while the device was away: its reason is asked of the
 *   server (a pull past every document lists it `denied` with its code), the guess on this device's
 *   clock kept when no answer comes.
 * - Until a connection's first listing the kept list decides what may be written locally; a push waits
 *   for that listing (the server checks again in any case).
 */
import {
  MAX_BATCH_BYTES,
  parseStreamId,
  type PulledFrame,
  type StreamAccess,
  type StreamsFrame,
} from '@hale/protocol';
import { createStreamList } from './stream-list';
import type { EngineCore } from './engine-core';
import type { RemovedStream } from './types';
import type { NotWritableReason } from '../records/record-errors';
import { coalescedSave } from '../core/coalesced-save';
import type { Access } from './engine-parts';

/**
 * Most streams one pull or subscribe names: a provider that follows many patients reads more streams
 * than one request may name (MAX_STREAMS_PER_REQUEST), so it asks for them in slices of this many.
 */
export const STREAMS_PER_REQUEST = 1000;

export const createAccess = (core: EngineCore): Access => {
  const { deps } = core;
  const { connection, keyring } = deps;
  const access = new Map<string, StreamAccess>();
  // That is the end of reading: a read grant can outlast the write grant the server describes the stream
  // by (`readExpiresAt`), and the stream is purged only when reading ends.
  const ends = new WeakMap<StreamAccess, number>();
  const endOf = (a: StreamAccess): number => {
    let end = ends.get(a);
    if (end === undefined) {
      const at = a.readExpiresAt ?? a.expiresAt;
      end = at === undefined ? Infinity : Date.parse(at);
      ends.set(a, end);
    }
    return end;
  };
  /** When the grant describing the entry ends: writing, under a write grant a read grant outlasts. */
  const writeEndOf = (a: StreamAccess): number =>
    a.expiresAt === undefined ? Infinity : Date.parse(a.expiresAt);

  /**
   * Streams whose access ended and whose purge has not completed: persisted with the access list, so a
   * session that ends first (closed, killed, or a purge that failed) purges them at the next open.
   */
  const ending = new Map<string, RemovedStream>();
  /** Why access to a stream ended in this session, until it is listed again: names a refused write. */
  const endedBecause = new Map<string, RemovedStream['reason']>();
  // The list is persisted whole, folded like the pending list.
  const accessSave = coalescedSave(() =>
    deps.meta.set('access', { streams: [...access.values()], ended: [...ending.values()] }),
  );
  const saveAccess = accessSave.save;
  const noteAccess = (): void => {
    core.issues.patch({ streams: access.size });
    void saveAccess().catch(() => undefined);
  };

  /** A stream of this device's own account (see `ownAccess`). */
  const isOwn = (stream: string): boolean => {
    const parsed = parseStreamId(stream);
    return parsed.ok && parsed.value.patientId === deps.accountId;
  };
  /**
   * A claim of the server's about a stream of this account that can never be true (its access ended,
   * narrowed or with an end): reported, and nothing changed. The account owns its streams whatever the
   * server says; taken, such a claim would delete the patient's records, unsent edits included.
   */
  const refuseOwnClaim = (stream: string | undefined, claim: string): void =>
    core.issues.report(
      {
        code: 'OWN_ACCESS_REFUSED',
        message:
          `the server said ${claim} of ${stream ?? "this account's own streams"}, a stream of this ` +
          'account: that is never so, and nothing was changed or removed on this device. If it keeps ' +
          "saying so, tell the server's operator: it is broken or not to be trusted",
        ...(stream === undefined ? {} : { stream }),
      },
      // The server's claim, however many it makes: capped as its unasked errors are.
      { server: true },
    );
  /** `s` as taken: an own stream is always owned, with no end (a claim otherwise is refused). */
  const ownAccess = (s: StreamAccess): StreamAccess => {
    if (!isOwn(s.stream)) return s;
    const { grantId, expiresAt, readExpiresAt, ...owned } = s;
    if (
      s.access === 'owner' &&
      grantId === undefined &&
      expiresAt === undefined &&
      readExpiresAt === undefined
    )
      return s;
    refuseOwnClaim(s.stream, `access ${s.access}${expiresAt === undefined ? '' : ' with an end'}`);
    return { ...owned, access: 'owner' };
  };

  const updateAccess = (streams: StreamAccess[]): void => {
    for (const listed of streams) {
      const s = ownAccess(listed);
      access.set(s.stream, s);
      endedBecause.delete(s.stream);
      keyring.noteServerEpoch(s.stream, s.epoch);
    }
    noteAccess();
    armExpiry();
  };

  // Ends expired grants at their instant even with no connection (the server tells only connected
  // devices). Armed for the soonest end whenever access changes, at start and after each end it enforced
  // (several grants may end while offline); capped so a far end does not overflow the timer.
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  const armExpiry = (): void => {
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryTimer = undefined;
    // A loop, not Math.min(...): a provider at the bounds holds more streams than an engine takes arguments.
    let next = Infinity;
    for (const a of access.values()) next = Math.min(next, endOf(a));
    if (next === Infinity || core.s.stopped) return;
    const delay = Math.min(Math.max(next - deps.now(), 0) + 5, 2 ** 31 - 1);
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined;
      const t = deps.now();
      const expired = [...access.values()].filter((a) => endOf(a) <= t);
      // endAccess takes them out of `access` at once, so the timer is armed for the end after them.
      if (expired.length > 0) void endAccess(expired.map((a) => ({ stream: a.stream, reason: 'expired' })));
      armExpiry();
    }, delay);
    (expiryTimer as { unref?: () => void }).unref?.();
  };
  const streamList =
    deps.streamList ??
    createStreamList({
      request: (frame) => connection.request<StreamsFrame>(frame),
      version: () => connection.version(),
    });
  const refreshStreams = async (): Promise<void> => {
    // Every page: a stream missing from the list is taken as access ended, and purged.
    const streams = await streamList.list();
    core.s.streamsStale = false;
    core.pull.drainedClear();
    // A stream this device followed or holds records of that the server no longer lists: access ended
    // while the device was not connected (no accessChanged frame reached it).
    const listed = new Set<string>(streams.map((s) => s.stream));
    const ended: RemovedStream[] = [];
    for (const stream of new Set([...access.keys(), ...Object.keys(core.known)])) {
      // One whose purge is owed already is not ended again (listings at connect run side by side).
      if (listed.has(stream) || stream.endsWith('/audit') || ending.has(stream)) continue;
      const was = access.get(stream);
      const expired = was !== undefined && endOf(was) <= deps.now();
      ended.push({ stream, reason: expired ? 'expired' : 'revoked' });
    }
    // An own stream the list leaves out stays as it was (endAccess refuses to end it). A server lists
    // every own stream of an account (sync-service `ownStreams`): a list with none is told, once per
    // listing, even on a device that knew none yet (a first connection), which else waits in silence.
    if (![...listed].some(isOwn)) refuseOwnClaim(undefined, 'nothing (its stream list holds none)');
    const ownUnlisted = [...access.values()].filter((a) => isOwn(a.stream) && !listed.has(a.stream));
    access.clear();
    for (const a of ownUnlisted) access.set(a.stream, a);
    updateAccess(streams);
    if (ended.length > 0) void endAsServerSays(ended);
    core.progress.listed(
      streams.filter((s) => !s.stream.endsWith('/audit')).map((s) => ({ stream: s.stream, head: s.head })),
    );
  };

  // A grant's end is enforced on this device's clock too, so it holds while the device is offline.
  const current = (a: StreamAccess | undefined): a is StreamAccess =>
    a !== undefined && endOf(a) > deps.now();
  const readable = (stream: string): boolean => current(access.get(stream)) && !stream.endsWith('/audit');
  /** Access to `stream` is listed with an end that passed: the timer is about to end it. */
  const endPassed = (stream: string): boolean => {
    const a = access.get(stream);
    return a !== undefined && !current(a);
  };
  const writable = (stream: string): boolean => {
    const a = access.get(stream);
    return current(a) && (a.access === 'owner' || (a.access === 'write' && writeEndOf(a) > deps.now()));
  };
  /** Why `stream` is not writable now, or null when it is (see NotWritableReason). */
  const whyNotWritable = (stream: string): NotWritableReason | null => {
    if (writable(stream)) return null;
    const a = access.get(stream);
    // Readable still is read-only, also past a write grant's end a read grant outlasts: the server then
    // lists it so, and the reason must not depend on whether the device was online at that end.
    if (a !== undefined) return current(a) ? 'read-only' : 'expired';
    const ended = ending.get(stream)?.reason ?? endedBecause.get(stream);
    if (ended === undefined) return 'no-consent';
    return ended === 'expired' ? 'expired' : 'revoked';
  };
  /**
   * The entry as it holds at `t`: once the write grant describing it ended, reading under the grant that
   * outlasts it, until `readExpiresAt` (which grant that is, the server says at the next connection).
   */
  const asOf = (a: StreamAccess, t: number): StreamAccess => {
    if (a.readExpiresAt === undefined || writeEndOf(a) > t) return a;
    const { readExpiresAt, grantId: _grantId, ...rest } = a;
    return { ...rest, access: 'read', expiresAt: readExpiresAt };
  };

  /**
   * Of the ends a server frame names (`accessChanged` removed, `pulled` denied), those of streams this
   * device follows or holds anything of: another has nothing to end, and a server naming streams at will
   * must not fill the issues.
   */
  const heldOf = (named: readonly RemovedStream[]): RemovedStream[] =>
    named.filter((r) => access.has(r.stream) || core.known[r.stream] !== undefined || ending.has(r.stream));
  /**
   * Ends access to `ended`, streams the server's list left out, for the reason the server gives: its clock
   * and its grants decide, and the reason guessed on this device's clock (expired if the end it knew
   * passed) is wrong when the clocks disagree or a grant was revoked and then ran out. A pull asking past
   * every document (nothing served, nothing logged) lists each refused stream in `denied` with its code.
   * Meanwhile each is owed its purge (persisted, so a crash in between purges it at the next open), and a
   * listing running beside this one leaves it alone. A stream the server does not refuse (access came
   * back since the list), or an answer that does not come, keeps the guessed reason.
   */
  const endAsServerSays = async (ended: readonly RemovedStream[]): Promise<void> => {
    const others = ended.filter((r) => !isOwn(r.stream));
    for (const r of others) ending.set(r.stream, r);
    if (others.length > 0) noteAccess();
    const told = new Map<string, RemovedStream['reason']>();
    for (let i = 0; i < others.length; i += STREAMS_PER_REQUEST) {
      const streams = others
        .slice(i, i + STREAMS_PER_REQUEST)
        .map((r) => ({ stream: r.stream as StreamAccess['stream'], since: Number.MAX_SAFE_INTEGER }));
      const reply = await connection
        .request<PulledFrame>({ t: 'pull', streams, limit: 1, maxBytes: MAX_BATCH_BYTES }, { wait: false })
        .catch(() => null);
      for (const d of reply?.denied ?? []) {
        if (d.code === 'CONSENT_EXPIRED') told.set(d.stream, 'expired');
        else if (d.code === 'CONSENT_REVOKED') told.set(d.stream, 'revoked');
      }
    }
    await endAccess(ended.map((r) => ({ stream: r.stream, reason: told.get(r.stream) ?? r.reason })));
  };

  const endAccess = (claimed: readonly RemovedStream[]): Promise<void> => {
    // Never on the server's word for this account's own streams (see `refuseOwnClaim`).
    const ended = claimed.filter((r) => {
      if (!isOwn(r.stream)) return true;
      refuseOwnClaim(r.stream, `access ended (${r.reason})`);
      return false;
    });
    if (ended.length === 0) return Promise.resolve();
    for (const r of ended) {
      access.delete(r.stream);
      endedBecause.set(r.stream, r.reason);
      core.pull.unsubscribed(r.stream);
      ending.set(r.stream, r);
      core.issues.report({
        code: r.reason === 'expired' ? 'CONSENT_EXPIRED' : 'CONSENT_REVOKED',
        message: `Access to ${r.stream} ended (${r.reason}); its records are being removed from this device`,
        stream: r.stream,
      });
    }
    // Persisted in one write with the list it leaves: the stream is always either listed or owed a purge.
    noteAccess();
    return core.inOrder(async () => {
      for (const r of ended) {
        try {
          await core.purge.purge(r);
          ending.delete(r.stream);
        } catch (error) {
          // Owed still (also if an earlier purge of it succeeded): done at the next open.
          ending.set(r.stream, r);
          core.issues.report({
            code: 'PURGE_FAILED',
            message: `Could not remove ${r.stream} from this device: ${error instanceof Error ? error.message : String(error)}`,
            stream: r.stream,
          });
        }
      }
      noteAccess();
    });
  };
  return {
    entries: access,
    ending,
    readable,
    writable,
    whyNotWritable,
    endPassed,
    current,
    asOf,
    isOwn,
    ownAccess,
    updateAccess,
    refreshStreams,
    streamList,
    armExpiry,
    noteAccess,
    settled: (): Promise<void> => accessSave.settled(),
    stopTimer(): void {
      if (expiryTimer !== undefined) clearTimeout(expiryTimer);
      expiryTimer = undefined;
    },
    endOf,
    heldOf,
    endAccess,
    refuseOwnClaim,
  };
};
