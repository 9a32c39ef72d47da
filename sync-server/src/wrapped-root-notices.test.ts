// The sync socket tells a device its account's passphrase-wrap generation: in `ready`, and as
// `wrappedRootChanged` when another device changes the passphrase while it is connected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authSignaturePayload,
  encodeFrame,
  wrappedRootSignaturePayload,
  type ServerFrame,
  type WrappedRootChangedFrame,
} from '@hale/protocol';
import { TEST_KDF, wrapRootWithPassphrase } from '@hale/crypto';
import {
  addDevice,
  connect,
  frameWithin,
  http,
  openWs,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from './testing/harness';
import { createWrappedRootNotices } from './core/wrapped-root-notices';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
});

const isNotice = (f: ServerFrame): f is WrappedRootChangedFrame => f.t === 'wrappedRootChanged';

/** PUT wrapped-root as `by` would after a passphrase change; `signedGen` lets a test sign another generation. */
const changePassphrase = async (account: TestAccount, by: TestDevice, gen: number, signedGen = gen) => {
  const wrappedRoot = (await wrapRootWithPassphrase(account.root, `passphrase ${gen}`, TEST_KDF)) as never;
  const sig = await sign(
    account.keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen: signedGen }),
  );
  return http(
    t.url,
    'PUT',
    '/v1/accounts/me/wrapped-root',
    { wrappedRoot, gen, sig },
    await sessionToken(t, by),
  );
};

describe('passphrase-wrap generation on the sync socket', () => {
  it('stops following when the socket closes', async () => {
    // First in the file, so no socket of another test is still closing.
    const before = t.server.ctx.wrappedRoots.size();
    const patient = await registerAccount(t);
    const ws = await connect(t, patient.device);
    expect(t.server.ctx.wrappedRoots.size()).toBe(before + 1);
    await ws.close();
    const until = Date.now() + 5_000;
    while (t.server.ctx.wrappedRoots.size() !== before && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(t.server.ctx.wrappedRoots.size()).toBe(before);
  });

  it('a socket that closes while it authenticates follows nothing', async () => {
    const before = t.server.ctx.wrappedRoots.size();
    const patient = await registerAccount(t);
    const client = await openWs(t);
    const challenge = await client.request({
      t: 'hello',
      versions: [1],
      deviceId: patient.device.deviceId,
    });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    const { hub } = t.server.ctx;
    const add = hub.add.bind(hub);
    let joined!: () => void;
    const done = new Promise<void>((resolve) => (joined = resolve));
    // The device hangs up while the server is between checking its signature and answering ready.
    hub.add = async (conn) => {
      await add(conn);
      await client.close();
      await new Promise((r) => setTimeout(r, 50));
      joined();
    };
    try {
      client.sendRaw(
        encodeFrame({
          t: 'auth',
          sig: await sign(
            patient.device.keys.secretKey,
            authSignaturePayload({
              nonce: challenge.nonce,
              deviceId: patient.device.deviceId,
              serverId: challenge.serverId,
            }),
          ),
        }),
      );
      await done;
      await new Promise((r) => setTimeout(r, 50));
      expect(t.server.ctx.wrappedRoots.size()).toBe(before);
    } finally {
      hub.add = add;
    }
  });

  it('ready carries it', async () => {
    const patient = await registerAccount(t);
    const ws = await connect(t, patient.device);
    expect(ws.ready).toMatchObject({ version: 1, wrappedRootGen: 0 });
    await ws.close();
  });

  it("announces a change to the account's other devices, not to the changer or another account", async () => {
    const patient = await registerAccount(t);
    const phone = await addDevice(t, patient);
    const stranger = await registerAccount(t);
    const laptopWs = await connect(t, patient.device);
    const phoneWs = await connect(t, phone);
    const strangerWs = await connect(t, stranger.device);

    expect((await changePassphrase(patient, patient.device, 1)).status).toBe(200);
    expect(await phoneWs.waitFor(isNotice)).toEqual({ t: 'wrappedRootChanged', gen: 1 });
    // The phone changes it next: now the laptop hears, the phone does not.
    expect((await changePassphrase(patient, phone, 2)).status).toBe(200);
    expect(await laptopWs.waitFor(isNotice)).toEqual({ t: 'wrappedRootChanged', gen: 2 });
    expect(await frameWithin(phoneWs, isNotice, 300)).toBe(false);
    expect(await frameWithin(strangerWs, isNotice, 50)).toBe(false);
    expect(laptopWs.unsolicited.filter(isNotice)).toEqual([]);

    // A device connecting later learns the generation from ready.
    const later = await connect(t, phone);
    expect(later.ready.wrappedRootGen).toBe(2);
    await Promise.all([laptopWs, phoneWs, strangerWs, later].map((c) => c.close()));
  });

  it('a store that cannot tell the generation costs ready the field, not the device its connection', async () => {
    const patient = await registerAccount(t);
    const { ctx } = t.server;
    const { hub, store } = ctx;
    const add = hub.add.bind(hub);
    const load = ctx.loadDevice.bind(ctx);
    const get = store.accounts.get.bind(store.accounts);
    // Fails the first account read after the device joined the hub and was read again (sync-ws.ts: a
    // revocation meanwhile): the one for ready's generation.
    let added = false;
    let failNext = false;
    hub.add = async (conn) => {
      await add(conn);
      added = true;
    };
    ctx.loadDevice = async (deviceId) => {
      const device = await load(deviceId);
      if (added) [added, failNext] = [false, true];
      return device;
    };
    store.accounts.get = async (accountId) => {
      if (!failNext) return get(accountId);
      failNext = false;
      throw new Error('disk on fire');
    };
    try {
      const ws = await connect(t, patient.device);
      expect(ws.ready.version).toBe(1);
      expect(ws.ready).not.toHaveProperty('wrappedRootGen');
      expect(await ws.request({ t: 'ping', rid: ws.rid() })).toMatchObject({ t: 'pong' });
      await ws.close();
    } finally {
      hub.add = add;
      ctx.loadDevice = load;
      store.accounts.get = get;
    }
  });

  it('a change committed while ready is prepared is in ready, and no notice goes out before it', async () => {
    const patient = await registerAccount(t);
    const { ctx } = t.server;
    const { hub, store, wrappedRoots } = ctx;
    const add = hub.add.bind(hub);
    const load = ctx.loadDevice.bind(ctx);
    const get = store.accounts.get.bind(store.accounts);
    let added = false;
    let changeNext = false;
    hub.add = async (conn) => {
      await add(conn);
      added = true;
    };
    ctx.loadDevice = async (deviceId) => {
      const device = await load(deviceId);
      if (added) [added, changeNext] = [false, true];
      return device;
    };
    // The read for ready's generation still sees 0, but generation 5 was announced just before it answered.
    store.accounts.get = async (accountId) => {
      const account = await get(accountId);
      if (changeNext) {
        changeNext = false;
        wrappedRoots.changed(accountId, 5, 'another device');
      }
      return account;
    };
    try {
      const ws = await connect(t, patient.device);
      expect(ws.ready.wrappedRootGen).toBe(5);
      expect(await frameWithin(ws, isNotice, 200)).toBe(false);
      await ws.close();
    } finally {
      hub.add = add;
      ctx.loadDevice = load;
      store.accounts.get = get;
    }
  });

  it('announces nothing for a refused change (stale generation, bad signature)', async () => {
    const patient = await registerAccount(t);
    const phone = await addDevice(t, patient);
    const phoneWs = await connect(t, phone);
    // The phone's own change (announced to it: never), then the same generation again from the laptop.
    expect((await changePassphrase(patient, phone, 1)).status).toBe(200);
    expect((await changePassphrase(patient, patient.device, 1)).status).toBe(409);
    expect((await changePassphrase(patient, patient.device, 2, 7)).status).toBe(401);
    expect(await frameWithin(phoneWs, isNotice, 300)).toBe(false);
    const later = await connect(t, phone);
    expect(later.ready.wrappedRootGen).toBe(1);
    await Promise.all([phoneWs.close(), later.close()]);
  });
});

describe('createWrappedRootNotices', () => {
  it('tells every follower of the account but the changer, even when one of them throws', () => {
    const errors: unknown[] = [];
    const notices = createWrappedRootNotices((error) => errors.push(error));
    const heard: string[] = [];
    notices.watch('acct', 'a', () => {
      throw new Error('socket gone');
    });
    const stopB = notices.watch('acct', 'b', (gen) => heard.push(`b${gen}`));
    notices.watch('acct', 'c', (gen) => heard.push(`c${gen}`));
    notices.watch('other', 'd', (gen) => heard.push(`d${gen}`));
    notices.changed('acct', 1, 'c');
    expect(heard).toEqual(['b1']);
    expect(errors).toHaveLength(1);
    stopB();
    stopB();
    notices.changed('acct', 2, 'nobody');
    expect(heard).toEqual(['b1', 'c2']);
    expect(notices.size()).toBe(3);
  });
});
