import { describe, expect, it } from 'vitest';
import {
  VAULT_KEY,
  HaleClientError,
  changePassphrase,
  createAccount,
  createHttpApi,
  isAccountError,
  joinWithPassphrase,
  lock,
  memoryVault,
  openSession,
  unlock,
  type AccountDeps,
  type DeviceSession,
  type MemoryVault,
  type PassphraseStatus,
  type UnlockedAccount,
  type WebSocketLike,
} from '@hale/client/advanced';
import { TEST_KDF, generateRootSecret, wrapRootWithPassphrase } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { asTestAccount, createWebSocket, ed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

// A passphrase changed on one device reaches the account's other online devices by itself: the server
// reports the wrap's generation on the sync socket, and a session given the vault and the API takes the
// newer wrap (verified by refreshWrappedRoot) without the app calling anything. A session without them
// only says so; a wrap the device must refuse leaves its vault alone and says that.
describe('a passphrase changed elsewhere reaches an online device session', () => {
  const server = useServer({ realClock: true });
  const P1 = 'the first passphrase';
  const P2 = 'the second passphrase';
  let counter = 0;

  /** A patient's laptop (created the account) and phone (joined with P1), each with its own vault. */
  const patient = async () => {
    const api = createHttpApi({ baseUrl: server.t.url, fetch });
    const deps = (): AccountDeps & { vault: MemoryVault } => ({
      api,
      vault: memoryVault(),
      ed,
      kdf: TEST_KDF,
      weakKdfForTests: true,
    });
    const loginName = `follow${++counter}-${Date.now().toString(36)}`;
    const laptopDeps = deps();
    const { account: laptop } = await createAccount(laptopDeps, {
      role: 'patient',
      passphrase: P1,
      loginName,
      deviceName: 'laptop',
    });
    const phoneDeps = deps();
    const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P1, deviceName: 'phone' });
    const tokenOf = async (a: UnlockedAccount) => (await openSession(api, a.device, ed)).token;
    const change = async (from: string, to: string) =>
      changePassphrase(laptopDeps, {
        account: laptop,
        oldPassphrase: from,
        newPassphrase: to,
        token: await tokenOf(laptop),
      });
    return { api, loginName, laptop, laptopDeps, phone, phoneDeps, change };
  };

  const open = async (...args: Parameters<typeof openDevice>): Promise<DeviceSession> => {
    const session = await openDevice(...args);
    server.sessions.push(session);
    return session;
  };
  const passphraseIs = (session: DeviceSession, status: PassphraseStatus) =>
    eventually(() => session.sync.state().passphrase === status, `passphrase ${status}`);
  const opensWith = async (vault: MemoryVault, passphrase: string): Promise<boolean> => {
    try {
      lock(await unlock({ vault }, { passphrase }));
      return true;
    } catch (e) {
      if (isAccountError(e) && e.code === 'WRONG_PASSPHRASE') return false;
      throw e;
    }
  };
  /** Drops the socket and waits for the next `ready`, and for the session to act on it (in the background). */
  const reconnect = async (session: DeviceSession): Promise<void> => {
    session.connection.drop();
    await eventually(() => session.connection.status() !== 'ready', 'dropped');
    await waitOnline(session);
    await new Promise((r) => setTimeout(r, 250));
  };
  const issues = (session: DeviceSession, code: string) =>
    session.sync.state().errors.filter((issue) => issue.code === code);

  it('the phone takes the new wrap while connected: the old passphrase stops opening it, sync carries on', async () => {
    const { api, laptop, laptopDeps, phone, phoneDeps, change } = await patient();
    const laptopSession = await open(server.t, asTestAccount(laptop), { vault: laptopDeps.vault, api });
    const phoneSession = await open(server.t, asTestAccount(phone), { vault: phoneDeps.vault, api });
    await Promise.all([waitOnline(laptopSession), waitOnline(phoneSession)]);
    await passphraseIs(phoneSession, 'current');
    await passphraseIs(laptopSession, 'current');

    await change(P1, P2);
    await passphraseIs(phoneSession, 'updated');
    expect(await opensWith(phoneDeps.vault, P1)).toBe(false);
    expect(await opensWith(phoneDeps.vault, P2)).toBe(true);
    // Only the wrap and its generation changed in the phone's vault.
    expect(JSON.parse(phoneDeps.vault.entries().get(VAULT_KEY)!)).toMatchObject({
      gen: 1,
      deviceName: 'phone',
      loginName: phone.loginName,
    });

    // The laptop made the change: it is not told, and after reconnecting its vault matches the server.
    await reconnect(laptopSession);
    await passphraseIs(laptopSession, 'current');
    expect(laptopSession.sync.state().errors.filter((e) => /passphrase/i.test(e.message))).toEqual([]);

    // `updated` stays for the rest of the session, so the person can still be told.
    await reconnect(phoneSession);
    expect(phoneSession.sync.state().passphrase).toBe('updated');

    const after = await phoneSession.records.add('Allergy', input('Allergy'));
    await eventually(async () => (await laptopSession.records.get(after.id)) !== null, 'laptop has it');
    expect(phoneSession.sync.state().status).not.toBe('fatal');
  });

  it('a change made while the phone was closed is taken at its next connection', async () => {
    const { api, phone, phoneDeps, change } = await patient();
    await change(P1, P2);
    const phoneSession = await open(server.t, asTestAccount(phone), { vault: phoneDeps.vault, api });
    await passphraseIs(phoneSession, 'updated');
    expect(await opensWith(phoneDeps.vault, P1)).toBe(false);
    expect(await opensWith(phoneDeps.vault, P2)).toBe(true);
  });

  it('a fetch that fails for a passing reason is retried at the next connection', async () => {
    const { api, phone, phoneDeps, change } = await patient();
    let failNext = true;
    const flaky = {
      ...api,
      getWrappedRoot: async (token: string) => {
        if (failNext) {
          failNext = false;
          throw new HaleClientError({ code: 'NETWORK', message: 'connection reset', status: 0 });
        }
        return api.getWrappedRoot(token);
      },
    };
    const phoneSession = await open(server.t, asTestAccount(phone), { vault: phoneDeps.vault, api: flaky });
    await waitOnline(phoneSession);
    await change(P1, P2);
    await eventually(() => issues(phoneSession, 'NETWORK').length === 1, 'the failure is reported');
    expect(phoneSession.sync.state().passphrase).toBe('changed-elsewhere');
    expect(await opensWith(phoneDeps.vault, P1)).toBe(true);

    phoneSession.connection.drop();
    await passphraseIs(phoneSession, 'updated');
    expect(await opensWith(phoneDeps.vault, P2)).toBe(true);
    // Taken: the failure is over, and so is its issue.
    await eventually(() => issues(phoneSession, 'NETWORK').length === 0, 'the failure no longer listed');
  });

  it('a wrap the phone must refuse (forged, stale) leaves its vault as it was and says so, once per generation', async () => {
    const { api, phone, phoneDeps, change } = await patient();
    const generation0 = await api.getWrappedRoot((await openSession(api, phone.device, ed)).token);
    let fetched = 0;
    let serve: ((real: typeof generation0) => typeof generation0) | null = null;
    const counting = {
      ...api,
      getWrappedRoot: async (token: string) => {
        fetched++;
        const real = await api.getWrappedRoot(token);
        return serve ? serve(real) : real;
      },
    };
    const phoneSession = await open(server.t, asTestAccount(phone), {
      vault: phoneDeps.vault,
      api: counting,
    });
    await waitOnline(phoneSession);
    await change(P1, P2);
    await passphraseIs(phoneSession, 'updated');
    expect(fetched).toBe(1);
    const held = phoneDeps.vault.entries().get(VAULT_KEY);

    // The server's own store now holds a generation-2 wrap of a root it made up, not signed by the account.
    const forged = await wrapRootWithPassphrase(generateRootSecret(), 'server chosen pass', TEST_KDF);
    await server.t.store.accounts.updateWrappedRoot(phone.accountId, {
      wrappedRoot: forged as never,
      gen: 2,
      sig: 'A'.repeat(86),
    });
    phoneSession.connection.drop(); // the next ready reports generation 2
    await passphraseIs(phoneSession, 'refused');
    expect(issues(phoneSession, 'WRAPPED_ROOT_REFUSED')).toHaveLength(1);
    expect(fetched).toBe(2);
    expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    expect(await opensWith(phoneDeps.vault, P2)).toBe(true);

    // The same generation at the next connection: neither fetched nor reported again.
    await reconnect(phoneSession);
    expect(fetched).toBe(2);
    expect(issues(phoneSession, 'WRAPPED_ROOT_REFUSED')).toHaveLength(1);

    // A newer generation announced, the genuine but older generation 0 served: a rollback, refused too.
    serve = () => generation0;
    server.t.server.ctx.wrappedRoots.changed(phone.accountId, 3, 'another device');
    await eventually(() => issues(phoneSession, 'WRAPPED_ROOT_REFUSED').length === 2, 'second refusal');
    expect(phoneSession.sync.state().passphrase).toBe('refused');
    expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    expect(await opensWith(phoneDeps.vault, P1)).toBe(false);
    expect(await opensWith(phoneDeps.vault, P2)).toBe(true);
    // What the session reports names generations and codes, never a wrap.
    expect(JSON.stringify(phoneSession.sync.state())).not.toContain(forged.ct);
    expect(JSON.stringify(phoneSession.sync.state())).not.toContain(generation0.wrappedRoot.ct);
  });

  it('a session given no vault says the passphrase changed elsewhere, and writes nothing', async () => {
    const { api, loginName, laptop, phone, phoneDeps, change } = await patient();
    const joined = async (deviceName: string) => {
      const vault = memoryVault();
      const account = await joinWithPassphrase(
        { api, vault, ed, weakKdfForTests: true },
        { loginName, passphrase: P1, deviceName },
      );
      return { account, vault };
    };
    const tablet = await joined('tablet');
    const kiosk = await joined('kiosk');
    const watch = await joined('watch');
    const vaults = () =>
      [phoneDeps.vault, tablet.vault, kiosk.vault, watch.vault].map((v) => v.entries().get(VAULT_KEY));
    const before = vaults();
    // The account object unlock gave knows which generation this device opened with.
    const unlocked = await unlock({ vault: phoneDeps.vault }, { passphrase: P1 });
    const phoneSession = await open(server.t, asTestAccount(phone), { sessionAccount: unlocked });
    // A hand-built account object does not: only a change seen during the session counts.
    const tabletSession = await open(server.t, asTestAccount(tablet.account));
    await Promise.all([waitOnline(phoneSession), waitOnline(tabletSession)]);
    await passphraseIs(phoneSession, 'current');
    expect(tabletSession.sync.state().passphrase).toBe('unknown');

    await change(P1, P2);
    await passphraseIs(phoneSession, 'changed-elsewhere');
    await passphraseIs(tabletSession, 'changed-elsewhere');

    // A device that opens only after the change, with the account object from its join, sees it at once.
    const kioskSession = await open(server.t, asTestAccount(kiosk.account), {
      sessionAccount: kiosk.account,
    });
    await passphraseIs(kioskSession, 'changed-elsewhere');
    // The vault alone (no API) makes the comparison exact, and is only read.
    const watchSession = await open(server.t, asTestAccount(watch.account), { vault: watch.vault });
    await passphraseIs(watchSession, 'changed-elsewhere');
    expect(vaults()).toEqual(before);
    expect(await opensWith(phoneDeps.vault, P1)).toBe(true);

    // The laptop's account object took generation 1 when it changed the passphrase; a server that then
    // claims generation 0 is rolling it back.
    const laptopSession = await open(server.t, asTestAccount(laptop), { sessionAccount: laptop });
    await passphraseIs(laptopSession, 'current');
    server.t.server.ctx.wrappedRoots.changed(laptop.accountId, 0, 'another device');
    await passphraseIs(laptopSession, 'refused');
    expect(issues(laptopSession, 'WRAPPED_ROOT_REFUSED')).toHaveLength(1);
  });

  it('a malformed generation from the server is a BAD_MESSAGE, ignored: nothing changes, sync carries on', async () => {
    const { api, laptop, phone, phoneDeps, change } = await patient();
    // Whatever the server announces, the phone receives a generation that is not one.
    const tampering = (url: string): WebSocketLike => {
      const real = createWebSocket(url);
      return new Proxy(real, {
        set(target, key, value: unknown) {
          if (key === 'onmessage' && typeof value === 'function') {
            const onmessage = value as (ev: { data: unknown }) => void;
            target.onmessage = (ev) =>
              onmessage({
                data: typeof ev.data === 'string' ? ev.data.replace(/"gen":\d+/, '"gen":"1"') : ev.data,
              });
            return true;
          }
          return Reflect.set(target, key, value);
        },
      });
    };
    const laptopSession = await open(server.t, asTestAccount(laptop));
    const phoneSession = await open(server.t, asTestAccount(phone), {
      vault: phoneDeps.vault,
      api,
      createWebSocket: tampering,
    });
    await Promise.all([waitOnline(laptopSession), waitOnline(phoneSession)]);
    await passphraseIs(phoneSession, 'current');
    const held = phoneDeps.vault.entries().get(VAULT_KEY);

    await change(P1, P2);
    await eventually(
      () => issues(phoneSession, 'BAD_MESSAGE').some((i) => i.message.includes('/gen')),
      'the notice was refused',
    );
    expect(phoneSession.sync.state().passphrase).toBe('current');
    expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    const later = await laptopSession.records.add('Allergy', input('Allergy'));
    await eventually(async () => (await phoneSession.records.get(later.id)) !== null, 'phone has it');
  });
});
