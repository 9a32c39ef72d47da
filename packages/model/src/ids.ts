import { decodeTime, monotonicFactory } from 'ulidx';
import { ModelError } from './errors';

/** Milliseconds since the Unix epoch; injected so tests and simulations control time. */
export type Clock = () => number;

export const ID_PATTERN = '^[0-7][0-9A-HJKMNP-TV-Z]{25}$';
export const ACCOUNT_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';

const ID_RE = new RegExp(ID_PATTERN);
const ACCOUNT_ID_RE = new RegExp(ACCOUNT_ID_PATTERN);

// ulidx's default generator maps a byte to [0, 1] and clamps, which slightly favours the last base32
// character; 32 divides 256, so taking the low five bits of a random byte is exactly uniform.
const pool = new Uint8Array(256);
let poolIndex = pool.length;
const uniformPrng = (): number => {
  if (poolIndex >= pool.length) {
    crypto.getRandomValues(pool);
    poolIndex = 0;
  }
  const byte = pool[poolIndex++] ?? 0;
  return (byte & 31) / 32;
};

const nextUlid = monotonicFactory(uniformPrng);

/**
 * A new record id: a ULID (26 Crockford base32 characters) whose first 10 characters encode the creation
 * time, so ids sort by creation time. Within one process ids are strictly increasing even when the clock
 * stands still or steps back.
 */
export const newId = (clock?: Clock): string => nextUlid(clock ? clock() : Date.now());

export const isId = (value: unknown): value is string => typeof value === 'string' && ID_RE.test(value);

/** Creation time (ms since epoch) encoded in an id; throws ModelError `INVALID_ID` for anything else. */
export const idTimestamp = (id: string): number => {
  if (!isId(id)) {
    throw new ModelError({
      code: 'INVALID_ID',
      message: `not a record id (ULID): ${JSON.stringify(id)}`,
      value: id,
    });
  }
  return decodeTime(id);
};

/** Account and device ids: 22 base64url characters (see docs/architecture.md, Identifiers). */
export const isAccountId = (value: unknown): value is string =>
  typeof value === 'string' && ACCOUNT_ID_RE.test(value);

/** The current instant as an ISO-8601 UTC string, the form every `…At` field uses. */
export const nowIso = (clock?: Clock): string => new Date(clock ? clock() : Date.now()).toISOString();
