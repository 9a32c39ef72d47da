// `expire()` (every reconnect) means "lists fetched before now may predate a revocation". A load still in
// flight when it is called was asked before it, so it must not answer a lookup made after it, nor, when
// it lands late, replace a list fetched after it (which a failed reload would then answer from).
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  createDeviceDirectory,
  type AccountDevicesInfo,
  type AccountsDevicesAnswer,
} from './device-directory';
import { twoDeviceAccount } from './device-directory.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;

/** A request the test answers when it chooses, with what the server held when the request reached it. */
interface Held<T> {
  readonly answer: T;
  release(): void;
  fail(error: Error): void;
}

/** An account with devices `one` and `two`; a server whose answers wait until released. */
const setup = async () => {
  const { keys, one, two, cert, base } = await twoDeviceAccount();
  const [certOne, certTwo] = [await cert(one), await cert(two)];
  const server = { revokedTwo: false };
  const snapshot = (): AccountDevicesInfo => ({
    ...base,
    devices: server.revokedTwo ? [certOne] : [certOne, certTwo],
    revokedDevices: server.revokedTwo ? [two.deviceId] : [],
  });
  const singles: Array<Held<AccountDevicesInfo>> = [];
  const batches: Array<Held<AccountsDevicesAnswer>> = [];
  const hold = <T>(answer: T, into: Array<Held<T>>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      into.push({ answer, release: () => resolve(answer), fail: reject });
    });
  const directory = createDeviceDirectory({
    ed,
    now: () => 1_000_000,
    getAccount: (accountId) => {
      expect(accountId).toBe(keys.accountId);
      return hold(snapshot(), singles);
    },
    getAccounts: (ids) => {
      expect(ids).toEqual([keys.accountId]);
      return hold({ accounts: [snapshot()], unknown: [], deferred: [] }, batches);
    },
  });
  return { accountId: keys.accountId, one, two, server, singles, batches, directory };
};

/** Lets pending promise callbacks (and the requests they start) run. */
const turn = () => new Promise((r) => setTimeout(r, 0));

describe('device directory: a load in flight across expire()', () => {
  it('a lookup made after expire() is not answered by the load asked before it', async () => {
    const { accountId, two, server, singles, directory } = await setup();
    const before = directory.lookupDeviceKey(accountId, two.deviceId);
    await turn();
    expect(singles).toHaveLength(1);
    // The account revokes `two`, and the device reconnects before the first answer arrives.
    server.revokedTwo = true;
    directory.expire();
    const after = directory.deviceKey(accountId, two.deviceId);
    await turn();
    singles[0]!.release();
    // The lookup asked before expire() may take the answer it asked for...
    expect((await before).status).toBe('found');
    // ...the one after it waits for a list fetched after it, which no longer lists `two` as active.
    await turn();
    singles[1]?.release();
    expect(await after).toBeNull();
    expect(singles).toHaveLength(2);
  });

  it('nor by a preload asked before it', async () => {
    const { accountId, two, server, singles, batches, directory } = await setup();
    const preloading = directory.preload([accountId]);
    await turn();
    expect(batches).toHaveLength(1);
    server.revokedTwo = true;
    directory.expire();
    const after = directory.deviceKey(accountId, two.deviceId);
    await turn();
    batches[0]!.release();
    await preloading;
    await turn();
    singles[0]?.release();
    expect(await after).toBeNull();
    expect(singles).toHaveLength(1);
  });

  it('an old load landing late does not replace the newer list a failed reload then answers from', async () => {
    const { accountId, two, server, singles, directory } = await setup();
    const before = directory.lookupDeviceKey(accountId, two.deviceId);
    await turn();
    server.revokedTwo = true;
    directory.expire();
    const after = directory.deviceKey(accountId, two.deviceId);
    await turn();
    expect(singles).toHaveLength(2);
    // The newer answer first, the older one after it.
    singles[1]!.release();
    expect(await after).toBeNull();
    singles[0]!.release();
    await before;
    // The next reconnect, and the server cannot be asked: a failed reload answers from the list kept, which
    // must be the newer one (`two` revoked: unknown without getDevice), not the late one (`two` active).
    directory.expire();
    const offline = directory.lookupDeviceKey(accountId, two.deviceId);
    await turn();
    singles[2]!.fail(new Error('network down'));
    expect(await offline).toEqual({ status: 'unknown' });
  });
});
