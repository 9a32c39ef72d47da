import { describe, expect, it } from 'vitest';
import { EXAMPLE_PROVIDER_ID, exampleRecord, type RecordOf } from '@hale/model';
import { decideBookings, type StoredAppointment } from './booking';

const PROVIDER = EXAMPLE_PROVIDER_ID;
const patientA = 'PatientAccountAAAAAAAA';
const patientB = 'PatientAccountBBBBBBBB';
let n = 0;

/** An appointment of `patientId` with the provider, its last version written by `by`. */
const appt = (
  patientId: string,
  fields: Partial<RecordOf<'Appointment'>>,
  by = patientId,
): StoredAppointment => {
  n += 1;
  const record: RecordOf<'Appointment'> = {
    ...exampleRecord('Appointment'),
    id: `01J0000000000000000000000${String.fromCharCode(64 + n)}`,
    patientId,
    providerId: PROVIDER,
    startAt: '2026-03-30T07:00:00.000Z',
    endAt: '2026-03-30T07:30:00.000Z',
    status: 'requested',
    fromSlot: true,
    statusBy: patientId,
    ...fields,
  };
  return { kind: 'Appointment', record, by, author: 'device', conflict: false, conflictData: null, rv: 1 };
};

describe('the booking rule', () => {
  it('two patients book one slot offline: the earlier booking is confirmed, the later declined', () => {
    const a = appt(patientA, { createdAt: '2026-03-20T10:00:00.000Z' });
    const b = appt(patientB, { createdAt: '2026-03-20T09:59:00.000Z' });
    // Whatever order the device holds them in, the decision is the same.
    expect(decideBookings([a, b], PROVIDER)).toEqual({
      confirm: [b.record.id],
      decline: [a.record.id],
      cancel: [],
    });
    expect(decideBookings([b, a], PROVIDER)).toEqual({
      confirm: [b.record.id],
      decline: [a.record.id],
      cancel: [],
    });
    // Same time to the millisecond: the lower record id.
    const c = appt(patientA, { createdAt: '2026-03-20T10:00:00.000Z' });
    const d = appt(patientB, { createdAt: '2026-03-20T10:00:00.000Z' });
    expect(decideBookings([d, c], PROVIDER).confirm).toEqual([c.record.id]);
  });

  it('a booking reaching the device after a confirmation of its time is declined, however early it was made', () => {
    const confirmed = appt(
      patientA,
      { status: 'scheduled', statusBy: PROVIDER, createdAt: '2026-03-20T10:00:00.000Z' },
      PROVIDER,
    );
    const late = appt(patientB, { createdAt: '2026-03-01T00:00:00.000Z' });
    expect(decideBookings([confirmed, late], PROVIDER)).toEqual({
      confirm: [],
      decline: [late.record.id],
      cancel: [],
    });
    // Another time is free.
    const other = appt(patientB, { startAt: '2026-03-30T07:30:00.000Z', endAt: '2026-03-30T08:00:00.000Z' });
    expect(decideBookings([confirmed, other], PROVIDER).confirm).toEqual([other.record.id]);
  });

  it("a patient's own claim of a confirmation occupies nothing; requests not from a slot are left to the clinician", () => {
    const claimed = appt(patientA, { status: 'scheduled', statusBy: PROVIDER });
    const request = appt(patientB, {});
    expect(decideBookings([claimed, request], PROVIDER).confirm).toEqual([request.record.id]);
    // Confirmed by this device itself (the copy's last writer is still the patient's device here).
    expect(decideBookings([claimed, request], PROVIDER, new Set([claimed.record.id])).decline).toEqual([
      request.record.id,
    ]);
    const asked = appt(patientB, { fromSlot: false });
    expect(decideBookings([asked], PROVIDER)).toEqual({ confirm: [], decline: [], cancel: [] });
    // Another provider's appointments are not this one's to decide.
    expect(
      decideBookings([appt(patientA, { providerId: 'OtherProvider000000001' })], PROVIDER).confirm,
    ).toEqual([]);
  });

  it('two confirmations of one slot (two devices of the provider at once): the first confirmed stays', () => {
    const first = appt(
      patientA,
      { status: 'scheduled', statusBy: PROVIDER, statusAt: '2026-03-21T08:00:00.000Z' },
      PROVIDER,
    );
    const second = appt(
      patientB,
      { status: 'scheduled', statusBy: PROVIDER, statusAt: '2026-03-21T08:00:01.000Z' },
      PROVIDER,
    );
    expect(decideBookings([second, first], PROVIDER)).toEqual({
      confirm: [],
      decline: [],
      cancel: [second.record.id],
    });
  });
});
