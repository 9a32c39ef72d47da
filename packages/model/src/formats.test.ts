import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { codePointLength, isIsoDate, isIsoDateTime, isWellFormedText, textProblem } from './formats';

describe('isIsoDate', () => {
  it.each(['2024-02-29', '2000-02-29', '1999-12-31', '0001-01-01'])('accepts %s', (value) => {
    expect(isIsoDate(value)).toBe(true);
  });

  it.each([
    '2023-02-29', // not a leap year
    '1900-02-29', // century, not a leap year
    '2024-04-31',
    '2024-13-01',
    '2024-00-10',
    '2024-01-00',
    '2024-5-1',
    '20240501',
    '2024-05-01T00:00:00Z',
    ' 2024-05-01',
    '',
  ])('rejects %j', (value) => {
    expect(isIsoDate(value)).toBe(false);
  });

  it('accepts the calendar day of any instant', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (date) => isIsoDate(date.toISOString().slice(0, 10)),
      ),
    );
  });
});

describe('isIsoDateTime', () => {
  it.each([
    '2024-05-01T09:30:00Z',
    '2024-05-01T09:30:00.123Z',
    '2024-05-01T09:30:00.123456789+02:00',
    '2024-05-01T23:59:59-11:30',
  ])('accepts %s', (value) => {
    expect(isIsoDateTime(value)).toBe(true);
  });

  it.each([
    '2024-05-01T09:30:00', // no zone: ambiguous between devices
    '2024-05-01 09:30:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T09:60:00Z',
    '2024-05-01T09:30:60Z',
    '2024-02-30T09:30:00Z',
    '2024-05-01T09:30:00+24:00',
    '2024-05-01T09:30:00+02:60',
    '2024-05-01T09:30Z',
    '2024-05-01',
    'yesterday',
    '2024-05-01T09:30:00.Z',
  ])('rejects %j', (value) => {
    expect(isIsoDateTime(value)).toBe(false);
  });

  it('accepts every Date#toISOString output', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (date) => isIsoDateTime(date.toISOString()),
      ),
    );
  });
});

// Strings of UTF-16 code units drawn so that pairs, lone halves and reversed halves all turn up.
const utf16 = fc.string({
  unit: fc.oneof(
    fc.constantFrom('a', 'é', '\uD83D', '\uDC8A', '\uD800', '\uDFFF', '\uDBFF', '\uDC00'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('isWellFormedText', () => {
  it.each(['', 'Peanut', 'Peanut 🥜', '💊'.repeat(3), '\u{10FFFF}', '\uFFFD'])('accepts %j', (value) => {
    expect(isWellFormedText(value)).toBe(true);
  });

  it.each([
    'Peanut 🥜'.slice(0, 8), // an emoji cut in two: a high surrogate at the end
    '🥜'.slice(1), // a low surrogate alone
    '\uDC8A\uD83D', // a pair in the wrong order
    'a\uD800b',
  ])('rejects %j', (value) => {
    expect(isWellFormedText(value)).toBe(false);
  });

  // The string iterator yields a lone surrogate as a code point of its own, in D800–DFFF.
  const reference = (value: string): boolean =>
    [...value].every((char) => {
      const point = char.codePointAt(0) ?? 0;
      return point < 0xd800 || point > 0xdfff;
    });

  it('finds every lone surrogate and nothing else', () => {
    fc.assert(fc.property(utf16, (value) => isWellFormedText(value) === reference(value)));
  });

  it('gives the same answers on engines without String.prototype.isWellFormed', async () => {
    const native = Object.getOwnPropertyDescriptor(String.prototype, 'isWellFormed');
    expect(native).toBeDefined();
    delete (String.prototype as { isWellFormed?: unknown }).isWellFormed;
    try {
      vi.resetModules();
      const portable = await import('./formats');
      expect(portable.isWellFormedText).not.toBe(isWellFormedText);
      fc.assert(fc.property(utf16, (value) => portable.isWellFormedText(value) === reference(value)));
    } finally {
      if (native) Object.defineProperty(String.prototype, 'isWellFormed', native);
    }
  });
});

describe('codePointLength', () => {
  it('counts a surrogate pair once and anything else per code unit', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('💊'.repeat(101))).toBe(101);
    expect(codePointLength('a🥜b')).toBe(3);
    expect(codePointLength('\uD83D')).toBe(1);
  });

  it('is the number of code points the string iterator yields', () => {
    fc.assert(fc.property(utf16, (value) => codePointLength(value) === [...value].length));
  });
});

describe('textProblem', () => {
  const reference = (value: string, min: number | undefined, max: number | undefined) => {
    const native = (value as string & { isWellFormed(): boolean }).isWellFormed();
    const length = [...value].length;
    if (!native) return 'ill-formed';
    if (min !== undefined && length < min) return 'too-short';
    if (max !== undefined && length > max) return 'too-long';
    return undefined;
  };

  it('matches counting every code point (the shortcuts on code units never change the answer)', () => {
    const bound = fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined });
    fc.assert(
      fc.property(utf16, bound, bound, (value, min, max) => {
        expect(textProblem(value, min, max)).toBe(reference(value, min, max));
      }),
    );
  });

  it('bounds by code points: 200 emoji fit 200 characters, 201 do not', () => {
    expect(textProblem('💊'.repeat(200), 1, 200)).toBeUndefined();
    expect(textProblem('💊'.repeat(201), 1, 200)).toBe('too-long');
    expect(textProblem('', 1, 200)).toBe('too-short');
    expect(textProblem(42, 1, 200)).toBe('not-string');
  });
});
