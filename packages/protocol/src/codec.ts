/**
 * Turning untrusted text into typed frames, and frames into text.
 *
 * Invariants: `decodeClientFrame`/`decodeServerFrame` never throw, whatever the input. They check,
 * in this order and stopping at the first failure: size in UTF-8 bytes (TOO_LARGE, before any
 * parsing, so an oversized frame costs no allocation), JSON syntax (BAD_MESSAGE), member names
 * (BAD_MESSAGE: one repeated within an object, which JSON.parse would silently keep the last of, or
 * `__proto__`; the issue names the first, and `rid` is left out whenever the frame repeats it, even after
 * another repeated name), the frame type `t`
 * and its schema (BAD_MESSAGE with `details.issues` naming path and reason), then semantic rules
 * (BAD_MESSAGE, or TOO_LARGE for batch bytes). When the frame parsed as an object with a valid `rid`,
 * the error carries that `rid` so the reply can name the request. A value returned with `ok: true`
 * matches its schema exactly and can be used without further checks.
 *
 * Forward compatibility: what a device reads from a server (`decodeServerFrameTolerant`,
 * `validateTolerant`) may carry properties a newer build added. Those, and only those, are dropped: the
 * value is checked strictly first (exact frames, the hot path, cost nothing more), and only when that
 * fails is it checked again, strictly, with the properties closed objects do not name removed
 * (`stripExtraProperties`). Every named property is still checked as before; the value returned never
 * carries a dropped property; size, JSON, frame type and semantic rules are unchanged, and a value that
 * fails for another reason fails with the same code, its issues naming that reason (not the extras).
 * What the server receives (`decodeClientFrame`, `validate`) stays strict: an extra property is refused.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { checkerFor, openSchema, stripExtraProperties, type CheckIssue, type Issue } from './checker';
import { protocolError, type ErrorCode, type HaleProtocolError } from './errors';
import {
  MAX_CLIENT_FRAME_DEPTH,
  MAX_CLIENT_FRAME_TOKENS,
  MAX_FRAME_BYTES,
  MAX_SERVER_FRAME_TOKENS,
  MAX_REPORTED_ISSUES,
  SUPPORTED_VERSIONS,
} from './limits';
import {
  CLIENT_FRAMES,
  SERVER_FRAMES,
  type ClientFrame,
  type ErrorFrame,
  type Frame,
  type ServerFrame,
} from './messages';
import { err, ok, type Result } from './result';
import { refinementIssues } from './semantics';

/**
 * A decode failure; `rid` is set when the broken frame still named its request. `unparsed`: refused
 * before it was parsed for its structure (past the bounds; TOO_LARGE ones are unparsed too), so no `rid`
 * could be read from it: a reader with the raw text may look for one (sync-server frame-rid.ts, the
 * device's connection.ts).
 */
export interface FrameDecodeError extends HaleProtocolError {
  readonly rid?: number;
  readonly unparsed?: true;
}

export interface ValidationError extends HaleProtocolError {
  readonly code: 'BAD_MESSAGE' | 'TOO_LARGE';
  readonly details: { readonly issues: readonly Issue[] };
}

/** UTF-8 length of a JS string without encoding it (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** True when `text` is over `limit` UTF-8 bytes; exact but only walks the string when it must. */
export function exceedsBytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return utf8ByteLength(text) > limit;
}

const DUPLICATE_REASON = 'duplicate member name: each name may appear once in an object';
const PROTO_REASON = 'member name __proto__ is not allowed';

/** Index of the quote closing the JSON string opened at `open` (the text is known to be valid JSON). */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    // A quote after an odd run of backslashes is escaped; each run lies between two quotes, so this is linear.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/**
 * Members written in `text`, valid JSON: every colon outside a string separates a name from its value.
 * Both searches only move forward (native indexOf, which skips string contents fast), so this is linear.
 */
function membersWritten(text: string): number {
  let count = 0;
  let at = 0;
  let colon = text.indexOf(':');
  let quote = text.indexOf('"');
  while (colon >= 0) {
    if (quote < 0 || colon < quote) {
      count++;
      at = colon + 1;
      colon = text.indexOf(':', at);
      continue;
    }
    at = stringEnd(text, quote) + 1;
    if (colon < at) colon = text.indexOf(':', at);
    quote = text.indexOf('"', at);
  }
  return count;
}

/**
 * Members of every object in `value` (walked without recursion: JSON.parse takes nesting deeper than the
 * stack), or -1 when one holds `__proto__`. Below `membersWritten` when a name was repeated in an object.
 */
function membersParsed(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  const pending: object[] = [value];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (Array.isArray(node)) {
      for (const item of node as unknown[]) if (typeof item === 'object' && item !== null) pending.push(item);
      continue;
    }
    // JSON.parse makes `__proto__` an own property; copied with `=` or Object.assign it would set a prototype.
    if (Object.hasOwn(node, '__proto__')) return -1;
    const record = node as Record<string, unknown>;
    const names = Object.keys(record);
    count += names.length;
    for (const name of names) {
      const item = record[name];
      if (typeof item === 'object' && item !== null) pending.push(item);
    }
  }
  return count;
}

/**
 * Longest pointer a refusal names: deep nesting, or one member name of megabytes, would otherwise be echoed
 * back (and each of up to MAX_REPORTED_ISSUES issues under it would repeat it).
 */
const MAX_POINTER = 200;
const shortPointer = (full: string): string =>
  full.length <= MAX_POINTER ? full : `${full.slice(0, MAX_POINTER - 1)}…`;
const pointer = (segments: readonly string[]): string =>
  shortPointer(`/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`);

/**
 * The first member of `text` (valid JSON), in text order, whose name is `__proto__` or repeats one
 * before it in the same object. Slow (a Set and a decoded name per member): only for text the cheap
 * count found at fault.
 */
function firstBadMember(text: string): Issue | undefined {
  /** Open objects (their names so far and the current one) and arrays (the current index). */
  const open: Array<{ names: Set<string>; current: string } | { index: number }> = [];
  let nameNext = false;
  const segments = (last: string): string[] => [
    ...open.slice(0, -1).map((level) => ('names' in level ? level.current : String(level.index))),
    last,
  ];
  for (let at = 0; at < text.length; at++) {
    const c = text.charCodeAt(at);
    const top = open[open.length - 1];
    if (c === 0x22) {
      const end = stringEnd(text, at);
      if (nameNext && top !== undefined && 'names' in top) {
        nameNext = false;
        // A name without escapes is its text (most are): JSON.parse only for the others.
        const raw = text.slice(at + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(at, end + 1)) as string) : raw;
        if (name === '__proto__') return { path: pointer(segments(name)), reason: PROTO_REASON };
        if (top.names.has(name)) return { path: pointer(segments(name)), reason: DUPLICATE_REASON };
        top.names.add(name);
        top.current = name;
      }
      at = end;
    } else if (c === 0x7b) {
      open.push({ names: new Set(), current: '' });
      nameNext = true;
    } else if (c === 0x5b) {
      open.push({ index: 0 });
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    } else if (c === 0x2c && top !== undefined) {
      if ('names' in top) nameNext = true;
      else top.index++;
    }
  }
  return undefined;
}

/**
 * Whether the outermost object of `text` (valid JSON) names `name` more than once, escapes decoded. Only
 * for text already refused for a bad member: that refusal reports the first one, which need not be this
 * name, so a repeated `rid` after another fault would otherwise still be read (as JSON.parse's last).
 * Linear: strings are skipped as in `firstBadMember`, and only names at depth 1 are read.
 */
function repeatsAtTop(text: string, name: string): boolean {
  let depth = 0;
  let nameNext = false;
  let seen = false;
  for (let at = 0; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      const end = stringEnd(text, at);
      if (nameNext) {
        nameNext = false;
        const raw = text.slice(at + 1, end);
        const decoded = raw.includes('\\') ? (JSON.parse(text.slice(at, end + 1)) as string) : raw;
        if (decoded === name) {
          if (seen) return true;
          seen = true;
        }
      }
      at = end;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      nameNext = depth === 1 && c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      nameNext = true;
    }
  }
  return false;
}

/** How much structure a text may hold before it is parsed (see MAX_CLIENT_FRAME_TOKENS). */
interface Bounds {
  readonly tokens: number;
  readonly depth: number;
}
const CLIENT_FRAME_BOUNDS: Bounds = { tokens: MAX_CLIENT_FRAME_TOKENS, depth: MAX_CLIENT_FRAME_DEPTH };
const SERVER_FRAME_BOUNDS: Bounds = { tokens: MAX_SERVER_FRAME_TOKENS, depth: MAX_CLIENT_FRAME_DEPTH };

/**
 * What `text` holds past `bounds` (`over`): more structural characters (`{ [ , :` outside strings) than
 * `bounds.tokens`, or objects and arrays nested deeper than `bounds.depth`; within them, the members it
 * writes (its colons outside strings), so the caller need not walk it again. Strings are skipped with
 * indexOf (a frame's bulk, its base64, costs next to nothing); the scan stops at the first bound passed,
 * so a text past one costs at most that many steps. Text that is not JSON may pass: parsing refuses it.
 */
function overBounds(text: string, bounds: Bounds): { over: string } | { members: number } {
  let tokens = 0;
  let depth = 0;
  let members = 0;
  for (let at = 0; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      at = stringEnd(text, at);
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > bounds.depth) return { over: `nests objects and arrays deeper than ${bounds.depth}` };
      if (++tokens > bounds.tokens) return { over: `holds more than ${bounds.tokens} values` };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c || c === 0x3a) {
      if (c === 0x3a) members++;
      if (++tokens > bounds.tokens) return { over: `holds more than ${bounds.tokens} values` };
    }
  }
  return { members };
}

/**
 * JSON.parse, refusing what it would silently take: a member name repeated within one object (it keeps
 * the last, so two readers of the same text could disagree, e.g. on a frame's `rid`) and a member named
 * `__proto__` (anywhere; no Hale object has one). `undefined` when the text is not JSON. The check costs
 * a forward search for colons and quotes and a walk of the value (members counted both ways); the member
 * at fault is only looked for when the counts differ.
 */
function parseStrict(
  text: string,
  bounds?: Bounds,
): { value: unknown; issue?: Issue } | { over: string } | undefined {
  // Measured first: a text past the bounds is never parsed (JSON.parse costs by values, not bytes). The
  // same pass counts the members written (its colons outside strings), as `membersWritten` would.
  const measured = bounds === undefined ? undefined : overBounds(text, bounds);
  if (measured !== undefined && 'over' in measured) return measured;
  const written = measured === undefined ? membersWritten(text) : measured.members;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (membersParsed(value) === written) return { value };
  const issue = firstBadMember(text);
  // The counts differ only for one of the two faults above; the fallback is never expected.
  return { value, issue: issue ?? { path: '/', reason: DUPLICATE_REASON } };
}

/**
 * Parses untrusted JSON text (an HTTP body) as the frame decoders do: BAD_MESSAGE when it is not JSON, or
 * when a member name repeats within an object or is `__proto__` (the issue names the member). `bounded`:
 * a text past the bounds of a client frame (MAX_CLIENT_FRAME_TOKENS, MAX_CLIENT_FRAME_DEPTH) is refused
 * unparsed, BAD_MESSAGE, as a device's frame is (a request body). Never throws.
 */
export function parseJson(
  text: string,
  { bounded = false }: { bounded?: boolean } = {},
): Result<unknown, ValidationError> {
  const parsed = parseStrict(text, bounded ? CLIENT_FRAME_BOUNDS : undefined);
  if (parsed !== undefined && 'over' in parsed) {
    return err({
      code: 'BAD_MESSAGE',
      message: `${parsed.over}, more than any request of the protocol`,
      details: { issues: [{ path: '/', reason: parsed.over }] },
    });
  }
  if (parsed === undefined) {
    return err({
      code: 'BAD_MESSAGE',
      message: 'not valid JSON',
      details: { issues: [{ path: '/', reason: 'not valid JSON' }] },
    });
  }
  if (parsed.issue !== undefined) return err(invalid([parsed.issue], DUPLICATE_REASON));
  return ok(parsed.value);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function readRid(value: Record<string, unknown>): number | undefined {
  const rid = value['rid'];
  return typeof rid === 'number' && Number.isSafeInteger(rid) && rid >= 0 ? rid : undefined;
}

function failure(
  code: ErrorCode,
  message: string,
  rid: number | undefined,
  details?: Readonly<Record<string, unknown>>,
): { readonly ok: false; readonly error: FrameDecodeError } {
  const error = protocolError(code, message, details);
  return err(rid === undefined ? error : { ...error, rid });
}

/** `refuse`: a property a closed object does not name fails the check; `drop`: it is removed first. */
type ExtraProperties = 'refuse' | 'drop';

function decodeFrame<F>(
  text: unknown,
  frames: Readonly<Record<string, TSchema>>,
  side: 'client' | 'server',
  extra: ExtraProperties,
): Result<F, FrameDecodeError> {
  if (typeof text !== 'string') return failure('BAD_MESSAGE', 'frame must be text', undefined);
  if (exceedsBytes(text, MAX_FRAME_BYTES)) {
    return failure('TOO_LARGE', `frame exceeds MAX_FRAME_BYTES (${MAX_FRAME_BYTES})`, undefined, {
      limit: MAX_FRAME_BYTES,
    });
  }
  const parsed = parseStrict(text, side === 'client' ? CLIENT_FRAME_BOUNDS : SERVER_FRAME_BOUNDS);
  if (parsed === undefined) return failure('BAD_MESSAGE', 'frame is not JSON', undefined);
  if ('over' in parsed) {
    const refused = failure(
      'BAD_MESSAGE',
      `frame ${parsed.over}, more than any frame of the protocol`,
      undefined,
      {
        issues: [{ path: '/', reason: parsed.over }],
      },
    );
    return err({ ...refused.error, unparsed: true as const });
  }
  const { value, issue } = parsed;
  let rid: number | undefined;
  try {
    if (issue !== undefined) {
      // A repeated rid names no request: the frame's readers could take either. It is looked for
      // whatever the first fault named, since a frame may repeat another name before it.
      const named = isRecord(value) && !repeatsAtTop(text, 'rid') ? readRid(value) : undefined;
      return failure('BAD_MESSAGE', `${issue.path}: ${issue.reason}`, named, { issues: [issue] });
    }
    if (!isRecord(value)) {
      return failure('BAD_MESSAGE', 'frame must be a JSON object', undefined, {
        issues: [{ path: '/', reason: 'Expected object' }],
      });
    }
    rid = readRid(value);
    const t = value['t'];
    const schema = typeof t === 'string' && Object.hasOwn(frames, t) ? frames[t] : undefined;
    if (schema === undefined) {
      return failure('BAD_MESSAGE', `unknown ${side} frame type`, rid, {
        issues: [{ path: '/t', reason: `Expected one of ${Object.keys(frames).join(', ')}` }],
      });
    }
    const result = checkValue(schema, value, extra);
    if (!result.ok)
      return failure(result.error.code, `${String(t)}: ${result.error.message}`, rid, result.error.details);
    return ok(result.value as F);
  } catch {
    // Defence in depth: a checker bug must not take the connection's reader down.
    return failure('BAD_MESSAGE', 'frame could not be validated', rid);
  }
}

/** TOO_LARGE when every issue is a broken size limit (the fix is to split or shrink), else BAD_MESSAGE. */
function invalid(found: readonly CheckIssue[], fallback: string): ValidationError {
  const tooLarge = found.length > 0 && found.every((issue) => issue.tooLarge === true);
  const issues: Issue[] = found
    .slice(0, MAX_REPORTED_ISSUES)
    .map(({ path, reason }) => ({ path: shortPointer(path), reason }));
  const first = issues[0];
  return {
    code: tooLarge ? 'TOO_LARGE' : 'BAD_MESSAGE',
    message: first === undefined ? fallback : `${first.path}: ${first.reason}`,
    details: { issues },
  };
}

function checkValue<T extends TSchema>(
  schema: T,
  value: unknown,
  extra: ExtraProperties,
): Result<Static<T>, ValidationError> {
  const checker = checkerFor(schema);
  let accepted: unknown = value;
  if (!checker.check(value)) {
    // Stripping only after the strict check failed: exact values (nearly every frame) pay nothing for it.
    const stripped = extra === 'drop' ? stripExtraProperties(schema, value) : value;
    if (stripped === value || !checker.check(stripped)) {
      return err(invalid(issuesOf(schema, value, stripped), 'does not match schema'));
    }
    accepted = stripped;
  }
  const refined = refinementIssues(schema, accepted as Static<T>);
  if (refined.length > 0) return err(invalid(refined, 'breaks a protocol rule'));
  return ok(accepted as Static<T>);
}

/**
 * Why `value` fails: as the strict check says when nothing was stripped; else as the open schema says,
 * so the issues name the real fault rather than the extras that would have been dropped.
 */
function issuesOf(schema: TSchema, value: unknown, stripped: unknown): CheckIssue[] {
  if (stripped !== value) {
    const open = checkerFor(openSchema(schema)).issues(value, MAX_REPORTED_ISSUES);
    if (open.length > 0) return open;
  }
  return checkerFor(schema).issues(stripped, MAX_REPORTED_ISSUES);
}

/** Decodes a frame a device sent (server side). Never throws. Strict: an unknown property is refused. */
export const decodeClientFrame = (text: string): Result<ClientFrame, FrameDecodeError> =>
  decodeFrame<ClientFrame>(text, CLIENT_FRAMES, 'client', 'refuse');

/**
 * Decodes a frame the server sent, strictly: an unknown property is refused. For checking what a server
 * sends (tests, benchmarks); a device reads with `decodeServerFrameTolerant`. Never throws.
 */
export const decodeServerFrame = (text: string): Result<ServerFrame, FrameDecodeError> =>
  decodeFrame<ServerFrame>(text, SERVER_FRAMES, 'server', 'refuse');

/**
 * Decodes a frame the server sent, as a device reads it: properties of closed objects that this build does
 * not know (a newer server added them) are dropped, not refused; everything else as `decodeServerFrame`
 * (same limits, same codes). Frame types this build does not know are still refused. Never throws.
 */
export const decodeServerFrameTolerant = (text: string): Result<ServerFrame, FrameDecodeError> =>
  decodeFrame<ServerFrame>(text, SERVER_FRAMES, 'server', 'drop');

/** Serialises a frame. Senders keep within the limits (see `batchByLimits`); receivers enforce them. */
export const encodeFrame = (frame: Frame): string => JSON.stringify(frame);

/** The `error` frame for a failure, echoing the request's `rid` when known. */
export function errorFrame(error: HaleProtocolError, rid?: number): ErrorFrame {
  return {
    t: 'error',
    ...(rid === undefined ? {} : { rid }),
    code: error.code,
    message: error.message.slice(0, 1000),
    ...(error.details === undefined ? {} : { details: { ...error.details } }),
  };
}

/**
 * Checks any value against a schema plus its registered semantic rules (HTTP bodies, IPC payloads,
 * stored objects). Never throws; the error lists up to MAX_REPORTED_ISSUES `{ path, reason }`.
 */
export function validate<T extends TSchema>(schema: T, value: unknown): Result<Static<T>, ValidationError> {
  return validateWith(schema, value, 'refuse');
}

/**
 * `validate` for what a device reads that a newer build may have written: a server's HTTP answers, a
 * record another app version stored. Properties of closed objects that the schema does not name are
 * dropped from the value returned instead of refused; every named property is checked exactly as
 * `validate` checks it. Never throws.
 */
export function validateTolerant<T extends TSchema>(
  schema: T,
  value: unknown,
): Result<Static<T>, ValidationError> {
  return validateWith(schema, value, 'drop');
}

function validateWith<T extends TSchema>(
  schema: T,
  value: unknown,
  extra: ExtraProperties,
): Result<Static<T>, ValidationError> {
  try {
    return checkValue(schema, value, extra);
  } catch {
    return err({
      code: 'BAD_MESSAGE',
      message: 'value could not be validated',
      details: { issues: [{ path: '/', reason: 'validation failed' }] },
    });
  }
}

/** Highest version both sides speak, or UNSUPPORTED_VERSION. */
export function negotiateVersion(
  client: readonly number[],
  server: readonly number[] = SUPPORTED_VERSIONS,
): Result<number, HaleProtocolError> {
  const common = client.filter((version) => Number.isSafeInteger(version) && server.includes(version));
  if (common.length === 0) {
    return err(
      protocolError(
        'UNSUPPORTED_VERSION',
        `no common protocol version (client ${client.join(',')}; server ${server.join(',')})`,
        { client: [...client], server: [...server] },
      ),
    );
  }
  return ok(Math.max(...common));
}
