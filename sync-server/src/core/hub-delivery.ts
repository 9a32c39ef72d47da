/*
 * The live hub's delivery: pages of the streams a connection follows, read from its cursor and sent,
 * with backpressure, retries, and the live-audit windows that log them.
 *
 * Invariants:
 * - Pull-shaped: a commit only marks a subscription dirty; the hub reads the store from its cursor.
 * - Nothing is queued in memory per connection: a slow device costs a cursor, not a buffer.
 * - Above the high-water mark delivery waits for the socket to drain (one 10 ms timer per connection).
 * - A socket that takes nothing for `sendStallTimeoutMs` while delivery waits is dropped (`terminate`).
 * - Per stream, documents go out in seq order; the cursor only advances past what was sent.
 * - Live access is logged in windows of `liveAuditIntervalMs` per (connection, stream) (access-windows.ts).
 * - A window's first page is logged before it is sent: an access that cannot be logged is not given.
 * - Later pages are tallied after sending; the tally is logged when the window or the delivery ends.
 * - The `count`s of a connection's 'live' entries for a stream add up to the documents sent to it.
 * - A connection the hub closes or drops is stopped at that moment, not when its close reaches `remove`.
 *
 * Failure modes: a store or logging error on a stream is reported through `onError`, leaves its cursor,
 * and is retried with backoff (RETRY_MIN_MS doubling to RETRY_MAX_MS) or at the connection's next flush;
 * other streams are still delivered. Live counts are off only upwards by one page (a window's first page
 * logged, then not sent) or downwards by a tally lost to a crash or a failed last write.
 */
import { encodeFrame, MAX_BATCH_BYTES, MAX_BATCH_DOCS, type StreamAccess } from '@hale/protocol';
import type { DocPage } from '../store/index';
import { decideAccess, patientToExplain } from './access';
import type { AccessWindows, WindowKey } from './access-windows';
import { isAccessEnded, toServedDoc } from './sync-service';
import {
  clearRetry,
  halt,
  RETRY_MAX_MS,
  RETRY_MIN_MS,
  type ConnState,
  type HubOptions,
  type Reload,
} from './hub-state';

const LIVE_PAGE_BYTES = Math.floor(MAX_BATCH_BYTES / 2);
/** Why a connection whose client took none of its live changes for the stall timeout is dropped. */
const STALLED = 'the client takes none of its live changes; reconnect';

export interface HubDeliveryDeps {
  options: HubOptions;
  /** The hub's live-audit windows, one per (connection, stream). */
  live: AccessWindows;
  liveKey: (state: ConnState, stream: string) => WindowKey;
  /** Re-decides the connection (hub-access.ts), after reloading its grants as `reload` says. */
  reevaluate: (state: ConnState, reload: Reload) => Promise<void>;
}

export const createHubDelivery = ({ options, live, liveKey, reevaluate }: HubDeliveryDeps) => {
  const { store, service, now } = options;
  const highWater = options.highWaterBytes ?? 4 * 1024 * 1024;
  const stallTimeout = options.sendStallTimeoutMs ?? 60_000;

  /** Delivery of a stream failed: it is tried again by this timer (with backoff), not only by its next commit. */
  const armRetry = (state: ConnState): void => {
    if (state.retry || state.closed) return;
    state.retry = setTimeout(() => {
      state.retry = undefined;
      void flush(state);
    }, state.retryDelay);
    state.retry.unref?.();
    state.retryDelay = Math.min(state.retryDelay * 2, RETRY_MAX_MS);
  };

  /**
   * Sends one page of the stream from the connection's cursor (logging it first if it opens a live-audit
   * window) and answers whether more is waiting. A throw leaves the cursor where it was.
   */
  const deliver = async (state: ConnState, stream: string): Promise<boolean> => {
    const cursor = state.subs.get(stream);
    if (cursor === undefined) return false;
    const allowed = () => decideAccess(state.conn.principal, stream, 'live', state.grants, now());
    // Left dirty: the re-evaluation drops the stream if it is refused, and a grant given back meanwhile (a
    // revocation whose commit failed) lets the flush go on with it.
    const refused = async (reload: Reload = 'none'): Promise<false> => {
      state.dirty.add(stream);
      await reevaluate(state, reload);
      return false;
    };
    let decision = allowed();
    if (!decision.ok) return refused();
    const { page, text } = await livePage(stream, cursor);
    if (state.closed || state.subs.get(stream) !== cursor) return false;
    // Decided again on what the connection holds now (no store read): a revocation that began while the
    // page was read took its grant away before it committed (`grantEnding`), and the page may hold rows
    // committed after it.
    decision = allowed();
    if (!decision.ok) return refused();
    // This connection's own pushes are withheld; the page's checkpoint still goes out (with the rest).
    const docs = state.own.take(page.docs);
    const frame =
      docs === page.docs
        ? text
        : encodeFrame({
            t: 'changes',
            docs: docs.map(toServedDoc),
            streams: [{ stream: stream as StreamAccess['stream'], checkpoint: page.checkpoint }],
          });
    if (docs.length === 0 && page.docs.length > 0) state.conn.sendEncoded(frame, 'changes');
    if (docs.length > 0) {
      const n = docs.length;
      const p = state.conn.principal;
      const access = { ...liveKey(state, stream), count: n };
      let repeat = false;
      if (decision.level !== 'owner') {
        repeat = live.isOpen(p, access);
        if (!repeat) {
          // Opens a window. Logged before it is sent, as pulls are: an access that cannot be logged is
          // not given (the throw leaves the cursor where it was; the stream is retried). A previous
          // window still open by the timers is over by the clock: its tally goes first in the same
          // batch, so both are stored or neither, and a failure keeps it for the retry. The write carries
          // the guard that decides the stream once more inside its transaction, from the grants the
          // store holds then (one read per window opened, none per page): that decision is the page's
          // last, so what the log holds is what is sent.
          try {
            await live.record(p, [access], (streams) => service.accessGuard(p, streams, 'live'));
          } catch (error) {
            if (!isAccessEnded(error)) throw error;
            // Refused there: nothing logged, nothing sent. The grant may have ended through another
            // process, which the grants held do not show yet: the patient's are read again.
            const patientId = patientToExplain(p, stream);
            return refused(patientId === null ? 'none' : { patientIds: new Set([patientId]) });
          }
          // Closed or unsubscribed meanwhile: logged but not sent (over, never under, by this page), and
          // no window stays open on it.
          if (state.closed || state.subs.get(stream) !== cursor) {
            live.end(p, access);
            return false;
          }
        }
      }
      state.conn.sendEncoded(frame, 'changes');
      // The owner found its socket closing and removed the connection: nothing went out to count.
      if (state.closed) return false;
      // Counted once sent; no await since the window was looked up, so it is still open.
      if (repeat) live.count(p, access);
      options.onDelivered?.(n);
    }
    state.subs.set(stream, page.checkpoint);
    return !page.done;
  };

  /**
   * Whether the connection's socket, above the high-water mark at `buffered`, has taken nothing for the
   * stall timeout: any look that finds less buffered than the last restarts the wait. Real time, not the
   * hub clock, which tests move by hours.
   */
  const stalled = (state: ConnState, buffered: number): boolean => {
    const t = performance.now();
    if (state.stall === null || buffered < state.stall.buffered) {
      state.stall = { since: t, buffered };
      return false;
    }
    state.stall.buffered = buffered;
    return t - state.stall.since >= stallTimeout;
  };

  const flush = async (state: ConnState): Promise<void> => {
    if (state.flushing || state.closed) return;
    state.flushing = true;
    // Streams whose delivery failed in this flush: set aside so the others go on, then dirty again.
    const failed = new Set<string>();
    let finished = false;
    try {
      for (;;) {
        if (state.closed) return;
        // A commit during the flush may mark a failed stream dirty again: it waits for the retry.
        let stream: string | undefined;
        for (const s of state.dirty) {
          if (!failed.has(s)) {
            stream = s;
            break;
          }
        }
        if (stream === undefined) {
          // Nothing waits to go out: a later wait is measured from its own start.
          state.stall = null;
          break;
        }
        const buffered = state.conn.bufferedAmount();
        if (buffered > highWater) {
          if (stalled(state, buffered)) {
            // Its buffer would stay pinned until the session ends, looked at every 10 ms; and a close
            // frame, queued behind that buffer, would pin it for ws's close timeout.
            halt(state);
            state.conn.terminate(STALLED);
            return;
          }
          // One look pending per connection: a timer per flush that found the socket full would leave
          // a 10 ms poll loop per commit behind for as long as the client reads slowly.
          if (state.drainWait === undefined) {
            state.drainWait = setTimeout(() => {
              state.drainWait = undefined;
              void flush(state);
            }, 10);
            state.drainWait.unref?.();
          }
          return;
        }
        state.stall = null;
        state.dirty.delete(stream);
        try {
          if (await deliver(state, stream)) state.dirty.add(stream);
        } catch (error) {
          // One stream's failure (a store error, an access that cannot be logged) holds back no other.
          failed.add(stream);
          options.onError?.(error);
        }
      }
      finished = true;
    } finally {
      state.flushing = false;
      for (const stream of failed) if (state.subs.has(stream)) state.dirty.add(stream);
      if (failed.size > 0) armRetry(state);
      else if (finished) {
        clearRetry(state);
        state.retryDelay = RETRY_MIN_MS;
      }
    }
  };

  // Followers of one stream usually stand at the same cursor: read and encode each page once, not once
  // per follower. Entries live until the next commit of their stream or the next turn of the event loop.
  const pages = new Map<string, Promise<{ page: DocPage; text: string }>>();
  const livePage = (stream: string, cursor: number): Promise<{ page: DocPage; text: string }> => {
    const key = `${stream}|${cursor}`;
    let hit = pages.get(key);
    if (!hit) {
      hit = store.docs.readDocs(stream, cursor, MAX_BATCH_DOCS, LIVE_PAGE_BYTES).then((page) => ({
        page,
        text:
          page.docs.length === 0
            ? ''
            : encodeFrame({
                t: 'changes',
                docs: page.docs.map(toServedDoc),
                streams: [{ stream: stream as StreamAccess['stream'], checkpoint: page.checkpoint }],
              }),
      }));
      pages.set(key, hit);
      hit.catch(() => pages.delete(key));
      setTimeout(() => pages.delete(key), 0).unref?.();
    }
    return hit;
  };

  /** Drops the cached pages of `stream`: a commit moved it. */
  const invalidate = (stream: string): void => {
    for (const key of pages.keys()) if (key.startsWith(`${stream}|`)) pages.delete(key);
  };

  return { flush, invalidate };
};
