/**
 * A provider's published availability (@hale/protocol `Availability`): signing it, checking one served, and
 * the free slots it offers, computed on the patient's device.
 *
 * | step | where | what is checked |
 * |---|---|---|
 * | publish | provider device | input (zone known here, hours ending after they start); signed by the identity key |
 * | read | any signed-in device | the identity key hashes to the provider's account id; the signature holds |
 * | slots | patient device | wall times in the provider's zone → UTC instants per date, DST by the zone's rules |
 * | hours | patient device | whether a requested time lies inside the published opening hours (booked or not) |
 *
 * Invariants: a slot starts at an opening interval's start plus whole slot lengths (wall time) and lasts
 * `slotMinutes` of real time; it ends by the interval's end; a wall time the zone skips that day gives no
 * slot. A slot overlapping a `busy` interval, or starting before `now`, is not free. Slots are the
 * provider's offer only: a booking of one is confirmed by the provider's device (booking.ts).
 * Failure modes: a served document whose key or signature does not check → CareError AVAILABILITY_FORGED;
 * none published (404) → NO_AVAILABILITY; bad input → INVALID_INPUT naming the field.
 */
import {
  accountIdFromIdentityKey,
  base64urlDecode,
  base64urlEncode,
  signCanonical,
  verifyCanonical,
  type Ed25519,
} from '@hale/crypto';
import {
  availabilityIssues,
  availabilitySignaturePayload,
  type Availability,
  type AvailabilityException,
  type BusyInterval,
  type HttpAvailabilityResponse,
  type SignedAvailability,
  type WeeklyHours,
} from '@hale/protocol';
import { CareError } from './errors';
import { datesBetween, inZone, iso, requireZone, wallToInstant, weekdayOf } from './time-zones';

/** What a provider publishes; `version` and `issuedAt` are the library's. */
export interface AvailabilityInput {
  readonly timeZone: string;
  readonly slotMinutes: number;
  readonly weekly: readonly WeeklyHours[];
  readonly exceptions?: readonly AvailabilityException[];
  /** First and last date offered, in the zone (YYYY-MM-DD). */
  readonly from: string;
  readonly until: string;
  readonly location?: string;
  /** Times blocked besides confirmed bookings (UTC instants). */
  readonly blocked?: readonly BusyInterval[];
}

/** One free slot: UTC instants and the zone they are offered in. */
export interface Slot {
  readonly providerId: string;
  readonly startAt: string;
  readonly endAt: string;
  readonly timeZone: string;
  readonly location?: string;
}

/** The document `input` describes, at `version`, with `busy` the intervals no longer offered. */
export const availabilityOf = (
  accountId: string,
  input: AvailabilityInput,
  version: number,
  issuedAt: string,
  busy: readonly BusyInterval[],
): Availability => {
  requireZone(input.timeZone);
  const doc: Availability = {
    v: 1,
    accountId,
    version,
    issuedAt,
    timeZone: input.timeZone,
    slotMinutes: input.slotMinutes,
    weekly: input.weekly.map((w) => ({ day: w.day, from: w.from, to: w.to })),
    exceptions: (input.exceptions ?? []).map((e) => ({
      date: e.date,
      hours: e.hours.map((h) => ({ from: h.from, to: h.to })),
    })),
    from: input.from,
    until: input.until,
    busy: busy.map((b) => ({ startAt: b.startAt, endAt: b.endAt })),
    ...(input.location === undefined ? {} : { location: input.location }),
  };
  const [issue] = availabilityIssues(doc);
  if (issue !== undefined) {
    throw new CareError('INVALID_INPUT', `availability ${issue.path}: ${issue.reason}`, {
      field: issue.path.slice(1).replaceAll('/', '.'),
    });
  }
  return doc;
};

/**
 * Signs a provider's `Availability` with its identity key, as the provider publishes it (`verifyAvailability`
 * checks it).
 */
export const signAvailability = async (
  availability: Availability,
  identitySecretKey: Uint8Array,
  ed: Ed25519,
): Promise<SignedAvailability> => {
  const payload = availabilitySignaturePayload(availability);
  const sig = await signCanonical(ed, identitySecretKey, payload.label, payload);
  return { availability, sig: base64urlEncode(sig) };
};

/** The served document, checked: the provider's own key (self-certifying id) signed it. */
export const verifyAvailability = async (
  providerId: string,
  served: HttpAvailabilityResponse,
  ed: Ed25519,
): Promise<Availability> => {
  const identity = base64urlDecode(served.identityPublicKey);
  const sig = base64urlDecode(served.sig);
  const forged = (why: string) =>
    new CareError('AVAILABILITY_FORGED', `the availability served for ${providerId} ${why}: it is not shown`);
  if (!identity.ok || !sig.ok || identity.value.length !== 32) throw forged('carries no usable key');
  if (
    accountIdFromIdentityKey(identity.value) !== providerId ||
    served.availability.accountId !== providerId
  ) {
    throw forged("is not the provider's");
  }
  const payload = availabilitySignaturePayload(served.availability);
  if (!(await verifyCanonical(ed, identity.value, payload.label, payload, sig.value))) {
    throw forged('is not signed by its key');
  }
  return served.availability;
};

const overlaps = (a: { startAt: string; endAt: string }, b: { startAt: string; endAt: string }): boolean =>
  Date.parse(a.startAt) < Date.parse(b.endAt) && Date.parse(b.startAt) < Date.parse(a.endAt);

const minutes = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
const wall = (m: number): string =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * Every slot `availability` offers (busy ones left out), in time order; only those starting at or after
 * `notBefore` and before `until` when given (UTC instants).
 */
export const slotsOf = (
  availability: Availability,
  range: { readonly notBefore?: string; readonly until?: string } = {},
): Slot[] => {
  const zone = availability.timeZone;
  const exceptions = new Map(availability.exceptions.map((e) => [e.date, e.hours]));
  const slots: Slot[] = [];
  const step = availability.slotMinutes;
  const lower = range.notBefore === undefined ? -Infinity : Date.parse(range.notBefore);
  const upper = range.until === undefined ? Infinity : Date.parse(range.until);
  for (const date of datesBetween(availability.from, availability.until)) {
    const weekday = weekdayOf(date);
    const hours = exceptions.get(date) ?? availability.weekly.filter((w) => w.day === weekday);
    for (const h of hours) {
      for (let m = minutes(h.from); m + step <= minutes(h.to); m += step) {
        const startAt = wallToInstant(date, wall(m), zone);
        if (startAt === null) continue;
        const start = Date.parse(startAt);
        const slot: Slot = {
          providerId: availability.accountId,
          startAt,
          endAt: iso(start + step * 60_000),
          timeZone: zone,
          ...(availability.location === undefined ? {} : { location: availability.location }),
        };
        if (start < lower || start >= upper) continue;
        if (availability.busy.some((b) => overlaps(b, slot))) continue;
        slots.push(slot);
      }
    }
  }
  return slots.sort((a, b) => Date.parse(a.startAt) - Date.parse(b.startAt));
};

/** Whether `slot` is one `availability` offers free now (its start and end exactly). */
export const isOfferedSlot = (
  availability: Availability,
  slot: { startAt: string; endAt: string },
): boolean =>
  slotsOf(availability, { notBefore: slot.startAt, until: iso(Date.parse(slot.startAt) + 1) }).some(
    (s) =>
      Date.parse(s.startAt) === Date.parse(slot.startAt) && Date.parse(s.endAt) === Date.parse(slot.endAt),
  );

/**
 * Whether `window` lies inside one opening interval of `availability` on its start's date in the
 * provider's zone, within the dates offered (busy times count as open: a request asks, it does not book).
 */
export const withinHours = (
  availability: Availability,
  window: { readonly startAt: string; readonly endAt: string },
): boolean => {
  const date = inZone(window.startAt, availability.timeZone).date;
  if (date < availability.from || date > availability.until) return false;
  const start = Date.parse(window.startAt);
  const end = Date.parse(window.endAt);
  const exception = availability.exceptions.find((e) => e.date === date);
  const hours = exception?.hours ?? availability.weekly.filter((w) => w.day === weekdayOf(date));
  return hours.some((h) => {
    const open = wallToInstant(date, h.from, availability.timeZone);
    const close = wallToInstant(date, h.to, availability.timeZone);
    return open !== null && close !== null && Date.parse(open) <= start && end <= Date.parse(close);
  });
};
