// A booking across a daylight-saving change, through a real server: the clinician's 09:00 in Berlin is
// offered at a UTC instant one hour apart before and after the change, stored so, and shown as 09:00 in
// Berlin and as the right wall time in the viewer's zone (which changes on another date, or never).
import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { useServer } from '../support/fixture';
import { careDevice, share } from './care-devices';

/** The first date from `from` on which Berlin's UTC offset differs from the day before. */
const nextBerlinChange = (from: DateTime): DateTime => {
  let day = from.setZone('Europe/Berlin').startOf('day');
  for (let i = 0; i < 400; i++) {
    const next = day.plus({ days: 1 });
    if (next.set({ hour: 12 }).offset !== day.set({ hour: 12 }).offset) return next;
    day = next;
  }
  throw new Error('no daylight-saving change within a year');
};

describe('a booking across a daylight-saving change', () => {
  const server = useServer({ realClock: true });

  it('keeps the clinic’s wall time and stores the right instant on both sides of the change', async () => {
    const t = server.t;
    const clinician = await careDevice(t, server.sessions, 'provider');
    const patient = await careDevice(t, server.sessions, 'patient');
    await share(patient, clinician, ['appointment']);
    const D = clinician.account.accountId;
    const change = nextBerlinChange(DateTime.now().plus({ days: 2 }));
    const before = change.minus({ days: 3 });
    const after = change.plus({ days: 3 });
    await clinician.hale.care.availability.publish({
      timeZone: 'Europe/Berlin',
      slotMinutes: 60,
      weekly: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, from: '09:00', to: '10:00' })),
      from: before.toFormat('yyyy-MM-dd'),
      until: after.toFormat('yyyy-MM-dd'),
    });
    const slots = await patient.hale.care.appointments.slots(D);
    const first = slots[0]!;
    const last = slots[slots.length - 1]!;
    // The same wall time, an hour apart in UTC.
    const hourOf = (instant: string) => new Date(instant).getUTCHours();
    expect(Math.abs(hourOf(first.startAt) - hourOf(last.startAt))).toBe(1);
    const booked = await patient.hale.care.appointments.book(last, { reason: 'check-up' });
    expect(booked.startAt).toBe(last.startAt);
    const times = patient.hale.care.appointments.times(booked, 'Asia/Tokyo');
    expect(times.place?.start).toMatchObject({
      time: '09:00',
      zone: 'Europe/Berlin',
      date: after.toFormat('yyyy-MM-dd'),
    });
    // Tokyo keeps no summer time: 09:00 Berlin is 17:00 or 16:00 there, depending on Berlin's offset.
    const berlinOffset = after.set({ hour: 9 }).offset / 60;
    expect(times.viewer.start.time).toBe(`${String(9 + 9 - berlinOffset).padStart(2, '0')}:00`);
    const beforeTimes = patient.hale.care.appointments.times({
      ...booked,
      startAt: first.startAt,
      endAt: first.endAt,
    });
    expect(beforeTimes.place?.start.time).toBe('09:00');
    expect(beforeTimes.place?.start.offset).not.toBe(times.place?.start.offset);
  });
});
