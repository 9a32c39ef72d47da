// Which appointments to remind of now (pure): confirmed ones starting within a day, then within the hour,
// each reminder once (its key kept by the caller); and the start times the desktop shell's main process
// reminds of (`reminderStarts`: confirmed, ahead, the nearest MAX_DESKTOP_STARTS, nothing else of them).
import type { AppointmentView } from '@hale/client';

export const REMINDERS = [
  { key: 'hour', beforeMs: 60 * 60_000 },
  { key: 'day', beforeMs: 24 * 60 * 60_000 },
] as const;
export type ReminderKind = (typeof REMINDERS)[number]['key'];

/** The desktop channel's bound (desktop/src/ipc-contract.ts MAX_REMINDER_STARTS). */
export const MAX_DESKTOP_STARTS = 50;

export const reminderStarts = (list: readonly AppointmentView[], now: number): number[] =>
  [
    ...new Set(
      list
        .filter((a) => a.record.status === 'scheduled')
        .map((a) => Date.parse(a.record.startAt))
        .filter((start) => Number.isInteger(start) && start > now),
    ),
  ]
    .sort((a, b) => a - b)
    .slice(0, MAX_DESKTOP_STARTS);

export const remindersDue = (
  list: readonly AppointmentView[],
  now: number,
  done: ReadonlySet<string>,
): { id: string; kind: ReminderKind; key: string }[] => {
  const due: { id: string; kind: ReminderKind; key: string }[] = [];
  for (const a of list) {
    if (a.record.status !== 'scheduled') continue;
    const left = Date.parse(a.record.startAt) - now;
    if (left <= 0) continue;
    // The nearest window only: an appointment in 30 minutes gets the hour's reminder, not also the day's.
    const window = REMINDERS.find((r) => left <= r.beforeMs);
    if (window === undefined) continue;
    const key = `${a.record.id}:${a.record.startAt}:${window.key}`;
    if (!done.has(key)) due.push({ id: a.record.id, kind: window.key, key });
  }
  return due;
};
