import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryProfilePayload, wrappedRootSignaturePayload } from '@hale/protocol';
import {
  TEST_KDF,
  base64urlEncode,
  deriveAccountKeys,
  encodeRecoveryKey,
  generateRootSecret,
  hexEncode,
  keyFingerprint,
  openDeviceName,
  signCanonical,
} from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError, type HaleClientError } from '../api/errors';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { createSessionManager, openSession } from '../api/session-manager';
import {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  hasAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  lock,
  publishProviderProfile,
  removeLocalAccount,
  revokeDevice,
  safetyNumberWith,
  searchProviders,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';

let t: TestServer;
let api: HttpApi;
let counter = 0;

const loginName = () => `user${++counter}-${Date.now().toString(36)}`;

function device(
  vault: MemoryVault = memoryVault(),
  apiOverride?: HttpApi,
): AccountDeps & { vault: MemoryVault } {
  return { api: apiOverride ?? api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true };
}

async function clientError(promise: Promise<unknown>): Promise<HaleClientError> {
  try {
    await promise;
  } catch (e) {
    if (isHaleClientError(e)) return e;
    throw e;
  }
  throw new Error('expected a HaleClientError');
}

const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;

/** Every secret an account holds, in the encodings a careless implementation might persist. */
function secretForms(account: UnlockedAccount, recoveryKey: string, passphrases: string[]): string[] {
  const bytes = [
    account.root,
    account.keys.identity.secretKey,
    account.keys.identity.secretKey.subarray(0, 32),
    account.keys.wrapping.secretKey,
    account.keys.localKey,
    account.device.secretKey,
    account.device.secretKey.subarray(0, 32),
  ];
  return [
    ...bytes.flatMap((b) => [base64urlEncode(b), hexEncode(b), Buffer.from(b).toString('base64')]),
    recoveryKey,
    recoveryKey.replace(/-/g, ''),
    ...passphrases,
  ];
}

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});

afterAll(async () => {
  await t.stop();
});

describe('createAccount', () => {
  it('registers a patient, returns the recovery key once, and the vault holds no secret in clear', async () => {
    const deps = device();
    const name = loginName();
    const { account, recoveryKey } = await createAccount(deps, {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    expect(account.role).toBe('patient');
    expect(account.loginName).toBe(name);
    expect(recoveryKey).toBe(encodeRecoveryKey(account.root));
    expect(deriveAccountKeys(account.root).accountId).toBe(account.accountId);

    const entries = deps.vault.entries();
    expect([...entries.keys()]).toEqual([VAULT_KEY]);
    const stored = entries.get(VAULT_KEY)!;
    for (const secret of secretForms(account, recoveryKey, [PASS])) expect(stored).not.toContain(secret);
    const record = JSON.parse(stored) as Record<string, unknown>;
    expect(record).toMatchObject({
      v: 1,
      accountId: account.accountId,
      role: 'patient',
      loginName: name,
      deviceId: account.device.deviceId,
      devicePublicKey: base64urlEncode(account.device.publicKey),
    });

    const server = await api.getAccount(account.accountId);
    expect(server.role).toBe('patient');
    expect(server.identityPublicKey).toBe(base64urlEncode(account.keys.identity.publicKey));
    expect(server.devices.map((d) => d.cert.deviceId)).toEqual([account.device.deviceId]);
    expect(JSON.stringify(server.devices)).not.toContain('laptop');
    const sealed = server.devices[0]!.cert;
    expect(openDeviceName(sealed.sealedName, account.keys.wrapping, sealed.deviceId)).toEqual({
      ok: true,
      value: 'laptop',
    });
  });

  it('registers a provider', async () => {
    const { account } = await createAccount(device(), {
      role: 'provider',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'clinic desk',
    });
    expect((await api.getAccount(account.accountId)).role).toBe('provider');
  });

  it('refuses a short passphrase and a device that already holds an account', async () => {
    await accountError(
      createAccount(device(), {
        role: 'patient',
        passphrase: 'short',
        loginName: loginName(),
        deviceName: 'd',
      }),
      'WEAK_PASSPHRASE',
    );
    const deps = device();
    await createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' });
    await accountError(
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' }),
      'ACCOUNT_EXISTS',
    );
  });

  it('a taken login name fails on the server and writes nothing', async () => {
    const name = loginName();
    await createAccount(device(), { role: 'patient', passphrase: PASS, loginName: name, deviceName: 'a' });
    const deps = device();
    await accountError(
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: name, deviceName: 'b' }),
      'LOGIN_NAME_TAKEN',
    );
    expect(deps.vault.entries().size).toBe(0);
  });
});

describe('joining more devices', () => {
  it('joins with the passphrase and with the recovery key: same account and identity, distinct devices', async () => {
    const name = loginName();
    const first = device();
    const { account, recoveryKey } = await createAccount(first, {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    const second = device();
    const byPassphrase = await joinWithPassphrase(second, {
      loginName: name,
      passphrase: PASS,
      deviceName: 'phone',
    });
    const third = device();
    const newPass = 'a brand new passphrase';
    const byRecovery = await joinWithRecoveryKey(third, {
      recoveryKey: recoveryKey.toLowerCase(),
      newPassphrase: newPass,
      deviceName: 'tablet',
    });

    for (const joined of [byPassphrase, byRecovery]) {
      expect(joined.accountId).toBe(account.accountId);
      expect(joined.role).toBe('patient');
      expect(joined.keys.identity.publicKey).toEqual(account.keys.identity.publicKey);
    }
    expect(byPassphrase.loginName).toBe(name);
    const ids = new Set([account.device.deviceId, byPassphrase.device.deviceId, byRecovery.device.deviceId]);
    expect(ids.size).toBe(3);
    const listed = (await api.getAccount(account.accountId)).devices.map((d) => d.cert.deviceId);
    expect(new Set(listed)).toEqual(ids);

    for (const [deps, joined, pass] of [
      [second, byPassphrase, PASS],
      [third, byRecovery, newPass],
    ] as const) {
      const stored = deps.vault.entries().get(VAULT_KEY)!;
      for (const secret of secretForms(joined, recoveryKey, [pass])) expect(stored).not.toContain(secret);
      expect((await unlock(deps, { passphrase: pass })).device.deviceId).toBe(joined.device.deviceId);
    }

    // The recovery join replaced the server's wrap: the old passphrase no longer joins, the new one does.
    await accountError(
      joinWithPassphrase(device(), { loginName: name, passphrase: PASS, deviceName: 'old' }),
      'WRONG_PASSPHRASE',
    );
    const fourth = await joinWithPassphrase(device(), {
      loginName: name,
      passphrase: newPass,
      deviceName: 'new',
    });
    expect(fourth.accountId).toBe(account.accountId);
    // Each device's session works.
    for (const joined of [account, byPassphrase, byRecovery, fourth])
      expect(await tokenOf(joined)).toBeTruthy();
  });

  it('a wrong passphrase is WRONG_PASSPHRASE: no vault entry, no device registered', async () => {
    const name = loginName();
    const { account } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    const deps = device();
    await accountError(
      joinWithPassphrase(deps, { loginName: name, passphrase: `${PASS}!`, deviceName: 'phone' }),
      'WRONG_PASSPHRASE',
    );
    expect(deps.vault.entries().size).toBe(0);
    expect(await hasAccount(deps)).toBe(false);
    expect((await api.getAccount(account.accountId)).devices).toHaveLength(1);
  });

  it('a join that fails after registering its device revokes that certificate again', async () => {
    const name = loginName();
    const { account, recoveryKey } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    // The device key would be lost with the vault write: the certificate must not stay behind.
    const full = (): MemoryVault => {
      const vault = memoryVault();
      return { ...vault, set: () => Promise.reject(new Error('disk full')) };
    };
    await expect(
      joinWithPassphrase(device(full()), { loginName: name, passphrase: PASS, deviceName: 'phone' }),
    ).rejects.toThrow('disk full');
    await expect(
      joinWithRecoveryKey(device(full()), { recoveryKey, newPassphrase: PASS, deviceName: 'tablet' }),
    ).rejects.toThrow('disk full');
    const after = await api.getAccount(account.accountId);
    expect(
      after.devices.map((d) => {
        const opened = openDeviceName(d.cert.sealedName, account.keys.wrapping, d.cert.deviceId);
        return opened.ok ? opened.value : null;
      }),
    ).toEqual(['laptop']);
    expect(after.revokedDevices).toHaveLength(2);
  });

  it('an unknown login name or recovery key is ACCOUNT_NOT_FOUND', async () => {
    await accountError(
      joinWithPassphrase(device(), { loginName: loginName(), passphrase: PASS, deviceName: 'x' }),
      'ACCOUNT_NOT_FOUND',
    );
    const deps = device();
    await accountError(
      joinWithRecoveryKey(deps, {
        recoveryKey: encodeRecoveryKey(generateRootSecret()),
        newPassphrase: PASS,
        deviceName: 'x',
      }),
      'ACCOUNT_NOT_FOUND',
    );
    expect(deps.vault.entries().size).toBe(0);
  });

  it('a recovery key typo is INVALID_RECOVERY_KEY naming the group, and nothing is written', async () => {
    const { account, recoveryKey } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'laptop',
    });
    const groups = recoveryKey.split('-');
    const g = groups[2]!;
    groups[2] = g[0] + (g[1] === 'X' ? 'Y' : 'X') + g.slice(2);
    const deps = device();
    const e = await accountError(
      joinWithRecoveryKey(deps, { recoveryKey: groups.join('-'), newPassphrase: PASS, deviceName: 'x' }),
      'INVALID_RECOVERY_KEY',
    );
    expect(e.group).toBe(3);
    expect(e.message).toContain('3');
    expect(deps.vault.entries().size).toBe(0);
    expect((await api.getAccount(account.accountId)).devices).toHaveLength(1);
  });
});

describe('unlock and lock', () => {
  it('unlocks offline with the passphrase; a wrong one fails; lock zeroes the secrets', async () => {
    const deps = device();
    const { account } = await createAccount(deps, {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'laptop',
    });
    expect(await hasAccount(deps)).toBe(true);
    await accountError(unlock(deps, { passphrase: 'not the passphrase' }), 'WRONG_PASSPHRASE');

    const offline = device(deps.vault, createHttpApi({ baseUrl: 'http://unreachable', fetch: failingFetch }));
    const opened = await unlock(offline, { passphrase: PASS });
    expect(opened.accountId).toBe(account.accountId);
    expect(opened.root).toEqual(account.root);
    expect(opened.device.secretKey).toEqual(account.device.secretKey);
    expect(opened.deviceName).toBe('laptop');

    lock(opened);
    for (const secret of [
      opened.root,
      opened.keys.identity.secretKey,
      opened.keys.wrapping.secretKey,
      opened.keys.localKey,
      opened.device.secretKey,
    ]) {
      expect(secret.every((b) => b === 0)).toBe(true);
    }
    await accountError(
      changePassphrase(deps, {
        account: opened,
        oldPassphrase: PASS,
        newPassphrase: 'whatever else',
        token: 'x',
      }),
      'LOCKED',
    );
    // Locking one object leaves the vault usable.
    expect((await unlock(deps, { passphrase: PASS })).accountId).toBe(account.accountId);
  });

  it('NO_ACCOUNT on an empty vault; removeLocalAccount forgets the device', async () => {
    await accountError(unlock(device(), { passphrase: PASS }), 'NO_ACCOUNT');
    const deps = device();
    await createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' });
    await removeLocalAccount(deps);
    expect(await hasAccount(deps)).toBe(false);
  });

  it('a tampered vault record is VAULT_CORRUPT, not a usable account', async () => {
    const deps = device();
    await createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' });
    const record = JSON.parse(deps.vault.entries().get(VAULT_KEY)!) as {
      deviceSecret: string;
      deviceId: string;
    };
    const flipped = (record.deviceSecret[40] === 'A' ? 'B' : 'A') as string;
    const tampered = {
      ...record,
      deviceSecret: record.deviceSecret.slice(0, 40) + flipped + record.deviceSecret.slice(41),
    };
    await deps.vault.set(VAULT_KEY, JSON.stringify(tampered));
    await accountError(unlock(deps, { passphrase: PASS }), 'VAULT_CORRUPT');

    // Another account's device id with this account's sealed key does not pass either.
    const other = device();
    const { account: otherAccount } = await createAccount(other, {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'o',
    });
    await deps.vault.set(VAULT_KEY, JSON.stringify({ ...record, deviceId: otherAccount.device.deviceId }));
    await accountError(unlock(deps, { passphrase: PASS }), 'VAULT_CORRUPT');
    await deps.vault.set(VAULT_KEY, '{"v":1}');
    await accountError(unlock(deps, { passphrase: PASS }), 'VAULT_CORRUPT');
  });
});

const failingFetch: FetchLike = async () => {
  throw new TypeError('offline');
};

describe('changePassphrase', () => {
  it('re-wraps the same root: old passphrase fails, new one unlocks, here and on a device joined afterwards', async () => {
    const name = loginName();
    const deps = device();
    const { account } = await createAccount(deps, {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    const before = await api.join({ loginName: name });
    const newPass = 'the second passphrase';

    await accountError(
      changePassphrase(deps, {
        account,
        oldPassphrase: 'wrong guess!',
        newPassphrase: newPass,
        token: await tokenOf(account),
      }),
      'WRONG_PASSPHRASE',
    );
    expect(await api.join({ loginName: name })).toEqual(before);

    await changePassphrase(deps, {
      account,
      oldPassphrase: PASS,
      newPassphrase: newPass,
      token: await tokenOf(account),
    });
    const after = await api.join({ loginName: name });
    expect(after.accountId).toBe(account.accountId);
    expect(after.wrappedRoot.kdf.salt).not.toBe(before.wrappedRoot.kdf.salt);

    await accountError(unlock(deps, { passphrase: PASS }), 'WRONG_PASSPHRASE');
    const reopened = await unlock(deps, { passphrase: newPass });
    expect(reopened.root).toEqual(account.root);
    expect(reopened.device.deviceId).toBe(account.device.deviceId);

    await accountError(
      joinWithPassphrase(device(), { loginName: name, passphrase: PASS, deviceName: 'phone' }),
      'WRONG_PASSPHRASE',
    );
    const phone = await joinWithPassphrase(device(), {
      loginName: name,
      passphrase: newPass,
      deviceName: 'phone',
    });
    expect(phone.root).toEqual(account.root);
    expect(await tokenOf(phone)).toBeTruthy();
  });

  it('the server refuses a wrapped root signed by another identity', async () => {
    const { account } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'laptop',
    });
    const { account: stranger } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'x',
    });
    const wrappedRoot = (await api.join({ loginName: account.loginName! })).wrappedRoot;
    const payload = wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen: 1 });
    const sig = base64urlEncode(
      await signCanonical(ed, stranger.keys.identity.secretKey, payload.label, payload),
    );
    const e = await clientError(api.putWrappedRoot({ wrappedRoot, gen: 1, sig }, await tokenOf(account)));
    expect(e.code).toBe('BAD_SIGNATURE');
    expect((await api.getWrappedRoot(await tokenOf(account))).gen).toBe(0);
  });
});

describe('sessions, revocation, directory', () => {
  it('the session manager token works on an authenticated route', async () => {
    const deps = device();
    const { account } = await createAccount(deps, {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'd',
    });
    const sessions = createSessionManager({ api, device: account.device, ed });
    const found = await searchProviders(deps, { q: 'nobody matches this', token: await sessions.token() });
    expect(found).toEqual({ providers: [], dropped: 0 });
  });

  it('revokes a device: its session attempts then fail with DEVICE_REVOKED', async () => {
    const name = loginName();
    const deps = device();
    const { account } = await createAccount(deps, {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'laptop',
    });
    const phone = await joinWithPassphrase(device(), {
      loginName: name,
      passphrase: PASS,
      deviceName: 'phone',
    });
    const phoneSessions = createSessionManager({ api, device: phone.device, ed });
    await phoneSessions.token();

    const answer = await revokeDevice(deps, { account, deviceId: phone.device.deviceId });
    expect(answer.deviceId).toBe(phone.device.deviceId);
    const server = await api.getAccount(account.accountId);
    expect(server.revokedDevices).toEqual([phone.device.deviceId]);
    expect(server.devices.map((d) => d.cert.deviceId)).toEqual([account.device.deviceId]);

    phoneSessions.invalidate();
    expect((await clientError(phoneSessions.token())).code).toBe('DEVICE_REVOKED');
    // The revoking device still works.
    expect(await tokenOf(account)).toBeTruthy();
  });

  it('another account cannot revoke my device', async () => {
    const { account } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'a',
    });
    const { account: mallory } = await createAccount(device(), {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'm',
    });
    // Mallory signs a revocation naming my account with her identity key.
    const forged = { ...mallory, accountId: account.accountId };
    const e = await clientError(
      revokeDevice(device(), { account: forged, deviceId: account.device.deviceId }),
    );
    expect(e.code).toBe('BAD_SIGNATURE');
    expect((await api.getAccount(account.accountId)).revokedDevices).toEqual([]);
  });

  it('publishes a provider profile and finds it verified; tampered or re-keyed entries are dropped', async () => {
    const providerDeps = device();
    const { account: provider } = await createAccount(providerDeps, {
      role: 'provider',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'clinic',
    });
    const unique = `Dr Quux ${counter}`;
    const signed = await publishProviderProfile(providerDeps, {
      account: provider,
      profile: { displayName: unique, specialty: 'cardiology', clinic: 'North', identifier: 'NPI-1' },
      token: await tokenOf(provider),
    });
    expect(signed.profile.accountId).toBe(provider.accountId);

    const patientDeps = device();
    const { account: patient } = await createAccount(patientDeps, {
      role: 'patient',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'phone',
    });
    const token = await tokenOf(patient);
    const found = await searchProviders(patientDeps, { q: unique, token });
    expect(found.dropped).toBe(0);
    expect(found.providers).toHaveLength(1);
    expect(found.providers[0]!.profile).toEqual(signed.profile);
    expect(found.providers[0]!.fingerprint).toBe(keyFingerprint(provider.keys.identity.publicKey));

    // A patient cannot publish.
    await accountError(
      publishProviderProfile(patientDeps, {
        account: patient,
        profile: { displayName: 'me', specialty: '', clinic: '', identifier: '' },
        token,
      }),
      'NOT_A_PROVIDER',
    );

    // The server's copy is altered (a different specialty under the original signature): dropped.
    const entry = (await t.store.directory.searchProviders(unique, 10))[0]!;
    await t.store.directory.putProvider({
      ...entry,
      specialty: 'surgery',
      signed: { ...signed, profile: { ...signed.profile, specialty: 'surgery' } },
    });
    const tampered = await searchProviders(patientDeps, { q: unique, token });
    expect(tampered).toEqual({ providers: [], dropped: 1 });

    // A server that swaps in its own key and a matching signature is caught by the self-certifying id.
    await t.store.directory.putProvider(entry);
    const serverKeys = deriveAccountKeys(generateRootSecret());
    const rekey: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (!url.includes('/v1/directory')) return res;
      const body = (await res.json()) as {
        providers: Array<{ profile: typeof signed.profile; sig: string; identityPublicKey: string }>;
      };
      for (const p of body.providers) {
        const payload = directoryProfilePayload(p.profile);
        p.sig = base64urlEncode(
          await signCanonical(ed, serverKeys.identity.secretKey, payload.label, payload),
        );
        p.identityPublicKey = base64urlEncode(serverKeys.identity.publicKey);
      }
      return new Response(JSON.stringify(body), { status: 200 });
    };
    const lying = device(patientDeps.vault, createHttpApi({ baseUrl: t.url, fetch: rekey }));
    expect(await searchProviders(lying, { q: unique, token })).toEqual({ providers: [], dropped: 1 });
    // Untouched, the entry verifies again.
    expect((await searchProviders(patientDeps, { q: unique, token })).providers).toHaveLength(1);

    // Both sides compute the same safety number.
    expect(safetyNumberWith(patient, base64urlEncode(provider.keys.identity.publicKey))).toBe(
      safetyNumberWith(provider, patient.keys.identity.publicKey),
    );
  });
});
