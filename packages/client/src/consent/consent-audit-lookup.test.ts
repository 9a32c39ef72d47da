// The audit lookup of a marked grant answers AuditError AUDIT_LOOKUP_UNVERIFIED when an entry no device can
// check now may be the grant's own entry. Taking that as "not recorded" would append a second entry for
// the grant; consent keeps the mark and asks again at the next check.
import { describe, expect, it, vi } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { Grant } from '@hale/protocol';
import type { ConsentLookup, ConsentRecorded } from '../audit/audit-log';
import { AuditError } from '../audit/errors';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, type StoredGrant } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const G1 = '01J000000000000000000000A0';
const G2 = '01J000000000000000000000B0';
const DAY = 86_400_000;

/**
 * A patient device holding grants `ids` (default G1) marked unrecorded, whose grant-list refresh (every
 * 10 ms) looks the marks up with `answers`, one per lookup (after the last, a lookup that never answers).
 */
const setup = (answers: Array<() => Promise<ConsentRecorded>>, ids: readonly string[] = [G1]) => {
  const expiresAt = new Date(Date.now() + DAY).toISOString();
  const grantOf = (grantId: string): Grant => ({
    v: 1,
    grantId,
    patientId: PATIENT,
    granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
    scope: [{ type: 'allergy', access: 'read' }],
    start: new Date(Date.now() - DAY).toISOString(),
    expiresAt,
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: new Date(Date.now() - DAY).toISOString(),
  });
  const stored: StoredGrant[] = ids.map((id) => ({ grant: grantOf(id), sig: 'A'.repeat(86) }));
  const values = new Map<string, unknown>([
    ['grants', stored],
    ['grants-unrecorded', ids.map((grantId) => ({ grantId, expiresAt, notBefore: 0 }))],
  ]);
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(values.get(key)),
    write: async (key, value) => void values.set(key, structuredClone(value)),
  });
  const events: string[] = [];
  /** The grant of each entry appended. */
  const appended: string[] = [];
  const marks = () =>
    ((values.get('grants-unrecorded') as Array<{ grantId: string }> | undefined) ?? []).map((m) => m.grantId);
  /** Each lookup asked for, with what had been appended and was marked by then (the run before it ended). */
  const lookups: Array<{ lookup: ConsentLookup; events: string[]; marks: string[] }> = [];
  const connection = {
    status: () => 'ready',
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string }) => {
      if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
      throw new Error(`unexpected ${frame.t}`);
    },
  };
  const consent = createConsent({
    accountId: PATIENT,
    role: 'patient',
    keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: { useWriteGuard: () => undefined, invalidateWriteChecks: () => undefined } as unknown as Keyring,
    directory: {} as DeviceDirectory,
    now: () => Date.now(),
    meta,
    grantRefreshMs: 10,
    onEvent: (event) => {
      events.push(event.action);
      if (typeof event.detail.grantId === 'string') appended.push(event.detail.grantId);
    },
    recorded: (lookup) => {
      lookups.push({ lookup, events: [...events], marks: marks() });
      return answers.shift()?.() ?? new Promise<never>(() => undefined);
    },
  });
  return { consent, lookups, appended, marks };
};

describe('consent: an audit lookup that cannot answer now', () => {
  it('keeps the mark and appends nothing; the next lookup that finds no entry has one appended', async () => {
    const unverified = new AuditError(
      'AUDIT_LOOKUP_UNVERIFIED',
      '1 audit entry that may be one looked for could not be checked now',
      { unverified: 1 },
    );
    const s = setup([
      () => Promise.reject(unverified),
      async () => ({ 'consent-grant': new Set(), 'consent-revoke': new Set() }),
    ]);
    await vi.waitFor(() => expect(s.lookups).toHaveLength(3));
    s.consent.stop();
    const lookup = { 'consent-grant': [G1], 'consent-revoke': [] };
    expect(s.lookups).toEqual([
      { lookup, events: [], marks: [G1] },
      // After AUDIT_LOOKUP_UNVERIFIED: nothing appended, the mark kept and looked up again.
      { lookup, events: [], marks: [G1] },
      // Answered "not recorded": the entry is appended, the mark kept until the log shows it.
      { lookup, events: ['consent-grant'], marks: [G1] },
    ]);
  });

  it('settles every other grant now: only the one an unverifiable entry may be keeps its mark', async () => {
    const none = new Set<string>();
    const unverified = new AuditError(
      'AUDIT_LOOKUP_UNVERIFIED',
      '1 audit entry that may be one looked for could not be checked now',
      {
        unverified: 1,
        undecided: { 'consent-grant': new Set([G1]), 'consent-revoke': none },
        found: { 'consent-grant': none, 'consent-revoke': none },
      },
    );
    const s = setup([() => Promise.reject(unverified)], [G1, G2]);
    await vi.waitFor(() => expect(s.lookups).toHaveLength(2));
    s.consent.stop();
    const lookup = { 'consent-grant': [G1, G2], 'consent-revoke': [] };
    expect(s.lookups[0]).toEqual({ lookup, events: [], marks: [G1, G2] });
    // G2's entry is appended (its mark stays until the log shows it); G1 waits for its answer.
    expect(s.lookups[1]).toEqual({ lookup, events: ['consent-grant'], marks: [G1, G2] });
    expect(s.appended).toEqual([G2]);
  });
});
