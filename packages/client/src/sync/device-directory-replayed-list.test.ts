// A revocation, once this directory has seen it, is final: a server that later answers an older device
// list (one from before the revocation, listing the device as active again) must not make the revoked
// device's key trusted again, without its cutoff, for what it signs after its revocation (a stolen phone's
// records and key envelopes, with the server's help).
import { describe, expect, it, vi } from 'vitest';
import { base64urlEncode, signCanonical } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { deviceRevocationPayload, type DeviceRevocation } from '@hale/protocol';
import {
  createDeviceDirectory,
  type AccountDeviceInfo,
  type AccountDevicesInfo,
  type RememberedRevocation,
} from './device-directory';
import { twoDeviceAccount } from './device-directory.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const MINUTE = 60_000;
const REVOKED_AT = new Date(Date.UTC(2025, 0, 1, 12, 30)).toISOString();

/** Device `two`'s account, its list after `two` was revoked and the list from before (both served). */
const setup = async (options: { getDevice: boolean; signed?: boolean }) => {
  const { keys, one, two, cert, base } = await twoDeviceAccount();
  const after: AccountDevicesInfo = { ...base, devices: [await cert(one)], revokedDevices: [two.deviceId] };
  const before: AccountDevicesInfo = {
    ...base,
    devices: [await cert(one), await cert(two)],
    revokedDevices: [],
  };
  const server = { answer: after };
  const clock = { now: Date.UTC(2025, 0, 1, 13, 0) };
  const revocation: DeviceRevocation = {
    v: 1,
    accountId: keys.accountId,
    deviceId: two.deviceId,
    revokedAt: REVOKED_AT,
  };
  const revocationPayload = deviceRevocationPayload(revocation);
  const sig = await signCanonical(ed, keys.identity.secretKey, revocationPayload.label, revocationPayload);
  const device = {
    served: {
      certificate: await cert(two),
      revokedAt: REVOKED_AT,
      ...(options.signed === true ? { revocation: { revocation, sig: base64urlEncode(sig) } } : {}),
    } as AccountDeviceInfo,
  };
  /** The device meta of this device: what a directory kept, read by the next one (a restart). */
  const kept: { value: readonly RememberedRevocation[] } = { value: [] };
  const open = () =>
    createDeviceDirectory({
      ed,
      now: () => clock.now,
      getAccount: async () => server.answer,
      ...(options.getDevice ? { getDevice: async () => device.served } : {}),
      remembered: {
        load: async () => kept.value,
        save: async (all) => void (kept.value = all),
      },
    });
  const directory = open();
  const replayOld = async () => {
    server.answer = before;
    // The device as served before its revocation: no time, no signed revocation.
    device.served = { certificate: await cert(two) };
  };
  return { accountId: keys.accountId, two, clock, directory, open, kept, replayOld };
};

describe('a device list replayed from before a revocation this directory has seen', () => {
  it('keeps the device revoked, with its cutoff, after a reconnect', async () => {
    const { accountId, two, directory, replayOld } = await setup({ getDevice: true });
    const revoked = { status: 'found', key: two.publicKey, revokedAt: REVOKED_AT };
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual(revoked);
    await replayOld();
    directory.expire();
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual(revoked);
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
    expect(await directory.authorKey(accountId, two.deviceId)).toEqual({
      key: two.publicKey,
      revokedAt: REVOKED_AT,
    });
  });

  it('keeps it revoked once the list is reloaded for its age, also when only the list named it revoked', async () => {
    const { accountId, two, clock, directory, replayOld } = await setup({ getDevice: false });
    // Without the device route a revoked device is unknown: the list alone told this directory.
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    await replayOld();
    clock.now += 6 * MINUTE;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
  });

  it('keeps a revocation verified by the account across a restart, with its cutoff', async () => {
    const { accountId, two, clock, directory, open, kept, replayOld } = await setup({
      getDevice: true,
      signed: true,
    });
    const revoked = { status: 'found', key: two.publicKey, revokedAt: REVOKED_AT };
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual(revoked);
    await vi.waitFor(() =>
      expect(kept.value).toEqual([{ accountId, deviceId: two.deviceId, revokedAt: REVOKED_AT }]),
    );
    // Restarted a day later, against a server answering the list and the device from before.
    await replayOld();
    clock.now += 24 * 60 * MINUTE;
    const again = open();
    expect(await again.lookupDeviceKey(accountId, two.deviceId)).toEqual(revoked);
    expect(await again.deviceKey(accountId, two.deviceId)).toBeNull();
  });

  it('keeps nothing for a revocation only the server asserts (no signature of the account)', async () => {
    const { accountId, two, directory, kept } = await setup({ getDevice: true });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toMatchObject({ revokedAt: REVOKED_AT });
    await new Promise((r) => setTimeout(r, 20));
    expect(kept.value).toEqual([]);
  });
});
