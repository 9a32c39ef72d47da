// What `unlock` sends when both of its background publications are due (an account registered by an older
// build: the server has neither the wrapping-key signature nor a signed generation 0): one session
// handshake, shared by both, and both still published — against a real server on a loopback port.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WRAPPED_ROOT_SIG_VERSION, type HttpServerInfo } from '@hale/protocol';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import { VAULT_KEY, createAccount, unlock } from './account';
import { memoryVault } from './vault';

const PASS = 'correct horse battery staple';
const CHALLENGE = 'POST /v1/auth/challenge';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
});

/** An HttpApi over the real server recording `METHOD /path` of every request; `older`: as an older build saw it. */
const server = (older = false): { api: HttpApi; requests: string[] } => {
  const requests: string[] = [];
  const counting: FetchLike = async (url, init) => {
    const request = `${init.method} ${new URL(url).pathname}`;
    requests.push(request);
    if (!older) return fetch(url, init);
    if (request === 'GET /v1/server') {
      const info = (await (await fetch(url, init)).json()) as HttpServerInfo;
      const versions = info.versions.filter((v) => v < WRAPPED_ROOT_SIG_VERSION);
      return new Response(JSON.stringify({ ...info, versions }), { status: 200 });
    }
    if (request === 'POST /v1/accounts' && typeof init.body === 'string') {
      // Registered before accounts signed their wrapping key.
      const { wrappingKeySig: _dropped, ...body } = JSON.parse(init.body) as Record<string, unknown>;
      return fetch(url, { ...init, body: JSON.stringify(body) });
    }
    return fetch(url, init);
  };
  return { api: createHttpApi({ baseUrl: t.url, fetch: counting }), requests };
};

describe('unlock with both publications due', () => {
  it('opens one session for both, and publishes both', async () => {
    const vault = memoryVault();
    const { account } = await createAccount(
      { api: server(true).api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      {
        role: 'patient',
        passphrase: PASS,
        loginName: `unl-${Date.now().toString(36)}`,
        deviceName: 'laptop',
      },
    );
    // The vault of that older build: nothing recorded as published.
    const {
      wrappingKeyPublished: _k,
      gen0Sig: _g,
      ...record
    } = JSON.parse(vault.entries().get(VAULT_KEY) ?? '{}') as Record<string, unknown>;
    await vault.set(VAULT_KEY, JSON.stringify(record));
    const plain = createHttpApi({ baseUrl: t.url, fetch });
    expect((await plain.getAccount(account.accountId)).wrappingKeySig).toBeUndefined();

    const current = server();
    await unlock({ vault, api: current.api, ed }, { passphrase: PASS });
    const stored = () => JSON.parse(vault.entries().get(VAULT_KEY) ?? '{}') as Record<string, unknown>;
    await vi.waitFor(
      () => {
        expect(stored()).toMatchObject({ wrappingKeyPublished: true, gen0Sig: 'published' });
      },
      { timeout: 30_000, interval: 20 },
    );

    expect(current.requests.filter((r) => r === CHALLENGE)).toHaveLength(1);
    // What is published is unchanged: the server relays the wrapping-key signature and a signed gen 0.
    expect((await plain.getAccount(account.accountId)).wrappingKeySig).toBeDefined();
    const token = (await openSession(plain, account.device, ed)).token;
    const wrap = await plain.getWrappedRoot(token);
    expect(wrap).toMatchObject({ gen: 0 });
    expect(wrap.sig).not.toBeNull();
  });
});
