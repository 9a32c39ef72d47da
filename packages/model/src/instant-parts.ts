/*
 * How an instant is read for ordering, shared by instants.ts (the public comparisons) and the write rules.
 * Not exported from the package (index.ts): the millisecond reading and the shifted comparison serve the
 * model's own rules, and apps order instants with instants.ts.
 */
import { isIsoDateTime } from './formats';

// The model takes an instant with any offset and 1–9 fraction digits (isIsoDateTime), and another build
// or a provider's device may write one so: text order is not time order there (`…11:00:00+02:00` is
// before `…09:30:00Z`, `…:00Z` before `…:00.250Z`). Nor is `Date.parse` of the whole text: ECMA-262
// defines it only for three fraction digits (other counts are up to the engine, and devices run
// different ones), and V8 drops the digits past the millisecond. So the parts are read here: the date
// and time to the second through the defined form, the offset and the fraction (to the nanosecond, so
// two instants within one millisecond still order as time) by hand. Every device orders alike.
const INSTANT_PARTS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** An instant as `[seconds since the epoch, nanoseconds]`. */
export type InstantParts = readonly [number, number];

/** The parts of an instant the model takes (`isIsoDateTime`), else null. */
export const instantOf = (value: string): InstantParts | null => {
  const match = isIsoDateTime(value) ? INSTANT_PARTS_RE.exec(value) : null;
  if (match === null) return null;
  const [, wallClock = '', fraction = '', sign, hours, minutes] = match;
  const offset =
    sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(hours) * 3600 + Number(minutes) * 60);
  return [Date.parse(`${wallClock}Z`) / 1000 - offset, Number(fraction.padEnd(9, '0'))];
};

/** Negative when `x` is earlier, 0 for the same instant, positive when later. */
export const compareParts = (x: InstantParts, y: InstantParts): number => x[0] - y[0] || x[1] - y[1];

/**
 * The millisecond since the epoch that instant `value` falls in (digits past it dropped, as V8's
 * `Date.parse` does, but on every engine), or NaN when it is no instant the model takes. Against a whole
 * number of milliseconds (a clock's `Date.now()`, a day's first moment) `<` and `>=` judge it exactly as
 * the instant itself.
 */
export const instantMillis = (value: string): number => {
  const parts = instantOf(value);
  return parts === null ? Number.NaN : parts[0] * 1000 + Math.floor(parts[1] / 1e6);
};

/**
 * Whether instant `a`, moved `ms` later (a whole number of milliseconds), is still strictly before instant
 * `b`, to the nanosecond. False when either is no instant the model takes.
 */
export const isInstantBeforeBy = (a: string, b: string, ms: number): boolean => {
  const [x, y] = [instantOf(a), instantOf(b)];
  if (x === null || y === null) return false;
  const seconds = Math.floor(ms / 1000);
  const nanos = x[1] + (ms - seconds * 1000) * 1e6;
  const moved: InstantParts = nanos >= 1e9 ? [x[0] + seconds + 1, nanos - 1e9] : [x[0] + seconds, nanos];
  return compareParts(moved, y) < 0;
};
