import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertJsonValue, canonicalBytes, canonicalJson, HaleCryptoError, MAX_JSON_DEPTH } from './index';

/** Rebuilds a JSON value with every object's keys inserted in the order `order` gives. */
function reorder(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, order));
  if (value !== null && typeof value === 'object') {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // defineProperty, not `out[k] =`: fast-check generates "__proto__" keys, and assignment would set
    // the prototype instead of adding the member (the value would no longer be plain JSON).
    for (const k of order(Object.keys(src))) {
      Object.defineProperty(out, k, { value: reorder(src[k], order), enumerable: true, writable: true });
    }
    return out;
  }
  return value;
}

/** RFC 8785 writes -0 as 0, so -0 cannot survive a round trip; compare with it normalised. */
const noNegativeZero = (v: unknown): unknown =>
  Object.is(v, -0)
    ? 0
    : Array.isArray(v)
      ? v.map(noNegativeZero)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegativeZero(x)]))
        : v;

const jsonValue = fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 5 }).map(noNegativeZero);

function invalidInput(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof HaleCryptoError ? e.code : `untyped: ${String(e)}`;
  }
  return undefined;
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], A: { z: 0, y: -0 } })).toBe(
      '{"A":{"y":0,"z":0},"a":[true,null,"x"],"b":1}',
    );
    // RFC 8785 §3.2.3 compares UTF-16 code units: U+20AC (€) < U+D83D (first unit of 😀).
    expect(canonicalJson({ '😀': 1, '€': 2, '1': 3, '\r': 4 })).toBe('{"\\r":4,"1":3,"€":2,"😀":1}');
  });

  it('serialises numbers like RFC 8785 / ECMAScript', () => {
    const cases: Array<[number, string]> = [
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [-0, '0'],
      [123456789012345680000, '123456789012345680000'],
      [4.5, '4.5'],
      [2 ** 53, '9007199254740992'],
    ];
    for (const [n, text] of cases) expect(canonicalJson(n)).toBe(text);
  });

  it('escapes strings minimally', () => {
    expect(canonicalJson('\u0000\u001f"\\/\u2028é')).toBe('"\\u0000\\u001f\\"\\\\/\u2028é"');
    expect(new TextDecoder().decode(canonicalBytes({ k: 'é' }))).toBe('{"k":"é"}');
  });

  it('refuses everything that is not plain JSON with INVALID_INPUT', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const cyclicArray: unknown[] = [];
    cyclicArray.push([cyclicArray]);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = [deep];
    class Point {
      x = 1;
    }
    const bad: unknown[] = [
      undefined,
      { a: undefined },
      [1, undefined],
      // eslint-disable-next-line no-sparse-arrays
      [1, , 2],
      () => 1,
      { f: () => 1 },
      Symbol('s'),
      { [Symbol('s')]: 1 },
      Object.assign([1], { extra: 'x' }),
      Object.assign([1], { [Symbol('s')]: 1 }),
      10n,
      NaN,
      Infinity,
      { n: -Infinity },
      cyclic,
      cyclicArray,
      new Date(0),
      new Map(),
      new Uint8Array(2),
      new Point(),
      '\uD800',
      { '\uDC00x': 1 },
      'a\uDBFFb',
      deep,
    ];
    for (const value of bad) expect(invalidInput(() => canonicalJson(value))).toBe('INVALID_INPUT');
  });

  it('writes -0 as 0, as RFC 8785 does', () => {
    expect(canonicalJson({ a: -0, b: [-0] })).toBe('{"a":0,"b":[0]}');
  });

  it('allows shared (non-cyclic) references and null-prototype objects', () => {
    const shared = { x: 1 };
    const bare = Object.create(null) as Record<string, unknown>;
    bare['k'] = shared;
    expect(canonicalJson({ a: shared, b: shared, c: bare })).toBe(
      '{"a":{"x":1},"b":{"x":1},"c":{"k":{"x":1}}}',
    );
    expect(canonicalJson('\uD83D\uDE00')).toBe('"😀"');
  });

  it('is deterministic under key reordering (property)', () => {
    fc.assert(
      fc.property(jsonValue, fc.integer(), (value, seed) => {
        const shuffle = (keys: string[]) =>
          keys
            .map((k, i) => ({ k, r: Math.sin(seed + i * 7919) }))
            .sort((a, b) => a.r - b.r)
            .map((x) => x.k);
        const reversed = reorder(value, (keys) => [...keys].reverse());
        const shuffled = reorder(value, shuffle);
        expect(canonicalJson(reversed)).toBe(canonicalJson(value));
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value));
      }),
    );
  });

  it('parse(canonical(x)) deep-equals x and canonical form is a fixed point (property)', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const text = canonicalJson(value);
        const parsed: unknown = JSON.parse(text);
        expect(parsed).toStrictEqual(value);
        expect(canonicalJson(parsed)).toBe(text);
      }),
    );
  });
});

describe('assertJsonValue', () => {
  const message = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      return e instanceof HaleCryptoError ? `${e.code}: ${e.message}` : `untyped: ${String(e)}`;
    }
    return undefined;
  };

  it('accepts JSON values, including null-prototype objects and shared references', () => {
    const shared = { x: [1, 'a', null, true] };
    const bare = Object.create(null) as Record<string, unknown>;
    bare['k'] = shared;
    for (const value of [null, 0, -0, 1.5, '', '😀', false, [], {}, { a: shared, b: shared, c: bare }]) {
      expect(() => assertJsonValue(value)).not.toThrow();
    }
  });

  it('ignores object members whose value is undefined, as JSON.stringify does', () => {
    const value = { a: undefined, b: { c: undefined, d: [1] }, '\uD800': undefined };
    expect(() => assertJsonValue(value)).not.toThrow();
    expect(JSON.stringify(value)).toBe('{"b":{"d":[1]}}');
    // canonicalJson stays strict about them.
    expect(invalidInput(() => canonicalJson(value))).toBe('INVALID_INPUT');
  });

  it('refuses what canonicalJson refuses (other than undefined members) with INVALID_INPUT', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = { k: deep };
    const bad: unknown[] = [
      undefined,
      [1, undefined],
      // eslint-disable-next-line no-sparse-arrays
      [1, , 2],
      { f: () => 1 },
      Symbol('s'),
      { [Symbol('s')]: 1 },
      { a: Object.assign([1], { extra: 'x' }) },
      Object.assign([1], { [Symbol('s')]: 1 }),
      10n,
      NaN,
      { n: -Infinity },
      cyclic,
      new Date(0),
      new Map(),
      new Uint8Array(2),
      { '\uDC00x': 1 },
      ['a\uDBFFb'],
      deep,
    ];
    for (const value of bad) {
      expect(invalidInput(() => assertJsonValue(value))).toBe('INVALID_INPUT');
      expect(invalidInput(() => canonicalJson(value))).toBe('INVALID_INPUT');
    }
  });

  it('names the problem and its path like canonicalJson does', () => {
    const value = { z: 1, a: [0, { b: [null, NaN] }] };
    expect(message(() => assertJsonValue(value))).toBe(
      'INVALID_INPUT: assertJsonValue: non-finite number at $.a[1].b[1]',
    );
    expect(message(() => canonicalJson(value))).toBe(
      'INVALID_INPUT: canonicalJson: non-finite number at $.a[1].b[1]',
    );
    // eslint-disable-next-line no-sparse-arrays
    const holey = { x: [1, , 2] };
    expect(message(() => assertJsonValue(holey))).toBe(
      'INVALID_INPUT: assertJsonValue: array hole at $.x[1]',
    );
    // JSON.stringify would write [1] and drop the member; a signature over that would not cover it.
    const extra = { x: [0, Object.assign([1], { extra: 'dropped' })] };
    expect(message(() => canonicalJson(extra))).toBe(
      'INVALID_INPUT: canonicalJson: array with a non-index property at $.x[1]',
    );
    expect(message(() => assertJsonValue(extra))).toBe(
      'INVALID_INPUT: assertJsonValue: array with a non-index property at $.x[1]',
    );
    // JSON.stringify would write what toJSON answers, and a worker would get a plain copy of the items.
    class Tagged extends Array<unknown> {
      toJSON(): string {
        return 'other';
      }
    }
    const subclass = { x: [Tagged.of(1, 2)] };
    expect(message(() => canonicalJson(subclass))).toBe(
      'INVALID_INPUT: canonicalJson: not a plain array at $.x[0]',
    );
    expect(message(() => assertJsonValue(subclass))).toBe(
      'INVALID_INPUT: assertJsonValue: not a plain array at $.x[0]',
    );
    const reparented = [Object.setPrototypeOf([1], Object.prototype) as unknown];
    expect(message(() => canonicalJson(reparented))).toBe(
      'INVALID_INPUT: canonicalJson: not a plain array at $[0]',
    );
  });

  it('refuses a plain object or array with a toJSON of its own that Object.keys does not see', () => {
    // Not enumerable: canonicalJson (and a worker's structured clone) would see {a: 1} or [1], while
    // JSON.stringify (the at-rest seal) writes what toJSON answers: one value, two contents.
    const hidden = <T extends object>(value: T): T =>
      Object.defineProperty(value, 'toJSON', { value: () => 'other', enumerable: false });
    for (const [value, path] of [
      [{ x: hidden({ a: 1 }) }, '$.x'],
      [{ x: [hidden([1])] }, '$.x[0]'],
      [hidden(Object.create(null) as object), '$'],
    ] as const) {
      expect(JSON.stringify(value)).toContain('other');
      expect(message(() => canonicalJson(value))).toBe(`INVALID_INPUT: canonicalJson: toJSON at ${path}`);
      expect(message(() => assertJsonValue(value))).toBe(`INVALID_INPUT: assertJsonValue: toJSON at ${path}`);
    }
    // A member named toJSON that is no function is data like any other, and JSON.stringify writes it.
    expect(canonicalJson({ toJSON: 1 })).toBe('{"toJSON":1}');
    expect(() => assertJsonValue({ toJSON: 'x' })).not.toThrow();
  });

  it('accepts what canonicalJson accepts, and only what it accepts once undefined members are dropped (property)', () => {
    const anything = fc.anything({
      withNullPrototype: true,
      withBoxedValues: true,
      withMap: true,
      withSparseArray: true,
      withTypedArray: true,
      withDate: true,
      withBigInt: true,
      maxDepth: 4,
    });
    fc.assert(
      fc.property(anything, (value) => {
        const checked = invalidInput(() => assertJsonValue(value));
        if (invalidInput(() => canonicalJson(value)) === undefined) expect(checked).toBeUndefined();
        if (checked === undefined) {
          const text = JSON.stringify(value);
          expect(invalidInput(() => canonicalJson(JSON.parse(text)))).toBeUndefined();
        } else {
          expect(checked).toBe('INVALID_INPUT');
          expect(invalidInput(() => canonicalJson(value))).toBe('INVALID_INPUT');
        }
      }),
    );
  });
});
