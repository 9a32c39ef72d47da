// What `unlock` sends when both of its background publications are due (an account registered without the
// wrapping-key and role signatures): one session handshake, shared by both, and both still published —
// against a real server on a loopback port.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
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

/**
 * An HttpApi over the real server recording `METHOD /path` of every request; `unsigned`: its registrations
 * go without the wrapping-key and role signatures.
 */
const server = (unsigned = false): { api: HttpApi; requests: string[] } => {
  const requests: string[] = [];
  const counting: FetchLike = async (url, init) => {
    const request = `${init.method} ${new URL(url).pathname}`;
    requests.push(request);
    if (unsigned && request === 'POST /v1/accounts' && typeof init.body === 'string') {
      const { wrappingKeySig: _k, roleSig: _r, ...body } = JSON.parse(init.body) as Record<string, unknown>;
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
    // A vault that records nothing as published.
    const {
      wrappingKeyPublished: _k,
      roleSig: _r,
      ...record
    } = JSON.parse(vault.entries().get(VAULT_KEY) ?? '{}') as Record<string, unknown>;
    await vault.set(VAULT_KEY, JSON.stringify(record));
    const plain = createHttpApi({ baseUrl: t.url, fetch });
    const before = await plain.getAccount(account.accountId);
    expect([before.wrappingKeySig, before.roleSig]).toEqual([undefined, undefined]);

    const current = server();
    await unlock({ vault, api: current.api, ed }, { passphrase: PASS });
    const stored = () => JSON.parse(vault.entries().get(VAULT_KEY) ?? '{}') as Record<string, unknown>;
    await vi.waitFor(
      () => {
        expect(stored()).toMatchObject({ wrappingKeyPublished: true, roleSig: 'published' });
      },
      { timeout: 30_000, interval: 20 },
    );

    expect(current.requests.filter((r) => r === CHALLENGE)).toHaveLength(1);
    // What is published: the server relays both signatures.
    const after = await plain.getAccount(account.accountId);
    expect(after.wrappingKeySig).toBeDefined();
    expect(after.roleSig).toBeDefined();
  });
});
