import { describe, expect, it } from 'vitest';
import { contentsOf, expiresAtOf, linkStatus, passcodeProblem, type LinkInfo } from './link-status';

const link = (extra: Partial<LinkInfo> = {}): LinkInfo => ({
  linkId: 'AAAAAAAAAAAAAAAAAAAAAA',
  passcode: false,
  emergency: false,
  createdAt: '2025-01-01T00:00:00.000Z',
  attemptsLeft: 3,
  accessCount: 0,
  contents: [],
  ...extra,
});
const NOW = Date.parse('2025-02-01T00:00:00.000Z');

describe('a shared link in its list', () => {
  it('opens while not revoked, expired or locked; revoked wins over the others', () => {
    expect(linkStatus(link(), NOW)).toBe('active');
    expect(linkStatus(link({ expiresAt: '2025-01-31T23:59:59.000Z' }), NOW)).toBe('expired');
    expect(linkStatus(link({ expiresAt: '2025-02-01T00:00:01.000Z' }), NOW)).toBe('active');
    expect(linkStatus(link({ passcode: true, attemptsLeft: 0 }), NOW)).toBe('locked');
    // Without a passcode, the attempt count means nothing.
    expect(linkStatus(link({ passcode: false, attemptsLeft: 0 }), NOW)).toBe('active');
    expect(
      linkStatus(link({ revokedAt: '2025-01-02T00:00:00.000Z', passcode: true, attemptsLeft: 0 }), NOW),
    ).toBe('revoked');
  });

  it('says a one-time link was used when its opening revoked it, revoked when the patient did', () => {
    const at = '2025-01-05T00:00:00.000Z';
    expect(linkStatus(link({ oneTime: true }), NOW)).toBe('active');
    expect(linkStatus(link({ oneTime: true, accessCount: 1, lastAccessAt: at, revokedAt: at }), NOW)).toBe(
      'used',
    );
    expect(linkStatus(link({ oneTime: true, revokedAt: at }), NOW)).toBe('revoked');
    expect(linkStatus(link({ accessCount: 1, lastAccessAt: at, revokedAt: at }), NOW)).toBe('revoked');
  });

  it('names what it carries by the chart’s kinds', () => {
    expect(
      contentsOf(
        link({
          contents: [
            { type: 'allergy', count: 2 },
            { type: 'condition', count: 1 },
          ],
        }),
      ),
    ).toEqual([
      { slug: 'allergies', count: 2 },
      { slug: 'conditions', count: 1 },
    ]);
  });

  it('expires after the days chosen, or never; passcodes of 4 to 64 characters', () => {
    expect(expiresAtOf(7, NOW)).toBe('2025-02-08T00:00:00.000Z');
    expect(expiresAtOf(null, NOW)).toBeUndefined();
    expect(passcodeProblem('')).toBeNull();
    expect(passcodeProblem('123')).toBe('short');
    expect(passcodeProblem('1234')).toBeNull();
    expect(passcodeProblem('x'.repeat(65))).toBe('long');
  });
});
