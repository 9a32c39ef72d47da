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
