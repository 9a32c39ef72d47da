// What the account code asks the server about its protocol versions, and what it leaves unasked: the
// versions are read once per HttpApi object (a failed read is asked again), and a generation-0 signature
// is not even looked for on a server too old to keep one (against a real server on a loopback port).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGING_VERSION, WRAPPED_ROOT_SIG_VERSION, type HttpServerInfo } from '@hale/protocol';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError } from '../api/errors';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import { VAULT_KEY, createAccount, lock, publishWrappedRootSig, searchProviders } from './account';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';
const SERVER_INFO = 'GET /v1/server';

let t: TestServer;
let plain: HttpApi;
let counter = 0;

beforeAll(async () => {
  t = await startServer();
  plain = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

interface Server {
  readonly api: HttpApi;
  /** `METHOD /path?query` of every request sent through `api`, in order. */
  readonly requests: string[];
}

/**
 * An HttpApi over the real server that records its requests. `below`: the server's `GET /v1/server`
 * answer lists only the versions under it, as a server from before that version answers. `failFirst`: the
 * first `GET /v1/server` gets no answer (a network failure).
 */
const server = (options: { below?: number; failFirst?: boolean } = {}): Server => {
  const requests: string[] = [];
  let failures = options.failFirst === true ? 1 : 0;
  const counting: FetchLike = async (url, init) => {
    const { pathname, search } = new URL(url);
    const request = `${init.method} ${pathname}`;
    requests.push(`${request}${search}`);
    if (request !== SERVER_INFO) return fetch(url, init);
    if (failures > 0) {
      failures--;
      throw new TypeError('fetch failed');
    }
    const info = (await (await fetch(url, init)).json()) as HttpServerInfo;
    const below = options.below;
    const versions = below === undefined ? info.versions : info.versions.filter((v) => v < below);
    return new Response(JSON.stringify({ ...info, versions }), { status: 200 });
  };
  return { api: createHttpApi({ baseUrl: t.url, fetch: counting }), requests };
};

const newPatient = async (api: HttpApi, vault: MemoryVault = memoryVault()) => {
  const { account } = await createAccount(
    { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
    {
      role: 'patient',
      passphrase: PASS,
      loginName: `ver${++counter}-${Date.now().toString(36)}`,
      deviceName: 'laptop',
    },
  );
  return { account, vault };
};

const vaultRecord = (vault: MemoryVault) =>
  JSON.parse(vault.entries().get(VAULT_KEY) ?? 'null') as { gen?: number; gen0Sig?: string } | null;

describe('publishWrappedRootSig against a server older than WRAPPED_ROOT_SIG_VERSION', () => {
  it('asks for the versions only: no session, no wrap, nothing recorded; once per api object', async () => {
    // Registered against the older server: generation 0 is unsigned and the vault has nothing to stop the
    // unlock checks.
    const { account, vault } = await newPatient(server({ below: WRAPPED_ROOT_SIG_VERSION }).api);
    expect(vaultRecord(vault)?.gen0Sig).toBeUndefined();

    const older = server({ below: WRAPPED_ROOT_SIG_VERSION });
    const deps = { api: older.api, ed, vault };
    expect(await publishWrappedRootSig(deps, { account })).toBe('withheld');
    expect(older.requests).toEqual([SERVER_INFO]);
    // Every later unlock on this api: nothing sent at all.
    expect(await publishWrappedRootSig(deps, { account })).toBe('withheld');
    expect(older.requests).toEqual([SERVER_INFO]);

    expect(vaultRecord(vault)?.gen0Sig).toBeUndefined();
    const token = (await openSession(plain, account.device, ed)).token;
    expect((await plain.getWrappedRoot(token)).sig).toBeNull();

    // The server meanwhile keeps the signature (upgraded): a new api object learns it and publishes.
    const current = server();
    expect(await publishWrappedRootSig({ api: current.api, ed, vault }, { account })).toBe('published');
    expect(current.requests.filter((r) => r === SERVER_INFO)).toHaveLength(1);
    expect(vaultRecord(vault)?.gen0Sig).toBe('published');
    lock(account);
  });
});

describe('the server versions, read once per HttpApi object', () => {
  it('createAccount and every first search page of one api object share one read', async () => {
    const one = server();
    const { account } = await newPatient(one.api);
    const token = (await openSession(plain, account.device, ed)).token;
    for (let i = 0; i < 3; i++) {
      expect(await searchProviders({ api: one.api, ed }, { q: 'nobody by this name', token })).toEqual({
        providers: [],
        dropped: 0,
      });
    }
    expect(one.requests.filter((r) => r === SERVER_INFO)).toHaveLength(1);
    expect(one.requests.filter((r) => r.startsWith('GET /v1/directory'))).toHaveLength(3);

    // Another api object (another server, as far as it knows) asks for itself.
    const other = server();
    await searchProviders({ api: other.api, ed }, { q: 'nobody by this name', token });
    expect(other.requests.filter((r) => r === SERVER_INFO)).toHaveLength(1);
    lock(account);
  });

  it('a failed read is not kept: the next caller asks again, and keeps that answer', async () => {
    const { account } = await newPatient(plain);
    const token = (await openSession(plain, account.device, ed)).token;
    const flaky = server({ failFirst: true, below: PAGING_VERSION });
    const search = () => searchProviders({ api: flaky.api, ed }, { q: 'nobody by this name', token });

    const failed = await search().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isHaleClientError(failed) && failed.code).toBe('NETWORK');
    expect(flaky.requests).toEqual([SERVER_INFO]);

    // Asked again; the answer (a server before paging) shapes this search and the next one.
    await search();
    await search();
    expect(flaky.requests.filter((r) => r === SERVER_INFO)).toHaveLength(2);
    const queries = flaky.requests.filter((r) => r.startsWith('GET /v1/directory'));
    expect(queries).toHaveLength(2);
    for (const query of queries) expect(query).not.toMatch(/[?&]paged=/);
    lock(account);
  });
});
