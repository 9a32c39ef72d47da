// The revocations a directory keeps are bounded, and what a hostile server (with an account that signs
// revocations by the thousand) serves must not push out, or hide, the revocation of another device: a
// stolen phone stays revoked across a restart whatever the server floods this device with.
import { describe, expect, it, vi } from 'vitest';
import { base64urlEncode, signCanonical } from '@hale/crypto';
import { deviceRevocationPayload, MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT } from '@hale/protocol';
import {
  createDeviceDirectory,
  MAX_REMEMBERED_REVOCATIONS,
  type AccountDeviceInfo,
  type AccountDevicesInfo,
  type RememberedRevocation,
} from './device-directory';
import { directoryEd as ed, twoDeviceAccount } from './device-directory.test-util';

const REVOKED_AT = new Date(Date.UTC(2025, 0, 1, 12, 30)).toISOString();
const NOW = Date.UTC(2025, 0, 1, 13, 0);

/** An account whose device `two` was revoked with the account's signature, as the server serves it. */
const revokedTwo = async () => {
  const account = await twoDeviceAccount();
  const { keys, two, cert } = account;
  const revocation = {
    v: 1 as const,
    accountId: keys.accountId,
    deviceId: two.deviceId,
    revokedAt: REVOKED_AT,
  };
  const payload = deviceRevocationPayload(revocation);
  const sig = await signCanonical(ed, keys.identity.secretKey, payload.label, payload);
  const served: AccountDeviceInfo = {
    certificate: await cert(two),
    revokedAt: REVOKED_AT,
    revocation: { revocation, sig: base64urlEncode(sig) },
  };
  return { ...account, served };
};

const madeUp = (accountId: string, count: number): RememberedRevocation[] =>
  Array.from({ length: count }, (_, i) => ({
    accountId,
    deviceId: `MadeUpDevice${String(i).padStart(10, '0')}`,
    revokedAt: REVOKED_AT,
  }));

describe('the revocations a directory keeps', () => {
  it('past the bound, drop one of the account keeping the most, not the oldest of all', async () => {
    const own = await revokedTwo();
    const flooder = await revokedTwo();
    const ownKept: RememberedRevocation = {
      accountId: own.accountId,
      deviceId: own.two.deviceId,
      revokedAt: REVOKED_AT,
    };
    // Kept first (the oldest), then the other account's flood up to the bound.
    const kept: { value: readonly RememberedRevocation[] } = {
      value: [ownKept, ...madeUp(flooder.accountId, MAX_REMEMBERED_REVOCATIONS - 1)],
    };
    const answers = new Map<string, AccountDevicesInfo>([
      [
        own.accountId,
        { ...own.base, devices: [await own.cert(own.one), await own.cert(own.two)], revokedDevices: [] },
      ],
      [
        flooder.accountId,
        {
          ...flooder.base,
          devices: [await flooder.cert(flooder.one)],
          revokedDevices: [flooder.two.deviceId],
        },
      ],
    ]);
    const ownBefore: AccountDeviceInfo = { certificate: await own.cert(own.two) };
    const open = () =>
      createDeviceDirectory({
        ed,
        now: () => NOW,
        getAccount: async (accountId) => answers.get(accountId)!,
        // The own account's stolen phone as served before its revocation: no time, no signed revocation.
        getDevice: async (accountId) => (accountId === own.accountId ? ownBefore : flooder.served),
        remembered: { load: async () => kept.value, save: async (all) => void (kept.value = all) },
      });
    const directory = open();
    // One more verified revocation of the flooding account: the bound is passed.
    expect(await directory.lookupDeviceKey(flooder.accountId, flooder.two.deviceId)).toMatchObject({
      status: 'found',
      revokedAt: REVOKED_AT,
    });
    // Saved beside the lookup, not before it answers.
    await vi.waitFor(() => expect(kept.value.map((r) => r.deviceId)).toContain(flooder.two.deviceId));
    expect(kept.value).toHaveLength(MAX_REMEMBERED_REVOCATIONS);
    expect(kept.value).toContainEqual(ownKept);
    expect(kept.value).toContainEqual({
      accountId: flooder.accountId,
      deviceId: flooder.two.deviceId,
      revokedAt: REVOKED_AT,
    });
    expect(kept.value.map((r) => r.deviceId)).not.toContain(madeUp(flooder.accountId, 1)[0]!.deviceId);
    // After a restart, the server serving the own account's list from before the revocation (the stolen
    // phone listed active): still revoked, from its cutoff.
    const again = open();
    expect(await again.lookupDeviceKey(own.accountId, own.two.deviceId)).toMatchObject({
      revokedAt: REVOKED_AT,
    });
    expect(await again.deviceKey(own.accountId, own.two.deviceId)).toBeNull();
  });

  it('a verified revocation stands in later answers also when made-up revoked ids filled the per-account bound', async () => {
    const { keys, one, two, cert, base, served } = await revokedTwo();
    const accountId = keys.accountId;
    const fakes = madeUp(accountId, MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT).map((r) => r.deviceId);
    const server = {
      answer: {
        ...base,
        devices: [await cert(one)],
        // Made-up ids first: they fill what the directory notes as seen revoked for the account.
        revokedDevices: [...fakes, two.deviceId],
      } as AccountDevicesInfo,
      device: served,
    };
    const directory = createDeviceDirectory({
      ed,
      now: () => NOW,
      getAccount: async () => server.answer,
      getDevice: async () => server.device,
    });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toMatchObject({
      status: 'found',
      revokedAt: REVOKED_AT,
    });
    // The list and the device from before the revocation, served again.
    server.answer = { ...base, devices: [await cert(one), await cert(two)], revokedDevices: [] };
    server.device = { certificate: await cert(two) };
    directory.expire();
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toMatchObject({ revokedAt: REVOKED_AT });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
  });
});
