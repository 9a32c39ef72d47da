// Why instants are not compared with Date.parse: ECMA-262 defines it only for its Date Time String
// Format (`YYYY-MM-DDTHH:mm:ss.sssZ`, three fraction digits); other fraction counts are up to the engine.
// This records what this engine (Node 20, V8) does with the forms the model takes (isIsoDateTime).
import { describe, expect, it } from 'vitest';
import { isIsoDateTime } from './formats';

describe('Date.parse on the instants the model takes (this engine)', () => {
  const forms = [
    '2026-01-01T10:00:00Z',
    '2026-01-01T10:00:00.1Z',
    '2026-01-01T10:00:00.12Z',
    '2026-01-01T10:00:00.123Z',
    '2026-01-01T10:00:00.1234Z',
    '2026-01-01T10:00:00.12345Z',
    '2026-01-01T10:00:00.123456Z',
    '2026-01-01T10:00:00.1234567Z',
    '2026-01-01T10:00:00.12345678Z',
    '2026-01-01T10:00:00.123456789Z',
    '2026-01-01T12:00:00.123456789+02:00',
    '2026-01-02T09:59:00.1+23:59',
    '2025-12-31T10:01:00.12-23:59',
  ];

  it('reads every form (no NaN here; another engine may differ)', () => {
    for (const form of forms) {
      expect(isIsoDateTime(form), form).toBe(true);
      expect(Number.isNaN(Date.parse(form)), form).toBe(false);
    }
    expect(Date.parse('2026-01-02T09:59:00.1+23:59')).toBe(Date.parse('2026-01-01T10:00:00.100Z'));
  });

  it('drops digits past the millisecond: instants within one millisecond read as equal', () => {
    expect(Date.parse('2026-01-01T10:00:00.1239Z')).toBe(Date.parse('2026-01-01T10:00:00.1231Z'));
    expect(Date.parse('2026-01-01T10:00:00.123999999Z')).toBe(Date.parse('2026-01-01T10:00:00.123Z'));
    // Truncated, not rounded: the reading is the millisecond the instant falls in.
    expect(Date.parse('2026-01-01T10:00:00.9999Z')).toBe(Date.parse('2026-01-01T10:00:00.999Z'));
  });
});
