/**
 * Time order of listed records. The store sorts only on the text of `updatedAt`, which is time order for
 * this build's stamps but not for a version written with an offset or other fraction digits.
 *
 * - `textFloor`: the least text a record among the newest N by instant can have, given the first N by text
 *   (an offset moves an instant < 24 h, the fraction < 1 s; TEXT_SLACK_MS adds margin); undefined when no
 *   bound holds (an emptied record, or one stamped with no instant).
 */
import type { DeviceRecord } from '../store/device-db';
import { emptied } from './plain-record';
import { isIsoDateTime } from '@hale/model';

// The store can sort only on the text of `updatedAt` (its index), which is time order for this build's
// stamps (UTC, three fraction digits) but not for a version pulled from a writer that used an offset or
// other fraction digits, which the model takes. So lists are put in time order after the query
// (listed-records.ts).
export const BY_TEXT = [{ updatedAt: 'desc' as const }];

/**
 * The wall clock of an instant (its date and time to the second, without the offset) read as UTC, in
 * milliseconds: what the text order of instants follows.
 */
const wallClockMs = (instant: string): number => Date.parse(`${instant.slice(0, 19)}Z`);

// An offset moves the instant less than 24 hours from its wall clock and the fraction less than a second,
// so any record among the newest `limit` by instant has a wall clock no more than two days and a second
// before the earliest wall clock of the first `limit` by text (see `query`); the hour more is margin.
const TEXT_SLACK_MS = 49 * 3600 * 1000;

const FIRST_INSTANT_MS = Date.parse('0001-01-01T00:00:00Z');

/**
 * The least text of `updatedAt` a record among the newest `firstByText.length` by instant can have, given
 * the first that many by text; undefined when no bound holds: one of them is emptied (a purge in flight:
 * not listed, so it stands for no listed record) or is stamped with no instant (such a one is listed last).
 */
export const textFloor = (firstByText: readonly DeviceRecord[]): string | undefined => {
  if (firstByText.some((d) => emptied(d) || !isIsoDateTime(d.updatedAt))) return undefined;
  // Not Math.min(...all): a large limit would pass more arguments than an engine takes.
  const earliest = firstByText.reduce((least, d) => Math.min(least, wallClockMs(d.updatedAt)), Infinity);
  const floor = earliest - TEXT_SLACK_MS;
  return floor < FIRST_INSTANT_MS ? undefined : new Date(floor).toISOString().slice(0, 19);
};
