/**
 * A provider's published availability: when patients may book, as a document the provider's identity key
 * signs and the directory serves to any signed-in account (no grant needed).
 *
 * | part | meaning |
 * |---|---|
 * | `timeZone` | IANA zone every wall time below is in (the clinic's); slots follow its daylight-saving rules |
 * | `weekly` | opening hours per ISO weekday (1 Monday … 7 Sunday), wall time `HH:MM`, end exclusive |
 * | `exceptions` | a date (in the zone) with other hours that day, or none (`hours` empty: closed) |
 * | `from` / `until` | the first and last date (in the zone) slots are offered, at most MAX_AVAILABILITY_DAYS |
 * | `slotMinutes` | length of one slot, from the start of each opening interval |
 * | `busy` | UTC intervals no longer offered (booked or blocked), saying nothing of by whom |
 * | `version` | raised at every publication; the server keeps the highest and refuses a lower or equal one |
 *
 * Invariants: the signed payload (`availabilitySignaturePayload`) copies every field under its own label,
 * so a profile or grant signature never passes as one. What patients book is never in it: bookings are
 * records in each patient's encrypted `appointment` stream; `busy` holds times only.
 * Failure modes: `availabilityIssues` lists what the schema cannot say (times that are not times, an end
 * not after its start, a day named twice, a span over the limit); a server refuses such a document
 * BAD_MESSAGE, an oversize body TOO_LARGE, a lower version AVAILABILITY_STALE.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TIME_ZONE_PATTERN } from '@hale/model';
import type { Issue } from './checker';
import { AccountId, IsoDateTime, PublicKey, Signature } from './primitives';

/** Largest availability document a server takes (the JSON body of its PUT), in bytes. */
export const MAX_AVAILABILITY_BYTES = 128 * 1024;
/** Most busy intervals one document lists. */
export const MAX_AVAILABILITY_BUSY = 1000;
/** Most days between `from` and `until`, both included. */
export const MAX_AVAILABILITY_DAYS = 366;
/** Shortest and longest slot, in minutes. */
export const MIN_SLOT_MINUTES = 5;
export const MAX_SLOT_MINUTES = 480;

const WALL_TIME_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$';
const DATE_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';

/** A wall time of day, `HH:MM` (24-hour); `24:00` ends a day. */
export const WallTime = Type.String({ pattern: WALL_TIME_PATTERN, maxLength: 5 });
/** A calendar date, `YYYY-MM-DD`. */
export const CalendarDate = Type.String({ pattern: DATE_PATTERN, maxLength: 10 });

export const OpeningHours = Type.Object({ from: WallTime, to: WallTime }, { additionalProperties: false });
export type OpeningHours = Static<typeof OpeningHours>;

export const WeeklyHours = Type.Object(
  {
    /** ISO weekday: 1 Monday … 7 Sunday. */
    day: Type.Integer({ minimum: 1, maximum: 7 }),
    from: WallTime,
    to: WallTime,
  },
  { additionalProperties: false },
);
export type WeeklyHours = Static<typeof WeeklyHours>;

export const AvailabilityException = Type.Object(
  {
    date: CalendarDate,
    /** The hours that day instead of the weekly ones; empty: closed. */
    hours: Type.Array(OpeningHours, { maxItems: 12 }),
  },
  { additionalProperties: false },
);
export type AvailabilityException = Static<typeof AvailabilityException>;

export const BusyInterval = Type.Object(
  { startAt: IsoDateTime, endAt: IsoDateTime },
  { additionalProperties: false },
);
export type BusyInterval = Static<typeof BusyInterval>;

export const Availability = Type.Object(
  {
    v: Type.Literal(1),
    accountId: AccountId,
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    issuedAt: IsoDateTime,
    timeZone: Type.String({ pattern: TIME_ZONE_PATTERN, maxLength: 64 }),
    slotMinutes: Type.Integer({ minimum: MIN_SLOT_MINUTES, maximum: MAX_SLOT_MINUTES }),
    weekly: Type.Array(WeeklyHours, { maxItems: 7 * 12 }),
    exceptions: Type.Array(AvailabilityException, { maxItems: MAX_AVAILABILITY_DAYS }),
    from: CalendarDate,
    until: CalendarDate,
    busy: Type.Array(BusyInterval, { maxItems: MAX_AVAILABILITY_BUSY }),
    /** Where the appointments take place, as the provider writes it. */
    location: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type Availability = Static<typeof Availability>;

/** Signed by the provider's identity key over `availabilitySignaturePayload(availability)`. */
export const SignedAvailability = Type.Object(
  { availability: Availability, sig: Signature },
  { additionalProperties: false },
);
export type SignedAvailability = Static<typeof SignedAvailability>;

export const AVAILABILITY_SIGNATURE_LABEL = 'hale/availability/v1';

/** The provider's identity key signs this (canonical JSON); every field copied, never spread. */
export const availabilitySignaturePayload = (a: Availability) => ({
  label: AVAILABILITY_SIGNATURE_LABEL,
  v: a.v,
  accountId: a.accountId,
  version: a.version,
  issuedAt: a.issuedAt,
  timeZone: a.timeZone,
  slotMinutes: a.slotMinutes,
  weekly: a.weekly.map((w) => ({ day: w.day, from: w.from, to: w.to })),
  exceptions: a.exceptions.map((e) => ({
    date: e.date,
    hours: e.hours.map((h) => ({ from: h.from, to: h.to })),
  })),
  from: a.from,
  until: a.until,
  busy: a.busy.map((b) => ({ startAt: b.startAt, endAt: b.endAt })),
  location: a.location ?? null,
});

/** PUT body: the signed document. */
export const HttpAvailabilityPutRequest = SignedAvailability;
export type HttpAvailabilityPutRequest = Static<typeof HttpAvailabilityPutRequest>;
export const HttpAvailabilityPutResponse = Type.Object(
  { accountId: AccountId, version: Availability.properties.version },
  { additionalProperties: false },
);
export type HttpAvailabilityPutResponse = Static<typeof HttpAvailabilityPutResponse>;
export const HttpAvailabilityParams = Type.Object({ accountId: AccountId }, { additionalProperties: false });
export type HttpAvailabilityParams = Static<typeof HttpAvailabilityParams>;
/** GET answer: the signed document and the identity key that must have signed it (hashes to `accountId`). */
export const HttpAvailabilityResponse = Type.Object(
  { ...SignedAvailability.properties, identityPublicKey: PublicKey },
  { additionalProperties: false },
);
export type HttpAvailabilityResponse = Static<typeof HttpAvailabilityResponse>;

const minutesOf = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

const isRealDate = (date: string): boolean => {
  const ms = Date.parse(`${date}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === date;
};

const DAY_MS = 24 * 3600_000;

/** Rules of an availability document its schema cannot state (see the header). Empty: none broken. */
export function availabilityIssues(a: Availability, path = ''): Issue[] {
  const issues: Issue[] = [];
  const hoursIssues = (h: { from: string; to: string }, at: string): void => {
    if (minutesOf(h.to) <= minutesOf(h.from)) issues.push({ path: `${at}/to`, reason: 'must be after from' });
  };
  a.weekly.forEach((w, i) => hoursIssues(w, `${path}/weekly/${i}`));
  const dates = new Set<string>();
  a.exceptions.forEach((e, i) => {
    if (!isRealDate(e.date)) issues.push({ path: `${path}/exceptions/${i}/date`, reason: 'not a real date' });
    if (dates.has(e.date))
      issues.push({ path: `${path}/exceptions/${i}/date`, reason: 'a date is named once' });
    dates.add(e.date);
    e.hours.forEach((h, j) => hoursIssues(h, `${path}/exceptions/${i}/hours/${j}`));
  });
  const [from, until] = [Date.parse(`${a.from}T00:00:00Z`), Date.parse(`${a.until}T00:00:00Z`)];
  if (!isRealDate(a.from)) issues.push({ path: `${path}/from`, reason: 'not a real date' });
  if (!isRealDate(a.until)) issues.push({ path: `${path}/until`, reason: 'not a real date' });
  else if (until < from) issues.push({ path: `${path}/until`, reason: 'must not be before from' });
  else if ((until - from) / DAY_MS + 1 > MAX_AVAILABILITY_DAYS) {
    issues.push({ path: `${path}/until`, reason: `at most ${MAX_AVAILABILITY_DAYS} days after from` });
  }
  a.busy.forEach((b, i) => {
    if (Date.parse(b.endAt) <= Date.parse(b.startAt))
      issues.push({ path: `${path}/busy/${i}/endAt`, reason: 'must be after startAt' });
  });
  return issues;
}
