// Grant states as screens show them: given grants refined by the clock and the re-keying, and the
// charts shared with this account grouped by patient.
import { describe, expect, it } from 'vitest';
import type { StreamAccess } from '@hale/protocol';
import type { GrantStatus, StoredGrant } from '../consent/consent';
import {
  EXPIRING_SOON_MS,
  expiringWindowMs,
  grantStateOf,
  receivedGrantsOf,
  type SeenEnd,
} from './grant-views';

const NOW = Date.parse('2026-01-10T12:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const DAY = 24 * 3600_000;

const given = (
  status: GrantStatus,
  expiresAt: number,
  marks: { revokedAt?: string; rotatedAt?: string } = {},
  start = NOW - 365 * DAY,
): StoredGrant & { status: GrantStatus } =>
  ({
    grant: { grantId: 'G1', expiresAt: iso(expiresAt), start: iso(start) },
    sig: 'sig',
    ...marks,
    status,
  }) as unknown as StoredGrant & { status: GrantStatus };

describe('grantStateOf', () => {
  it('an active grant ending within EXPIRING_SOON_MS is expiring; one ending later is active', () => {
    expect(grantStateOf(given('active', NOW + EXPIRING_SOON_MS), NOW)).toBe('expiring');
    expect(grantStateOf(given('active', NOW + EXPIRING_SOON_MS + 1), NOW)).toBe('active');
    // The clock moving on turns the same grant expiring.
    expect(grantStateOf(given('active', NOW + 30 * DAY), NOW + 29.5 * DAY)).toBe('expiring');
    expect(grantStateOf(given('active', NOW + 30 * DAY), NOW + 22 * DAY)).toBe('active');
  });

  it('a long grant is expiring in its last week, not only its last day', () => {
    expect(EXPIRING_SOON_MS).toBe(7 * DAY);
    expect(grantStateOf(given('active', NOW + 6 * DAY), NOW)).toBe('expiring');
    expect(grantStateOf(given('active', NOW + 8 * DAY), NOW)).toBe('active');
  });

  it('a short grant is expiring only in the last fifth of its length', () => {
    const HOUR = 3600_000;
    expect(expiringWindowMs(30 * DAY)).toBe(6 * DAY);
    expect(expiringWindowMs(365 * DAY)).toBe(7 * DAY);
    expect(expiringWindowMs(null)).toBe(7 * DAY);
    expect(expiringWindowMs(0)).toBe(7 * DAY);
    // A 12-hour grant given now: active, expiring from 2 h 24 min before its end.
    const visit = (now: number) => grantStateOf(given('active', NOW + 12 * HOUR, {}, NOW), now);
    expect(visit(NOW)).toBe('active');
    expect(visit(NOW + 9 * HOUR)).toBe('active');
    expect(visit(NOW + 10 * HOUR)).toBe('expiring');
    // A 3-day grant: its last 14.4 hours.
    const short = (now: number) => grantStateOf(given('active', NOW + 3 * DAY, {}, NOW), now);
    expect(short(NOW + DAY)).toBe('active');
    expect(short(NOW + 2 * DAY)).toBe('active');
    expect(short(NOW + 2.5 * DAY)).toBe('expiring');
  });

  it('a revoked or expired grant whose streams are not re-keyed yet is rotation-in-progress', () => {
    expect(grantStateOf(given('revoked', NOW + DAY, { revokedAt: iso(NOW) }), NOW)).toBe(
      'rotation-in-progress',
    );
    expect(grantStateOf(given('expired', NOW - DAY), NOW)).toBe('rotation-in-progress');
    expect(grantStateOf(given('revoked', NOW + DAY, { revokedAt: iso(NOW), rotatedAt: iso(NOW) }), NOW)).toBe(
      'revoked',
    );
    expect(grantStateOf(given('expired', NOW - DAY, { rotatedAt: iso(NOW) }), NOW)).toBe('expired');
  });

  it('keeps the other statuses', () => {
    expect(grantStateOf(given('revocation-pending', NOW + DAY), NOW)).toBe('revocation-pending');
    expect(grantStateOf(given('not-started', NOW + 40 * DAY), NOW)).toBe('not-started');
  });
});

const ME = 'ProviderAccount0000001';
const P1 = 'PatientAccount00000001';
const P2 = 'PatientAccount00000002';
const access = (patientId: string, type: string, more: Partial<StreamAccess> = {}): StreamAccess =>
  ({
    stream: `${patientId}/${type}`,
    patientId,
    type,
    access: 'read',
    head: 3,
    epoch: 0,
    ...more,
  }) as StreamAccess;

describe('receivedGrantsOf', () => {
  it('groups the streams shared with this account by patient, leaving out its own and the audit stream', () => {
    const charts = receivedGrantsOf(
      ME,
      [
        access(P2, 'allergy', { grantId: 'G2', expiresAt: iso(NOW + 30 * DAY) }),
        access(P1, 'lab-result', { access: 'write', grantId: 'G1', expiresAt: iso(NOW + 60 * DAY) }),
        access(P1, 'allergy', { grantId: 'G1', expiresAt: iso(NOW + 20 * DAY) }),
        access(ME, 'allergy', { access: 'owner' }),
        access(P1, 'audit', { access: 'write' }),
      ],
      new Map(),
      NOW,
    );
    expect(charts.map((c) => c.patientId)).toEqual([P1, P2]);
    expect(charts[0]).toEqual({
      patientId: P1,
      state: 'active',
      streams: [
        {
          type: 'allergy',
          access: 'read',
          grantId: 'G1',
          expiresAt: iso(NOW + 20 * DAY),
          readExpiresAt: null,
        },
        {
          type: 'lab-result',
          access: 'write',
          grantId: 'G1',
          expiresAt: iso(NOW + 60 * DAY),
          readExpiresAt: null,
        },
      ],
      endsAt: iso(NOW + 20 * DAY),
      ended: [],
    });
  });

  it('a chart whose soonest end of reading is within a week is expiring (the grantee is not told its start)', () => {
    const chart = (ms: number) =>
      receivedGrantsOf(ME, [access(P1, 'allergy', { expiresAt: iso(NOW + ms) })], new Map(), NOW)[0]?.state;
    expect(chart(6 * DAY)).toBe('expiring');
    expect(chart(8 * DAY)).toBe('active');
  });

  it('a chart whose soonest end of reading is near is expiring; a read grant outlasting a write one counts', () => {
    const soon = receivedGrantsOf(
      ME,
      [access(P1, 'allergy', { expiresAt: iso(NOW + DAY / 2) })],
      new Map(),
      NOW,
    );
    expect(soon[0]?.state).toBe('expiring');
    const outlasted = receivedGrantsOf(
      ME,
      [
        access(P1, 'lab-result', {
          access: 'write',
          expiresAt: iso(NOW + DAY),
          readExpiresAt: iso(NOW + 90 * DAY),
        }),
      ],
      new Map(),
      NOW,
    );
    expect(outlasted[0]).toMatchObject({ state: 'active', endsAt: iso(NOW + 90 * DAY) });
  });

  it('lists ended streams with why; a chart with none left is ended; access back drops the end', () => {
    const ends = new Map<string, SeenEnd>([
      [
        `${P1}/allergy`,
        { patientId: P1, ended: { type: 'allergy', reason: 'revoked', purged: 4, at: iso(NOW) } },
      ],
      [
        `${P2}/medication`,
        { patientId: P2, ended: { type: 'medication', reason: 'expired', purged: 1, at: iso(NOW) } },
      ],
    ]);
    const charts = receivedGrantsOf(
      ME,
      [access(P2, 'allergy', { expiresAt: iso(NOW + 60 * DAY) })],
      ends,
      NOW,
    );
    expect(charts).toEqual([
      {
        patientId: P1,
        state: 'ended',
        streams: [],
        endsAt: null,
        ended: [{ type: 'allergy', reason: 'revoked', purged: 4, at: iso(NOW) }],
      },
      expect.objectContaining({
        patientId: P2,
        state: 'active',
        ended: [{ type: 'medication', reason: 'expired', purged: 1, at: iso(NOW) }],
      }),
    ]);
    const back = receivedGrantsOf(ME, [access(P1, 'allergy')], ends, NOW);
    expect(back.find((c) => c.patientId === P1)).toMatchObject({ state: 'active', ended: [] });
  });
});
