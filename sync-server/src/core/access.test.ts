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
  purpose: 'treatment',
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
