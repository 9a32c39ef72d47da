/**
 * The views' session state (`ViewState`): their order, when the next whole read is due, and the directory
 * look-ups that failed moments ago.
 *
 * | field            | what                                                                          |
 * | ---------------- | ----------------------------------------------------------------------------- |
 * | `queue`          | views, `verify` and `acceptLosses` run one at a time (`inViewOrder`)           |
 * | `sinceWhole`     | views since the last whole check (a whole read every VIEW_FULL_CHECK_VIEWS)   |
 * | `cacheKept`      | false once this session removed the view cache and kept none since            |
 * | `partialWhole`   | the last whole check whose only problems were `unverified` (view-cache.ts)    |
 * | `unjudgedUntil`  | per failed look-up (`lookupOf`), until when it is not asked again             |
 * | `reports`        | the last problem summary a view reported per patient (not repeated)           |
 *
 * - A look-up is a device under an account, never the author alone: an entry naming its author under
 *   another account (a forgery on a genuine device) fails a look-up of its own, which leaves that device's
 *   genuine entries judged. A failing list costs one look-up a minute, not one per view; cleared at a
 *   reconnect (the directory reloads its lists then).
 */
export interface ViewState {
  queue: Promise<unknown>;
  sinceWhole: number;
  cacheKept: boolean;
  partialWhole: { at: number; fullAt: number; authors: Set<string> } | null;
  readonly unjudgedUntil: Map<string, number>;
  readonly reports: Map<string, string>;
}

/** How long a failed look-up is taken as still failing without asking again. */
export const VIEW_UNJUDGED_RETRY_MS = 60_000;

export const createViewState = (): ViewState => ({
  queue: Promise.resolve(),
  sinceWhole: 0,
  cacheKept: true,
  partialWhole: null,
  unjudgedUntil: new Map(),
  reports: new Map(),
});

/** Runs `fn` after every view, check and cache write asked before it. */
export const inViewOrder = <T>(view: ViewState, fn: () => Promise<T>): Promise<T> => {
  const next = view.queue.then(fn, fn);
  view.queue = next.catch(() => undefined);
  return next;
};

/** One look-up of the device directory (`authorKey(account, device)`), as a key: no two pairs share one. */
export const lookupOf = (account: string, device: string): string => JSON.stringify([account, device]);

/** Whether `lookup` is still taken as failing without asking; a clock set back asks. */
export const waitsForList = (view: ViewState, lookup: string, now: number): boolean => {
  const until = view.unjudgedUntil.get(lookup);
  return until !== undefined && now < until && now >= until - VIEW_UNJUDGED_RETRY_MS;
};
