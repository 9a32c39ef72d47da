// A clinician publishes availability; two patients who hold no grant to the clinician's data read its free
// slots and, both offline, book the same one. Back online, the clinician's device confirms exactly one by
// the booking rule and declines the other, who is told the slot was taken; the slot is no longer offered.
import { describe, expect, it } from 'vitest';
import { isHaleError, type CareNotification } from '@hale/client';
import { useServer } from '../support/fixture';
import { allPushed, eventually } from '../support/devices';
import { careDevice, listen, share, until } from './care-devices';

const DAY = 24 * 3_600_000;
const date = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

describe('booking a published slot', () => {
  const server = useServer({ realClock: true });

  it('two patients book one slot offline at once: exactly one is confirmed, the other is told', async () => {
    const t = server.t;
    const clinician = await careDevice(t, server.sessions, 'provider');
    const alice = await careDevice(t, server.sessions, 'patient');
    const bob = await careDevice(t, server.sessions, 'patient');
    const D = clinician.account.accountId;

    // Every day 09:00–12:00 in Berlin, 30-minute slots, from two days on.
    const published = await clinician.hale.care.availability.publish({
      timeZone: 'Europe/Berlin',
      slotMinutes: 30,
      weekly: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, from: '09:00', to: '12:00' })),
      from: date(Date.now() + 2 * DAY),
      until: date(Date.now() + 9 * DAY),
      location: 'Riverside Family Practice',
    });
    expect(published.busy).toEqual([]);

    // Neither patient holds a grant from the clinician: the slots come from the signed directory entry.
    const slots = await alice.hale.care.appointments.slots(D);
    expect(slots.length).toBe(8 * 6);
    expect(slots[0]).toMatchObject({
      providerId: D,
      timeZone: 'Europe/Berlin',
      location: 'Riverside Family Practice',
    });
    expect((await bob.hale.care.appointments.slots(D))[0]).toEqual(slots[0]);
    const wanted = slots[3]!;

    // Booking needs the clinician to be able to answer: appointments shared with write access.
    await expect(alice.hale.care.appointments.book(wanted)).rejects.toMatchObject({ code: 'NO_GRANT' });
    await share(alice, clinician, ['appointment']);
    await share(bob, clinician, ['appointment']);

    // Both offline (no socket, no HTTP), both book the same slot from the availability they last read;
    // Bob a moment after Alice.
    alice.network.down();
    bob.network.down();
    expect(await alice.hale.care.appointments.slots(D)).toContainEqual(wanted);
    const aliceBooking = await alice.hale.care.appointments.book(wanted, { reason: 'blood pressure review' });
    await new Promise((r) => setTimeout(r, 20));
    const bobBooking = await bob.hale.care.appointments.book(wanted, { reason: 'sore throat' });
    expect(aliceBooking).toMatchObject({ status: 'requested', fromSlot: true, startAt: wanted.startAt });
    expect(bobBooking).toMatchObject({ status: 'requested', fromSlot: true, startAt: wanted.startAt });

    // Bob's device comes online first: his booking reaches the clinic before Alice's.
    const aliceSeen: CareNotification[] = [];
    const bobSeen: CareNotification[] = [];
    const subs = [
      alice.hale.care.notifications.$.subscribe((n) => aliceSeen.push(n)),
      bob.hale.care.notifications.$.subscribe((n) => bobSeen.push(n)),
    ];
    const stops = [
      listen(clinician.hale.care.appointments.list),
      listen(alice.hale.care.appointments.list),
      listen(bob.hale.care.appointments.list),
    ];
    await new Promise((r) => setTimeout(r, 300));
    bob.network.up();
    alice.network.up();
    await Promise.all([allPushed(alice.device), allPushed(bob.device)]);

    // Exactly one confirmed: Alice booked first (createdAt), so hers, whichever reached the clinic first.
    const list = clinician.hale.care.appointments.list;
    await until(
      list.get,
      (all) => all.filter((a) => a.record.startAt === wanted.startAt && a.awaiting === null).length === 2,
      'the clinician decided both bookings',
    );
    const decided = list.get().filter((a) => a.record.startAt === wanted.startAt);
    expect(decided.map((a) => [a.record.patientId, a.record.status, a.record.statusReason ?? null])).toEqual(
      expect.arrayContaining([
        [alice.account.accountId, 'scheduled', null],
        [bob.account.accountId, 'declined', 'slot-taken'],
      ]),
    );
    expect(decided.find((a) => a.record.status === 'scheduled')).toMatchObject({ confirmed: true });

    // Each patient's device learns its answer, and Bob is told the slot was taken.
    await until(
      alice.hale.care.appointments.list.get,
      (all) =>
        all.some((a) => a.record.id === aliceBooking.id && a.record.status === 'scheduled' && a.confirmed),
      'Alice sees her confirmation',
    );
    await until(
      bob.hale.care.appointments.list.get,
      (all) => all.some((a) => a.record.id === bobBooking.id && a.slotTaken),
      'Bob is told the slot was taken',
    );
    await eventually(() => bobSeen.some((n) => n.type === 'appointment'), 'Bob is notified');
    expect(JSON.stringify(bobSeen)).not.toMatch(/sore throat|Riverside/);
    expect(aliceSeen.some((n) => n.type === 'appointment' && n.target.recordId === aliceBooking.id)).toBe(
      true,
    );

    // The clinician's device published its availability again: the slot is no longer offered.
    await eventually(
      async () => !(await bob.hale.care.appointments.slots(D)).some((s) => s.startAt === wanted.startAt),
      'the taken slot leaves the published free slots',
    );
    // Booking it again is refused before anything is written.
    const again = await bob.hale.care.appointments.book(wanted).catch((e: unknown) => e);
    expect(isHaleError(again, 'NOT_A_SLOT')).toBe(true);

    for (const s of subs) s.unsubscribe();
    for (const stop of stops) stop();
  });
});
