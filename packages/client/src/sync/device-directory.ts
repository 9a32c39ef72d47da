/**
 * Which device keys belong to which account, from certificates the server relays but cannot forge.
 *
 * Invariants: a device key is trusted only if its certificate verifies against the account's identity
 * key and that key hashes to the account id (self-certifying ids), so a server cannot add a device to
 * someone else's account. Revoked devices are not trusted for new verifications.
 * Failure modes: a network failure answers null (the caller quarantines and retries later); results are
 * cached per account and refreshed when an unknown device id shows up (at most once per interval).
 */
import {
  accountIdFromIdentityKey,
  base64urlDecode,
  verifyDeviceCertificate,
  type Ed25519,
} from '@hale/crypto';

export interface AccountDevicesInfo {
  accountId: string;
  identityPublicKey: string;
  wrappingPublicKey: string;
  role: 'patient' | 'provider';
  devices: unknown[];
}

export const createDeviceDirectory = (deps: {
  ed: Ed25519;
  getAccount: (accountId: string) => Promise<AccountDevicesInfo>;
  now: () => number;
  refreshIntervalMs?: number;
}) => {
  const cache = new Map<
    string,
    {
      at: number;
      devices: Map<string, Uint8Array>;
      wrapping: Uint8Array;
      identity: Uint8Array;
      selfCertified: boolean;
    }
  >();
  const interval = deps.refreshIntervalMs ?? 30_000;
  const load = async (accountId: string) => {
    const info = await deps.getAccount(accountId);
    const identity = base64urlDecode(info.identityPublicKey);
    const wrapping = base64urlDecode(info.wrappingPublicKey);
    if (!identity.ok || !wrapping.ok || info.accountId !== accountId) return null;
    // Self-certifying ids: a key that does not hash to the account id was not made by that account.
    const selfCertified = accountIdFromIdentityKey(identity.value) === accountId;
    const devices = new Map<string, Uint8Array>();
    for (const cert of info.devices) {
      const v = await verifyDeviceCertificate(cert, deps.ed, { accountId });
      if (v.ok && base64urlDecode(info.identityPublicKey).ok) {
        const certIdentity = (cert as { cert: { identityPublicKey: string } }).cert.identityPublicKey;
        if (certIdentity === info.identityPublicKey) devices.set(v.value.deviceId, v.value.devicePublicKey);
      }
    }
    const entry = {
      at: deps.now(),
      devices: selfCertified ? devices : new Map<string, Uint8Array>(),
      wrapping: wrapping.value,
      identity: identity.value,
      selfCertified,
    };
    cache.set(accountId, entry);
    return entry;
  };
  const get = async (accountId: string, fresh = false) => {
    const hit = cache.get(accountId);
    if (hit && !fresh) return hit;
    try {
      return await load(accountId);
    } catch {
      return hit ?? null;
    }
  };
  return {
    async deviceKey(accountId: string, deviceId: string): Promise<Uint8Array | null> {
      const entry = await get(accountId);
      const key = entry?.devices.get(deviceId);
      if (key) return key;
      if (entry && deps.now() - entry.at < interval / 30) return null;
      return (await get(accountId, true))?.devices.get(deviceId) ?? null;
    },
    async wrappingKey(accountId: string): Promise<Uint8Array | null> {
      const entry = await get(accountId);
      return entry?.selfCertified ? entry.wrapping : null;
    },
    async identityKey(accountId: string): Promise<Uint8Array | null> {
      const entry = await get(accountId);
      return entry?.selfCertified ? entry.identity : null;
    },
    /** The key the server presents for an account, and whether it really belongs to that account id. */
    async presentedIdentity(accountId: string): Promise<{ key: Uint8Array; selfCertified: boolean } | null> {
      const entry = await get(accountId, true);
      return entry ? { key: entry.identity, selfCertified: entry.selfCertified } : null;
    },
    forget: (accountId: string): boolean => cache.delete(accountId),
  };
};

export type DeviceDirectory = ReturnType<typeof createDeviceDirectory>;
