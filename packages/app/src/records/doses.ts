/**
 * A day's doses from the medications' schedules and the marks made (pure; doses.test.ts): the slots due,
 * what each was marked, the times to remind of, and how closely the schedule was kept.
 *
 * | question | answer |
 * |---|---|
 * | which medications have slots on a day | active, scheduled with times, not as needed, the day within start to end |
 * | a slot | the day and a time of day on this device's wall clock (`2026-11-27T08:00`) |
 * | a slot's mark | the mark of that medication and slot made last (`at`, then id): two devices may both mark it |
 * | the times to remind of | unmarked slots from now to `horizon`, as instants in this device's zone now |
 * | adherence | over the days asked: slots due by now (unmarked ones from when the medication was written down), taken, skipped |
 *
 * Invariants:
 * - Days and times are wall-clock: travelling or daylight saving moves the instant, not the slot.
 * - A start or end given as a year or month covers all of it (`2026-11` ends on 30 November).
 */
import type { RecordOf } from '@hale/client';

type Medication = RecordOf<'Medication'>;
type Dose = RecordOf<'MedicationDose'>;

export interface Slot {
  readonly medication: Medication;
  /** `YYYY-MM-DDTHH:MM`. */
  readonly slot: string;
  readonly time: string;
  readonly mark: Dose | undefined;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of `ms` on this device's calendar. */
export const localDay = (ms: number): string => {
  const d = new Date(ms);
  return `${String(d.getFullYear())}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};

/** The instant a slot falls at on this device's clock now (NaN for a slot not of that form). */
export const slotInstant = (slot: string): number => {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(slot);
  if (m === null) return Number.NaN;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi).getTime();
};

const addDays = (day: string, n: number): string => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return localDay(new Date(y, m - 1, d + n, 12).getTime());
};

/** Whether `day` lies within the medication's start and end (each as far as it is known). */
const runsOn = (m: Medication, day: string): boolean => {
  const start = m.startDate?.slice(0, 10);
  const end = m.endDate?.slice(0, 10);
  return (
    (start === undefined || day.slice(0, start.length) >= start) &&
    (end === undefined || day.slice(0, end.length) <= end)
  );
};

/** The medications a person takes at set times (a reminder's and a today list's). */
export const scheduled = (medications: readonly Medication[]): Medication[] =>
  medications.filter(
    (m) => m.active && m.schedule?.asNeeded !== true && (m.schedule?.times?.length ?? 0) > 0,
  );

/** Taken as needed: active, with a schedule saying so. */
export const asNeeded = (medications: readonly Medication[]): Medication[] =>
  medications.filter((m) => m.active && m.schedule?.asNeeded === true);

/** The mark standing for each `medicationId|slot`: the last made. */
export const marksBySlot = (doses: readonly Dose[]): Map<string, Dose> => {
  const out = new Map<string, Dose>();
  for (const d of doses) {
    if (d.slot === undefined) continue;
    const key = `${d.medicationId}|${d.slot}`;
    const held = out.get(key);
    if (held === undefined || held.at < d.at || (held.at === d.at && held.id < d.id)) out.set(key, d);
  }
  return out;
};

/** The slots of `day`, earliest first (then by medicine name). */
export const slotsOn = (day: string, medications: readonly Medication[], doses: readonly Dose[]): Slot[] => {
  const marks = marksBySlot(doses);
  return scheduled(medications)
    .filter((m) => runsOn(m, day))
    .flatMap((m) =>
      (m.schedule?.times ?? []).map((time) => {
        const slot = `${day}T${time}`;
        return { medication: m, slot, time, mark: marks.get(`${m.id}|${slot}`) };
      }),
    )
    .sort((a, b) =>
      a.time === b.time ? a.medication.name.localeCompare(b.medication.name) : a.time < b.time ? -1 : 1,
    );
};

/** Instants of unmarked slots from `now` to `now + horizonMs`, earliest first, at most `max`. */
export const reminderTimes = (
  medications: readonly Medication[],
  doses: readonly Dose[],
  now: number,
  horizonMs: number,
  max: number,
): number[] => {
  const out: number[] = [];
  const last = localDay(now + horizonMs);
  for (let day = localDay(now); day <= last; day = addDays(day, 1)) {
    for (const s of slotsOn(day, medications, doses)) {
      const at = slotInstant(s.slot);
      if (s.mark === undefined && at >= now && at <= now + horizonMs) out.push(at);
    }
  }
  return [...new Set(out)].sort((a, b) => a - b).slice(0, max);
};

/** Unmarked slots that came due in the last `graceMs` (an open app's reminder). */
export const dueNow = (
  medications: readonly Medication[],
  doses: readonly Dose[],
  now: number,
  graceMs: number,
): Slot[] =>
  [localDay(now - graceMs), localDay(now)]
    .filter((day, i, days) => days.indexOf(day) === i)
    .flatMap((day) => slotsOn(day, medications, doses))
    .filter((s) => {
      const at = slotInstant(s.slot);
      return s.mark === undefined && at <= now && at > now - graceMs;
    });

export interface Adherence {
  /** Slots due by now over the days. */
  readonly due: number;
  readonly taken: number;
  readonly skipped: number;
}

/** How the schedule of `medication` was kept over the `days` days ending today. */
export const adherenceOf = (
  medication: Medication,
  doses: readonly Dose[],
  now: number,
  days: number,
): Adherence => {
  const mine = doses.filter((d) => d.medicationId === medication.id);
  let due = 0;
  let taken = 0;
  let skipped = 0;
  const today = localDay(now);
  const since = Date.parse(medication.createdAt);
  for (let day = addDays(today, 1 - days); day <= today; day = addDays(day, 1)) {
    for (const s of slotsOn(day, [medication], mine)) {
      // Slots still ahead are not counted, nor unmarked ones before the medication was written down.
      const at = slotInstant(s.slot);
      if (at > now || (at < since && s.mark === undefined)) continue;
      due += 1;
      if (s.mark?.status === 'taken') taken += 1;
      if (s.mark?.status === 'skipped') skipped += 1;
    }
  }
  return { due, taken, skipped };
};
