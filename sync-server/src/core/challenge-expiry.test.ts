// The boundary itself; each path's use of it is tested at the same instant in
// plugins/accounts-refusals.test.ts (HTTP) and plugins/sync-ws-refusals.test.ts (socket).
import { describe, expect, it } from 'vitest';
import { challengeExpired } from './challenge-expiry';

describe('challengeExpired', () => {
  it('counts up to the millisecond before expiresAt; expired at it and after', () => {
    const expiresAt = Date.parse('2030-01-01T00:01:00.000Z');
    expect(challengeExpired(expiresAt, expiresAt - 60_000)).toBe(false);
    expect(challengeExpired(expiresAt, expiresAt - 1)).toBe(false);
    expect(challengeExpired(expiresAt, expiresAt)).toBe(true);
    expect(challengeExpired(expiresAt, expiresAt + 1)).toBe(true);
  });
});
