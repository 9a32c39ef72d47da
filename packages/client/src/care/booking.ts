/**
 * How a provider's device decides bookings of its published slots: a pure rule over the appointments it
 * holds, so every device of the provider that holds the same records decides the same.
 *
 * The rule (docs/architecture.md, Booking):
 * 1. Occupied time is what the provider confirmed: `scheduled` appointments of this provider whose status
 *    the provider set (`statusBy`) in a version the provider wrote (`by`, signed), or that this device
 *    confirmed itself. A confirmation only claimed by a patient's own write occupies nothing.
 * 2. Two confirmed slot bookings that overlap (two of the provider's devices confirmed at once, each before
 *    it held the other's) keep the one confirmed first (`statusAt`, then id); the others are cancelled
 *    `slot-taken`.
 * 3. Slot requests (`requested`, `fromSlot`) are taken in the order they were made (`createdAt`, the
 *    booking device's clock, then the record id): the first one whose time is free is confirmed and
 *    occupies it; any later one overlapping occupied time is declined `slot-taken`. A request reaching the
 *    device after another was confirmed for that time is declined, whatever its `createdAt`: a confirmation
 *    is never taken back for an earlier booking that arrived later.
 * Requests not from a slot (asked times) are the clinician's to answer by hand; they are only declined
 * here when they are slot bookings. Nothing is decided for another provider's appointments.
 */
import type { RecordOf } from '@hale/model';
import type { StoredRecord } from '../records/records';

export type StoredAppointment = StoredRecord<'Appointment'>;

/** What `decideBookings` decided for a provider's pending requests: those to confirm and those to decline. */
export interface BookingDecisions {
  /** Requests to confirm, in the order decided. */
  readonly confirm: readonly string[];
  /** Requests to decline: their time is taken. */
  readonly decline: readonly string[];
  /** Confirmed bookings to cancel: another confirmation of the same time came first. */
  readonly cancel: readonly string[];
}

const overlaps = (a: RecordOf<'Appointment'>, b: RecordOf<'Appointment'>): boolean =>
  Date.parse(a.startAt) < Date.parse(b.endAt) && Date.parse(b.startAt) < Date.parse(a.endAt);

/** Whether `a` is a confirmation this provider made (rule 1). */
export const confirmedBy = (
  a: StoredAppointment,
  providerId: string,
  confirmedHere: ReadonlySet<string> = new Set(),
): boolean =>
  a.record.providerId === providerId &&
  a.record.status === 'scheduled' &&
  (a.record.statusBy === undefined
    ? a.by === providerId
    : a.record.statusBy === providerId && (a.by === providerId || confirmedHere.has(a.record.id)));

const byOrder =
  (key: (a: StoredAppointment) => string) =>
  (a: StoredAppointment, b: StoredAppointment): number => {
    const [ka, kb] = [Date.parse(key(a)), Date.parse(key(b))];
    if (ka !== kb) return ka - kb;
    return a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0;
  };

/**
 * The booking rule (architecture.md, Booking): which of a provider's requested appointments to confirm and
 * which to decline, the same on every device of the provider.
 */
export const decideBookings = (
  all: readonly StoredAppointment[],
  providerId: string,
  confirmedHere: ReadonlySet<string> = new Set(),
): BookingDecisions => {
  const mine = all.filter((a) => a.record.providerId === providerId && !a.conflict);
  const confirmed = mine
    .filter((a) => confirmedBy(a, providerId, confirmedHere))
    .sort(byOrder((a) => a.record.statusAt ?? a.record.updatedAt));
  const occupied: RecordOf<'Appointment'>[] = [];
  const cancel: string[] = [];
  for (const a of confirmed) {
    if (a.record.fromSlot === true && occupied.some((o) => overlaps(o, a.record))) cancel.push(a.record.id);
    else occupied.push(a.record);
  }
  const confirm: string[] = [];
  const decline: string[] = [];
  const requests = mine
    .filter((a) => a.record.status === 'requested' && a.record.fromSlot === true)
    .sort(byOrder((a) => a.record.createdAt));
  for (const a of requests) {
    if (occupied.some((o) => overlaps(o, a.record))) {
      decline.push(a.record.id);
    } else {
      confirm.push(a.record.id);
      occupied.push(a.record);
    }
  }
  return { confirm, decline, cancel };
};
