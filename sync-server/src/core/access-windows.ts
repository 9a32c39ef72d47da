/**
 * The server's log of a grantee's repeated access (pulls, key fetches, blob transfers) in windows, so a
 * device that downloads the same things in a loop adds a bounded number of entries to the patient's
 * audit stream — at most two per window for each (device, action, stream, grant) — instead of one per
 * request. Live delivery has windows of its own (hub.ts); pushes are logged with their rows.
 *
 * Invariants:
 * - A window is keyed by (device, action, stream, grant that allowed it). The access that opens a window
 *   is written before `record` resolves, so before it is served: if that write fails, `record` rejects,
 *   no window stays open, and the caller serves nothing. So the first access of a device to a stream, an
 *   access by another device, to another stream, by another action or under another grant, and the first
 *   access after a window ended are each in the log before they take effect.
 * - An access while its window is open is counted into the window; `record` resolves once the window's
 *   opening entry is committed (it waits for it when it is still being written, and is written as an
 *   opening entry of its own if that write failed or the window ended meanwhile).
 * - A window ends when its time is up (an unref'd timer), at the next access on its key after that (the
 *   tally is then written in the same batch as, and before, the entry that opens the next window), when a
 *   grant of the device's account changes (`endAccount`, awaited by grant and revoke before they answer),
 *   and at shutdown (`stop`; `drain` waits for the writes). Its tally is taken in one synchronous step as
 *   it ends, so each counted access is in exactly one entry: the counts of a key's entries add up to what
 *   was recorded for it, and the entries say who accessed what, how much, and when (to the window).
 * Failure modes: a tally whose write fails is reported through `onError` and carried into the next write
 * on its key; it is lost only if none comes (then, and on a crash mid-window, the log under-counts the
 * repeats of that window, never its first access).
 */
import type { Principal } from './access';

export interface RepeatableAccess {
  action: 'pull' | 'key-fetch' | 'blob-down' | 'blob-up';
  stream: string;
  count: number;
  /** The grant that allowed it; access under another grant opens a window of its own. */
  grantId?: string;
}

export interface LoggedAccess {
  action: RepeatableAccess['action'];
  stream: string;
  count: number;
}

interface Window {
  principal: Principal;
  action: RepeatableAccess['action'];
  stream: string;
  openedAt: number;
  tally: number;
  /** The write of the entry that opened the window, while it is in flight. */
  opening: Promise<void> | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Carried {
  principal: Principal;
  action: RepeatableAccess['action'];
  stream: string;
  count: number;
}

export const createAccessWindows = (options: {
  now: () => number;
  windowMs: number;
  /** Writes server entries for `events` of `principal` in one batch, in order; rejects if it cannot. */
  write: (principal: Principal, events: LoggedAccess[]) => Promise<void>;
  onError?: (error: unknown) => void;
}) => {
  const { now, windowMs, write } = options;
  const windows = new Map<string, Window>();
  const carried = new Map<string, Carried>();
  const writes = new Set<Promise<unknown>>();
  let stopped = false;

  const keyOf = (p: Principal, e: RepeatableAccess): string =>
    JSON.stringify([p.deviceId, e.action, e.stream, e.grantId ?? null]);

  const track = <T>(promise: Promise<T>): Promise<T> => {
    writes.add(promise);
    const settled = (): void => void writes.delete(promise);
    promise.then(settled, settled);
    return promise;
  };

  const carry = (key: string, tally: Carried): void => {
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
    return { principal: source.principal, action: source.action, stream: source.stream, count };
  };

  /** Writes tallies taken by `end`; a failure is reported and the tallies carried to the next write. */
  const writeTallies = async (tallies: Array<[string, Carried]>): Promise<void> => {
    const byDevice = new Map<string, Array<[string, Carried]>>();
    for (const entry of tallies) {
      const list = byDevice.get(entry[1].principal.deviceId) ?? [];
      list.push(entry);
      byDevice.set(entry[1].principal.deviceId, list);
    }
    await Promise.all(
      [...byDevice.values()].map(async (list) => {
        const principal = list[0]![1].principal;
        try {
          await track(
            write(
              principal,
              list.map(([, t]) => ({ action: t.action, stream: t.stream, count: t.count })),
            ),
          );
        } catch (error) {
          for (const [key, tally] of list) carry(key, tally);
          const count = list.reduce((n, [, t]) => n + t.count, 0);
          options.onError?.(
            new Error(
              `${count} repeated accesses of device ${principal.deviceId} are not in the audit log yet`,
              {
                cause: error,
              },
            ),
          );
        }
      }),
    );
  };

  const armTimer = (key: string, window: Window): void => {
    if (stopped) return;
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

  const record = async (p: Principal, events: readonly RepeatableAccess[]): Promise<void> => {
    if (stopped) {
      const each = events.filter((e) => e.count > 0);
      if (each.length > 0) {
        await track(
          write(
            p,
            each.map((e) => ({ action: e.action, stream: e.stream, count: e.count })),
          ),
        );
      }
      return;
    }
    const t = now();
    const batch: LoggedAccess[] = [];
    /** Tallies in `batch`, to carry again if the batch is not written. */
    const ended: Array<[string, Carried]> = [];
    const opened: Array<[string, Window]> = [];
    const waiting: Array<[string, Window, RepeatableAccess]> = [];
    for (const event of events) {
      if (event.count <= 0) continue;
      const key = keyOf(p, event);
      const window = windows.get(key);
      if (window && t < window.openedAt + windowMs) {
        if (window.opening) waiting.push([key, window, event]);
        else window.tally += event.count;
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
        openedAt: t,
        tally: 0,
        opening: null,
        timer: undefined,
      };
      windows.set(key, next);
      opened.push([key, next]);
    }
    if (batch.length > 0) {
      const writing = track(write(p, batch));
      for (const [, window] of opened) window.opening = writing;
      try {
        await writing;
      } catch (error) {
        // Not logged, so not served: no window stays open on an access that is not in the log.
        for (const [key, window] of opened) {
          if (windows.get(key) === window) {
            windows.delete(key);
            // Repeats counted into it while its opening was written would be lost: carry them.
            const { principal, action, stream, tally } = window;
            if (tally > 0) carry(key, { principal, action, stream, count: tally });
          }
        }
        for (const [key, tally] of ended) carry(key, tally);
        throw error;
      }
      for (const [key, window] of opened) {
        window.opening = null;
        if (windows.get(key) === window) armTimer(key, window);
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
      if (ok && windows.get(key) === window) window.tally += event.count;
      // Its window failed to open or has ended: this access goes in the log on its own.
      else await record(p, [event]);
    }
  };

  return {
    record,
    /** Ends the windows of every device of `accountId` (its grants changed) and writes their tallies. */
    async endAccount(accountId: string): Promise<void> {
      const tallies: Array<[string, Carried]> = [];
      for (const [key, window] of [...windows]) {
        if (window.principal.accountId !== accountId) continue;
        const tally = end(key);
        if (tally) tallies.push([key, tally]);
      }
      for (const [key, c] of [...carried]) {
        if (c.principal.accountId !== accountId) continue;
        const tally = end(key);
        if (tally) tallies.push([key, tally]);
      }
      await writeTallies(tallies);
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
