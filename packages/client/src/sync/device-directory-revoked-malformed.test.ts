// A revoked device's answer (`getDevice`) that cannot be checked — malformed (an injected route that does
// not validate) or a signature check that throws — is a failure to ask, as a failed account load is: the
// lookup answers `unavailable` (the record is fetched again later, never taken), nothing is kept, and the
// next lookup asks again. Before, the thrown error was kept as the device's answer for the directory's
// lifetime, so every later lookup of it rejected instead of answering.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, type Ed25519 } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceDirectory, type AccountDeviceInfo, type AccountDevicesInfo } from './device-directory';
import { twoDeviceAccount } from './device-directory.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const NOW = Date.UTC(2025, 0, 1, 13, 0);
const REVOKED_AT = new Date(Date.UTC(2025, 0, 1, 12, 30)).toISOString();

/** An account whose answer lists `two` as revoked; `served` answers the device route (`next` once). */
const setup = async (verify: Ed25519['verify'] = ed.verify) => {
  const { keys, one, two, cert, base } = await twoDeviceAccount();
  const info: AccountDevicesInfo = { ...base, devices: [await cert(one)], revokedDevices: [two.deviceId] };
  const server = {
    /** Answered (once each) before `served`. */
    next: [] as unknown[],
    served: { certificate: await cert(two), revokedAt: REVOKED_AT } as AccountDeviceInfo,
    calls: 0,
  };
  const directory = createDeviceDirectory({
    ed: { ...ed, verify },
    now: () => NOW,
    getAccount: async () => info,
    getDevice: async () => {
      server.calls++;
      return (server.next.length > 0 ? server.next.shift() : server.served) as AccountDeviceInfo;
    },
  });
  return { accountId: keys.accountId, two, server, directory };
};

describe("a revoked device's answer that cannot be checked", () => {
  it('malformed: unavailable, not kept; the next lookup asks again and is answered', async () => {
    for (const malformed of [null, 'not an answer', { certificate: null, revokedAt: 5 }]) {
      const { accountId, two, server, directory } = await setup();
      server.next = [malformed];
      expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('unavailable');
      expect(await directory.authorKey(accountId, two.deviceId)).toEqual({
        key: two.publicKey,
        revokedAt: REVOKED_AT,
      });
      expect(server.calls).toBe(2);
    }
  });

  it('a signature check that throws: unavailable, not kept', async () => {
    let broken = true;
    const { accountId, two, directory } = await setup(async (pk, msg, sig) => {
      if (broken) throw new Error('verifier failed');
      return ed.verify(pk, msg, sig);
    });
    // The account list loads before the check breaks (its own checks ran then).
    broken = false;
    await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId);
    broken = true;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'unavailable',
      message: 'verifier failed',
    });
    broken = false;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
  });
});
