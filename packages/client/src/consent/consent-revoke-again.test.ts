// Revoking a grant this device already holds revoked sends the revocation again, for a server that lost
// it (restored from a backup taken before it). Before, it was signed anew, dated at the second call: the
// server took that time, and every device learning the revocation from it afterwards held the grant as
// ended only then (the write span of its grantee, the time list() and disclosures() show), not when the
// patient revoked it.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { Grant, SignedRevocation } from '@hale/protocol';
import { createDeviceMeta } from '../session/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, writeSpansOf, type StoredGrant } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const GRANTEE = 'BBBBBBBBBBBBBBBBBBBBBB';
const G1 = '01J000000000000000000000A0';
const HOUR = 3_600_000;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

describe('revoking a grant held revoked', () => {
  it('sends the revocation that stood, dated when the patient revoked, not a new one', async () => {
    const clock = { now: T0 };
    const grant: Grant = {
      v: 1,
      grantId: G1,
      patientId: PATIENT,
      granteeId: GRANTEE,
      scope: [{ type: 'lab-result', access: 'write' }],
      start: new Date(T0 - HOUR).toISOString(),
      expiresAt: new Date(T0 + 100 * HOUR).toISOString(),
      purpose: 'care',
      issuedAt: new Date(T0 - HOUR).toISOString(),
    };
    const values = new Map<string, unknown>([['grants', [{ grant, sig: 'A'.repeat(86) }]]]);
    const meta = createDeviceMeta({
      read: async (key) => values.get(key),
      write: async (key, value) => void values.set(key, value),
      onInvalid: (key, reason) => {
        throw new Error(`stub meta ${key}: ${reason}`);
      },
    });
    const sent: SignedRevocation[] = [];
    const connection = {
      status: () => 'ready',
      version: () => 1,
      whenReady: async () => undefined,
      request: async (frame: { t: string; revocation?: SignedRevocation }) => {
        if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
        if (frame.t !== 'revoke') throw new Error(`unexpected ${frame.t}`);
        sent.push(frame.revocation!);
        return { t: 'ok' };
      },
    };
    const keyring = {
      useWriteGuard: () => undefined,
      invalidateWriteChecks: () => undefined,
      // Re-keying is not what is tested: it fails at once, leaving the streams pending.
      refresh: async () => {
        throw new Error('stub: no keys');
      },
    };
    const consent = createConsent({
      accountId: PATIENT,
      role: 'patient',
      keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
      device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
      ed: createNodeEd25519(),
      connection: connection as unknown as Connection,
      keyring: keyring as unknown as Keyring,
      directory: {} as DeviceDirectory,
      now: () => clock.now,
      meta,
      grantRefreshMs: 0,
    });

    await consent.revoke(G1);
    const [first] = await consent.list();
    expect(first?.revokedAt).toBe(new Date(T0).toISOString());
    expect(sent).toHaveLength(1);

    // An hour later the patient finds the grant active on a server restored from a backup, and revokes again.
    clock.now = T0 + HOUR;
    await consent.revoke(G1);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.revocation.revokedAt).toBe(sent[0]?.revocation.revokedAt);
    // The very revocation that stood (Ed25519 signs deterministically): the server keeps one either way.
    expect(sent[1]).toEqual(sent[0]);
    // What a device learning the revocation from that server would hold: the grantee's write span ends
    // when the patient revoked.
    const learnt: StoredGrant = { grant, sig: 'A'.repeat(86), revokedAt: sent[1]!.revocation.revokedAt };
    expect(writeSpansOf([learnt], PATIENT, 'lab-result', GRANTEE)).toEqual([
      { grantId: G1, start: T0 - HOUR, end: T0 },
    ]);
    consent.stop();
  });
});
