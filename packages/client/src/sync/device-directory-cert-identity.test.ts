// A revoked device's certificate must be by the very identity key the account answer presented, not merely
// by one the account id certifies. With real hashes the two cannot differ: the certificate's own check
// ties its identity to the account id, and the directory looks revoked devices up only for an answer whose
// identity hashes to that id, so only a collision of the self-certifying id (22 base64url characters of
// SHA-256) could bring them apart. This file makes that collision: the account id as the directory computes
// it is stubbed so that a second identity key also hashes to the account's id (`@hale/crypto`'s own
// certificate check keeps the real hash). Then only the directory's comparison of the two keys refuses.
import { describe, expect, it, vi } from 'vitest';
import type * as Crypto from '@hale/crypto';
import {
  base64urlEncode,
  certifyDevice,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  signCanonical,
  tweetnaclEd25519,
  type AccountKeys,
} from '@hale/crypto';
import { wrappingKeySignaturePayload } from '@hale/protocol';
import { createDeviceDirectory, type AccountDevicesInfo } from './device-directory';

/** Identity keys (base64url) whose account id, as the directory computes it, is another one's. */
const collisions = vi.hoisted(() => new Map<string, string>());

vi.mock('@hale/crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  return {
    ...actual,
    accountIdFromIdentityKey: (key: Uint8Array): string =>
      collisions.get(actual.base64urlEncode(key)) ?? actual.accountIdFromIdentityKey(key),
  };
});

const ed = tweetnaclEd25519;
const REVOKED_AT = new Date(Date.UTC(2025, 0, 1, 12, 30)).toISOString();
const NOW = Date.UTC(2025, 0, 1, 13, 0);

/**
 * Account `owner` with device `revoked` listed as revoked, its certificate by `owner` as the device route
 * serves it; the account answer presents `presented` as the account's identity key.
 */
const directoryFor = async (owner: AccountKeys, presented: AccountKeys) => {
  const revoked = generateDeviceKeys();
  const certificate = await certifyDevice(
    owner.identity.secretKey,
    {
      accountId: owner.accountId,
      deviceId: revoked.deviceId,
      devicePublicKey: revoked.publicKey,
      sealedName: 'c2VhbGVk',
      createdAt: new Date(0).toISOString(),
      identityPublicKey: owner.identity.publicKey,
    },
    ed,
  );
  const wrapping = base64urlEncode(presented.wrapping.publicKey);
  const payload = wrappingKeySignaturePayload({
    accountId: owner.accountId,
    identityPublicKey: base64urlEncode(presented.identity.publicKey),
    wrappingPublicKey: wrapping,
  });
  const info: AccountDevicesInfo = {
    accountId: owner.accountId,
    identityPublicKey: base64urlEncode(presented.identity.publicKey),
    wrappingPublicKey: wrapping,
    wrappingKeySig: base64urlEncode(
      await signCanonical(ed, presented.identity.secretKey, payload.label, payload),
    ),
    role: 'patient',
    devices: [],
    revokedDevices: [revoked.deviceId],
  };
  const directory = createDeviceDirectory({
    ed,
    now: () => NOW,
    getAccount: async () => info,
    getDevice: async () => ({ certificate, revokedAt: REVOKED_AT }),
  });
  return { directory, revoked };
};

describe("a revoked device's certificate by another identity than the account answer's", () => {
  it('is refused even when both identities hash to the account id (a collision)', async () => {
    const owner = deriveAccountKeys(generateRootSecret());
    const other = deriveAccountKeys(generateRootSecret());
    collisions.set(base64urlEncode(other.identity.publicKey), owner.accountId);
    try {
      const { directory, revoked } = await directoryFor(owner, other);
      // The answer's identity counts as the account's own: the collision is in effect.
      expect(await directory.identityKey(owner.accountId)).toEqual(other.identity.publicKey);
      expect(await directory.lookupDeviceKey(owner.accountId, revoked.deviceId)).toEqual({
        status: 'unknown',
      });
      expect(await directory.authorKey(owner.accountId, revoked.deviceId)).toBeNull();
    } finally {
      collisions.clear();
    }
  });

  it('the same certificate is taken when the answer presents the identity that signed it', async () => {
    const owner = deriveAccountKeys(generateRootSecret());
    const { directory, revoked } = await directoryFor(owner, owner);
    expect(await directory.lookupDeviceKey(owner.accountId, revoked.deviceId)).toEqual({
      status: 'found',
      key: revoked.publicKey,
      revokedAt: REVOKED_AT,
    });
  });
});
