/**
 * Between the availability form's rows (what a person types) and the library's `AvailabilityInput`
 * (weekly hours in the clinic's zone, slot length, exceptions, dates offered, place). Pure; tested in
 * availability-form.test.ts.
 */
import type { AvailabilityInput } from '@hale/client';

export interface HoursRow {
  readonly key: string;
  readonly day: number;
  readonly from: string;
  readonly to: string;
}

export interface ExceptionRow {
  readonly key: string;
  readonly date: string;
  readonly closed: boolean;
  readonly from: string;
  readonly to: string;
}

export interface AvailabilityForm {
  readonly timeZone: string;
  readonly slotMinutes: string;
  readonly weekly: readonly HoursRow[];
  readonly exceptions: readonly ExceptionRow[];
  readonly from: string;
  readonly until: string;
  readonly location: string;
}

let counter = 0;
export const rowKey = (): string => `r${(counter += 1)}`;

const addDays = (date: string, n: number): string => {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
};

/** Weekdays 09:00–12:00 and 13:00–17:00, 30-minute slots, for eight weeks from `today`. */
export const defaultForm = (timeZone: string, today: string): AvailabilityForm => ({
  timeZone,
  slotMinutes: '30',
  weekly: [1, 2, 3, 4, 5].flatMap((day) => [
    { key: rowKey(), day, from: '09:00', to: '12:00' },
    { key: rowKey(), day, from: '13:00', to: '17:00' },
  ]),
  exceptions: [],
  from: today,
  until: addDays(today, 55),
  location: '',
});

export const toInput = (form: AvailabilityForm): AvailabilityInput => ({
  timeZone: form.timeZone,
  slotMinutes: Number(form.slotMinutes),
  weekly: [...form.weekly]
    .sort((a, b) => a.day - b.day || (a.from < b.from ? -1 : 1))
    .map((w) => ({ day: w.day, from: w.from, to: w.to })),
  exceptions: form.exceptions.map((e) => ({
    date: e.date,
    hours: e.closed ? [] : [{ from: e.from, to: e.to }],
  })),
  from: form.from,
  until: form.until,
  ...(form.location.trim() === '' ? {} : { location: form.location.trim() }),
});

/** The form a published availability reads as (its busy times are the library's, not the form's). */
export const fromPublished = (a: {
  timeZone: string;
  slotMinutes: number;
  weekly: readonly { day: number; from: string; to: string }[];
  exceptions: readonly { date: string; hours: readonly { from: string; to: string }[] }[];
  from: string;
  until: string;
  location?: string;
}): AvailabilityForm => ({
  timeZone: a.timeZone,
  slotMinutes: String(a.slotMinutes),
  weekly: a.weekly.map((w) => ({ key: rowKey(), day: w.day, from: w.from, to: w.to })),
  exceptions: a.exceptions.map((e) => ({
    key: rowKey(),
    date: e.date,
    closed: e.hours.length === 0,
    from: e.hours[0]?.from ?? '09:00',
    to: e.hours[0]?.to ?? '12:00',
  })),
  from: a.from,
  until: a.until,
  location: a.location ?? '',
});

/** Where a refusal's field (`weekly.2.to`, `exceptions.0.date`, `until`) points in the form. */
export const refusedRow = (
  form: AvailabilityForm,
  field: string | undefined,
): { part: 'weekly' | 'exceptions' | 'dates' | 'other'; key?: string } => {
  const m = /^(weekly|exceptions)\.(\d+)/.exec(field ?? '');
  if (m !== null) {
    const part = m[1] as 'weekly' | 'exceptions';
    const sorted =
      part === 'weekly'
        ? [...form.weekly].sort((a, b) => a.day - b.day || (a.from < b.from ? -1 : 1))
        : form.exceptions;
    const key = sorted[Number(m[2])]?.key;
    return key === undefined ? { part } : { part, key };
  }
  if (field === 'from' || field === 'until') return { part: 'dates' };
  return { part: 'other' };
};
