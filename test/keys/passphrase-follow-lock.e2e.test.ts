// lock(account) while an open session is taking a passphrase changed elsewhere (passphrase-watch.ts). To
// fetch the new wrap the session authenticates over HTTP, signing the server's challenge with the device
// key. lock() zeroes the account's key bytes at any await of that work: the challenge must never be signed
// with those zeroes, and the account's vault must stay as it was (a lock means nothing more is done).
import { describe, expect, it } from 'vitest';
import {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  createHttpApi,
  isHaleClientError,
  joinWithPassphrase,
  lock,
  memoryVault,
  openSession,
  type DeviceSession,
  type HttpApi,
  type Vault,
} from '@hale/client/advanced';
import { TEST_KDF } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { asTestAccount, ed, eventually, openDevice, waitOnline } from '../support/devices';

const server = useServer({ realClock: true });
const P1 = 'the first passphrase';
const P2 = 'the second passphrase';
let counter = 0;

/** A point the test can hold the next call at: `reached` once a call waits there; `release` lets it go. */
const holdPoint = () => {
  let armed: { reach: () => void; released: Promise<void> } | null = null;
  let release = (): void => undefined;
  let reached: Promise<void> = Promise.resolve();
  return {
    arm(): void {
      let reach = (): void => undefined;
      reached = new Promise<void>((resolve) => (reach = resolve));
      armed = { reach, released: new Promise<void>((resolve) => (release = resolve)) };
    },
    reached: () => reached,
    release: () => release(),
    async pass(): Promise<void> {
      const held = armed;
      armed = null;
      if (!held) return;
      held.reach();
      await held.released;
    },
  };
};

/** A patient's laptop (made the account) and phone (joined with P1), the phone's vault and API watched. */
const patient = async () => {
  const api = createHttpApi({ baseUrl: server.t.url, fetch });
  const loginName = `followlock${++counter}-${Date.now().toString(36)}`;
  const laptopVault = memoryVault();
  const { account: laptop } = await createAccount(
    { api, vault: laptopVault, ed, kdf: TEST_KDF, weakKdfForTests: true },
    { role: 'patient', passphrase: P1, loginName, deviceName: 'laptop' },
  );
  const phoneVault = memoryVault();
  const phone = await joinWithPassphrase(
    { api, vault: phoneVault, ed, kdf: TEST_KDF, weakKdfForTests: true },
    { loginName, passphrase: P1, deviceName: 'phone' },
  );
  const vaultRead = holdPoint();
  const watchedVault: Vault = {
    get: async (key) => {
      await vaultRead.pass();
      return phoneVault.get(key);
    },
    set: (key, value) => phoneVault.set(key, value),
    delete: (key) => phoneVault.delete(key),
  };
  const challenge = holdPoint();
  const seen = { challenges: 0, sessions: [] as string[] };
  const watchedApi: Pick<HttpApi, 'challenge' | 'session' | 'getWrappedRoot'> = {
    challenge: async (body) => {
      seen.challenges++;
      const answer = await api.challenge(body);
      await challenge.pass();
      return answer;
    },
    // What the server made of the signed challenge: a signature by a zeroed key is refused.
    session: async (body) => {
      try {
        const answer = await api.session(body);
        seen.sessions.push('taken');
        return answer;
      } catch (e) {
        seen.sessions.push(isHaleClientError(e) ? e.code : String(e));
        throw e;
      }
    },
    getWrappedRoot: (token) => api.getWrappedRoot(token),
  };
  const changeOnLaptop = async (): Promise<void> =>
    changePassphrase(
      { api, vault: laptopVault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      {
        account: laptop,
        oldPassphrase: P1,
        newPassphrase: P2,
        token: (await openSession(api, laptop.device, ed)).token,
      },
    );
  return { phone, phoneVault, watchedVault, watchedApi, vaultRead, challenge, seen, changeOnLaptop };
};

const issueCodes = (session: DeviceSession): string[] => session.sync.state().errors.map((e) => e.code);

/**
 * Opens the phone's session, changes the passphrase on the laptop, locks the phone while its watch is held
 * at `hold` (the vault read or the challenge fetch), and answers what reached the server and the issues.
 */
const lockedAt = async (which: 'vaultRead' | 'challenge') => {
  const p = await patient();
  const session = await openDevice(server.t, asTestAccount(p.phone), {
    vault: p.watchedVault,
    api: p.watchedApi,
  });
  server.sessions.push(session);
  await waitOnline(session);
  await eventually(() => session.sync.state().passphrase === 'current', 'passphrase current');
  const vaultBefore = p.phoneVault.entries().get(VAULT_KEY);

  const hold = p[which];
  hold.arm();
  await p.changeOnLaptop();
  await hold.reached();
  lock(p.phone);
  hold.release();
  // The lock is reported at once; the watch's work under way goes on until it meets the lock.
  await eventually(() => issueCodes(session).length > 0, 'an issue is reported');
  if (which === 'challenge')
    await eventually(() => p.seen.sessions.length > 0, 'the signed challenge answered');
  return {
    seen: { challenges: p.seen.challenges, sessions: p.seen.sessions, issues: issueCodes(session) },
    vaultUnchanged: p.phoneVault.entries().get(VAULT_KEY) === vaultBefore,
  };
};

describe('lock(account) while the session takes a passphrase changed elsewhere', () => {
  it('at the vault read: nothing is signed, the session reports LOCKED, the vault is unchanged', async () => {
    const { seen, vaultUnchanged } = await lockedAt('vaultRead');
    expect(seen).toEqual({ challenges: 0, sessions: [], issues: ['LOCKED'] });
    expect(vaultUnchanged).toBe(true);
  });

  it('at the challenge fetch: signed with the real key (the server takes it), then LOCKED, the vault unchanged', async () => {
    const { seen, vaultUnchanged } = await lockedAt('challenge');
    expect(seen).toEqual({ challenges: 1, sessions: ['taken'], issues: ['LOCKED'] });
    expect(vaultUnchanged).toBe(true);
  });
});
