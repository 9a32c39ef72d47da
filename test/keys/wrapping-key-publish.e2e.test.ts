// An account registered before the server required a signed wrapping key can receive no grant: patients'
// devices wrap only to a wrapping key the account's identity key signed. Its client publishes the
// signature itself — at a join, or in the background of an unlock with the API — once, without ever
// holding up opening (offline included), and is then granted like any other account.
import { describe, expect, it } from 'vitest';
import { base64urlDecode, TEST_KDF, unwrapKey, verifyCanonical } from '@hale/crypto';
import { wrappingKeySignaturePayload } from '@hale/protocol';
import {
  ConsentError,
  HaleClientError,
  VAULT_KEY,
  createHttpApi,
  joinWithPassphrase,
  lock,
  memoryVault,
  unlock,
  type FetchLike,
  type HttpApi,
  type MemoryVault,
} from '@hale/client/advanced';
import {
  TEST_PASSPHRASE,
  http,
  makeRegistration,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const DAY = 24 * 3_600_000;

/**
 * A provider registered as an older client did: without the wrapping-key signature. (With the signature
 * over its generation-0 passphrase wrap, which this file is not about: without it joins are refused,
 * see wrapped-root-gen0.e2e.test.ts.)
 */
const legacyProvider = async (t: TestServer): Promise<TestAccount> => {
  const { body, account } = await makeRegistration('provider');
  const res = await http(t.url, 'POST', '/v1/accounts', {
    account: body.account,
    device: body.device,
    sig: body.sig,
    wrappedRootSig: body.wrappedRootSig,
  });
  expect(res.status).toBe(201);
  return account;
};

/** Whether the server's account answer carries the account's own, valid signature over its wrapping key. */
const relaysSignature = async (api: HttpApi, account: TestAccount): Promise<boolean> => {
  const answer = await api.getAccount(account.accountId);
  if (answer.wrappingKeySig === undefined) return false;
  const sig = base64urlDecode(answer.wrappingKeySig);
  const payload = wrappingKeySignaturePayload(answer);
  return sig.ok && verifyCanonical(ed, account.keys.identity.publicKey, payload.label, payload, sig.value);
};

const vaultRecord = (vault: MemoryVault) =>
  JSON.parse(vault.entries().get(VAULT_KEY) ?? 'null') as { wrappingKeyPublished?: true } | null;

/** Global fetch plus a log of the paths asked for. */
const countingFetch = (): { fetch: FetchLike; paths: string[] } => {
  const paths: string[] = [];
  return {
    paths,
    fetch: (url, init) => {
      paths.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    },
  };
};

const unreachable: FetchLike = () => Promise.reject(new TypeError('fetch failed'));

const refusedWith = async (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    () => 'granted',
    (error: unknown) => (error instanceof ConsentError ? error.code : `untyped: ${String(error)}`),
  );

const PUT_WRAPPING_KEY = 'PUT /v1/accounts/me/wrapping-key';

describe('an account registered without its wrapping-key signature publishes it from its client', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** A patient device, online, with one allergy recorded. */
  const openPatient = async (t: TestServer) => {
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    return { patient, p, stream: `${patient.accountId}/allergy` };
  };

  const envelopesFor = (t: TestServer, stream: string, recipient: string) =>
    t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ?')
      .all(stream, recipient) as Array<{ wrapped: string }>;

  it('unlock publishes it in the background (not offline, once), and the account can then be granted', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const provider = await legacyProvider(t);
    const { p, stream } = await openPatient(t);

    // This device joined while publishing failed: the join still succeeds, the vault records nothing.
    const down: HttpApi = {
      ...api,
      putWrappingKey: () =>
        Promise.reject(new HaleClientError({ code: 'NETWORK', message: 'down', status: 0 })),
    };
    const vault = memoryVault();
    lock(
      await joinWithPassphrase(
        { api: down, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
        { loginName: provider.loginName, passphrase: TEST_PASSPHRASE, deviceName: 'clinic desk' },
      ),
    );
    expect(await relaysSignature(api, provider)).toBe(false);
    expect(vaultRecord(vault)?.wrappingKeyPublished).toBeUndefined();
    // So the patient's device wraps nothing to it.
    expect(await refusedWith(grantRead(p, provider.accountId, 'allergy', DAY, 'care'))).toBe(
      'WRAPPING_KEY_UNVERIFIED',
    );

    // Offline, unlock opens the account as ever; nothing is published, nothing recorded.
    const offline = await unlock(
      { vault, api: createHttpApi({ baseUrl: 'http://127.0.0.1:9', fetch: unreachable }), ed },
      { passphrase: TEST_PASSPHRASE },
    );
    expect(offline.accountId).toBe(provider.accountId);
    await new Promise((r) => setTimeout(r, 100));
    lock(offline);
    expect(vaultRecord(vault)?.wrappingKeyPublished).toBeUndefined();
    expect(await relaysSignature(api, provider)).toBe(false);

    // Online, the unlock publishes the signature, once, and the vault remembers it.
    const counted = countingFetch();
    const online = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const opened = await unlock({ vault, api: online, ed }, { passphrase: TEST_PASSPHRASE });
    await eventually(() => relaysSignature(api, provider), 'signature published');
    await eventually(() => vaultRecord(vault)?.wrappingKeyPublished === true, 'publication remembered');
    lock(opened);
    expect(counted.paths.filter((path) => path === PUT_WRAPPING_KEY)).toHaveLength(1);

    // The patient's grant now goes through, wrapped to the provider's own key.
    await grantRead(p, provider.accountId, 'allergy', DAY, 'care');
    const wrapped = envelopesFor(t, stream, provider.accountId);
    expect(wrapped).toHaveLength(1);
    expect(unwrapKey(wrapped[0]!.wrapped, provider.keys.wrapping, { stream, epoch: 0 }).ok).toBe(true);

    // Once remembered, an unlock sends nothing at all.
    counted.paths.length = 0;
    lock(await unlock({ vault, api: online, ed }, { passphrase: TEST_PASSPHRASE }));
    await new Promise((r) => setTimeout(r, 100));
    expect(counted.paths).toEqual([]);
  });

  it('a join publishes it there and then', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const provider = await legacyProvider(t);
    const { p, stream } = await openPatient(t);
    const vault = memoryVault();
    lock(
      await joinWithPassphrase(
        { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
        { loginName: provider.loginName, passphrase: TEST_PASSPHRASE, deviceName: 'clinic laptop' },
      ),
    );
    expect(await relaysSignature(api, provider)).toBe(true);
    expect(vaultRecord(vault)?.wrappingKeyPublished).toBe(true);
    await grantRead(p, provider.accountId, 'allergy', DAY, 'care');
    expect(envelopesFor(t, stream, provider.accountId)).toHaveLength(1);
  });

  it('a vault from before the change, of an account that is signed: one account read, no publication', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const provider = await registerAccount(t, 'provider');
    const vault = memoryVault();
    lock(
      await joinWithPassphrase(
        { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
        { loginName: provider.loginName, passphrase: TEST_PASSPHRASE, deviceName: 'clinic tablet' },
      ),
    );
    // As an older client wrote it: without the flag.
    const { wrappingKeyPublished, ...older } = vaultRecord(vault)!;
    expect(wrappingKeyPublished).toBe(true);
    await vault.set(VAULT_KEY, JSON.stringify(older));

    const counted = countingFetch();
    const online = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const opened = await unlock({ vault, api: online, ed }, { passphrase: TEST_PASSPHRASE });
    await eventually(() => vaultRecord(vault)?.wrappingKeyPublished === true, 'signature remembered');
    lock(opened);
    expect(counted.paths).toEqual([`GET /v1/accounts/${provider.accountId}`]);
  });
});
