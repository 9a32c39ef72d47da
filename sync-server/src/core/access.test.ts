// `decideAccess` is exported (index.ts) and takes a grantee's grants in any state. The server's own request
// paths pass it only unended grants (`store.grants.listUnended`), so a revoked grant still inside its
// window reaches it only through that public contract: tested here, against the function itself.
import { describe, expect, it } from 'vitest';
import type { Grant } from '../store/index';
import { decideAccess, grantedStreams, type Operation, type Principal } from './access';

const PATIENT = 'P'.repeat(22);
const PROVIDER = 'D'.repeat(22);
const HOUR = 3600_000;
const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const provider: Principal = { accountId: PROVIDER, deviceId: 'd'.repeat(22), role: 'provider' };

const grant = (over: Partial<Grant> = {}): Grant => ({
  grantId: 'G'.repeat(22),
  patientId: PATIENT,
  granteeId: PROVIDER,
  scope: [{ type: 'allergy', access: 'write' }],
  start: iso(NOW - HOUR),
  expiresAt: iso(NOW + HOUR),
  issuedAt: iso(NOW - HOUR),
  signed: {},
  ...over,
});

const OPS: Operation[] = ['pull', 'live', 'push', 'envelope-fetch', 'blob-up', 'blob-down'];
const allergy = `${PATIENT}/allergy`;
const audit = `${PATIENT}/audit`;

describe('decideAccess', () => {
  it('refuses every operation under a revoked grant whose window still covers now', () => {
    const live = grant();
    for (const op of OPS) expect(decideAccess(provider, allergy, op, [live], NOW).ok, op).toBe(true);

    const revoked = grant({ revokedAt: iso(NOW - 1) });
    for (const op of OPS) {
      expect(decideAccess(provider, allergy, op, [revoked], NOW), op).toMatchObject({
        ok: false,
        code: 'CONSENT_REVOKED',
      });
    }
    // Nor may the grantee append its access entries to the patient's log, or see the stream listed.
    expect(decideAccess(provider, audit, 'push', [revoked], NOW)).toMatchObject({
      ok: false,
      code: 'CONSENT_REVOKED',
    });
    expect(grantedStreams([revoked], PROVIDER, NOW)).toEqual([]);
  });

  it('refuses every operation under a grant before its start, and allows them from the start instant', () => {
    const future = grant({ start: iso(NOW + 1) });
    for (const op of OPS) {
      expect(decideAccess(provider, allergy, op, [future], NOW), op).toMatchObject({
        ok: false,
        code: 'NO_CONSENT',
      });
      expect(decideAccess(provider, allergy, op, [future], NOW + 1).ok, op).toBe(true);
    }
    expect(grantedStreams([future], PROVIDER, NOW)).toEqual([]);
  });
});

describe('decideAccess over a clinic-sized list', () => {
  const other = (n: number) => `P${String(n).padStart(21, '0')}`;
  const list = (): Grant[] => [
    ...Array.from({ length: 50 }, (_, n) =>
      grant({ grantId: `G${String(n).padStart(21, '0')}`, patientId: other(n) }),
    ),
    grant({ scope: [{ type: 'allergy', access: 'read' }] }),
    // Another grantee's grant of the same patient (callers pass only their own; the function checks anyway).
    grant({
      grantId: 'H'.repeat(22),
      granteeId: 'X'.repeat(22),
      scope: [{ type: 'lab-result', access: 'write' }],
    }),
  ];

  it("decides each patient's streams from that patient's grants only, the same on every call", () => {
    const grants = list();
    for (let round = 0; round < 2; round++) {
      expect(decideAccess(provider, allergy, 'pull', grants, NOW)).toMatchObject({ ok: true, level: 'read' });
      expect(decideAccess(provider, allergy, 'push', grants, NOW)).toMatchObject({
        ok: false,
        code: 'FORBIDDEN',
      });
      expect(decideAccess(provider, `${PATIENT}/lab-result`, 'pull', grants, NOW)).toMatchObject({
        ok: false,
        code: 'NO_CONSENT',
      });
      expect(decideAccess(provider, `${other(7)}/allergy`, 'push', grants, NOW)).toMatchObject({
        ok: true,
        level: 'write',
      });
      expect(decideAccess(provider, `${other(99)}/allergy`, 'pull', grants, NOW)).toMatchObject({
        ok: false,
        code: 'NO_CONSENT',
      });
    }
  });

  it('a list decided from cannot be changed afterwards (it would be decided from a stale index)', () => {
    const grants = list();
    expect(decideAccess(provider, `${other(3)}/allergy`, 'pull', grants, NOW).ok).toBe(true);
    expect(() => grants.push(grant({ patientId: other(99) }))).toThrow(TypeError);
    expect(decideAccess(provider, `${other(99)}/allergy`, 'pull', grants, NOW).ok).toBe(false);
  });
});

describe('grantedStreams: overlapping grants on one type', () => {
  const read = (expiresAt: number, grantId = 'R'.repeat(22)) =>
    grant({ grantId, scope: [{ type: 'allergy', access: 'read' }], expiresAt: iso(expiresAt) });
  const write = (expiresAt: number, grantId = 'W'.repeat(22)) =>
    grant({ grantId, scope: [{ type: 'allergy', access: 'write' }], expiresAt: iso(expiresAt) });

  it('names when reading ends where a read grant outlasts the write grant describing the stream', () => {
    for (const grants of [
      [read(NOW + 5 * HOUR), write(NOW + HOUR)],
      [write(NOW + HOUR), read(NOW + 5 * HOUR)],
    ]) {
      expect(grantedStreams(grants, PROVIDER, NOW)).toEqual([
        expect.objectContaining({
          access: 'write',
          grantId: 'W'.repeat(22),
          expiresAt: iso(NOW + HOUR),
          readExpiresAt: iso(NOW + 5 * HOUR),
        }),
      ]);
    }
    // Once the write grant ended, the read grant describes the stream and nothing outlasts it.
    const [after] = grantedStreams([read(NOW + 5 * HOUR), write(NOW + HOUR)], PROVIDER, NOW + HOUR);
    expect(after).toMatchObject({ access: 'read', expiresAt: iso(NOW + 5 * HOUR) });
    expect(after).not.toHaveProperty('readExpiresAt');
  });

  it('names no other end when the describing grant lasts longest', () => {
    for (const grants of [
      [read(NOW + HOUR), write(NOW + 5 * HOUR)],
      [read(NOW + HOUR), read(NOW + 5 * HOUR, 'S'.repeat(22))],
      [write(NOW + HOUR), write(NOW + 5 * HOUR, 'X'.repeat(22))],
    ]) {
      const [row] = grantedStreams(grants, PROVIDER, NOW);
      expect(row).toMatchObject({ expiresAt: iso(NOW + 5 * HOUR) });
      expect(row).not.toHaveProperty('readExpiresAt');
    }
  });
});
