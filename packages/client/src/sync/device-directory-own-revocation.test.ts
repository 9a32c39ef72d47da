// A revocation this device made itself (`noteRevocation`, which the session wires to revokeDevice): taken
// at once from its cutoff, in the cached list and in a list loading meanwhile, kept in device meta once;
// and only when the account's identity key signed it.
import { describe, expect, it, vi } from 'vitest';
import {
  base64urlEncode,
  deriveAccountKeys,
  generateRootSecret,
  signCanonical,
  type Ed25519,
} from '@hale/crypto';
import { SIGNATURE_LABELS, deviceRevocationPayload, type SignedDeviceRevocation } from '@hale/protocol';
import {
  createDeviceDirectory,
  type AccountDevicesInfo,
  type RememberedRevocation,
} from './device-directory';
import { directoryEd as ed, twoDeviceAccount } from './device-directory.test-util';

const MINUTE = 60_000;
const NOW = Date.UTC(2025, 0, 1, 13, 0);
const SIGNED_AT = new Date(NOW - MINUTE).toISOString();

/** Device `two` active in the served list; `revoke` signs its revocation with `secretKey` (the account's). */
const setup = async (verifier: Ed25519 = ed) => {
  const { keys, one, two, cert, base, accountId } = await twoDeviceAccount();
  const active: AccountDevicesInfo = {
    ...base,
    devices: [await cert(one), await cert(two)],
    revokedDevices: [],
  };
  const calls = { getAccount: 0, getDevice: 0 };
  const saves: Array<readonly RememberedRevocation[]> = [];
  const directory = createDeviceDirectory({
    ed: verifier,
    now: () => NOW,
    getAccount: async () => {
      calls.getAccount++;
      return active;
    },
    getDevice: async () => {
      calls.getDevice++;
      throw new Error('offline');
    },
    remembered: {
      load: async () => [],
      save: async (all) => void saves.push(all),
    },
  });
  const revoke = async (
    secretKey: Uint8Array = keys.identity.secretKey,
    revokedAt = SIGNED_AT,
  ): Promise<SignedDeviceRevocation> => {
    const revocation = { v: 1 as const, accountId, deviceId: two.deviceId, revokedAt };
    const payload = deviceRevocationPayload(revocation);
    return { revocation, sig: base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload)) };
  };
  return { keys, two, accountId, directory, calls, saves, revoke };
};

describe('a revocation this device made (noteRevocation)', () => {
  it('revokes the device in the cached list at once, from its cutoff, without asking the server', async () => {
    const { keys, two, accountId, directory, calls, saves, revoke } = await setup();
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'found',
      key: two.publicKey,
    });
    // The server's time, later than the signed one here: the earlier stands.
    const later = new Date(NOW - MINUTE / 2).toISOString();
    expect(await directory.noteRevocation(await revoke(), keys.identity.publicKey, later)).toBe(true);
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'found',
      key: two.publicKey,
      revokedAt: SIGNED_AT,
    });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
    expect(calls).toEqual({ getAccount: 1, getDevice: 0 });
    expect(saves).toEqual([[{ accountId, deviceId: two.deviceId, revokedAt: SIGNED_AT }]]);
  });

  it('keeps one write per revocation: the same one again writes nothing', async () => {
    const { keys, accountId, directory, saves, revoke } = await setup();
    await directory.lookupDeviceKey(accountId, 'D0000000000000000000000000');
    const signed = await revoke();
    expect(await directory.noteRevocation(signed, keys.identity.publicKey)).toBe(true);
    expect(await directory.noteRevocation(signed, keys.identity.publicKey)).toBe(true);
    expect(saves).toHaveLength(1);
  });

  it('a list being checked while it is taken, which predates it, does not make the device active', async () => {
    // Certificate checks wait while `hold` is set: the revocation is taken between the account answer's
    // arrival and the end of its checks.
    const hold: { gate: Promise<void> | null; waiting: number } = { gate: null, waiting: 0 };
    const gated: Ed25519 = {
      name: 'gated',
      sign: ed.sign,
      verify: async (publicKey, msg, sig) => {
        if (
          hold.gate !== null &&
          new TextDecoder().decode(msg).includes(SIGNATURE_LABELS.deviceCertificate)
        ) {
          hold.waiting++;
          await hold.gate;
        }
        return ed.verify(publicKey, msg, sig);
      },
    };
    const { keys, two, accountId, directory, revoke } = await setup(gated);
    let release: () => void = () => undefined;
    hold.gate = new Promise<void>((resolve) => (release = resolve));
    const lookup = directory.lookupDeviceKey(accountId, two.deviceId);
    await vi.waitFor(() => expect(hold.waiting).toBe(1));
    expect(await directory.noteRevocation(await revoke(), keys.identity.publicKey)).toBe(true);
    hold.gate = null;
    release();
    // Offline for the device route: not trusted as active, asked again later.
    expect(await lookup).toMatchObject({ status: 'unavailable' });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
  });

  it('takes nothing the account did not sign, or about another account than the key presented', async () => {
    const { keys, two, accountId, directory, saves, revoke } = await setup();
    await directory.lookupDeviceKey(accountId, two.deviceId);
    const other = deriveAccountKeys(generateRootSecret());
    // Signed by another key, presented as the account's.
    expect(
      await directory.noteRevocation(await revoke(other.identity.secretKey), keys.identity.publicKey),
    ).toBe(false);
    // Signed by another account and presented with its own key: not this account's identity.
    expect(
      await directory.noteRevocation(await revoke(other.identity.secretKey), other.identity.publicKey),
    ).toBe(false);
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'found',
      key: two.publicKey,
    });
    expect(saves).toEqual([]);
  });
});
