/** Longest delay platform timers keep: a longer one fires at once (Node warns; browsers say nothing). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` as a time limit option named `name`: a whole number of milliseconds, 1…MAX_TIMER_MS. Anything else
 * (Infinity meant as "no limit", 0, a fraction) is a caller's mistake that would make every call time out
 * at once or never, so it is refused when the option is given (RangeError), not at the first call.
 */
export const timerMs = (name: string, ms: number): number => {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    throw new RangeError(
      `${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${ms}`,
    );
  }
  return ms;
};

/** Platform timers, injectable (tests drive time themselves). */
export interface Timers {
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

/** A running time limit (`startTimeLimit`). */
export interface TimeLimit {
  /** `pending`, unless the time runs out first: then it rejects with the limit's reason. */
  readonly within: <T>(pending: Promise<T>) => Promise<T>;
  /** Whether the time ran out. */
  readonly expired: () => boolean;
  /** Clears the timer: the work is over. */
  readonly end: () => void;
}

/**
 * Starts a limit of `ms` on `timers` (the platform's by default). When it passes, `onExpire` runs and
 * whatever waits in `within` rejects with `reason()`; the rejection is observed here, so a limit nobody
 * waits on any more raises nothing.
 */
export const startTimeLimit = (
  ms: number,
  timers: Timers,
  reason: () => Error,
  onExpire?: () => void,
): TimeLimit => {
  const setTimer = timers.setTimer ?? ((fn, wait) => setTimeout(fn, wait));
  const clearTimer = timers.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  let expired = false;
  let expire: (error: Error) => void = () => undefined;
  const timeout = new Promise<never>((_, reject) => {
    expire = reject;
  });
  timeout.catch(() => undefined);
  const handle = setTimer(() => {
    expired = true;
    expire(reason());
    onExpire?.();
  }, ms);
  return {
    within: <T>(pending: Promise<T>) => Promise.race([pending, timeout]),
    expired: () => expired,
    end: () => clearTimer(handle),
  };
};
