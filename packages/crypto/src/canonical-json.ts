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
 * surrogates, cycles, non-plain objects (Date, Map, typed arrays, class instances) and nesting
 * deeper than MAX_JSON_DEPTH. Nothing is silently dropped or coerced.
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
 * What is wrong and where. The path is built while the failure unwinds (each level prepends its key
 * or index), so the success path, which runs for every sealed record, builds no path strings.
 */
class NotJson extends Error {
  constructor(
    readonly what: string,
    public path = '',
  ) {
    super(what);
  }
}

function serialiseString(s: string): string {
  if (!isWellFormed(s)) throw new NotJson('lone surrogate in');
  return JSON.stringify(s);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function within<T>(step: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof NotJson) error.path = step + error.path;
    throw error;
  }
}

function serialise(value: unknown, ancestors: Set<object>, depth: number): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NotJson('non-finite number at');
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) throw new NotJson('nesting too deep at');
      if (ancestors.has(value)) throw new NotJson('cycle at');
      ancestors.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = '[';
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new NotJson('array hole at', `[${i}]`);
          if (i > 0) out += ',';
          out += within(`[${i}]`, () => serialise(value[i], ancestors, depth + 1));
        }
        out += ']';
      } else {
        if (!isPlainObject(value)) throw new NotJson('not a plain object at');
        if (Object.getOwnPropertySymbols(value).length > 0) throw new NotJson('symbol key at');
        const record = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
        const keys = Object.keys(record).sort();
        out = '{';
        for (let k = 0; k < keys.length; k++) {
          const key = keys[k]!;
          if (k > 0) out += ',';
          out += within(
            `.${key}`,
            () => `${serialiseString(key)}:${serialise(record[key], ancestors, depth + 1)}`,
          );
        }
        out += '}';
      }
      ancestors.delete(value);
      return out;
    }
    default:
      throw new NotJson(`${typeof value} is not JSON at`);
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

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8Encode(canonicalJson(value));
}
