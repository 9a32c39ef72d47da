// An account registered before the server kept the signature over generation 0 of its passphrase wrap:
// joins refuse that wrap (a server could have relabelled a later one as generation 0, to hand the device
// an older passphrase afterwards). The account's own device publishes the signature when it is unlocked
// online — over its own wrap, once, never in the way of opening — and joins then go through as for any
// account.
import { describe, expect, it } from 'vitest';
import { TEST_KDF, base64urlDecode, verifyCanonical } from '@hale/crypto';
import { WRAPPED_ROOT_SIG_VERSION, wrappedRootSignaturePayload } from '@hale/protocol';
import {
  AccountError,
  VAULT_KEY,
  createAccount,
  createHttpApi,
  joinWithPassphrase,
  lock,
  memoryVault,
  openSession,
  unlock,
  type FetchLike,
  type HttpApi,
  type MemoryVault,
  type UnlockedAccount,
  type Vault,
} from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { ed, eventually } from '../support/devices';

const PASS = 'correct horse battery staple';

const vaultRecord = (vault: MemoryVault) =>
  JSON.parse(vault.entries().get(VAULT_KEY) ?? 'null') as { gen?: number; gen0Sig?: string } | null;

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

const refusal = (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    () => 'joined',
    (error: unknown) => (error instanceof AccountError ? error.code : `untyped: ${String(error)}`),
  );

const PUT_WRAPPED_ROOT = 'PUT /v1/accounts/me/wrapped-root';

describe('an account registered without its generation-0 signature publishes it from its device', () => {
  const server = useServer({ realClock: true });

  /** Whether the server serves the account's valid signature over its generation-0 wrap. */
  const signedAtGen0 = async (api: HttpApi, account: UnlockedAccount, token: string): Promise<boolean> => {
    const state = await api.getWrappedRoot(token);
    if (state.gen !== 0 || state.sig === null) return false;
    const sig = base64urlDecode(state.sig);
    const payload = wrappedRootSignaturePayload({
      accountId: account.accountId,
      wrappedRoot: state.wrappedRoot,
      gen: 0,
    });
    return sig.ok && verifyCanonical(ed, account.keys.identity.publicKey, payload.label, payload, sig.value);
  };

  it('unlock publishes it in the background (not offline, once); then a new device joins', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const loginName = `gen0-${Date.now().toString(36)}`;
    // Registered as against a server from before the signature was kept: the server never got it.
    const olderServer: HttpApi = {
      ...api,
      serverInfo: async () => {
        const info = await api.serverInfo();
        return { ...info, versions: info.versions.filter((v) => v < WRAPPED_ROOT_SIG_VERSION) };
      },
    };
    const vault = memoryVault();
    const { account: created } = await createAccount(
      { api: olderServer, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: PASS, loginName, deviceName: 'laptop' },
    );
    const token = (await openSession(api, created.device, ed)).token;
    lock(created);
    expect(vaultRecord(vault)?.gen0Sig).toBeUndefined();
    expect((await api.getWrappedRoot(token)).sig).toBeNull();

    // A new device cannot join on that wrap.
    const phoneVault = memoryVault();
    const join = () =>
      joinWithPassphrase(
        { api, vault: phoneVault, ed, kdf: TEST_KDF, weakKdfForTests: true },
        { loginName, passphrase: PASS, deviceName: 'phone' },
      );
    expect(await refusal(join())).toBe('WRAPPED_ROOT_UNSIGNED');
    expect(phoneVault.entries().size).toBe(0);

    // Offline, unlock opens the account as ever and publishes nothing.
    const attempts: string[] = [];
    const unreachable: FetchLike = (url) => {
      attempts.push(new URL(url).pathname);
      return Promise.reject(new TypeError('fetch failed'));
    };
    const offline = await unlock(
      { vault, api: createHttpApi({ baseUrl: 'http://127.0.0.1:9', fetch: unreachable }), ed },
      { passphrase: PASS },
    );
    expect(offline.accountId).toBe(created.accountId);
    await eventually(() => attempts.length > 0, 'a publication attempted');
    lock(offline);
    expect(vaultRecord(vault)?.gen0Sig).toBeUndefined();
    expect((await api.getWrappedRoot(token)).sig).toBeNull();

    // Online, the unlock publishes the signature, once, and the vault remembers it.
    const counted = countingFetch();
    const online = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const opened = await unlock({ vault, api: online, ed }, { passphrase: PASS });
    await eventually(() => vaultRecord(vault)?.gen0Sig === 'published', 'publication remembered');
    expect(await signedAtGen0(api, opened, token)).toBe(true);
    lock(opened);
    expect(counted.paths.filter((p) => p === PUT_WRAPPED_ROOT)).toHaveLength(1);

    // Now the phone joins, holding a signed generation 0.
    const phone = await join();
    expect(vaultRecord(phoneVault)).toMatchObject({ gen: 0, gen0Sig: 'published' });
    lock(phone);

    // Once remembered, an unlock starts nothing: a publication would read the vault again before its
    // first request, before unlock returns.
    counted.paths.length = 0;
    let reads = 0;
    const watched: Vault = {
      ...vault,
      get: (key) => {
        reads++;
        return vault.get(key);
      },
    };
    const again = await unlock({ vault: watched, api: online, ed }, { passphrase: PASS });
    lock(again);
    expect(reads).toBe(1);
    expect(counted.paths).toEqual([]);
  });

  it('a vault from before the change, of a signed account: one look at the wrap, no publication', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const loginName = `gen0b-${Date.now().toString(36)}`;
    const vault = memoryVault();
    lock(
      (
        await createAccount(
          { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
          { role: 'patient', passphrase: PASS, loginName, deviceName: 'laptop' },
        )
      ).account,
    );
    // As an older build wrote it: without the flag.
    const { gen0Sig, ...older } = vaultRecord(vault)!;
    expect(gen0Sig).toBe('published');
    await vault.set(VAULT_KEY, JSON.stringify(older));

    const counted = countingFetch();
    const online = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const opened = await unlock({ vault, api: online, ed }, { passphrase: PASS });
    await eventually(() => vaultRecord(vault)?.gen0Sig === 'published', 'signature remembered');
    lock(opened);
    expect(counted.paths).not.toContain(PUT_WRAPPED_ROOT);
    expect(counted.paths).toContain('GET /v1/accounts/me/wrapped-root');
  });
});
