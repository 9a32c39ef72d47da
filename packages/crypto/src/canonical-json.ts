/**
 * Canonical JSON (RFC 8785 style) — the byte form that is sealed, hashed and signed.
 *
 * Invariants: the output is a pure function of the JSON value — object keys sorted by UTF-16 code
 * units, no whitespace, numbers and strings serialised exactly as ECMAScript JSON.stringify does
 * (which is what RFC 8785 specifies). Equal JSON values therefore give identical bytes whatever
 * their key insertion order, and `JSON.parse(canonicalJson(x))` deep-equals x (except that -0 is
 * written as 0, as RFC 8785 specifies).
 * Failure mode: anything that is not plain JSON throws HaleCryptoError INVALID_INPUT — undefined
 * (also as an object property or array hole), functions, symbols, bigint, NaN/±Infinity, lone
 * surrogates, cycles, non-plain objects (Date, Map, typed arrays, class instances), symbol keys, an
 * object or array with a `toJSON` function (even a non-enumerable one, which JSON.stringify calls), arrays
 * with own members besides their items or another prototype than this realm's Array.prototype (a
 * subclass, an array of another realm), and nesting deeper than MAX_JSON_DEPTH. Nothing is silently
 * dropped or coerced.
 * `assertJsonValue` runs the same checks without serialising or sorting, for values that are stored
 * with JSON.stringify: it differs only in ignoring object members whose value is undefined.
 */
import { cryptoError } from './errors';
import { utf8Encode } from './encoding';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

export const MAX_JSON_DEPTH = 256;

// A lone surrogate (high without low, or low without high) is not a Unicode scalar value.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/**
 * What is wrong and where. The path is built only while a failure unwinds (each object or array level
 * prepends its key or index in a `catch`), so the success path, which runs for every sealed record,
 * builds no path strings and no closures.
 */
class NotJson extends Error {
  constructor(
    readonly what: string,
    public path = '',
  ) {
    super(what);
  }
}

/** Prefixes one path step to a NotJson unwinding through an object member or array item. */
function unwinding(error: unknown, step: string): unknown {
  if (error instanceof NotJson) error.path = step + error.path;
  return error;
}

// The checks below are the rules of canonical JSON; `serialise` and `check` both use them, so a value
// `assertJsonValue` accepts is one `canonicalJson` accepts (up to object members whose value is undefined).

function checkString(s: string): void {
  if (!isWellFormed(s)) throw new NotJson('lone surrogate in');
}

function checkNumber(n: number): void {
  if (!Number.isFinite(n)) throw new NotJson('non-finite number at');
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks an object or array before its members are visited and adds it to `ancestors` (the caller
 * removes it when done). Answers whether it is an array; anything else that passes is a plain object.
 */
function enter(value: object, ancestors: Set<object>, depth: number): value is unknown[] {
  if (depth >= MAX_JSON_DEPTH) throw new NotJson('nesting too deep at');
  if (ancestors.has(value)) throw new NotJson('cycle at');
  ancestors.add(value);
  if (Array.isArray(value)) {
    // A subclass may carry a toJSON that JSON.stringify (at-rest seals) calls while structured clone (a
    // worker's copy) drops it with the prototype: one value, two contents. Only plain arrays are JSON.
    if (Object.getPrototypeOf(value) !== Array.prototype) throw new NotJson('not a plain array at');
    // JSON.stringify writes the indexed items only: any other own member would go unsealed and
    // unsigned. (A hole with a member besides it keeps the count; checkItem refuses the hole.)
    if (Object.keys(value).length > value.length || Object.getOwnPropertySymbols(value).length > 0) {
      throw new NotJson('array with a non-index property at');
    }
    if (hasToJson(value)) throw new NotJson('toJSON at');
    return true;
  }
  if (!isPlainObject(value)) throw new NotJson('not a plain object at');
  if (Object.getOwnPropertySymbols(value).length > 0) throw new NotJson('symbol key at');
  if (hasToJson(value)) throw new NotJson('toJSON at');
  return false;
}

/**
 * Whether JSON.stringify (at-rest seals) would write what a `toJSON` answers instead of the members, as
 * for a non-enumerable one that Object.keys, and so `serialise` and a worker's structured clone, never see:
 * one value, two contents. Read as JSON.stringify reads it (own or inherited, enumerable or not).
 */
const hasToJson = (value: object): boolean =>
  typeof (value as { readonly toJSON?: unknown }).toJSON === 'function';

function checkItem(array: unknown[], i: number): void {
  if (!(i in array)) throw new NotJson('array hole at');
}

const notJsonType = (value: unknown): NotJson => new NotJson(`${typeof value} is not JSON at`);

function serialiseString(s: string): string {
  checkString(s);
  return JSON.stringify(s);
}

function serialise(value: unknown, ancestors: Set<object>, depth: number): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      checkNumber(value);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      let out: string;
      if (enter(value, ancestors, depth)) {
        out = '[';
        let i = 0;
        try {
          for (; i < value.length; i++) {
            checkItem(value, i);
            if (i > 0) out += ',';
            out += serialise(value[i], ancestors, depth + 1);
          }
        } catch (error) {
          throw unwinding(error, `[${i}]`);
        }
        out += ']';
      } else {
        const record = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
        const keys = Object.keys(record).sort();
        out = '{';
        let k = 0;
        try {
          for (; k < keys.length; k++) {
            const key = keys[k]!;
            if (k > 0) out += ',';
            out += serialiseString(key);
            out += ':';
            out += serialise(record[key], ancestors, depth + 1);
          }
        } catch (error) {
          throw unwinding(error, `.${keys[k]!}`);
        }
        out += '}';
      }
      ancestors.delete(value);
      return out;
    }
    default:
      throw notJsonType(value);
  }
}

/** `serialise` without the text: the same checks, in document order, skipping undefined members. */
function check(value: unknown, ancestors: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
      return checkString(value);
    case 'boolean':
      return;
    case 'number':
      return checkNumber(value);
    case 'object': {
      if (value === null) return;
      if (enter(value, ancestors, depth)) {
        let i = 0;
        try {
          for (; i < value.length; i++) {
            checkItem(value, i);
            check(value[i], ancestors, depth + 1);
          }
        } catch (error) {
          throw unwinding(error, `[${i}]`);
        }
      } else {
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record);
        let k = 0;
        try {
          for (; k < keys.length; k++) {
            const member = record[keys[k]!];
            if (member === undefined) continue; // JSON.stringify leaves such a member out
            checkString(keys[k]!);
            check(member, ancestors, depth + 1);
          }
        } catch (error) {
          throw unwinding(error, `.${keys[k]!}`);
        }
      }
      ancestors.delete(value);
      return;
    }
    default:
      throw notJsonType(value);
  }
}

/** Canonical JSON text of a JSON value; throws HaleCryptoError INVALID_INPUT for anything else. */
export function canonicalJson(value: unknown): string {
  try {
    return serialise(value, new Set(), 0);
  } catch (error) {
    if (error instanceof NotJson)
      throw cryptoError('INVALID_INPUT', `canonicalJson: ${error.what} $${error.path}`);
    throw error;
  }
}

/**
 * Checks, without serialising or sorting, that `value` is JSON by the rules of `canonicalJson`: finite
 * numbers, well-formed strings (also as keys), plain objects and arrays only, no symbol keys, no array
 * holes or undefined items, no cycles, nesting at most MAX_JSON_DEPTH. Unlike `canonicalJson` it accepts
 * object members whose value is undefined and ignores them, as JSON.stringify does. Throws
 * HaleCryptoError INVALID_INPUT naming the first problem found in insertion (not sorted) key order.
 */
export function assertJsonValue(value: unknown): void {
  try {
    check(value, new Set(), 0);
  } catch (error) {
    if (error instanceof NotJson)
      throw cryptoError('INVALID_INPUT', `assertJsonValue: ${error.what} $${error.path}`);
    throw error;
  }
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8Encode(canonicalJson(value));
}
