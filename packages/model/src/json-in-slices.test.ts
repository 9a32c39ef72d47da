// JSON read in slices answers what JSON.parse answers, for any text: Bundles split by their entries, texts
// it must not split (keys written with escapes, "entry" twice, elements not objects), and broken JSON.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonSteps, readJson } from './json-in-slices';

const asParse = (text: string) => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, tooDeep: false, reason: (error as Error).message };
  }
};

/** A Bundle-like object as text, with the pieces that could fool a scan (brackets and quotes in strings). */
const tricky = fc.constantFrom(
  '',
  '[',
  ']',
  '{',
  '}',
  '"',
  '\\',
  ':',
  ',',
  'entry',
  '"entry":[',
  '\u00e9',
  '\ud83d\ude00',
);
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ unit: tricky, maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null)),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constant('entry')), tie('node'), { maxKeys: 3 }),
  ),
})).node;
const bundleText = fc
  .record({
    before: fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 2 }),
    entry: fc.array(fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 3 }), value), {
      maxLength: 5,
    }),
    after: fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 2 }),
    indent: fc.constantFrom(undefined, 1, '\t'),
  })
  .map(({ before, entry, after, indent }) =>
    JSON.stringify({ ...before, resourceType: 'Bundle', entry, ...after }, null, indent),
  );

describe('readJson', () => {
  it('answers what JSON.parse answers for Bundles, split or not (seeded)', () => {
    fc.assert(
      fc.property(bundleText, (text) => {
        expect(readJson(text, 1000)).toEqual(asParse(text));
      }),
      { seed: 63, numRuns: 500 },
    );
  });

  it('and for texts cut or changed anywhere (broken JSON gives JSON.parse’s error)', () => {
    fc.assert(
      fc.property(bundleText, fc.nat(), fc.constantFrom('', '{', ']', '"', ',', 'x'), (text, at, put) => {
        const cut = at % (text.length + 1);
        const changed = text.slice(0, cut) + put + text.slice(cut + 1);
        expect(readJson(changed, 1000)).toEqual(asParse(changed));
      }),
      { seed: 6302, numRuns: 500 },
    );
  });

  it('the cases a split must not trust: "entry" twice, an escaped top-level key, an element not an object', () => {
    for (const text of [
      '{"entry":[{"a":1}],"entry":[{"b":2}]}',
      '{"entry":[{"a":1}],"entr\\u0079":[{"b":2}]}',
      '{"entr\\u0079":[{"b":2}],"entry":[{"a":1}]}',
      '{"entry":[{"a":1},2,"x",null,[3]]}',
      '{"entry":{"a":[1]}}',
      '{"a":"entry","b":["entry"],"entry" : [ {"c":"]"} , {"d":"\\"}"} ]}',
      '{"entry":[]} {"entry":[]}',
      '{"entry":[{"a":1}]}trailing',
    ])
      expect(readJson(text, 1000)).toEqual(asParse(text));
  });

  it('refuses a nesting past the limit before parsing, and yields between the entries it parses', () => {
    expect(readJson('[[[[1]]]]', 3)).toEqual({ ok: false, tooDeep: true, depth: 4 });
    const text = JSON.stringify({ resourceType: 'Bundle', entry: [{ a: 1 }, { b: 2 }, { c: 3 }] });
    const steps = jsonSteps(text, 10);
    let yields = 0;
    for (let step = steps.next(); step.done !== true; step = steps.next()) yields++;
    expect(yields).toBe(3);
  });
});
