/**
 * Appointment and dose reminders from the main process: they come while the app's window is hidden,
 * minimised or locked (a locked renderer holds no keys and reads no record). The renderer hands over,
 * through `hale:reminders`, only the start times of its confirmed appointments, the times its scheduled
 * doses are due and the fixed words of its language; main shows "an appointment in a day / in an hour" and
 * "time for your medicine" at the right time.
 *
 * | rule | how |
 * |---|---|
 * | which reminder | the nearest window only: within 24 h the day's, within 1 h the hour's (as the app's own) |
 * | a dose | at its time; one already past when seen is shown at once within DOSE_GRACE_MS, never later |
 * | once | per start time and window, per dose time (kept in memory): the same list again shows nothing |
 * | words | the two titles and three bodies the renderer gave: fixed per language, no name, reason or time |
 * | a new list | replaces the old whole (an appointment cancelled or a dose removed is no longer reminded of) |
 * | waking | a timer to the next window's opening or dose, at most MAX_WAIT_MS ahead (sleep, clock changes) |
 *
 * Invariants: nothing reaches the notification but the given words; past starts and doses past the grace
 * are dropped; at most MAX_REMINDER_STARTS starts and as many doses (the channel's schema bounds the lists).
 */
import type { IpcRequest } from './ipc-contract';

export const HOUR_MS = 60 * 60_000;
export const DAY_MS = 24 * HOUR_MS;
/** The longest a timer waits before the scheduler looks again. */
export const MAX_WAIT_MS = 15 * 60_000;
/** How late a dose reminder may still come (a list handed late, a sleep); after that it is not shown. */
export const DOSE_GRACE_MS = 30 * 60_000;

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
  /** What was shown, `time:kind` → the time; forgotten once that time can no longer be shown. */
  const shown = new Map<string, number>();
  let plan: Plan | null = null;
  let timer: unknown = null;

  const once = (time: number, kind: 'day' | 'hour' | 'dose'): void => {
    if (plan === null || shown.has(`${time}:${kind}`)) return;
    shown.set(`${time}:${kind}`, time);
    options.show(kind === 'dose' ? plan.words.doseTitle : plan.words.title, plan.words[kind]);
  };

  const tick = (): void => {
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
    if (plan === null) return;
    const now = clock.now();
    for (const [key, time] of shown) if (time < now - DOSE_GRACE_MS) shown.delete(key);
    const starts = plan.starts.filter((s) => s > now);
    let next = Infinity;
    for (const start of starts) {
      const left = start - now;
      const window = left <= HOUR_MS ? 'hour' : left <= DAY_MS ? 'day' : null;
      if (window !== null) once(start, window);
      for (const opens of [start - DAY_MS, start - HOUR_MS]) if (opens > now) next = Math.min(next, opens);
    }
    for (const dose of plan.doses) {
      if (dose > now) next = Math.min(next, dose);
      else if (dose >= now - DOSE_GRACE_MS) once(dose, 'dose');
    }
    plan = { words: plan.words, starts, doses: plan.doses.filter((d) => d > now) };
    if (next !== Infinity) timer = clock.setTimeout(tick, Math.min(next - now, MAX_WAIT_MS));
  };

  const sorted = (times: readonly number[]): number[] => [...new Set(times)].sort((a, b) => a - b);

  return {
    /** The renderer's current lists: replace the ones held, show what is due now, arm the next. */
    replace(next: Plan): void {
      plan = { words: next.words, starts: sorted(next.starts), doses: sorted(next.doses) };
      tick();
    },
    /** How many start times and dose times are still ahead (for tests and logs). */
    pending: (): number => (plan === null ? 0 : plan.starts.length + plan.doses.length),
    stop(): void {
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      plan = null;
    },
  };
}
