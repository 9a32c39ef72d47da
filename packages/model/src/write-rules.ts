/*
 * Rules for what a device writes now, which `validateRecord` does not hold every record to: a next dose
 * before the dose given, a signing time or signed version on a signature nobody signed, a revocation time
 * on a consent in force, a birth date or a result in the future, a dose given before the patient's birth,
 * a message delivered or read long before it was sent, a message with neither text nor an attachment.
 *
 * Why not in the schema. Records already stored, or written by another device or an older build, may
 * break these rules; `validateRecord` decides whether a received version is kept at all (the sync engine
 * sets aside what fails it) and whether an export takes it. Adding a rule there would make honest records
 * already held unreadable and unsendable. So these rules judge only a write being made: the records API
 * applies them to `add`, `update` and merged content, never to what it reads or receives. A UI may call
 * `checkWriteRules` on a record it shows to flag what looks wrong.
 *
 * Invariants. `record` must already be valid (`validateRecord`). With `previous` (the state a write
 * replaces) a rule is reported only when the write changed one of the fields it reads: a record that came
 * in breaking a rule can still be edited elsewhere, and is refused only when the write restates or moves
 * the contradiction. Rule codes (WRITE_RULE_CODES) are append-only: a UI or a log may branch on them.
 * Other records. A rule about another record (the birth date in the patient's Profile) reads only what
 * the caller passes in `context`, as it holds it; what is not passed (or is no valid date) is not
 * compared, so such a rule refuses less when the caller holds less, never more.
 *
 * Clock. Only rules about the future, and the order of times set by different devices' clocks, read
 * `now` (the writing device's clock, in ms). A date is in the future when it starts, anywhere on Earth (a
 * calendar day from 00:00 at UTC+14:00, a year or a month from its first day), more than
 * FUTURE_TOLERANCE_MS after `now`: a device whose clock or zone is off by hours still writes what happened
 * today, and the rule still catches the year 9999 or a day and a month swapped. The model has no time
 * zone, so a refusal names no day as "today" (the UTC date is the wrong day for a patient west of
 * Greenwich in the evening): it gives the device's clock as an instant, so a wrong clock still shows. A
 * `now` that is no time (NaN, or outside the range of dates) judges no date.
 * Times from different clocks (a message's `sentAt` by the sender's device, its receipts by the
 * recipient's) are out of order only when apart by more than FUTURE_TOLERANCE_MS, and a stored time
 * beyond the tolerance after `now` is not compared, nor, over a stored state, a stored later time with an
 * earlier one this write dates within the tolerance of `now`: a time this write dates by its own clock is
 * never refused for another device's clock being ahead or behind.
 * Birth. An instant is before the patient's birth date (a day from another record, with no zone) only
 * when it is before that day's first moment anywhere on Earth.
 */
import type { ValidationFailed, ValidationIssue, Result } from './errors';
import type { RecordKind, RecordOf } from './registry';
import { hasVisibleCharacter, isIsoDate } from './formats';
import { instantMillis, isInstantBeforeBy } from './instant-parts';
import { endsBefore } from './instants';
import { sameJson } from './transitions';

/** Stable codes of the write rules. Append-only: never renamed, reordered or reused. */
export const WRITE_RULE_CODES = [
  /** Immunization `nextDoseDate` before `administeredAt`. */
  'NEXT_DOSE_BEFORE_ADMINISTRATION',
  /** NoteSignature `signedAt` while `status` is not `signed`. */
  'SIGNED_AT_UNSIGNED',
  /** Consent `revokedAt` while `status` is `active`. */
  'REVOKED_AT_ACTIVE',
  /** A date that only the past can hold lies in the future (FUTURE_TOLERANCE_MS). */
  'DATE_IN_FUTURE',
  /** LabResult `publishedAt` before `effectiveAt`: issued before it was collected. */
  'PUBLISHED_BEFORE_EFFECTIVE',
  /** LabResult `referenceRange` written as `low-high` with low above high (`99-70 mg/dL`). */
  'REFERENCE_RANGE_INVERTED',
  /** NoteSignature `signedVersionNumber` while `status` is not `signed`. */
  'SIGNED_VERSION_UNSIGNED',
  /** Immunization `administeredAt` before the patient's birth date (WriteRuleContext `birthDate`). */
  'ADMINISTERED_BEFORE_BIRTH',
  /** Message `deliveredAt` or `readAt` more than FUTURE_TOLERANCE_MS before `sentAt`. */
  'RECEIVED_BEFORE_SENT',
  /** Message `readAt` more than FUTURE_TOLERANCE_MS before `deliveredAt`. */
  'READ_BEFORE_DELIVERED',
  /** Message whose `body` shows nothing (empty, blanks) with no attachment: it says nothing. */
  'MESSAGE_EMPTY',
] as const;
export type WriteRuleCode = (typeof WRITE_RULE_CODES)[number];

export interface WriteRuleIssue extends ValidationIssue {
  readonly rule: WriteRuleCode;
}

/** A refusal by the write rules: a VALIDATION_FAILED whose every issue names its rule. */
export interface WriteRulesFailed extends ValidationFailed {
  readonly issues: readonly WriteRuleIssue[];
}

/** How far past `now` a date that must lie in the past may still be: clocks and zones set wrongly. */
export const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;

/** What rules about other records compare with, as the writer holds those records. */
export interface WriteRuleContext {
  /**
   * The patient's birth date (Profile `birthDate`, `YYYY-MM-DD`). With several Profiles held, the
   * earliest: an administration is refused only when it is before every birth date the patient has.
   */
  readonly birthDate?: string;
}

/** An issue and the fields it reads: reported for a write only when the write changed one of them. */
interface Finding extends WriteRuleIssue {
  readonly reads: readonly string[];
  /** Not judged over a stored state that holds `field` as written (see `notLongBefore`). */
  readonly unlessFieldStored?: true;
}

const finding = (rule: WriteRuleCode, field: string, reason: string, reads: readonly string[]): Finding => ({
  field,
  reason,
  rule,
  reads: [field, ...reads],
});

// Values passed the schema: an instant (`YYYY-MM-DDThh:mm:ss…` with a zone), a day, or (where the schema
// takes it) a year or a month. Anything shorter than an instant is a day or a part of one.
const isInstant = (value: string): boolean => value.length > 10;

/**
 * The first moment `value` names anywhere on Earth, in ms. An instant is read as the millisecond it falls
 * in (instantMillis), not with Date.parse, which ECMA-262 leaves to the engine for fraction digits other
 * than three: an engine answering NaN would have `past` refuse every such instant as future. What it is
 * compared with (`now`, a day's first moment) is a whole millisecond, so only an instant less than a
 * millisecond past such a bound is taken as at it.
 */
const earliest = (value: string): number => {
  if (isInstant(value)) return instantMillis(value);
  const day = value.length === 4 ? `${value}-01-01` : value.length === 7 ? `${value}-01` : value;
  return Date.parse(`${day}T00:00:00+14:00`);
};

const TOLERANCE_HOURS = FUTURE_TOLERANCE_MS / (60 * 60 * 1000);

/** Whether `now` is a time: NaN, or a number outside the range of dates, is none. */
const isClock = (now: number): boolean => !Number.isNaN(new Date(now).getTime());

const past = (value: string | undefined, field: string, now: number, reads: readonly string[] = []) => {
  const clock = new Date(now);
  if (value === undefined || !isClock(now)) return [];
  if (earliest(value) <= now + FUTURE_TOLERANCE_MS) return [];
  const when = isInstant(value)
    ? `${value} is more than ${TOLERANCE_HOURS} hours after this device's clock, ${clock.toISOString()}`
    : `${value} begins more than ${TOLERANCE_HOURS} hours after this device's clock, ${clock.toISOString()}, in every time zone`;
  return [finding('DATE_IN_FUTURE', field, `must not be in the future (${when})`, reads)];
};

const notBefore = (
  rule: WriteRuleCode,
  later: string | undefined,
  earlier: string | undefined,
  field: string,
  other: string,
): Finding[] =>
  later !== undefined && earlier !== undefined && endsBefore(later, earlier)
    ? [finding(rule, field, `must not be before ${other} (${earlier})`, [other])]
    : [];

/**
 * Instant `later` more than FUTURE_TOLERANCE_MS before instant `earlier`, two times that different
 * devices' clocks may have set (a sender's and a recipient's): a skew up to the tolerance is honest. Not
 * judged while `earlier` is itself more than the tolerance after `now` (a stored time from a clock set
 * ahead, which this write cannot correct): so a `later` this write dates by its own clock is never
 * refused. Nor, over a stored state, is a stored `later` judged against an `earlier` dated within the
 * tolerance of `now` (a receipt this write dates by its own clock: a delivery recorded after another
 * device, its clock behind, recorded the reading): so a time this write dates by its own clock is never
 * refused, whichever side it is on. `earlier` written by this write in the future is DATE_IN_FUTURE's to
 * refuse.
 */
const notLongBefore = (
  rule: WriteRuleCode,
  later: string | undefined,
  earlier: string | undefined,
  field: string,
  other: string,
  now: number,
): Finding[] => {
  if (later === undefined || earlier === undefined || !isClock(now)) return [];
  const start = instantMillis(earlier);
  // Against the clock, to the millisecond; between the two times, as instants (to the nanosecond).
  if (start > now + FUTURE_TOLERANCE_MS || !isInstantBeforeBy(later, earlier, FUTURE_TOLERANCE_MS)) {
    return [];
  }
  const found = finding(
    rule,
    field,
    `must not be more than ${TOLERANCE_HOURS} hours before ${other} (${earlier})`,
    [other],
  );
  return [start >= now - FUTURE_TOLERANCE_MS ? { ...found, unlessFieldStored: true } : found];
};

// `low-high` at the start, the units or a note after it: `70-99 mg/dL`, `3.5 – 5.0`, `-2 to 2`. Numbers
// with a comma (a decimal comma, or thousands: `150,000-400,000`) and other forms (`<5`, `1:40`) are text
// this rule does not read.
const RANGE_RE = /^\s*(-?\d+(?:\.\d+)?)\s*(?:-|\u2013|\u2014|to)\s*(-?\d+(?:\.\d+)?)(?![\d.,])/u;

const referenceRange = (range: string | undefined): Finding[] => {
  const match = range === undefined ? null : RANGE_RE.exec(range);
  if (match === null) return [];
  const [low, high] = [Number(match[1]), Number(match[2])];
  return low > high
    ? [
        finding(
          'REFERENCE_RANGE_INVERTED',
          'referenceRange',
          `must give the low end first (${match[1]} is above ${match[2]})`,
          [],
        ),
      ]
    : [];
};

/** The birth date `context` gives, when it is a calendar day (it comes from another record). */
const birthDateOf = (context: WriteRuleContext | undefined): string | undefined => {
  const birthDate: unknown = context?.birthDate;
  return typeof birthDate === 'string' && isIsoDate(birthDate) ? birthDate : undefined;
};

/**
 * Whether `administeredAt` lies wholly before calendar day `birthDate`. The birth date comes from another
 * record, with no zone, and an instant is often written in UTC (an import, `toISOString`), not as the
 * place it happened: so an instant is before the birth date only when it is before that day's first
 * moment anywhere on Earth (a dose at 06:00 in Tokyo on the day of birth, written 21:00Z the day before,
 * is on the day). A day, month or year compares as written.
 */
const beforeBirth = (administeredAt: string, birthDate: string): boolean =>
  isInstant(administeredAt)
    ? instantMillis(administeredAt) < earliest(birthDate)
    : endsBefore(administeredAt, birthDate);

const afterBirth = (administeredAt: string, context: WriteRuleContext | undefined): Finding[] => {
  const birthDate = birthDateOf(context);
  return birthDate !== undefined && beforeBirth(administeredAt, birthDate)
    ? [
        finding(
          'ADMINISTERED_BEFORE_BIRTH',
          'administeredAt',
          `must not be before the patient's birth date (${birthDate})`,
          [],
        ),
      ]
    : [];
};

type Rules = {
  readonly [K in RecordKind]?: (
    record: RecordOf<K>,
    now: number,
    context: WriteRuleContext | undefined,
  ) => Finding[];
};

const RULES: Rules = {
  Profile: (r, now) => past(r.birthDate, 'birthDate', now),
  // FHIR DocumentReference.date: when the reference was created. The records API stamps it when left out
  // and when the file changes; one given (an import) must have happened.
  HealthDocument: (r, now) => past(r.uploadedAt, 'uploadedAt', now),
  // FHIR's recordedDate is when the AllergyIntolerance record was created: never after it is written.
  Allergy: (r, now) => [...past(r.onsetDate, 'onsetDate', now), ...past(r.recordedAt, 'recordedAt', now)],
  Immunization: (r, now, context) => [
    ...past(r.administeredAt, 'administeredAt', now),
    ...notBefore(
      'NEXT_DOSE_BEFORE_ADMINISTRATION',
      r.nextDoseDate,
      r.administeredAt,
      'nextDoseDate',
      'administeredAt',
    ),
    ...afterBirth(r.administeredAt, context),
  ],
  LabResult: (r, now) => [
    // A registered (ordered) or cancelled test may name when it is to be collected, and so may one whose
    // status is unknown; one entered in error is withdrawn, and marking it so must not first need a
    // plausible date written into it.
    ...(r.status === 'registered' ||
    r.status === 'cancelled' ||
    r.status === 'entered-in-error' ||
    r.status === 'unknown'
      ? []
      : past(r.effectiveAt, 'effectiveAt', now, ['status'])),
    ...past(r.publishedAt, 'publishedAt', now),
    ...notBefore('PUBLISHED_BEFORE_EFFECTIVE', r.publishedAt, r.effectiveAt, 'publishedAt', 'effectiveAt'),
    ...referenceRange(r.referenceRange),
  ],
  Encounter: (r, now) => [
    ...(r.status === 'in-progress' || r.status === 'finished'
      ? past(r.startedAt, 'startedAt', now, ['status'])
      : []),
    ...(r.status === 'finished' ? past(r.endedAt, 'endedAt', now, ['status']) : []),
  ],
  Appointment: (r, now) => (r.status === 'completed' ? past(r.startAt, 'startAt', now, ['status']) : []),
  // FHIR Communication.sent and .received, and Hale's read-at: each says what has happened. The sender's
  // device sets `sentAt`, the recipient's the receipts, so their order allows for skewed clocks.
  Message: (r, now) => [
    ...past(r.sentAt, 'sentAt', now),
    ...past(r.deliveredAt, 'deliveredAt', now),
    ...past(r.readAt, 'readAt', now),
    ...notLongBefore('RECEIVED_BEFORE_SENT', r.deliveredAt, r.sentAt, 'deliveredAt', 'sentAt', now),
    ...notLongBefore('RECEIVED_BEFORE_SENT', r.readAt, r.sentAt, 'readAt', 'sentAt', now),
    ...notLongBefore('READ_BEFORE_DELIVERED', r.readAt, r.deliveredAt, 'readAt', 'deliveredAt', now),
    // The body may be empty when attachments are sent (so the schema takes it); with none, the message
    // says nothing, and a recipient would be notified of it.
    ...((r.attachments ?? []).length === 0 && !hasVisibleCharacter(r.body)
      ? [finding('MESSAGE_EMPTY', 'body', 'must not be empty when no attachment is sent', ['attachments'])]
      : []),
  ],
  NoteSignature: (r, now) => [
    // A request exports as a Task, whose authoredOn is when it was created.
    ...past(r.requestedAt, 'requestedAt', now),
    ...(r.signedAt !== undefined && r.status !== 'signed'
      ? [
          finding(
            'SIGNED_AT_UNSIGNED',
            'signedAt',
            `must be absent while status is ${r.status}: only a signing has a time`,
            ['status'],
          ),
        ]
      : []),
    // A number set before the signing would be what a signing on a device without the version attests.
    ...(r.signedVersionNumber !== undefined && r.status !== 'signed'
      ? [
          finding(
            'SIGNED_VERSION_UNSIGNED',
            'signedVersionNumber',
            `must be absent while status is ${r.status}: only a signing attests a version`,
            ['status'],
          ),
        ]
      : []),
  ],
  Consent: (r, now) => [
    ...(r.revokedAt !== undefined && r.status === 'active'
      ? [
          finding(
            'REVOKED_AT_ACTIVE',
            'revokedAt',
            'must be absent while status is active: a consent in force was not revoked',
            ['status'],
          ),
        ]
      : []),
    // A revocation is done when it is written; an end agreed in advance is `expiresAt`.
    ...past(r.revokedAt, 'revokedAt', now),
  ],
};

/**
 * Checks `record`, a valid record of `kind` about to be written at `now` (ms), against the write rules
 * (module comment). With `previous`, the stored state the write replaces, only rules reading a field the
 * write changes are reported. `context` gives what rules about other records compare with (absent: those
 * rules are not applied). Returns the record, or a VALIDATION_FAILED whose issues name each field and
 * its rule (WriteRuleCode). Never throws on data; `kind` must be a record kind.
 */
export const checkWriteRules = <K extends RecordKind>(
  kind: K,
  record: RecordOf<K>,
  now: number,
  previous?: Readonly<Record<string, unknown>> | null,
  context?: WriteRuleContext,
): Result<RecordOf<K>, WriteRulesFailed> => {
  const rule: Rules[K] = RULES[kind];
  const written = record as Readonly<Record<string, unknown>>;
  const issues: WriteRuleIssue[] = (rule ? rule(record, now, context) : [])
    .filter(
      ({ field, reads, unlessFieldStored }) =>
        previous === undefined ||
        previous === null ||
        (reads.some((f) => !sameJson(previous[f], written[f])) &&
          !(unlessFieldStored === true && sameJson(previous[field], written[field]))),
    )
    .map(({ field, reason, rule: code }) => ({ field, reason, rule: code }));
  if (issues.length === 0) return { ok: true, value: record };
  const message = `${kind} is invalid: ${issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ')}`;
  return { ok: false, error: { code: 'VALIDATION_FAILED', kind, message, issues } };
};
