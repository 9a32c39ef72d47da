// The device directory's answers when the server cannot be asked, contradicts itself or answers malformed:
// a lookup that fails is never "no such account" (wrappingKey, identityKey reject with the failure instead
// of answering null, which consent read as an unknown grantee and skipped when re-keying); a device the
// account answer lists as revoked is revoked even if the same answer also lists its certificate among the
// active devices (never trusted without its cutoff); and a batched answer that is not the shape asked for
// settles every account's load, so their lookups load them alone instead of waiting forever.
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  createDeviceDirectory,
  type AccountDeviceInfo,
  type AccountDevicesInfo,
  type AccountsDevicesAnswer,
} from './device-directory';
import { twoDeviceAccount } from './device-directory.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const NOW = Date.UTC(2025, 0, 1, 13, 0);
const REVOKED_AT = new Date(Date.UTC(2025, 0, 1, 12, 30)).toISOString();

/** An account with devices `one` (active) and `two`, and its answer as the server gives it. */
const account = async () => {
  const a = await twoDeviceAccount('provider');
  const info: AccountDevicesInfo = { ...a.base, devices: [await a.cert(a.one)], revokedDevices: [] };
  return { ...a, info };
};

const settled = <T>(p: Promise<T>, ms = 500): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('a lookup that fails is no unknown account', () => {
  it("wrappingKey and identityKey reject with the lookup's failure when nothing is cached", async () => {
    const { accountId } = await account();
    const directory = createDeviceDirectory({
      ed,
      now: () => NOW,
      getAccount: async () => {
        throw new Error('network down');
      },
    });
    await expect(directory.wrappingKey(accountId)).rejects.toThrow('network down');
    await expect(directory.identityKey(accountId)).rejects.toThrow('network down');
  });

  it('still answers null for an account the server does not know (NOT_FOUND)', async () => {
    const { accountId } = await account();
    const directory = createDeviceDirectory({
      ed,
      now: () => NOW,
      getAccount: async () => {
        throw Object.assign(new Error('no such account'), { code: 'NOT_FOUND' });
      },
    });
    expect(await directory.wrappingKey(accountId)).toBeNull();
    expect(await directory.identityKey(accountId)).toBeNull();
  });

  it('answers the last verified key when a reload fails, as device lookups do', async () => {
    const { accountId, keys, info } = await account();
    const server = { failing: false };
    let clock = NOW;
    const directory = createDeviceDirectory({
      ed,
      now: () => clock,
      getAccount: async () => {
        if (server.failing) throw new Error('network down');
        return info;
      },
    });
    expect(await directory.wrappingKey(accountId)).toEqual(keys.wrapping.publicKey);
    server.failing = true;
    clock += 10 * 60_000;
    expect(await directory.wrappingKey(accountId)).toEqual(keys.wrapping.publicKey);
  });
});

describe('a device the account answer lists both as active and as revoked', () => {
  it('is revoked: looked up as a revoked device (with its cutoff), never trusted as an active one', async () => {
    const { accountId, two, cert, info } = await account();
    const contradictory: AccountDevicesInfo = {
      ...info,
      devices: [...info.devices, await cert(two)],
      revokedDevices: [two.deviceId],
    };
    const served: AccountDeviceInfo = { certificate: await cert(two), revokedAt: REVOKED_AT };
    const directory = createDeviceDirectory({
      ed,
      now: () => NOW,
      getAccount: async () => contradictory,
      getDevice: async () => served,
    });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'found',
      key: two.publicKey,
      revokedAt: REVOKED_AT,
    });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();

    const without = createDeviceDirectory({ ed, now: () => NOW, getAccount: async () => contradictory });
    expect(await without.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
  });
});

describe('a batched answer that is not the shape asked for', () => {
  it('leaves no lookup waiting: each account is then loaded alone', async () => {
    const { accountId, one, info } = await account();
    const malformed = [
      { accounts: [null], unknown: [], deferred: [] },
      { accounts: 'all of them', unknown: [], deferred: [] },
      { accounts: [], unknown: 7, deferred: [] },
    ] as unknown as AccountsDevicesAnswer[];
    for (const answer of malformed) {
      let single = 0;
      const directory = createDeviceDirectory({
        ed,
        now: () => NOW,
        getAccount: async () => {
          single++;
          return info;
        },
        getAccounts: async () => answer,
      });
      await expect(settled(directory.preload([accountId]))).resolves.toBeUndefined();
      const found = await settled(directory.lookupDeviceKey(accountId, one.deviceId));
      expect(found).toEqual({ status: 'found', key: one.publicKey });
      expect(single).toBe(1);
    }
  });
});
