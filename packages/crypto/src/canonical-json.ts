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

function serialiseString(s: string, where: string): string {
  if (LONE_SURROGATE.test(s)) throw cryptoError('INVALID_INPUT', `canonicalJson: lone surrogate in ${where}`);
  return JSON.stringify(s);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serialise(value: unknown, path: string, ancestors: Set<object>, depth: number): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value))
        throw cryptoError('INVALID_INPUT', `canonicalJson: non-finite number at ${path}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH)
        throw cryptoError('INVALID_INPUT', `canonicalJson: nesting too deep at ${path}`);
      if (ancestors.has(value)) throw cryptoError('INVALID_INPUT', `canonicalJson: cycle at ${path}`);
      ancestors.add(value);
      let out: string;
      if (Array.isArray(value)) {
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw cryptoError('INVALID_INPUT', `canonicalJson: array hole at ${path}[${i}]`);
          items.push(serialise(value[i], `${path}[${i}]`, ancestors, depth + 1));
        }
        out = `[${items.join(',')}]`;
      } else {
        if (!isPlainObject(value)) {
          throw cryptoError('INVALID_INPUT', `canonicalJson: not a plain object at ${path}`);
        }
        if (Object.getOwnPropertySymbols(value).length > 0) {
          throw cryptoError('INVALID_INPUT', `canonicalJson: symbol key at ${path}`);
        }
        const record = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
        const keys = Object.keys(record).sort();
        const members: string[] = [];
        for (const key of keys) {
          const child = `${path}.${key}`;
          members.push(
            `${serialiseString(key, child)}:${serialise(record[key], child, ancestors, depth + 1)}`,
          );
        }
        out = `{${members.join(',')}}`;
      }
      ancestors.delete(value);
      return out;
    }
    default:
      throw cryptoError('INVALID_INPUT', `canonicalJson: ${typeof value} is not JSON at ${path}`);
  }
}

// The fast path builds no paths and tracks no ancestors (a cycle ends at MAX_JSON_DEPTH); on any
// failure the careful path above runs again to name what and where.
class NotCanonical extends Error {}

const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

function fast(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new NotCanonical();
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NotCanonical();
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) throw new NotCanonical();
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new NotCanonical();
          if (i > 0) out += ',';
          out += fast(value[i], depth + 1);
        }
        return `${out}]`;
      }
      if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) throw new NotCanonical();
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        if (!isWellFormed(key)) throw new NotCanonical();
        if (k > 0) out += ',';
        out += `${JSON.stringify(key)}:${fast(record[key], depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw new NotCanonical();
  }
}

/** Canonical JSON text of a JSON value; throws HaleCryptoError INVALID_INPUT for anything else. */
export function canonicalJson(value: unknown): string {
  try {
    return fast(value, 0);
  } catch (error) {
    if (!(error instanceof NotCanonical) && !(error instanceof RangeError)) throw error;
    return serialise(value, '$', new Set(), 0);
  }
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8Encode(canonicalJson(value));
}
