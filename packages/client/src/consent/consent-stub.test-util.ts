// A consent over stubs (device meta in a map, a connection whose status and grant listing the test sets, a
// keyring whose re-keying fails at once), for tests of what consent decides on this device alone.
import { deriveAccountKeys, type AccountKeys, type Ed25519 } from '@hale/crypto';
import type { Grant, GrantRecord, SignedRevocation } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { SyncError, type Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent } from './consent';

export const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
export const GRANTEE = 'BBBBBBBBBBBBBBBBBBBBBB';
export const G1 = '01J000000000000000000000A0';
export const HOUR = 3_600_000;
export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A write grant of lab results from PATIENT to GRANTEE, from an hour before T0 to 100 hours after. */
export const labWriteGrant: Grant = {
  v: 1,
  grantId: G1,
  patientId: PATIENT,
  granteeId: GRANTEE,
  scope: [{ type: 'lab-result', access: 'write' }],
  start: new Date(T0 - HOUR).toISOString(),
  expiresAt: new Date(T0 + 100 * HOUR).toISOString(),
  purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
  issuedAt: new Date(T0 - HOUR).toISOString(),
};

/**
 * PATIENT's consent (or a provider's, `role`), signing with `ed` under `keys`, on `clock`, its copy holding
 * `held` (signatures not checked there). `net`: connected while `status` is 'ready' (a request otherwise
 * fails NETWORK); a grant listing answers `served` and counts in `listings`. `sent` collects the revocations
 * it sends, each answered ok.
 */
export const stubConsent = (options: {
  readonly ed: Ed25519;
  readonly clock: { now: number };
  readonly role?: 'patient' | 'provider';
  readonly keys?: AccountKeys;
  readonly held?: readonly Grant[];
}) => {
  const values = new Map<string, unknown>();
  if (options.held)
    values.set(
      'grants',
      options.held.map((grant) => ({ grant, sig: 'A'.repeat(86) })),
    );
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
    onInvalid: (key, reason) => {
      throw new Error(`stub meta ${key}: ${reason}`);
    },
  });
  const net = { status: 'ready' as 'ready' | 'offline', listings: 0, served: [] as GrantRecord[] };
  const sent: SignedRevocation[] = [];
  const connection = {
    status: () => net.status,
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string; revocation?: SignedRevocation }) => {
      if (net.status !== 'ready') throw new SyncError('NETWORK', 'not connected', true);
      if (frame.t === 'listGrants') {
        net.listings++;
        return { t: 'grants', grants: net.served };
      }
      if (frame.t !== 'revoke' || frame.revocation === undefined) throw new Error(`unexpected ${frame.t}`);
      sent.push(frame.revocation);
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
    role: options.role ?? 'patient',
    keys: options.keys ?? deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: options.ed,
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {} as DeviceDirectory,
    now: () => options.clock.now,
    meta,
    grantRefreshMs: 0,
  });
  return { consent, net, sent };
};
