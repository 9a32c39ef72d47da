/**
 * The `rid` of a client frame the server refuses before parsing it (rate limit), so the refusal can name
 * the request its device waits on.
 *
 * Invariants:
 * - Only a top-level member named exactly `rid` whose value is a plain integer within the protocol's range
 *   (0 … 2^53 - 1, at most 16 digits) is taken; text inside strings and members of nested objects or arrays never count.
 * - Found wherever it stands in a frame of up to RID_SCAN_BYTES (a forward scan of the members); in a
 *   longer frame, within its first RID_SCAN_BYTES or as its last member. That covers every order a Hale
 *   device writes: `rid` first (this build), last (older builds wrote `{ ...frame, rid }`, after arrays
 *   of up to MAX_FRAME_BYTES).
 * - Bounded work, no copy of the frame: at most RID_SCAN_BYTES scanned plus a look at the frame's last
 *   bytes, whatever its size. A scan of a whole 8 MiB frame would cost a device's refused frames up to ~90 ms
 *   each (measured on one made of escaped quotes; 0.5 ms on a push of base64 rows), more than refusing
 *   it is worth; this costs at most ~0.05 ms.
 * - A frame that repeats its top-level `rid` names no request, as decodeClientFrame's refusal of it names
 *   none: either copy may be the rid of another request its device still waits on. Found when both copies
 *   are within the scanned bytes, or one is there (its name at least) and the other is the frame's last
 *   member; a copy elsewhere in a longer frame is not looked for (the bound above), so such a frame is
 *   named by the copy found.
 * Failure modes: a frame that is not a JSON object, is cut short, has its rid elsewhere, writes the key
 *   with escapes, or holds something other than a plain integer answers undefined (the caller then
 *   answers at most one refusal per interval); never throws. A frame longer than RID_SCAN_BYTES that ends
 *   like `,"rid":7}` is taken to be rid 7 even if something before is malformed: it gets a refusal naming
 *   that rid, which is all a rid buys.
 */

/** Bytes of a frame scanned for its `rid` (see the module comment). */
export const RID_SCAN_BYTES = 4 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const ZERO = 0x30;
const NINE = 0x39;
/** Digits of the largest rid the protocol allows, Number.MAX_SAFE_INTEGER (16). */
const MAX_RID_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Index of the quote closing the string opened at `open`, or -1 when it does not close before `end`. */
const stringEnd = (data: Uint8Array, open: number, end: number): number => {
  let at = open;
  for (;;) {
    at = data.indexOf(QUOTE, at + 1);
    if (at < 0 || at >= end) return -1;
    // A quote preceded by an odd run of backslashes is escaped. Each run is counted once: it lies between
    // two quotes, so the whole pass stays linear.
    let backslashes = 0;
    while (data[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
};

/**
 * The integer value starting at `from` (after `"rid"` and its colon), undefined when it is none, or `cut`
 * when it runs on to `end` (what follows is not scanned).
 */
const ridValue = (data: Uint8Array, from: number, end: number): number | undefined | 'cut' => {
  let at = from;
  while (at < end && isSpace(data[at])) at++;
  const start = at;
  let value = 0;
  while (at < end && at - start < MAX_RID_DIGITS + 1) {
    const c = data[at]!;
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
    at++;
  }
  const digits = at - start;
  // Past 2^53 the sum is inexact but stays above MAX_SAFE_INTEGER, so the range check holds.
  if (digits > MAX_RID_DIGITS || value > Number.MAX_SAFE_INTEGER) return undefined;
  while (at < end && isSpace(data[at])) at++;
  if (at >= end) return 'cut';
  const next = data[at];
  return digits > 0 && (next === COMMA || next === CLOSE_OBJECT) ? value : undefined;
};

/**
 * Where a top-level `rid` member's name opens (its quote's index), and its value: undefined when the scanned
 * bytes end within it (the frame's last member, if it is this one, is read from the end).
 */
interface RidMember {
  at: number;
  rid: number | undefined;
}

/** A rid written as the frame's last member (`,"rid":7}`), read backwards from its end. */
const lastMemberRid = (data: Uint8Array): RidMember | undefined => {
  let at = data.byteLength - 1;
  const stop = Math.max(0, at - 64);
  while (at > stop && isSpace(data[at])) at--;
  if (data[at] !== CLOSE_OBJECT) return undefined;
  at--;
  while (at > stop && isSpace(data[at])) at--;
  const last = at;
  while (at > stop && data[at]! >= ZERO && data[at]! <= NINE) at--;
  const digits = last - at;
  if (digits === 0 || digits > MAX_RID_DIGITS) return undefined;
  const first = at + 1;
  while (at > stop && isSpace(data[at])) at--;
  if (data[at] !== COLON) return undefined;
  at--;
  while (at > stop && isSpace(data[at])) at--;
  // `"rid"` preceded by `,` or `{`: its opening quote is not an escaped one, so it is the member's name.
  if (at - 5 < stop || data[at] !== QUOTE || data[at - 1] !== 0x64 || data[at - 2] !== 0x69) return undefined;
  if (data[at - 3] !== 0x72 || data[at - 4] !== QUOTE) return undefined;
  const name = at - 4;
  at -= 5;
  while (at > stop && isSpace(data[at])) at--;
  if (data[at] !== COMMA && data[at] !== OPEN_OBJECT) return undefined;
  let value = 0;
  for (let i = first; i <= last; i++) value = value * 10 + (data[i]! - ZERO);
  return value > Number.MAX_SAFE_INTEGER ? undefined : { at: name, rid: value };
};

/**
 * The rid among the members within `end` bytes (`repeated` when two are named `rid`), and whether the scan
 * reached `end` inside the frame (`cut`).
 */
const scanMembers = (
  data: Uint8Array,
  end: number,
): { found: RidMember | undefined | 'repeated'; cut: boolean } => {
  let found: RidMember | undefined;
  let at = 0;
  while (at < end && isSpace(data[at])) at++;
  if (data[at] !== OPEN_OBJECT) return { found: undefined, cut: false };
  /** Nesting of objects and arrays; the frame's own members are at depth 1. */
  let depth = 0;
  /** At depth 1, the next string is a member's name (after `{` or `,`), not its value. */
  let nameNext = false;
  for (; at < end; at++) {
    const c = data[at];
    if (c === QUOTE) {
      const close = stringEnd(data, at, end);
      if (close < 0) return { found, cut: true };
      if (depth === 1 && nameNext) {
        nameNext = false;
        const isRid =
          close - at === 4 && data[at + 1] === 0x72 && data[at + 2] === 0x69 && data[at + 3] === 0x64;
        if (isRid) {
          // Scanned on past the first: a second `rid` makes the frame name no request.
          if (found !== undefined) return { found: 'repeated', cut: false };
          let colon = close + 1;
          while (colon < end && isSpace(data[colon])) colon++;
          if (colon >= end) return { found: { at, rid: undefined }, cut: true };
          if (data[colon] !== COLON) return { found: undefined, cut: false };
          const rid = ridValue(data, colon + 1, end);
          if (rid === 'cut') return { found: { at, rid: undefined }, cut: true };
          if (rid === undefined) return { found: undefined, cut: false };
          found = { at, rid };
        }
      }
      at = close;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 1) nameNext = true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return { found, cut: false };
    } else if (c === COMMA && depth === 1) {
      nameNext = true;
    }
  }
  return { found, cut: true };
};

/** The frame's top-level `rid`, or undefined; see the module comment for where it is looked for. */
export const scanRid = (data: Uint8Array): number | undefined => {
  const { found, cut } = scanMembers(data, Math.min(data.byteLength, RID_SCAN_BYTES));
  if (found === 'repeated') return undefined;
  if (!cut || data.byteLength <= RID_SCAN_BYTES) return found?.rid;
  const last = lastMemberRid(data);
  if (found === undefined) return last?.rid;
  if (last === undefined) return found.rid;
  // The last member may be the one found, when it begins within the scanned bytes; another is a second.
  return last.at === found.at ? last.rid : undefined;
};
