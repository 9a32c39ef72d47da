// A passphrase changed on one device reaches the account's other devices, and a server cannot hand a
// device an older, unsigned or substituted wrap instead (against a real server on a loopback port), not
// even through a join: generation 0 is signed like every later one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrappedRootSignaturePayload, type HttpWrappedRootState } from '@hale/protocol';
import {
  TEST_KDF,
  base64urlDecode,
  base64urlEncode,
  generateRootSecret,
  signCanonical,
  verifyCanonical,
  wrapRootWithPassphrase,
} from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  heldWrappedRootGen,
  joinWithPassphrase,
  joinWithRecoveryKey,
  lock,
  refreshWrappedRoot,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import type { AccountErrorCode } from '../core/account-error';
import { memoryVault, type MemoryVault } from './vault';

const P1 = 'first passphrase one';
const P2 = 'second passphrase two';
const P3 = 'third passphrase three';
const P4 = 'fourth passphrase four';

let t: TestServer;
let api: HttpApi;
let counter = 0;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const device = (serverApi: HttpApi = api): AccountDeps & { vault: MemoryVault } => ({
  api: serverApi,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});
const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;
/** Changes the passphrase on `account`'s device `from` → `to`, with a fresh session. */
const changeOn = async (deps: AccountDeps, account: UnlockedAccount, from: string, to: string) =>
  changePassphrase(deps, { account, oldPassphrase: from, newPassphrase: to, token: await tokenOf(account) });

/** A patient with a laptop (created the account) and a phone (joined with P1). */
async function twoDevices() {
  const loginName = `gen${++counter}-${Date.now().toString(36)}`;
  const laptopDeps = device();
  const { account: laptop, recoveryKey } = await createAccount(laptopDeps, {
    role: 'patient',
    passphrase: P1,
    loginName,
    deviceName: 'laptop',
  });
  const phoneDeps = device();
  const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P1, deviceName: 'phone' });
  return { loginName, recoveryKey, laptop, laptopDeps, phone, phoneDeps };
}

/** The parsed vault record of `deps`, or null. */
const vaultRecord = (deps: { vault: MemoryVault }) =>
  JSON.parse(deps.vault.entries().get(VAULT_KEY) ?? 'null') as { gen?: number } | null;

/** Whether `state.sig` is the account's identity signature over its wrap at its generation. */
const signedByAccount = async (account: UnlockedAccount, state: HttpWrappedRootState): Promise<boolean> => {
  if (state.sig === null) return false;
  const sig = base64urlDecode(state.sig);
  const payload = wrappedRootSignaturePayload({
    accountId: account.accountId,
    wrappedRoot: state.wrappedRoot,
    gen: state.gen,
  });
  return sig.ok && verifyCanonical(ed, account.keys.identity.publicKey, payload.label, payload, sig.value);
};

/** A well-formed signature that is no signature of the account's over anything. */
const UNSIGNED = 'A'.repeat(86);

/** The same server, except that GET wrapped-root answers what the test says. */
const lyingApi = (
  answer: (real: HttpWrappedRootState) => HttpWrappedRootState | Promise<HttpWrappedRootState>,
) => ({
  ...api,
  getWrappedRoot: async (token: string) => answer(await api.getWrappedRoot(token)),
});

describe('a passphrase change reaches the other devices', () => {
  it('the phone takes the new wrap: the old passphrase stops unlocking it, the new one does', async () => {
    const { laptop, laptopDeps, phone, phoneDeps } = await twoDevices();
    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'current',
      gen: 0,
    });

    await changeOn(laptopDeps, laptop, P1, P2);
    expect(JSON.parse(laptopDeps.vault.entries().get(VAULT_KEY)!)).toMatchObject({ gen: 1 });
    // Until it hears of the change, the phone still opens with P1: it has no way to know offline.
    lock(await unlock(phoneDeps, { passphrase: P1 }));

    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'updated',
      gen: 1,
    });
    lock(phone);
    await accountError(unlock(phoneDeps, { passphrase: P1 }), 'WRONG_PASSPHRASE');
    const reopened = await unlock(phoneDeps, { passphrase: P2 });
    expect(reopened.root).toEqual(laptop.root);
    expect(
      await refreshWrappedRoot(phoneDeps, { account: reopened, token: await tokenOf(reopened) }),
    ).toEqual({ status: 'current', gen: 1 });
  });

  it('a stale device changing the passphrase must give the current one, and continues the generations', async () => {
    const { laptop, laptopDeps, phone, phoneDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    // The phone never refreshed; its own vault still opens with P1, but P1 is no longer the passphrase.
    await accountError(changeOn(phoneDeps, phone, P1, P3), 'PASSPHRASE_CHANGED_ELSEWHERE');
    expect((await api.getWrappedRoot(await tokenOf(phone))).gen).toBe(1);
    await changeOn(phoneDeps, phone, P2, P3);
    expect((await api.getWrappedRoot(await tokenOf(phone))).gen).toBe(2);
    expect(await refreshWrappedRoot(laptopDeps, { account: laptop, token: await tokenOf(laptop) })).toEqual({
      status: 'updated',
      gen: 2,
    });
    lock(laptop);
    await accountError(unlock(laptopDeps, { passphrase: P2 }), 'WRONG_PASSPHRASE');
    lock(await unlock(laptopDeps, { passphrase: P3 }));
  });

  it('the stale device is told the passphrase changed elsewhere, and its vault holds the newer wrap', async () => {
    const { laptop, laptopDeps, phone, phoneDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    expect(await heldWrappedRootGen(phoneDeps, phone)).toBe(0);
    const error = await accountError(changeOn(phoneDeps, phone, P1, P3), 'PASSPHRASE_CHANGED_ELSEWHERE');
    expect(error.message).toMatch(/another device/);
    // As documented: the phone took generation 1 (it now opens with P2, not P1) and sent nothing.
    expect(await heldWrappedRootGen(phoneDeps, phone)).toBe(1);
    expect((await api.getWrappedRoot(await tokenOf(phone))).gen).toBe(1);
    expect((await unlock({ vault: phoneDeps.vault }, { passphrase: P2 })).accountId).toBe(phone.accountId);
    await accountError(unlock({ vault: phoneDeps.vault }, { passphrase: P1 }), 'WRONG_PASSPHRASE');
    // Then the change goes through with the passphrase set on the laptop.
    await changeOn(phoneDeps, phone, P2, P3);
    expect((await api.getWrappedRoot(await tokenOf(phone))).gen).toBe(2);
  });

  it('a wrong passphrase with nothing newer on the server: WRONG_PASSPHRASE, nothing written', async () => {
    const { phone, phoneDeps } = await twoDevices();
    const before = await phoneDeps.vault.get(VAULT_KEY);
    await accountError(changeOn(phoneDeps, phone, P3, P2), 'WRONG_PASSPHRASE');
    expect(await phoneDeps.vault.get(VAULT_KEY)).toBe(before);
    expect((await api.getWrappedRoot(await tokenOf(phone))).gen).toBe(0);
  });

  it('a recovery-key join sets the next generation, and the devices follow it', async () => {
    const { recoveryKey, laptop, laptopDeps } = await twoDevices();
    const tabletDeps = device();
    const tablet = await joinWithRecoveryKey(tabletDeps, {
      recoveryKey,
      newPassphrase: P2,
      deviceName: 'tablet',
    });
    expect(JSON.parse(tabletDeps.vault.entries().get(VAULT_KEY)!)).toMatchObject({ gen: 1 });
    expect(await refreshWrappedRoot(laptopDeps, { account: laptop, token: await tokenOf(laptop) })).toEqual({
      status: 'updated',
      gen: 1,
    });
    lock(laptop);
    lock(await unlock(laptopDeps, { passphrase: P2 }));
    lock(tablet);
  });
});

describe('wraps a device refuses (WRAPPED_ROOT_REFUSED, nothing written)', () => {
  it('a replayed older generation: the server cannot roll the phone back to a changed passphrase', async () => {
    const { laptop, laptopDeps, phone, phoneDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    const generation1 = await api.getWrappedRoot(await tokenOf(laptop));
    await changeOn(laptopDeps, laptop, P2, P3);
    await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) });
    const held = phoneDeps.vault.entries().get(VAULT_KEY);

    // Generation 1 is genuine and signed — but older than what the phone holds.
    const replaying = { ...phoneDeps, api: lyingApi(() => generation1) };
    await accountError(
      refreshWrappedRoot(replaying, { account: phone, token: await tokenOf(phone) }),
      'WRAPPED_ROOT_REFUSED',
    );
    // Relabelled as newer, its signature (over generation 1) no longer matches.
    const relabelled = { ...phoneDeps, api: lyingApi(() => ({ ...generation1, gen: 7 })) };
    await accountError(
      refreshWrappedRoot(relabelled, { account: phone, token: await tokenOf(phone) }),
      'WRAPPED_ROOT_REFUSED',
    );
    expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    lock(phone);
    await accountError(unlock(phoneDeps, { passphrase: P2 }), 'WRONG_PASSPHRASE');
    lock(await unlock(phoneDeps, { passphrase: P3 }));
  });

  it('a server behind the device (an older backup restored): a passphrase change keeps its own wrap and goes past both', async () => {
    const { laptop, laptopDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    const generation1 = await api.getWrappedRoot(await tokenOf(laptop));
    await changeOn(laptopDeps, laptop, P2, P3);
    const held = laptopDeps.vault.entries().get(VAULT_KEY);
    // Generation 1, genuine and signed, as a server restored to it serves it; or another wrap, as at a
    // fork, at the laptop's own generation.
    const other = await wrapRootWithPassphrase(laptop.root, P2, TEST_KDF);
    const behind = [
      () => generation1,
      (real: HttpWrappedRootState) => ({ ...real, wrappedRoot: other as never }),
    ];
    for (const answer of behind) {
      const restored = { ...laptopDeps, api: lyingApi(answer) };
      // Not taken: the passphrase of generation 1 does not change the laptop's, nothing is written.
      await accountError(changeOn(restored, laptop, P2, P4), 'WRONG_PASSPHRASE');
      expect(laptopDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    }
    // With its own passphrase it changes it, at the generation after its own (the real server holds 2).
    await changeOn({ ...laptopDeps, api: lyingApi(() => generation1) }, laptop, P3, P4);
    expect(vaultRecord(laptopDeps)?.gen).toBe(3);
    const state = await api.getWrappedRoot(await tokenOf(laptop));
    expect(state.gen).toBe(3);
    expect(await signedByAccount(laptop, state)).toBe(true);
    lock(laptop);
    await accountError(unlock(laptopDeps, { passphrase: P3 }), 'WRONG_PASSPHRASE');
    lock(await unlock(laptopDeps, { passphrase: P4 }));
  });

  it('a newer generation that the account did not sign, signed by another account, or for another account', async () => {
    const { phone, phoneDeps } = await twoDevices();
    const held = phoneDeps.vault.entries().get(VAULT_KEY);
    // A server that wants the phone to open with a passphrase it chose, over a root it made up.
    const forged = (await wrapRootWithPassphrase(
      generateRootSecret(),
      'server chosen pass',
      TEST_KDF,
    )) as never;
    const strangerDeps = device();
    const { account: stranger } = await createAccount(strangerDeps, {
      role: 'patient',
      passphrase: P1,
      loginName: `stranger${++counter}-${Date.now().toString(36)}`,
      deviceName: 'x',
    });
    const strangerPayload = wrappedRootSignaturePayload({
      accountId: phone.accountId,
      wrappedRoot: forged,
      gen: 1,
    });
    const strangerSig = base64urlEncode(
      await signCanonical(ed, stranger.keys.identity.secretKey, strangerPayload.label, strangerPayload),
    );
    const answers: Array<(real: HttpWrappedRootState) => HttpWrappedRootState> = [
      (real) => ({ ...real, wrappedRoot: forged, gen: 1, sig: UNSIGNED }),
      (real) => ({ ...real, wrappedRoot: forged, gen: 1, sig: strangerSig }),
      (real) => ({ ...real, wrappedRoot: forged, gen: 1, sig: 'A'.repeat(86) }),
      // Same generation as the phone's, different wrap.
      (real) => ({ ...real, wrappedRoot: forged }),
      (real) => ({ ...real, accountId: stranger.accountId, gen: 1 }),
    ];
    for (const answer of answers) {
      const lying = { ...phoneDeps, api: lyingApi(answer) };
      await accountError(
        refreshWrappedRoot(lying, { account: phone, token: await tokenOf(phone) }),
        'WRAPPED_ROOT_REFUSED',
      );
      expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    }
    lock(phone);
    lock(await unlock(phoneDeps, { passphrase: P1 }));
  });

  it('a join is refused when the served generation is not signed by the account, with nothing written', async () => {
    const { loginName, laptop, laptopDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    const lying: HttpApi = {
      ...api,
      join: async (body) => ({ ...(await api.join(body)), gen: 9 }),
    };
    const deps = device(lying);
    await accountError(
      joinWithPassphrase(deps, { loginName, passphrase: P2, deviceName: 'kiosk' }),
      'WRAPPED_ROOT_REFUSED',
    );
    expect(deps.vault.entries().size).toBe(0);
    const honest = device();
    const joined = await joinWithPassphrase(honest, { loginName, passphrase: P2, deviceName: 'kiosk' });
    expect(JSON.parse(honest.vault.entries().get(VAULT_KEY)!)).toMatchObject({ gen: 1 });
    lock(joined);
  });

  it('a join is refused when the served wrap opens to a root that is not the named account, with nothing written', async () => {
    // The server hands over a root of its own making (wrapped under the very passphrase typed, as a
    // server that knows it could), naming the account of the login name, at generation 0 (not signed).
    const { loginName, laptop } = await twoDevices();
    const substitutes = [
      // Its own root, unregistered.
      (await wrapRootWithPassphrase(generateRootSecret(), P1, TEST_KDF)) as never,
      // Another registered account's root (same passphrase), as the wrap the server holds for it.
      await (async () => {
        const other = `other${++counter}-${Date.now().toString(36)}`;
        await createAccount(device(), { role: 'patient', passphrase: P1, loginName: other, deviceName: 'x' });
        return (await api.join({ loginName: other })).wrappedRoot;
      })(),
    ];
    const devicesBefore = (await api.getAccount(laptop.accountId)).devices.length;
    for (const wrappedRoot of substitutes) {
      const lying: HttpApi = {
        ...api,
        join: async (body) => ({ ...(await api.join(body)), wrappedRoot, gen: 0, sig: UNSIGNED }),
      };
      const deps = device(lying);
      await accountError(
        joinWithPassphrase(deps, { loginName, passphrase: P1, deviceName: 'kiosk' }),
        'ACCOUNT_MISMATCH',
      );
      expect(deps.vault.entries().size).toBe(0);
    }
    expect((await api.getAccount(laptop.accountId)).devices).toHaveLength(devicesBefore);
  });

  it('a recovery-key join is refused when the server answers another account for its root, with nothing sent', async () => {
    const { recoveryKey, laptop } = await twoDevices();
    const strangerDeps = device();
    const { account: stranger } = await createAccount(strangerDeps, {
      role: 'patient',
      passphrase: P1,
      loginName: `stranger${++counter}-${Date.now().toString(36)}`,
      deviceName: 'x',
    });
    const strangerRecord = await api.getAccount(stranger.accountId);
    const real = await api.getAccount(laptop.accountId);
    const answers = [
      // Another account's record, as it is.
      () => strangerRecord,
      // The account's id with another account's keys.
      () => ({ ...strangerRecord, accountId: laptop.accountId }),
      // The account's identity key with a wrapping key of the server's choosing.
      () => ({ ...real, wrappingPublicKey: strangerRecord.wrappingPublicKey }),
    ];
    const wrapBefore = await api.getWrappedRoot(await tokenOf(laptop));
    for (const answer of answers) {
      const lying: HttpApi = { ...api, getAccount: async () => answer() };
      const deps = device(lying);
      await accountError(
        joinWithRecoveryKey(deps, { recoveryKey, newPassphrase: P2, deviceName: 'kiosk' }),
        'ACCOUNT_MISMATCH',
      );
      expect(deps.vault.entries().size).toBe(0);
    }
    expect((await api.getAccount(laptop.accountId)).devices).toHaveLength(real.devices.length);
    expect(await api.getWrappedRoot(await tokenOf(laptop))).toEqual(wrapBefore);
  });

  it('the server takes a change only above its generation (CONFLICT otherwise) and only signed over it', async () => {
    const { laptop, laptopDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    const token = await tokenOf(laptop);
    const before = await api.getWrappedRoot(token);
    const wrappedRoot = (await wrapRootWithPassphrase(laptop.root, P3, TEST_KDF)) as never;
    const signed = async (gen: number, signedGen = gen) => {
      const payload = wrappedRootSignaturePayload({
        accountId: laptop.accountId,
        wrappedRoot,
        gen: signedGen,
      });
      return base64urlEncode(await signCanonical(ed, laptop.keys.identity.secretKey, payload.label, payload));
    };
    // A replay of the stored generation, and an older one.
    for (const gen of [1, 0]) {
      const error = await api
        .putWrappedRoot({ wrappedRoot, gen, sig: await signed(gen) }, token)
        .catch((e: unknown) => e);
      expect(isHaleClientError(error) && error.code).toBe('CONFLICT');
    }
    // Signed over generation 2, sent as 3 — or the other way round.
    const error = await api
      .putWrappedRoot({ wrappedRoot, gen: 2, sig: await signed(2, 3) }, token)
      .catch((e: unknown) => e);
    expect(isHaleClientError(error) && error.code).toBe('BAD_SIGNATURE');
    expect(await api.getWrappedRoot(token)).toEqual(before);
    // Past the next generation too (a device ahead of a server restored from an older backup).
    expect(await api.putWrappedRoot({ wrappedRoot, gen: 3, sig: await signed(3) }, token)).toEqual({
      accountId: laptop.accountId,
      gen: 3,
    });
  });

  it('GET wrapped-root needs a session', async () => {
    const error = await api.getWrappedRoot('not-a-session-token-of-this-server').catch((e: unknown) => e);
    expect(isHaleClientError(error) && error.code).toBe('UNAUTHENTICATED');
  });
});

describe('generation 0 is signed too', () => {
  it('registration stores a verifying generation-0 signature', async () => {
    const { laptop } = await twoDevices();
    const state = await api.getWrappedRoot(await tokenOf(laptop));
    expect(state.gen).toBe(0);
    expect(await signedByAccount(laptop, state)).toBe(true);
    expect((await t.store.accounts.get(laptop.accountId))?.wrappedRootSig).toBe(state.sig);
  });

  it('a server relabelling the current wrap as generation 0 cannot roll a joining device back', async () => {
    // The attack: the phone joins on the current wrap (P3) labelled "generation 0", then is
    // offered the genuine, signed generation 1 (P2) as newer — and would open with P2, not P3.
    const { loginName, laptop, laptopDeps } = await twoDevices();
    await changeOn(laptopDeps, laptop, P1, P2);
    const generation1 = await api.getWrappedRoot(await tokenOf(laptop));
    await changeOn(laptopDeps, laptop, P2, P3);
    const current = await api.getWrappedRoot(await tokenOf(laptop));
    expect(current.gen).toBe(2);
    const devicesBefore = (await api.getAccount(laptop.accountId)).devices.length;

    const relabelled: Array<[AccountErrorCode, (real: HttpWrappedRootState) => HttpWrappedRootState]> = [
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 0, sig: UNSIGNED })],
      // With a genuine signature: the current one (over generation 2), or generation 1's (over another wrap).
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 0 })],
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 0, sig: generation1.sig })],
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 1, sig: generation1.sig })],
    ];
    for (const [code, answer] of relabelled) {
      const lying: HttpApi = { ...api, join: async (body) => answer(await api.join(body)) };
      const deps = device(lying);
      await accountError(joinWithPassphrase(deps, { loginName, passphrase: P3, deviceName: 'phone' }), code);
      expect(deps.vault.entries().size).toBe(0);
    }
    expect((await api.getAccount(laptop.accountId)).devices).toHaveLength(devicesBefore);

    // Joined honestly, the phone holds generation 2 and refuses the replayed generation 1.
    const phoneDeps = device();
    const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P3, deviceName: 'phone' });
    expect(vaultRecord(phoneDeps)?.gen).toBe(2);
    const held = phoneDeps.vault.entries().get(VAULT_KEY);
    await accountError(
      refreshWrappedRoot(
        { ...phoneDeps, api: lyingApi(() => generation1) },
        { account: phone, token: await tokenOf(phone) },
      ),
      'WRAPPED_ROOT_REFUSED',
    );
    expect(phoneDeps.vault.entries().get(VAULT_KEY)).toBe(held);
    lock(phone);
    await accountError(unlock(phoneDeps, { passphrase: P2 }), 'WRONG_PASSPHRASE');
    lock(await unlock(phoneDeps, { passphrase: P3 }));
  });

  it('a recovery-key join checks the served generation before it writes the next one', async () => {
    // The attack: the server reports the current generation (2) as 0, keeps the recovery
    // device's "generation 1" to itself, then offers the genuine generation 2 (P3) as newer.
    const { recoveryKey, laptop, laptopDeps } = await twoDevices();
    for (const [from, to] of [
      [P1, P2],
      [P2, P3],
    ] as const) {
      await changeOn(laptopDeps, laptop, from, to);
    }
    const before = await api.getWrappedRoot(await tokenOf(laptop));
    const devicesBefore = (await api.getAccount(laptop.accountId)).devices.length;
    const answers: Array<[AccountErrorCode, (real: HttpWrappedRootState) => HttpWrappedRootState]> = [
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 0, sig: UNSIGNED })],
      ['WRAPPED_ROOT_REFUSED', (real) => ({ ...real, gen: 1 })],
    ];
    for (const [code, answer] of answers) {
      const puts: number[] = [];
      const lying: HttpApi = {
        ...api,
        getWrappedRoot: async (token) => answer(await api.getWrappedRoot(token)),
        putWrappedRoot: async (body) => {
          puts.push(body.gen);
          return { accountId: laptop.accountId, gen: body.gen };
        },
      };
      const deps = device(lying);
      await accountError(
        joinWithRecoveryKey(deps, { recoveryKey, newPassphrase: 'fourth passphrase', deviceName: 'tablet' }),
        code,
      );
      expect(puts).toEqual([]);
      expect(deps.vault.entries().size).toBe(0);
    }
    // The device certificates registered to read the wrap are revoked again; the wrap is as it was.
    expect((await api.getAccount(laptop.accountId)).devices).toHaveLength(devicesBefore);
    expect(await api.getWrappedRoot(await tokenOf(laptop))).toEqual(before);
  });
});
