import type { RecordOf } from '@hale/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adherenceOf, dueNow, reminderTimes, slotInstant, slotsOn } from './doses';

type Medication = RecordOf<'Medication'>;
type Dose = RecordOf<'MedicationDose'>;

const base = {
  patientId: 'p',
  createdAt: '2026-03-01T00:00:00.000Z',
  updatedAt: '2026-03-01T00:00:00.000Z',
};
const med = (id: string, name: string, extra: Partial<Medication> = {}): Medication =>
  ({ ...base, id, kind: 'Medication', name, active: true, ...extra }) as Medication;
const mark = (medicationId: string, slot: string, status: Dose['status'], at: string, id = at): Dose =>
  ({ ...base, id, kind: 'MedicationDose', medicationId, medicationName: 'x', slot, status, at }) as Dose;

const zone = process.env['TZ'];
beforeAll(() => {
  process.env['TZ'] = 'Europe/Amsterdam';
});
afterAll(() => {
  process.env['TZ'] = zone;
});

describe('a day of doses', () => {
  const metformin = med('m1', 'Metformin', { schedule: { times: ['08:00', '20:00'], food: 'with' } });
  const aspirin = med('m2', 'Aspirin', { schedule: { times: ['08:00'] }, endDate: '2026-03' });
  const paracetamol = med('m3', 'Paracetamol', { schedule: { asNeeded: true, times: ['09:00'] } });
  const stopped = med('m4', 'Lisinopril', { active: false, schedule: { times: ['07:00'] } });
  const all = [metformin, aspirin, paracetamol, stopped];

  it('lists the scheduled slots of a day, earliest first, within start and end, as needed and stopped left out', () => {
    expect(slotsOn('2026-03-31', all, []).map((s) => `${s.time} ${s.medication.name}`)).toEqual([
      '08:00 Aspirin',
      '08:00 Metformin',
      '20:00 Metformin',
    ]);
    // An end given as a month covers all of it, and no further.
    expect(slotsOn('2026-04-01', all, []).map((s) => s.medication.name)).toEqual(['Metformin', 'Metformin']);
  });

  it('shows the mark made last when two devices marked one slot', () => {
    const marks = [
      mark('m1', '2026-03-31T08:00', 'skipped', '2026-03-31T06:05:00.000Z', 'B'),
      mark('m1', '2026-03-31T08:00', 'taken', '2026-03-31T06:10:00.000Z', 'A'),
    ];
    expect(slotsOn('2026-03-31', [metformin], marks)[0]?.mark?.status).toBe('taken');
    expect(slotsOn('2026-03-31', [metformin], marks.reverse())[0]?.mark?.status).toBe('taken');
  });

  it('keeps the wall-clock time across daylight saving: 08:00 is 07:00Z in winter, 06:00Z in summer', () => {
    expect(new Date(slotInstant('2026-03-28T08:00')).toISOString()).toBe('2026-03-28T07:00:00.000Z');
    expect(new Date(slotInstant('2026-03-29T08:00')).toISOString()).toBe('2026-03-29T06:00:00.000Z');
  });

  it('reminds of unmarked slots ahead only, and of one just come due', () => {
    const now = Date.parse('2026-03-29T06:30:00.000Z'); // 08:30 in Amsterdam, summer time
    const taken = [mark('m2', '2026-03-29T08:00', 'taken', '2026-03-29T06:01:00.000Z')];
    // 20:00 today; 08:00 tomorrow once, though Metformin and Aspirin are both due then.
    expect(reminderTimes(all, taken, now, 24 * 3_600_000, 50).map((t) => new Date(t).toISOString())).toEqual([
      '2026-03-29T18:00:00.000Z',
      '2026-03-30T06:00:00.000Z',
    ]);
    expect(dueNow(all, taken, now, 45 * 60_000).map((s) => s.medication.name)).toEqual(['Metformin']);
    expect(dueNow(all, taken, now, 15 * 60_000)).toEqual([]);
  });

  it('counts a week kept: due by now since the medication was written down, taken, skipped', () => {
    const now = Date.parse('2026-03-04T12:00:00.000Z'); // 13:00: the 08:00 dose due, the 20:00 not yet
    const marks = [
      mark('m1', '2026-03-01T08:00', 'taken', '2026-03-01T07:05:00.000Z'),
      mark('m1', '2026-03-01T20:00', 'skipped', '2026-03-01T19:05:00.000Z'),
      mark('m1', '2026-03-02T08:00', 'taken', '2026-03-02T07:05:00.000Z'),
      mark('m2', '2026-03-02T08:00', 'taken', '2026-03-02T07:05:00.000Z'),
    ];
    // 1, 2 and 3 March twice, 4 March once (written down at 01:00 on 1 March, before the first dose).
    expect(adherenceOf(metformin, marks, now, 7)).toEqual({ due: 7, taken: 2, skipped: 1 });
    // Written down at 09:00 on 4 March: the 08:00 dose counts only once marked.
    const late = { ...metformin, createdAt: '2026-03-04T08:00:00.000Z' };
    expect(adherenceOf(late, [], now, 7)).toEqual({ due: 0, taken: 0, skipped: 0 });
    const marked = [mark('m1', '2026-03-04T08:00', 'taken', '2026-03-04T08:01:00.000Z')];
    expect(adherenceOf(late, marked, now, 7)).toEqual({ due: 1, taken: 1, skipped: 0 });
  });
});
