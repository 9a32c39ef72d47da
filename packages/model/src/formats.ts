import { FormatRegistry, Kind, TypeRegistry } from '@sinclair/typebox';

// Dates are stored as strings so records stay plain JSON (canonical JSON, encryption, FHIR export).
// Instants must carry a zone so two devices never read the same string as different moments; calendar
// dates (birth date, onset) stay zone-free because moving them across zones would change the day.
// Years run from 0001 to 9999, as in FHIR (whose date pattern has no year 0000) and in JavaScript's
// toISOString, which writes other years with a sign and six digits; an instant must stay inside those
// years once restated in UTC, which the FHIR export does for offsets beyond ±14:00.

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** `YYYY-MM-DD` naming a real calendar day of years 0001–9999 (rejects 0000-01-01, 2023-02-29, …). */
export const isIsoDate = (value: string): boolean => {
  const match = DATE_RE.exec(value);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
};

/**
 * A year (`YYYY`) or a year and month (`YYYY-MM`) of years 0001–9999: FHIR's partial `date`/`dateTime`,
 * for what a vaccination card or a memory gives only partly. Anchored and ASCII, so any JSON Schema
 * validator reads it alike with or without the `u` flag.
 */
export const PARTIAL_DATE_PATTERN =
  '^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})(?:-(?:0[1-9]|1[0-2]))?$';

/**
 * RFC 3339 / ISO-8601 instant with an explicit zone: `2024-05-01T09:30:00Z`,
 * `2024-05-01T09:30:00.123+02:00`. Leap seconds (`:60`) are refused because JavaScript dates cannot hold them.
 */
export const isIsoDateTime = (value: string): boolean => {
  const match = DATE_TIME_RE.exec(value);
  if (!match) return false;
  const [, date = '', hour, minute, second, sign, offsetHour, offsetMinute] = match;
  if (!isIsoDate(date)) return false;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return false;
  if (sign !== undefined && (Number(offsetHour) > 23 || Number(offsetMinute) > 59)) return false;
  // Only the first and the last day can leave years 0001–9999 in UTC, by their offset.
  if (sign !== undefined && (date === '0001-01-01' || date === '9999-12-31')) {
    const time = Number(hour) * 3600 + Number(minute) * 60 + Number(second);
    const offset = Number(offsetHour) * 3600 + Number(offsetMinute) * 60;
    if (date === '0001-01-01' && sign === '+' && time < offset) return false;
    if (date === '9999-12-31' && sign === '-' && time + offset >= 24 * 3600) return false;
  }
  return true;
};

// FHIR R4 `instant` (and `dateTime` with a time) allows zones from -14:00 to +14:00 only.
const FHIR_ZONE_RE = /(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))$/;
/**
 * A date-time a FHIR R4 `instant` can hold: `isIsoDateTime`, with a zone within ±14:00 (Hale's date-times
 * take any offset; the export restates rarer ones in UTC).
 */
export const isFhirInstant = (value: string): boolean => isIsoDateTime(value) && FHIR_ZONE_RE.test(value);

// Free text. JavaScript strings are UTF-16 code units, so a string can hold half of a surrogate pair
// (text cut in the middle of an emoji): no Unicode character, no UTF-8 form, refused by canonical JSON
// and so by sealing. Such text is refused here, where the field can still be named. Lengths count code
// points, as JSON Schema's `minLength`/`maxLength` define them (and Ajv counts them): TypeBox's own
// string check counts code units, which would refuse 101 emoji as "more than 200 characters".

/** TypeBox kind of free text (see `boundedText`); its JSON Schema is a plain `type: 'string'` with bounds. */
export const TEXT_KIND = 'HaleText';

// With the `u` flag a class of surrogates matches only unpaired ones: a pair is read as one code point.
const LONE_SURROGATE_RE = /[\uD800-\uDFFF]/u;

/** True when `value` has no lone surrogate, i.e. it is a sequence of Unicode scalar values. */
export const isWellFormedText: (value: string) => boolean =
  // ES2024 `isWellFormed` (Node 20, current browsers) is several times faster on emoji-rich text than
  // the regular expression, which older engines fall back to. Every received record runs through this.
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (value) => (value as string & { isWellFormed(): boolean }).isWellFormed()
    : (value) => !LONE_SURROGATE_RE.test(value);

/** Length in Unicode code points: a surrogate pair (an emoji, a rare CJK character) counts once. */
export const codePointLength = (value: string): number => {
  let length = value.length;
  for (let i = 0; i < value.length - 1; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length -= 1;
        i += 1;
      }
    }
  }
  return length;
};

/**
 * Matches a visible character: anything but white space, control characters and default-ignorable
 * code points (zero-width space and joiners, BOM, soft hyphen, Hangul fillers, variation selectors,
 * tags, …), nor the Braille blank. A negated class, so a character newer than the engine's Unicode
 * tables (an emoji just added) still counts as visible and devices on older engines agree. The lone
 * surrogates in the class keep half a character from counting, whether or not the `u` flag is set.
 * Read with the `u` flag, as Ajv does by default and `textProblem` does: without it `\p{…}` means
 * nothing. The JSON Schema of required text (`boundedText` with a minimum length) carries it as `pattern`.
 */
export const VISIBLE_CHARACTER_PATTERN =
  '[^\\p{White_Space}\\p{Cc}\\p{Default_Ignorable_Code_Point}\\u2800\\uD800-\\uDFFF]';

const VISIBLE_CHARACTER_RE = new RegExp(VISIBLE_CHARACTER_PATTERN, 'u');

/** True when `value` shows something: at least one character that is not blank (see the pattern). */
export const hasVisibleCharacter = (value: string): boolean => VISIBLE_CHARACTER_RE.test(value);

/**
 * `too-short`: fewer than `minLength` code points or, for text that must say something (`minLength` of
 * 1 or more), nothing visible: a name of spaces or zero-width characters says nothing and exports to
 * FHIR as a missing required element.
 */
export type TextProblem = 'not-string' | 'ill-formed' | 'too-short' | 'too-long';

/**
 * What is wrong with `value` as text bounded by `minLength`/`maxLength` code points, if anything.
 * A string is never shorter in code points than half its code units nor longer than them, so the
 * code points are counted only when the code units alone cannot decide.
 */
export const textProblem = (
  value: unknown,
  minLength: number | undefined,
  maxLength: number | undefined,
): TextProblem | undefined => {
  if (typeof value !== 'string') return 'not-string';
  if (!isWellFormedText(value)) return 'ill-formed';
  if (
    minLength !== undefined &&
    (value.length < minLength ||
      (value.length < 2 * minLength && codePointLength(value) < minLength) ||
      (minLength > 0 && !hasVisibleCharacter(value)))
  ) {
    return 'too-short';
  }
  if (
    maxLength !== undefined &&
    value.length > maxLength &&
    (value.length > 2 * maxLength || codePointLength(value) > maxLength)
  ) {
    return 'too-long';
  }
  return undefined;
};

const optionalNumber = (schema: Readonly<Record<string, unknown>>, key: string): number | undefined => {
  const value = schema[key];
  return typeof value === 'number' ? value : undefined;
};

/** The text kind's bounds, read from its schema (`minLength` / `maxLength`, in code points). */
export const textBounds = (
  schema: Readonly<Record<string, unknown>>,
): { readonly minLength: number | undefined; readonly maxLength: number | undefined } => ({
  minLength: optionalNumber(schema, 'minLength'),
  maxLength: optionalNumber(schema, 'maxLength'),
});

/** True when `schema` is a text schema made by `boundedText`. */
export const isTextSchema = (schema: object): boolean =>
  (schema as { readonly [Kind]?: unknown })[Kind] === TEXT_KIND;

const checkText = (schema: Readonly<Record<string, unknown>>, value: unknown): boolean =>
  textProblem(value, optionalNumber(schema, 'minLength'), optionalNumber(schema, 'maxLength')) === undefined;

/**
 * Registers the `date` and `date-time` string formats and the free-text kind with TypeBox. Idempotent;
 * called when the record schemas load. It replaces any laxer checker registered under the same names by
 * another module.
 */
export const registerFormats = (): void => {
  FormatRegistry.Set('date', isIsoDate);
  FormatRegistry.Set('date-time', isIsoDateTime);
  TypeRegistry.Set(TEXT_KIND, checkText);
};
