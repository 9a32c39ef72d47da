// The request flow through a real server: a patient asks for a time, the clinician offers another, the
// patient accepts; times stay the same instant in every zone; an .ics file; cancelling; refusals.
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { careDevice, listen, share, until } from './care-devices';

const DAY = 24 * 3_600_000;

describe('an appointment requested, offered another time, accepted, cancelled', () => {
  const server = useServer({ realClock: true });

  it('moves requested → proposed → confirmed → cancelled with each party’s moves only', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider', { autoConfirm: false });
    await share(patient, clinician, ['appointment']);
    const D = clinician.account.accountId;
    const day = new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10);

    const asked = await patient.hale.care.appointments.request({
      providerId: D,
      reason: 'knee pain',
      timeZone: 'Asia/Kolkata',
      preferredTimes: [
        { startAt: `${day}T10:00:00+05:30`, endAt: `${day}T10:30:00+05:30` },
        { startAt: `${day}T15:00:00+05:30`, endAt: `${day}T15:30:00+05:30` },
      ],
    });
    // Stored as UTC instants with the zone they were meant in.
    expect(asked).toMatchObject({
      status: 'requested',
      startAt: `${day}T04:30:00.000Z`,
      timeZone: 'Asia/Kolkata',
    });
    expect(asked.preferredTimes?.[1]).toEqual({
      startAt: `${day}T09:30:00.000Z`,
      endAt: `${day}T10:00:00.000Z`,
    });
    // Shown in the viewer's zone and the place's.
    const times = patient.hale.care.appointments.times(asked, 'Asia/Tokyo');
    expect(times.viewer.start).toMatchObject({ time: '13:30', zone: 'Asia/Tokyo', date: day });
    expect(times.place?.start).toMatchObject({ time: '10:00', zone: 'Asia/Kolkata' });

    // The patient cannot confirm its own request.
    await expect(patient.hale.care.appointments.confirm(asked.id)).rejects.toMatchObject({
      code: 'NOT_YOURS',
    });

    const list = clinician.hale.care.appointments.list;
    const stop = listen(list);
    await until(
      list.get,
      (all) => all.some((a) => a.record.id === asked.id && a.awaiting === 'provider'),
      'request',
    );

    // The clinician offers the second preferred time instead.
    const offered = await clinician.hale.care.appointments.propose(asked.id, asked.preferredTimes![1]!, {
      note: 'mornings are full',
    });
    expect(offered).toMatchObject({ status: 'proposed', statusBy: D, startAt: `${day}T09:30:00.000Z` });
    await expect(clinician.hale.care.appointments.accept(asked.id)).rejects.toMatchObject({
      code: 'NOT_YOURS',
    });

    const mine = patient.hale.care.appointments.list;
    const stopMine = listen(mine);
    await until(
      mine.get,
      (all) => all.some((a) => a.record.id === asked.id && a.awaiting === 'patient'),
      'offer',
    );
    const accepted = await patient.hale.care.appointments.accept(asked.id);
    expect(accepted).toMatchObject({ status: 'scheduled', statusBy: patient.account.accountId });

    // A calendar file with the same instant, in UTC.
    const ics = await patient.hale.care.appointments.ics(asked.id, { providerName: 'Dr. Rivera' });
    expect(ics).toContain(`DTSTART:${day.replaceAll('-', '')}T093000Z`);
    expect(ics).toContain('STATUS:CONFIRMED');
    expect(ics).not.toContain('knee');

    await until(
      list.get,
      (all) => all.some((a) => a.record.id === asked.id && a.record.status === 'scheduled'),
      'seen',
    );
    // Confirmed, its time moves only through a new offer; the clinician cancels.
    await expect(clinician.hale.care.appointments.confirm(asked.id)).rejects.toMatchObject({
      code: 'WRONG_STATE',
    });
    await clinician.hale.care.appointments.cancel(asked.id, { note: 'the clinic is closed that day' });
    await until(
      mine.get,
      (all) => all.some((a) => a.record.id === asked.id && a.record.status === 'canceled'),
      'cancel',
    );
    // Final: nothing moves it again.
    await expect(patient.hale.care.appointments.accept(asked.id)).rejects.toMatchObject({
      code: 'WRONG_STATE',
    });
    expect(await patient.hale.care.appointments.ics(asked.id)).toContain('STATUS:CANCELLED');
    stop();
    stopMine();
  });
});
