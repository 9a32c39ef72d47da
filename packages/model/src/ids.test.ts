import { describe, expect, it } from 'vitest';
import { ModelError } from './errors';
import { idTimestamp, isAccountId, isId, newId, nowIso } from './ids';

describe('newId', () => {
  // First in the file: later tests feed future clocks, and the monotonic generator then stays ahead.
  it('encodes the current time by default', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(idTimestamp(id)).toBeGreaterThanOrEqual(before);
    expect(idTimestamp(id)).toBeLessThanOrEqual(after);
  });

  it('is unique and sorts in creation order across 10k calls', () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every(isId)).toBe(true);
  });

  it('sorts by the clock time it was created at', () => {
    const early = newId(() => Date.UTC(2030, 0, 1));
    const later = newId(() => Date.UTC(2030, 0, 2));
    expect(early < later).toBe(true);
    expect(idTimestamp(early)).toBe(Date.UTC(2030, 0, 1));
    expect(idTimestamp(later)).toBe(Date.UTC(2030, 0, 2));
  });

  it('keeps increasing when the clock stands still or steps back', () => {
    const t = Date.UTC(2031, 5, 1);
    const a = newId(() => t);
    const b = newId(() => t);
    const c = newId(() => t - 60_000);
    expect(a < b && b < c).toBe(true);
  });

  it('spreads the random part over the whole alphabet', () => {
    // Distinct ms values so the monotonic generator draws fresh randomness each time.
    const lastChars = new Set(
      Array.from({ length: 2000 }, (_, i) => newId(() => Date.UTC(2040, 0, 1) + i).at(-1)),
    );
    expect(lastChars.size).toBe(32);
  });
});

describe('isId / idTimestamp', () => {
  it.each([
    '',
    '01ARZ3NDEKTSV4RRFFQ69G5FA', // 25 chars
    '01ARZ3NDEKTSV4RRFFQ69G5FAVX',
    '01arz3ndektsv4rrffq69g5fav', // lower case is not canonical
    '01ARZ3NDEKTSV4RRFFQ69G5FAI', // I is not in Crockford base32
    '81ARZ3NDEKTSV4RRFFQ69G5FAV', // beyond 48-bit time
  ])('rejects %j', (value) => {
    expect(isId(value)).toBe(false);
    expect(() => idTimestamp(value)).toThrow(ModelError);
  });

  it('reports INVALID_ID with the offending value', () => {
    try {
      idTimestamp('nope');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ModelError);
      expect((error as ModelError).detail).toMatchObject({ code: 'INVALID_ID', value: 'nope' });
    }
  });

  it('rejects non-strings', () => {
    expect(isId(42)).toBe(false);
    expect(isId(null)).toBe(false);
  });
});

describe('isAccountId', () => {
  it('accepts 22 base64url characters only', () => {
    expect(isAccountId('Qk3mX9f0aLr2Vb8Tn4Yc1w')).toBe(true);
    expect(isAccountId('Qk3mX9f0aLr2Vb8Tn4Yc-_')).toBe(true);
    expect(isAccountId('Qk3mX9f0aLr2Vb8Tn4Yc1')).toBe(false);
    expect(isAccountId('Qk3mX9f0aLr2Vb8Tn4Yc1w=')).toBe(false);
    expect(isAccountId('Qk3mX9f0aLr2Vb8Tn4Yc+/')).toBe(false);
  });
});

describe('nowIso', () => {
  it('formats the injected clock as UTC ISO-8601', () => {
    expect(nowIso(() => Date.UTC(2024, 4, 1, 9, 30))).toBe('2024-05-01T09:30:00.000Z');
  });

  it('defaults to the system clock', () => {
    const before = Date.now();
    const value = Date.parse(nowIso());
    expect(value).toBeGreaterThanOrEqual(before - 1);
    expect(value).toBeLessThanOrEqual(Date.now());
  });
});
