/**
 * Appointment reminders from the main process: they come while the app's window is hidden, minimised or
 * locked (a locked renderer holds no keys and reads no appointment). The renderer hands over, through
 * `hale:reminders`, only the start times of its confirmed appointments and the fixed words of its
 * language; main shows "an appointment in a day / in an hour" at the right time.
 *
 * | rule | how |
 * |---|---|
 * | which reminder | the nearest window only: within 24 h the day's, within 1 h the hour's (as the app's own) |
 * | once | per start time and window (kept in memory): handing the same list again shows nothing again |
 * | words | the title and the two bodies the renderer gave: fixed per language, no name, reason or time |
 * | a new list | replaces the old whole (an appointment cancelled or moved is no longer reminded of) |
 * | waking | a timer to the next window's opening, at most MAX_WAIT_MS ahead (sleep, clock changes) |
 *
 * Invariants: nothing reaches the notification but the given words; past starts are dropped; at most
 * MAX_REMINDER_STARTS starts (the channel's schema bounds the list).
 */
import type { IpcRequest } from './ipc-contract';

export const HOUR_MS = 60 * 60_000;
export const DAY_MS = 24 * HOUR_MS;
/** The longest a timer waits before the scheduler looks again. */
export const MAX_WAIT_MS = 15 * 60_000;

export interface ReminderClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: ReminderClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

type Plan = IpcRequest<'hale:reminders'>;

export function createReminderScheduler(options: {
  readonly show: (title: string, body: string) => void;
  readonly clock?: ReminderClock;
}) {
  const clock = options.clock ?? systemClock;
  const shown = new Set<string>();
  let plan: Plan | null = null;
  let timer: unknown = null;

  const tick = (): void => {
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
    if (plan === null) return;
    const now = clock.now();
    const starts = plan.starts.filter((s) => s > now);
    let next = Infinity;
    for (const start of starts) {
      const left = start - now;
      const window = left <= HOUR_MS ? 'hour' : left <= DAY_MS ? 'day' : null;
      if (window !== null && !shown.has(`${start}:${window}`)) {
        shown.add(`${start}:${window}`);
        options.show(plan.words.title, plan.words[window]);
      }
      for (const opens of [start - DAY_MS, start - HOUR_MS]) if (opens > now) next = Math.min(next, opens);
    }
    plan = { words: plan.words, starts };
    if (next !== Infinity) timer = clock.setTimeout(tick, Math.min(next - now, MAX_WAIT_MS));
  };

  return {
    /** The renderer's current list: replaces the one held, shows what is due now, arms the next. */
    replace(next: Plan): void {
      plan = { words: next.words, starts: [...new Set(next.starts)].sort((a, b) => a - b) };
      tick();
    },
    /** How many start times are still ahead (for tests and logs). */
    pending: (): number => plan?.starts.length ?? 0,
    stop(): void {
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      plan = null;
    },
  };
}
