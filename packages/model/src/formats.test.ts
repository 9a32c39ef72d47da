import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  PARTIAL_DATE_PATTERN,
  codePointLength,
  hasVisibleCharacter,
  isIsoDate,
  isFhirInstant,
  isIsoDateTime,
  isWellFormedText,
  textProblem,
} from './formats';

describe('isIsoDate', () => {
  it.each(['2024-02-29', '2000-02-29', '1999-12-31', '0001-01-01', '9999-12-31'])('accepts %s', (value) => {
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
    '0000-01-01', // FHIR and toISOString know no year 0000
    '0000-02-29',
    '+010000-01-01',
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
    '0001-01-01T00:00:00Z',
    '0001-01-01T01:00:00+01:00',
    '0001-01-01T00:30:00-01:00',
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T22:59:59.999-01:00',
    '9999-12-31T23:30:00+01:00',
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
    '0000-12-31T23:00:00Z',
    '0001-01-01T00:30:00+01:00', // 0000-12-31T23:30:00Z
    '0001-01-01T00:59:59.999+01:00',
    '9999-12-31T23:30:00-01:00', // 10000-01-01T00:30:00Z
  ])('rejects %j', (value) => {
    expect(isIsoDateTime(value)).toBe(false);
  });

  it('accepts an instant exactly when its UTC form is within years 0001–9999', () => {
    const edge = fc.record({
      day: fc.constantFrom('0001-01-01', '9999-12-31', '2024-05-01'),
      seconds: fc.integer({ min: 0, max: 24 * 3600 - 1 }),
      sign: fc.constantFrom('+', '-'),
      offset: fc.integer({ min: 0, max: 23 * 60 + 59 }),
    });
    const pad = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(edge, ({ day, seconds, sign, offset }) => {
        const time = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
        const value = `${day}T${time}${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`;
        const utcYear = new Date(value).getUTCFullYear();
        expect(isIsoDateTime(value)).toBe(utcYear >= 1 && utcYear <= 9999);
      }),
    );
  });
});

describe('isFhirInstant', () => {
  it.each([
    '2024-05-01T09:30:00Z',
    '2024-05-01T09:30:00+14:00',
    '2024-05-01T09:30:00-14:00',
    '2024-05-01T09:30:00.5+05:45',
  ])('accepts %s', (value) => {
    expect(isFhirInstant(value)).toBe(true);
  });

  it.each([
    '2024-05-01T09:30:00+14:01', // a date-time Hale takes, in a zone FHIR R4 does not have
    '2024-05-01T09:30:00-15:00',
    '2024-05-01T09:30:00+23:59',
    '2024-05-01T09:30:00', // no zone
    'yesterday',
  ])('rejects %j', (value) => {
    expect(isFhirInstant(value)).toBe(false);
  });
});

describe('PARTIAL_DATE_PATTERN', () => {
  const partial = new RegExp(PARTIAL_DATE_PATTERN);

  it.each(['0001', '1995', '9999', '1995-01', '1995-12'])('accepts %s', (value) => {
    expect(partial.test(value)).toBe(true);
  });

  it.each([
    '0000',
    '0000-05',
    '1995-00',
    '1995-13',
    '1995-1',
    '995',
    '19950',
    '1995-06-01',
    ' 1995',
    '1995 ',
  ])('rejects %j', (value) => {
    expect(partial.test(value)).toBe(false);
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

describe('hasVisibleCharacter', () => {
  it.each(['a', ' a ', '💊', '\u{1FACE}', 'e\u0301', '\u0301', '李', '-', '\uE000', '\u{10FFFD}'])(
    'finds one in %j',
    (value) => {
      expect(hasVisibleCharacter(value)).toBe(true);
    },
  );

  it.each([
    '',
    ' \t\r\n',
    '\u00a0\u2007\u202f\u3000', // no-break and ideographic spaces
    '\u200b\u200c\u200d\u2060\ufeff', // zero-width space, joiners, word joiner, BOM
    '\u00ad\u034f\u061c\u180e\u200e\u202e\u2066', // soft hyphen, CGJ, bidi marks and controls
    '\u115f\u3164\uffa0', // Hangul fillers
    '\ufe0f\u{E0041}\u{E0100}', // variation selectors and a tag
    '\u0000\u0007\u007f\u0085', // controls
    '\u2800', // Braille blank
    '\uD83D', // half an emoji
  ])('finds none in %j', (value) => {
    expect(hasVisibleCharacter(value)).toBe(false);
  });
});

describe('textProblem', () => {
  const reference = (value: string, min: number | undefined, max: number | undefined) => {
    const native = (value as string & { isWellFormed(): boolean }).isWellFormed();
    const characters = [...value];
    if (!native) return 'ill-formed';
    if (min !== undefined && characters.length < min) return 'too-short';
    if (min !== undefined && min > 0 && !characters.some(hasVisibleCharacter)) return 'too-short';
    if (max !== undefined && characters.length > max) return 'too-long';
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

  it('refuses required text with nothing visible, and only required text', () => {
    expect(textProblem(' \u200b ', 1, 200)).toBe('too-short');
    expect(textProblem(' \u200b ', 0, 200)).toBeUndefined();
    expect(textProblem(' \u200b ', undefined, 200)).toBeUndefined();
    expect(textProblem(' \u200bx ', 1, 200)).toBeUndefined();
  });
});
