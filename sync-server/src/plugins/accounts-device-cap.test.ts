// The caps on an account's devices (`POST /v1/devices`, accounts.ts), over real HTTP against a real server
// and SQLite file: the device past MAX_DEVICES_PER_ACCOUNT (active) or MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT
// (ever registered) is refused with TOO_MANY_DEVICES and leaves nothing changed, racing adds cannot pass
// the cap together, and the account answers (`GET /v1/accounts/:id`, the batched lookup) stay within their
// schema, so an account at its cap spoils no other account's answer in a lookup.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HttpAccountsLookupResponse,
  MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT,
  MAX_DEVICES_PER_ACCOUNT,
  validate,
} from '@hale/protocol';
import { base64urlEncode, generateDeviceKeys, randomBytes } from '@hale/crypto';
import { buildApp } from '../app';
import { openSqliteStore, type SqliteStore, type SyncStore } from '../store/index';
import {
  endpoint,
  getAccountAnswer,
  http,
  makeDeviceCert,
  registerAccount,
  revokeDevice,
  rowCounts,
  sessionToken,
  type Endpoint,
  type TestAccount,
  type TestDevice,
} from '../testing/harness';

interface Running extends Endpoint {
  store: SqliteStore;
  /** Milliseconds each listing of an account's devices is answered late, as by a store over the network. */
  slowListing: { ms: number };
  stop(): Promise<void>;
}

/** A server like the harness's, over a wrapper of a real store whose device listings can be slowed. */
const start = async (): Promise<Running> => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-device-cap-'));
  const store = await openSqliteStore({ dataDir });
  const slowListing = { ms: 0 };
  const wrapped: SyncStore = {
    ...store,
    devices: {
      ...store.devices,
      listForAccount: async (accountId) => {
        const listed = await store.devices.listForAccount(accountId);
        if (slowListing.ms > 0) await new Promise((resolve) => setTimeout(resolve, slowListing.ms));
        return listed;
      },
    },
  };
  const server = await buildApp({
    store: wrapped,
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
    },
  });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    ...endpoint(url),
    store,
    slowListing,
    async stop() {
      await server.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

describe('POST /v1/devices caps the devices of an account', () => {
  let t: Running;
  beforeEach(async () => {
    t = await start();
  });
  afterEach(async () => {
    await t.stop();
  });

  /** Signed certificates for `n` new devices of the account (not sent). */
  const certificates = async (account: TestAccount, n: number) =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const keys = generateDeviceKeys();
        return { keys, device: await makeDeviceCert(account, keys) };
      }),
    );

  /** Adds `n` devices through the route, a few requests at a time; each must be taken. */
  const addDevices = async (account: TestAccount, n: number): Promise<TestDevice[]> => {
    const added: TestDevice[] = [];
    const certs = await certificates(account, n);
    for (let i = 0; i < certs.length; i += 16) {
      await Promise.all(
        certs.slice(i, i + 16).map(async ({ keys, device }) => {
          const res = await http(t.url, 'POST', '/v1/devices', { device });
          if (res.status !== 201) throw new Error(`add device: ${res.status} ${JSON.stringify(res.body)}`);
          added.push({ keys, deviceId: keys.deviceId });
        }),
      );
    }
    return added;
  };

  const addOne = async (account: TestAccount) => {
    const [cert] = await certificates(account, 1);
    return { ...(await http(t.url, 'POST', '/v1/devices', { device: cert!.device })), cert: cert! };
  };

  /**
   * Writes `n` devices of the account straight into the table, in one transaction, bypassing the route and
   * its caps (as an older server could have left them). Copies of one certificate under other ids: only
   * their number matters. Each is registered a millisecond after the one before, from `from` on.
   */
  const insertDevices = async (
    account: TestAccount,
    n: number,
    options: { revoked: boolean; from?: number },
  ): Promise<string[]> => {
    const [template] = await certificates(account, 1);
    const insert = t.store.db.prepare(
      `INSERT INTO devices (device_id, account_id, cert, device_public_key, created_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const ids: string[] = [];
    const from = options.from ?? Date.now();
    t.store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const deviceId = base64urlEncode(randomBytes(16));
        const cert = { ...template!.device, cert: { ...template!.device.cert, deviceId } };
        const at = new Date(from + i).toISOString();
        insert.run(
          deviceId,
          account.accountId,
          JSON.stringify(cert),
          cert.cert.devicePublicKey,
          at,
          options.revoked ? at : null,
        );
        ids.push(deviceId);
      }
    })();
    return ids;
  };

  const lookup = async (caller: TestAccount, accountIds: string[]) => {
    const res = await http(
      t.url,
      'POST',
      '/v1/accounts/lookup',
      { accountIds },
      await sessionToken(t, caller.device),
    );
    expect(res.status).toBe(200);
    return validate(HttpAccountsLookupResponse, res.body);
  };

  it('refuses the device past MAX_DEVICES_PER_ACCOUNT with TOO_MANY_DEVICES, changing nothing, and answers stay valid', async () => {
    const crowded = await registerAccount(t);
    const honest = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    // Registration brought the first device; all but the last three places are stored directly (through
    // the route: a thousand signed requests), and the route must take each of the last three.
    await insertDevices(crowded, MAX_DEVICES_PER_ACCOUNT - 4, {
      revoked: false,
      from: Date.now() - 3600_000,
    });
    const added = await addDevices(crowded, 3);
    const counts = rowCounts(t.store);

    const refused = await addOne(crowded);
    expect(refused).toMatchObject({
      status: 409,
      body: { code: 'TOO_MANY_DEVICES', details: { limit: 'active', max: MAX_DEVICES_PER_ACCOUNT } },
    });
    expect(rowCounts(t.store)).toEqual(counts);
    expect(await t.store.devices.get(refused.cert.keys.deviceId)).toBeNull();

    // A device already added is answered as before (nothing new stored), even at the cap.
    const again = await http(t.url, 'POST', '/v1/devices', {
      device: await makeDeviceCert(crowded, added[0]!.keys),
    });
    expect(again).toMatchObject({ status: 201, body: { deviceId: added[0]!.deviceId } });
    expect(rowCounts(t.store)).toEqual(counts);

    // Both answers keep to their schema: the account alone, and beside an honest one in a lookup.
    expect((await getAccountAnswer(t, crowded.accountId)).devices).toHaveLength(MAX_DEVICES_PER_ACCOUNT);
    const both = await lookup(provider, [crowded.accountId, honest.accountId]);
    if (!both.ok) throw new Error(both.error.message);
    expect(both.value.accounts.map((a) => a.accountId)).toEqual([crowded.accountId, honest.accountId]);
    expect(both.value.accounts[1]).toEqual(await getAccountAnswer(t, honest.accountId));

    // Revoking a device makes room for one more, and only one.
    expect((await revokeDevice(t, crowded, added[1]!)).status).toBe(200);
    expect((await addOne(crowded)).status).toBe(201);
    expect(await addOne(crowded)).toMatchObject({ status: 409, body: { code: 'TOO_MANY_DEVICES' } });
    const answer = await getAccountAnswer(t, crowded.accountId);
    expect(answer.devices).toHaveLength(MAX_DEVICES_PER_ACCOUNT);
    expect(answer.revokedDevices).toEqual([added[1]!.deviceId]);
  });

  it('lets racing adds past the last free places only as many as there are', async () => {
    const account = await registerAccount(t);
    await insertDevices(account, MAX_DEVICES_PER_ACCOUNT - 3, { revoked: false });
    const certs = await certificates(account, 6);
    // Each add counts the devices, then stores one: the counts answered late, so all six count before
    // any of them stores.
    t.slowListing.ms = 200;
    const answers = await Promise.all(
      certs.map(({ device }) => http(t.url, 'POST', '/v1/devices', { device })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    for (const a of answers.filter((r) => r.status !== 201))
      expect(a).toMatchObject({ status: 409, body: { code: 'TOO_MANY_DEVICES' } });
    expect((await getAccountAnswer(t, account.accountId)).devices).toHaveLength(MAX_DEVICES_PER_ACCOUNT);
  });

  it('refuses the registration past MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT, revoked devices included, and never a revocation', async () => {
    const account = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const honest = await registerAccount(t);
    // Devices registered and revoked over the years, stored directly (through the routes this would take
    // some 20,000 signed requests): with the first device (registration), all but one the account may make.
    await insertDevices(account, MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT - 2, { revoked: true });
    // The last place is taken through the route; the next is refused.
    const [last] = await addDevices(account, 1);
    const counts = rowCounts(t.store);
    expect(await addOne(account)).toMatchObject({
      status: 409,
      body: {
        code: 'TOO_MANY_DEVICES',
        details: { limit: 'total', max: MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT },
      },
    });
    expect(rowCounts(t.store)).toEqual(counts);
    // A revocation is never refused: every stored device may be revoked, and the answer stays valid.
    expect((await revokeDevice(t, account, account.device)).status).toBe(200);
    expect((await revokeDevice(t, account, last!)).status).toBe(200);
    const answer = await getAccountAnswer(t, account.accountId);
    expect(answer.devices).toEqual([]);
    expect(answer.revokedDevices).toHaveLength(MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT);
    const both = await lookup(provider, [account.accountId, honest.accountId]);
    if (!both.ok) throw new Error(both.error.message);
    expect(both.value.accounts.map((a) => a.accountId)).toEqual([account.accountId, honest.accountId]);
  });

  it('answers an account stored over the caps (by an older server) within its schema, its newest devices first kept', async () => {
    const bloated = await registerAccount(t);
    const honest = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const past = Date.now() - 3600_000;
    // Older than the registration's device, so the newest active devices are the inserted ones' last.
    const active = await insertDevices(bloated, MAX_DEVICES_PER_ACCOUNT + 1, { revoked: false, from: past });
    const revoked = await insertDevices(bloated, MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT + 1, {
      revoked: true,
      from: past,
    });
    const answer = await getAccountAnswer(t, bloated.accountId);
    expect(answer.devices.map((d) => d.cert.deviceId)).toEqual([
      ...active.slice(-(MAX_DEVICES_PER_ACCOUNT - 1)),
      bloated.device.deviceId,
    ]);
    expect(answer.revokedDevices).toEqual(revoked.slice(-MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT));
    // Beside an honest account in one lookup: both answered, as the single route answers them.
    const both = await lookup(provider, [bloated.accountId, honest.accountId]);
    if (!both.ok) throw new Error(both.error.message);
    expect(both.value).toEqual({
      accounts: [answer, await getAccountAnswer(t, honest.accountId)],
      unknown: [],
      deferred: [],
    });
    // And it still takes no device.
    expect(await addOne(bloated)).toMatchObject({ status: 409, body: { code: 'TOO_MANY_DEVICES' } });
  });
});
