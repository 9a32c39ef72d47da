import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  certifyDevice,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  tweetnaclEd25519,
} from '@hale/crypto';
import { createDeviceDirectory, type AccountDevicesInfo } from './device-directory';

const ed = tweetnaclEd25519;
const MINUTE = 60_000;

/** An account with two certified devices, a directory over it with a clock and a switchable server. */
const setup = async () => {
  const keys = deriveAccountKeys(generateRootSecret());
  const [one, two] = [generateDeviceKeys(), generateDeviceKeys()];
  const cert = (d: typeof one) =>
    certifyDevice(
      keys.identity.secretKey,
      {
        accountId: keys.accountId,
        deviceId: d.deviceId,
        devicePublicKey: d.publicKey,
        name: 'test device',
        createdAt: new Date(0).toISOString(),
        identityPublicKey: keys.identity.publicKey,
      },
      ed,
    );
  const server = { devices: [await cert(one), await cert(two)] as unknown[], failing: false, calls: 0 };
  const clock = { now: 1_000_000 };
  const directory = createDeviceDirectory({
    ed,
    now: () => clock.now,
    getAccount: async (accountId): Promise<AccountDevicesInfo> => {
      server.calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (server.failing) throw new Error('network down');
      return {
        accountId,
        identityPublicKey: base64urlEncode(keys.identity.publicKey),
        wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
        role: 'patient',
        devices: server.devices,
      };
    },
  });
  /** The server stops listing device `two` (revoked by its account). */
  const revokeTwo = async () => {
    server.devices = [await cert(one)];
  };
  return { accountId: keys.accountId, one, two, server, clock, directory, revokeTwo, cert };
};

describe('device directory', () => {
  it('stops trusting a revoked device once the cached list is older than its maximum age', async () => {
    const { accountId, two, server, clock, directory, revokeTwo } = await setup();
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    await revokeTwo();
    clock.now += 4 * MINUTE;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(server.calls).toBe(1);
    clock.now += 2 * MINUTE;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(server.calls).toBe(2);
  });

  it('stops trusting a revoked device after expire() (reconnect), whatever the age', async () => {
    const { accountId, two, directory, revokeTwo } = await setup();
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    await revokeTwo();
    directory.expire();
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
  });

  it('asks once per account for a whole batch, also when the list just expired and lookups overlap', async () => {
    const { accountId, one, two, server, clock, directory } = await setup();
    const batch = () =>
      Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          directory.lookupDeviceKey(accountId, (i % 2 ? one : two).deviceId),
        ),
      );
    expect((await batch()).every((r) => r.status === 'found')).toBe(true);
    expect(server.calls).toBe(1);
    clock.now += 6 * MINUTE;
    await Promise.all([batch(), batch()]);
    expect(server.calls).toBe(2);
  });

  it('a device added just after the list was fetched is found; a flood of unknown ids costs one load', async () => {
    const { accountId, one, server, clock, directory, cert } = await setup();
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
    const added = generateDeviceKeys();
    server.devices = [...server.devices, await cert(added)];
    clock.now += 200;
    // The list is a moment old but was not fetched for this device: asked again once.
    expect((await directory.lookupDeviceKey(accountId, added.deviceId)).status).toBe('found');
    expect(server.calls).toBe(2);
    // Just re-asked: unknown ids are answered from that list.
    expect((await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId)).status).toBe(
      'unknown',
    );
    expect(server.calls).toBe(2);
    // A moment later, fifty unknown ids at once cost one load.
    clock.now += 2_000;
    const strangers = Array.from({ length: 50 }, () => generateDeviceKeys().deviceId);
    const answers = await Promise.all(strangers.map((id) => directory.lookupDeviceKey(accountId, id)));
    expect(answers.every((a) => a.status === 'unknown')).toBe(true);
    expect(server.calls).toBe(3);
  });

  it('tells a failed lookup (unavailable) from a device the account does not have (unknown)', async () => {
    const { accountId, one, server, clock, directory } = await setup();
    const stranger = generateDeviceKeys().deviceId;
    server.failing = true;
    expect(await directory.lookupDeviceKey(accountId, one.deviceId)).toMatchObject({
      status: 'unavailable',
      message: 'network down',
    });
    server.failing = false;
    expect(await directory.lookupDeviceKey(accountId, stranger)).toEqual({ status: 'unknown' });
    // A device added since the list was cached, while lookups fail: not asked, so not "unknown".
    clock.now += 2_000;
    server.failing = true;
    expect((await directory.lookupDeviceKey(accountId, stranger)).status).toBe('unavailable');
    // A device the last list named stays trusted through a failed reload of an expired list.
    clock.now += 6 * MINUTE;
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
  });
});
