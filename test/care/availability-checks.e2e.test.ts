// The availability a patient reads is the clinician's own: a document the server alters is refused on the
// patient's device; a provider device whose clock is behind still publishes above the version kept.
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { useHaleSessions } from '../client-api/hale-devices';
import { careSession } from './care-devices';

const DAY = 24 * 3_600_000;
const date = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const input = (slotMinutes: number) => ({
  timeZone: 'Europe/Berlin',
  slotMinutes,
  weekly: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, from: '09:00', to: '10:00' })),
  from: date(Date.now() + 2 * DAY),
  until: date(Date.now() + 4 * DAY),
});

describe('availability as a patient reads it', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('a document the server altered (more slots) is refused, and nothing is booked on it', async () => {
    const t = server.t;
    const clinician = await careSession(t, sessions, 'provider');
    const patient = await careSession(t, sessions, 'patient');
    const D = clinician.account.accountId;
    await clinician.hale.care.availability.publish(input(60));
    expect(await patient.hale.care.appointments.slots(D)).toHaveLength(3);

    // The server serves 10-minute slots in the clinician's name, keeping the clinician's signature.
    const row = t.store.db
      .prepare('SELECT signed FROM provider_availability WHERE account_id = ?')
      .get(D) as {
      signed: string;
    };
    const altered = JSON.parse(row.signed) as { availability: { slotMinutes: number } };
    altered.availability.slotMinutes = 10;
    t.store.db
      .prepare('UPDATE provider_availability SET signed = ? WHERE account_id = ?')
      .run(JSON.stringify(altered), D);
    await expect(patient.hale.care.appointments.slots(D)).rejects.toMatchObject({
      code: 'AVAILABILITY_FORGED',
    });
    const slot = {
      providerId: D,
      startAt: `${date(Date.now() + 2 * DAY)}T08:10:00.000Z`,
      endAt: `${date(Date.now() + 2 * DAY)}T08:20:00.000Z`,
      timeZone: 'Europe/Berlin',
    };
    await expect(patient.hale.care.appointments.book(slot)).rejects.toMatchObject({
      code: 'AVAILABILITY_FORGED',
    });
    expect((await patient.hale.records.query('Appointment')).items).toEqual([]);
  });

  it('a provider device whose clock is a day behind publishes above the version another device published', async () => {
    const t = server.t;
    const clinician = await careSession(t, sessions, 'provider');
    const patient = await careSession(t, sessions, 'patient');
    const D = clinician.account.accountId;
    const first = await clinician.hale.care.availability.publish(input(60));

    const second = await careSession(t, sessions, 'provider', {
      join: clinician.loginName,
      knobs: { now: () => Date.now() - DAY },
    });
    const behind = second.hale;
    const next = await behind.care.availability.publish(input(30));
    expect(next.version).toBe(first.version + 1);
    expect(await patient.hale.care.appointments.slots(D)).toHaveLength(6);
  });
});
