/**
 * The server's log of a grantee's repeated access in windows: at most two audit entries per window for
 * each (device, action, stream, grant, channel) instead of one per request. For pulls, key fetches and
 * blob transfers (sync-service.ts, `record`) and live delivery (hub.ts, the connection as channel);
 * pushes are logged with their rows.
 *
 * Invariants:
 * - The access opening a window is written before `record` resolves; if that write fails nothing is served.
 * - A guard (`WriteGuard`) re-decides a write's streams inside its transaction: refused, nothing is logged.
 * - A repeat counted into an open window writes nothing and runs no guard: its caller decides it first.
 * - A repeat is counted by `record` before it is served, or by `isOpen` then `count` after (no await).
 * - A window ends at its time, at the next access after it, `endAccount`, `end`, `endChannel` or `stop`.
 * - A tally is taken in one synchronous step as its window ends: each access is in exactly one entry.
 * - Window length follows the forward clock only (forward-clock.ts): a clock stepped back cannot stretch it.
 *
 * Failure modes: a failed tally write is reported (`onError`) and carried into the next write on its key;
 * it is lost if none comes (or its channel is gone): the log then under-counts repeats, never a first
 * access. A `record` whose later repeat write fails rejects though its first write committed: recording
 * those events again over-counts them (it never claims an access that was not served).
 */
import type { AccessGuard } from '../store/index';
import type { Principal } from './access';
import { forwardClock } from './forward-clock';

export type WindowedAction = 'pull' | 'key-fetch' | 'blob-down' | 'blob-up' | 'live';

/** What a window is keyed on besides the device. */
export interface WindowKey {
  action: WindowedAction;
  stream: string;
  /** The grant that allowed it; access under another grant opens a window of its own. */
  grantId?: string;
  /** Windows of their own per channel (a live connection), ended together by `endChannel`. */
  channel?: number;
}

export interface WindowedAccess extends WindowKey {
  count: number;
}

/** Access a device repeats by request (pulls, key fetches, blob transfers). */
export interface RepeatableAccess extends WindowedAccess {
  action: 'pull' | 'key-fetch' | 'blob-down' | 'blob-up';
}

export interface LoggedAccess {
  action: WindowedAction;
  stream: string;
  count: number;
}

/**
 * The guard a `record`'s write carries (store AccessGuard), made just before the write for the streams of
 * the entries that write holds: the caller's decision on those streams taken again inside the log's
 * transaction. Only those: a `record` may write more than once (a repeat whose window ended while the
 * call's first write was in flight is written on its own), and a stream an earlier write logged is served
 * on that decision, so a later one may not refuse it. What its check throws rejects `record` as a failed
 * write does (nothing of that batch logged, no window opened), unchanged, so the caller can tell it apart.
 */
export type WriteGuard = (streams: readonly string[]) => AccessGuard | undefined;

/** `guard` bound to the streams of `batch`, for the write of that batch to make just before it writes. */
const guardOf = (
  guard: WriteGuard | undefined,
  batch: readonly LoggedAccess[],
): (() => AccessGuard | undefined) | undefined => {
  if (guard === undefined) return undefined;
  const streams = [...new Set(batch.map((e) => e.stream))];
  return () => guard(streams);
};

interface Window {
  principal: Principal;
  action: WindowedAction;
  stream: string;
  channel: number | undefined;
  openedAt: number;
  tally: number;
  /** The write of the entry that opened the window, while it is in flight. */
  opening: Promise<void> | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Carried {
  principal: Principal;
  action: WindowedAction;
  stream: string;
  channel: number | undefined;
  count: number;
}

export const createAccessWindows = (options: {
  now: () => number;
  windowMs: number;
  /**
   * Writes server entries for `events` of `principal` in one batch, in order, with the check of the guard
   * `guardOf` makes (`record`'s, for the streams of `events`) inside its transaction when given; rejects
   * if it cannot.
   */
  write: (
    principal: Principal,
    events: LoggedAccess[],
    guardOf?: () => AccessGuard | undefined,
  ) => Promise<void>;
  onError?: (error: unknown) => void;
  /** When a window's end timer is armed: as it opens (the default), or at the first count into it. */
  timer?: 'at-open' | 'at-first-count';
  /** Tallies ended together are written in one batch per device (the default), or one write per key. */
  tallyWrites?: 'per-device' | 'per-key';
  /** A channel that is gone keeps no tally: one whose write fails is lost (and reported so). */
  isGone?: (channel: number) => boolean;
  /** The message of the error reported for `tallies` that could not be written. */
  describeUnlogged?: (principal: Principal, tallies: LoggedAccess[], kept: boolean) => string;
}) => {
  const { windowMs, write } = options;
  // Window spans on the clock's forward movement only: a step back of the wall clock neither stretches a
  // window nor delays the timer that writes its tally by the step.
  const now = forwardClock(options.now);
  const timerAtOpen = (options.timer ?? 'at-open') === 'at-open';
  const gone = (channel: number | undefined): boolean =>
    channel !== undefined && (options.isGone?.(channel) ?? false);
  const describeUnlogged =
    options.describeUnlogged ??
    ((principal: Principal, tallies: LoggedAccess[]): string =>
      `${tallies.reduce((n, t) => n + t.count, 0)} repeated accesses of device ${principal.deviceId} are not in the audit log yet`);
  const windows = new Map<string, Window>();
  const carried = new Map<string, Carried>();
  const writes = new Set<Promise<unknown>>();
  let stopped = false;

  const keyOf = (p: Principal, e: WindowKey): string =>
    JSON.stringify([p.deviceId, e.action, e.stream, e.grantId ?? null, e.channel ?? null]);

  const track = <T>(promise: Promise<T>): Promise<T> => {
    writes.add(promise);
    const settled = (): void => void writes.delete(promise);
    promise.then(settled, settled);
    return promise;
  };

  const carry = (key: string, tally: Carried): void => {
    if (gone(tally.channel)) return;
    const before = carried.get(key);
    carried.set(key, before ? { ...before, count: before.count + tally.count } : tally);
  };

  /** Ends the window of `key` (if any) and takes its tally with anything carried for it. Synchronous. */
  const end = (key: string): Carried | null => {
    const window = windows.get(key);
    if (window) {
      clearTimeout(window.timer);
      windows.delete(key);
    }
    const before = carried.get(key);
    carried.delete(key);
    const count = (window?.tally ?? 0) + (before?.count ?? 0);
    const source = window ?? before;
    if (count === 0 || source === undefined) return null;
    const { principal, action, stream, channel } = source;
    return { principal, action, stream, channel, count };
  };

  /** Writes tallies taken by `end`; a failure is reported and the tallies carried to the next write. */
  const writeTallies = async (tallies: Array<[string, Carried]>): Promise<void> => {
    const perKey = options.tallyWrites === 'per-key';
    const batches = new Map<string, Array<[string, Carried]>>();
    for (const entry of tallies) {
      const batch = perKey ? entry[0] : entry[1].principal.deviceId;
      const list = batches.get(batch) ?? [];
      list.push(entry);
      batches.set(batch, list);
    }
    await Promise.all(
      [...batches.values()].map(async (list) => {
        const principal = list[0]![1].principal;
        try {
          await track(
            write(
              principal,
              list.map(([, t]) => ({ action: t.action, stream: t.stream, count: t.count })),
            ),
          );
        } catch (error) {
          const kept = list.every(([, t]) => !gone(t.channel));
          for (const [key, tally] of list) carry(key, tally);
          const logged = list.map(([, t]) => ({ action: t.action, stream: t.stream, count: t.count }));
          options.onError?.(new Error(describeUnlogged(principal, logged, kept), { cause: error }));
        }
      }),
    );
  };

  const armTimer = (key: string, window: Window): void => {
    if (stopped || window.timer) return;
    const delay = Math.min(Math.max(window.openedAt + windowMs - now(), 0), 2 ** 31 - 1);
    window.timer = setTimeout(() => {
      window.timer = undefined;
      // Every other end clears this timer; checked again so it never ends a later window of the key.
      if (windows.get(key) !== window) return;
      const tally = end(key);
      if (tally) void writeTallies([[key, tally]]);
    }, delay);
    window.timer.unref?.();
  };

  const addTally = (key: string, window: Window, count: number): void => {
    window.tally += count;
    if (!timerAtOpen) armTimer(key, window);
  };

  /** Ends the window of `key` (if any) and starts writing its tally. */
  const endKey = (key: string): void => {
    const tally = end(key);
    if (tally) void writeTallies([[key, tally]]);
  };

  /** Ends the windows (and carried tallies) that `which` picks and writes their tallies. */
  const endWhere = (which: (w: { principal: Principal; channel: number | undefined }) => boolean) => {
    const tallies: Array<[string, Carried]> = [];
    for (const [key, window] of [...windows]) {
      if (!which(window)) continue;
      const tally = end(key);
      if (tally) tallies.push([key, tally]);
    }
    for (const [key, c] of [...carried]) {
      if (!which(c)) continue;
      const tally = end(key);
      if (tally) tallies.push([key, tally]);
    }
    return writeTallies(tallies);
  };

  const record = async (
    p: Principal,
    events: readonly WindowedAccess[],
    guard?: WriteGuard,
  ): Promise<void> => {
    if (stopped) {
      const each = events
        .filter((e) => e.count > 0)
        .map((e) => ({ action: e.action, stream: e.stream, count: e.count }));
      if (each.length > 0) await track(write(p, each, guardOf(guard, each)));
      return;
    }
    const t = now();
    const batch: LoggedAccess[] = [];
    /** Tallies in `batch`, to carry again if the batch is not written. */
    const ended: Array<[string, Carried]> = [];
    const opened: Array<[string, Window]> = [];
    const waiting: Array<[string, Window, WindowedAccess]> = [];
    for (const event of events) {
      if (event.count <= 0) continue;
      const key = keyOf(p, event);
      const window = windows.get(key);
      if (window && t < window.openedAt + windowMs) {
        // Counted once this call's write (if any) committed: a `record` whose write fails counts none of
        // its events, so a caller that records the unrefused ones again counts each served repeat once.
        waiting.push([key, window, event]);
        continue;
      }
      const tally = end(key);
      if (tally) {
        batch.push({ action: tally.action, stream: tally.stream, count: tally.count });
        ended.push([key, tally]);
      }
      batch.push({ action: event.action, stream: event.stream, count: event.count });
      const next: Window = {
        principal: p,
        action: event.action,
        stream: event.stream,
        channel: event.channel,
        openedAt: t,
        tally: 0,
        opening: null,
        timer: undefined,
      };
      windows.set(key, next);
      opened.push([key, next]);
    }
    if (batch.length > 0) {
      const writing = track(write(p, batch, guardOf(guard, batch)));
      for (const [, window] of opened) window.opening = writing;
      try {
        await writing;
      } catch (error) {
        // Not logged, so not served: no window stays open on an access that is not in the log.
        for (const [key, window] of opened) {
          if (windows.get(key) === window) {
            windows.delete(key);
            // Repeats counted into it while its opening was written would be lost: carry them.
            const { principal, action, stream, channel, tally } = window;
            if (tally > 0) carry(key, { principal, action, stream, channel, count: tally });
          }
        }
        for (const [key, tally] of ended) carry(key, tally);
        throw error;
      }
      for (const [key, window] of opened) {
        window.opening = null;
        if (timerAtOpen && windows.get(key) === window) armTimer(key, window);
      }
    }
    for (const [key, window, event] of waiting) {
      const opening = window.opening;
      const ok =
        opening === null ||
        (await opening.then(
          () => true,
          () => false,
        ));
      if (ok && windows.get(key) === window) addTally(key, window, event.count);
      // Its window failed to open or has ended: this access goes in the log on its own, its guard deciding
      // its stream only (the streams written above are logged, and served on that).
      else await record(p, [event], guard);
    }
  };

  return {
    record,
    /** Whether `key` of `p` has a window open now whose opening entry is committed: a repeat for `count`. */
    isOpen(p: Principal, key: WindowKey): boolean {
      const window = windows.get(keyOf(p, key));
      return window !== undefined && window.opening === null && now() < window.openedAt + windowMs;
    },
    /**
     * Counts an access already served into the window `isOpen` answered for (no await in between). Should
     * that window have ended meanwhile, the count is written as a tally of its own.
     */
    count(p: Principal, access: WindowedAccess): void {
      if (access.count <= 0) return;
      const key = keyOf(p, access);
      const window = windows.get(key);
      if (window && window.opening === null) {
        addTally(key, window, access.count);
        return;
      }
      const { action, stream, channel, count } = access;
      carry(key, { principal: p, action, stream, channel, count });
      if (!window) endKey(key);
    },
    /** Ends the window of `key` of `p` (its delivery stopped) and starts writing its tally. */
    end(p: Principal, key: WindowKey): void {
      endKey(keyOf(p, key));
    },
    /** Ends the windows of every device of `accountId` (its grants changed) and writes their tallies. */
    endAccount: (accountId: string): Promise<void> => endWhere((w) => w.principal.accountId === accountId),
    /** Ends the windows of `channel` (a connection that closed) and starts writing their tallies. */
    endChannel(channel: number): void {
      void endWhere((w) => w.channel === channel);
    },
    /** Ends every window and starts writing its tally; later accesses are logged one by one. */
    stop(): void {
      stopped = true;
      const tallies: Array<[string, Carried]> = [];
      for (const key of new Set([...windows.keys(), ...carried.keys()])) {
        const tally = end(key);
        if (tally) tallies.push([key, tally]);
      }
      void writeTallies(tallies);
    },
    /** Waits for every write started so far (and those they start), failed ones included. */
    async drain(): Promise<void> {
      while (writes.size > 0) await Promise.allSettled([...writes]);
    },
    size: (): number => windows.size,
  };
};

export type AccessWindows = ReturnType<typeof createAccessWindows>;
