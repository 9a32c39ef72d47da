import { describe, expect, it } from 'vitest';
import { defaultForm, fromPublished, refusedRow, toInput } from './availability-form';

describe('availability form', () => {
  it('makes the library input: weekly hours by day, a closed day as no hours, no empty place', () => {
    const form = {
      ...defaultForm('Europe/Amsterdam', '2026-03-02'),
      exceptions: [
        { key: 'a', date: '2026-03-09', closed: true, from: '09:00', to: '12:00' },
        { key: 'b', date: '2026-03-10', closed: false, from: '10:00', to: '11:00' },
      ],
    };
    const input = toInput(form);
    expect(input).toMatchObject({
      timeZone: 'Europe/Amsterdam',
      slotMinutes: 30,
      from: '2026-03-02',
      until: '2026-04-26',
    });
    expect(input.weekly).toHaveLength(10);
    expect(input.weekly[0]).toEqual({ day: 1, from: '09:00', to: '12:00' });
    expect(input.exceptions).toEqual([
      { date: '2026-03-09', hours: [] },
      { date: '2026-03-10', hours: [{ from: '10:00', to: '11:00' }] },
    ]);
    expect('location' in input).toBe(false);
  });

  it('reads a published availability back into the form, and round-trips', () => {
    const input = toInput({ ...defaultForm('Asia/Taipei', '2026-01-05'), location: 'Room 3' });
    const back = toInput(fromPublished({ ...input, exceptions: input.exceptions ?? [] }));
    expect(back).toEqual(input);
  });

  it('points a refusal at the row it names, in the order sent', () => {
    const form = {
      ...defaultForm('UTC', '2026-01-05'),
      weekly: [
        { key: 'fri', day: 5, from: '09:00', to: '10:00' },
        { key: 'mon', day: 1, from: '12:00', to: '11:00' },
      ],
    };
    expect(refusedRow(form, 'weekly.0.to')).toEqual({ part: 'weekly', key: 'mon' });
    expect(refusedRow(form, 'until')).toEqual({ part: 'dates' });
    expect(refusedRow(form, undefined)).toEqual({ part: 'other' });
  });
});
