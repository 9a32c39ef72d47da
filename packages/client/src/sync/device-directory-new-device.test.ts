// A device added to an account a moment ago signs its first record; the reader looks its key up. A list
// of the account's devices loaded, or asked for, before the device was added cannot say it is not the
// account's: "unknown" sets its records aside for good (BAD_AUTHOR), so only a list asked for after the
// lookup began may say so. A moment's flood of unknown ids still costs one load.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys } from '@hale/crypto';
import { createDeviceDirectory, type AccountDevicesInfo } from './device-directory';
import { directoryEd as ed, twoDeviceAccount } from './device-directory.test-util';

/** A server whose answer is the device list as it stands when asked, released only on `release()`. */
const gatedServer = async () => {
  const account = await twoDeviceAccount();
  const { base, cert, one } = account;
  const state = { devices: [await cert(one)] as unknown[], calls: 0, gated: false };
  const waiting: Array<() => void> = [];
  const getAccount = async (): Promise<AccountDevicesInfo> => {
    state.calls++;
    const answer: AccountDevicesInfo = { ...base, devices: [...state.devices], revokedDevices: [] };
    if (state.gated) await new Promise<void>((resolve) => waiting.push(resolve));
    return answer;
  };
  const release = (): void => {
    for (const go of waiting.splice(0)) go();
  };
  return { ...account, state, getAccount, release };
};

describe('a device added a moment ago', () => {
  it('is found, not unknown, when its lookup shares a load asked for before it was added', async () => {
    const { accountId, one, two, cert, state, getAccount, release } = await gatedServer();
    const clock = { now: 1_000_000 };
    const directory = createDeviceDirectory({ ed, now: () => clock.now, getAccount });
    state.gated = true;
    // A lookup of device one asks for the list; device two is added while that answer is on its way.
    const earlier = directory.lookupDeviceKey(accountId, one.deviceId);
    state.devices = [...state.devices, await cert(two)];
    const later = directory.lookupDeviceKey(accountId, two.deviceId);
    await new Promise((r) => setTimeout(r, 5));
    state.gated = false;
    release();
    expect((await earlier).status).toBe('found');
    expect(await later).toEqual({ status: 'found', key: two.publicKey });
    expect(state.calls).toBe(2);
  });

  it('is not called unknown from a list re-asked for a moment ago; found once asked again', async () => {
    const { accountId, one, two, cert, state, getAccount } = await gatedServer();
    const clock = { now: 1_000_000 };
    const directory = createDeviceDirectory({ ed, now: () => clock.now, getAccount });
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
    clock.now += 200;
    // An unknown id has the list asked for again (forced)...
    expect(await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId)).toEqual({
      status: 'unknown',
    });
    expect(state.calls).toBe(2);
    // ...and device two, added just after, signs within the same moment: not asked again, not decided.
    state.devices = [...state.devices, await cert(two)];
    clock.now += 100;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toMatchObject({
      status: 'unavailable',
    });
    expect(state.calls).toBe(2);
    // Asked again later (the reader fetches what it set aside AUTHOR_LOOKUP_FAILED again): found.
    clock.now += 2_000;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'found',
      key: two.publicKey,
    });
    expect(state.calls).toBe(3);
  });

  it('a flood of unknown ids while a load is on its way still costs one more load in all', async () => {
    const { accountId, one, state, getAccount, release } = await gatedServer();
    const clock = { now: 1_000_000 };
    const directory = createDeviceDirectory({ ed, now: () => clock.now, getAccount });
    state.gated = true;
    const earlier = directory.lookupDeviceKey(accountId, one.deviceId);
    const strangers = Array.from({ length: 50 }, () =>
      directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId),
    );
    await new Promise((r) => setTimeout(r, 5));
    state.gated = false;
    release();
    expect((await earlier).status).toBe('found');
    expect((await Promise.all(strangers)).every((a) => a.status === 'unknown')).toBe(true);
    expect(state.calls).toBe(2);
  });
});
