// Generation 0 of an account's passphrase wrap is signed by the account like every later one: at
// registration, or published afterwards by an account registered without it. The server stores only a
// signature that verifies with the account's identity key over exactly the wrap it holds at generation 0,
// so it can never vouch for another wrap or relabel a later one (against a real server and SQLite file).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpWrappedRootState,
  WRAPPED_ROOT_SIG_VERSION,
  validate,
  wrappedRootSignaturePayload,
} from '@hale/protocol';
import { TEST_KDF, wrapRootWithPassphrase } from '@hale/crypto';
import {
  http,
  makeRegistration,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from './testing/harness';
import { backupSqlite, restoreSqlite, SQLITE_FILE_NAME } from './store/index';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
});

const PATH = '/v1/accounts/me/wrapped-root';

const wrappedRootOf = async (token: string, server: TestServer = t): Promise<HttpWrappedRootState> => {
  const res = await http(server.url, 'GET', PATH, undefined, token);
  expect(res.status).toBe(200);
  const checked = validate(HttpWrappedRootState, res.body);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
};

const signWrap = (
  account: TestAccount,
  wrappedRoot: HttpWrappedRootState['wrappedRoot'],
  gen: number,
  signer: TestAccount = account,
) =>
  sign(
    signer.keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen }),
  );

/** An account registered as a client before generation-0 signatures did: without `wrappedRootSig`. */
const legacyAccount = async (server: TestServer = t): Promise<{ account: TestAccount; token: string }> => {
  const { body, account } = await makeRegistration('patient');
  const { wrappedRootSig: _left, ...older } = body;
  expect((await http(server.url, 'POST', '/v1/accounts', older)).status).toBe(201);
  return { account, token: await sessionToken(server, account.device) };
};

describe('registration', () => {
  it('the server speaks the version that keeps the generation-0 signature', async () => {
    const res = await http(t.url, 'GET', '/v1/server');
    expect((res.body as { versions: number[] }).versions).toContain(WRAPPED_ROOT_SIG_VERSION);
  });

  it('stores the generation-0 signature it carries and serves it with the wrap', async () => {
    const { body, account } = await makeRegistration('patient');
    expect((await http(t.url, 'POST', '/v1/accounts', body)).status).toBe(201);
    const state = await wrappedRootOf(await sessionToken(t, account.device));
    expect(state).toEqual({
      accountId: account.accountId,
      wrappedRoot: body.account.wrappedRoot,
      gen: 0,
      sig: body.wrappedRootSig,
    });
    const joined = await http(t.url, 'POST', '/v1/join', { loginName: account.loginName });
    expect(joined.body).toEqual(state);
  });

  it('refuses a generation-0 signature that does not verify over the registered wrap, storing nothing', async () => {
    const { body, account } = await makeRegistration('patient');
    const stranger = await registerAccount(t);
    const otherWrap = (await wrapRootWithPassphrase(account.root, 'another passphrase', TEST_KDF)) as never;
    const forged = [
      // Over another wrap of the same root, over generation 1, by another account's key.
      await signWrap(account, otherWrap, 0),
      await signWrap(account, body.account.wrappedRoot, 1),
      await signWrap(account, body.account.wrappedRoot, 0, stranger),
    ];
    for (const wrappedRootSig of forged) {
      const res = await http(t.url, 'POST', '/v1/accounts', { ...body, wrappedRootSig });
      expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
      expect(await t.store.accounts.get(account.accountId)).toBeNull();
    }
    expect((await http(t.url, 'POST', '/v1/accounts', body)).status).toBe(201);
  });
});

describe('publishing the generation-0 signature of an account registered without it', () => {
  it('is served unsigned until the account publishes it, then signed', async () => {
    const { account, token } = await legacyAccount();
    const before = await wrappedRootOf(token);
    expect(before).toMatchObject({ gen: 0, sig: null });
    const sig = await signWrap(account, before.wrappedRoot, 0);
    const res = await http(t.url, 'PUT', PATH, { wrappedRoot: before.wrappedRoot, gen: 0, sig }, token);
    expect(res).toEqual({ status: 200, body: { accountId: account.accountId, gen: 0 } });
    expect(await wrappedRootOf(token)).toEqual({ ...before, sig });
    // Again: the same answer, nothing changes.
    expect(
      (await http(t.url, 'PUT', PATH, { wrappedRoot: before.wrappedRoot, gen: 0, sig }, token)).status,
    ).toBe(200);
    expect(await wrappedRootOf(token)).toEqual({ ...before, sig });
  });

  it('refuses a forged or mismatched publication and keeps the wrap unsigned', async () => {
    const { account, token } = await legacyAccount();
    const stored = await wrappedRootOf(token);
    const stranger = await registerAccount(t);
    const otherWrap = (await wrapRootWithPassphrase(account.root, 'server chosen pass', TEST_KDF)) as never;
    const attempts: Array<[number, string, unknown]> = [
      // Signed by another account's identity key.
      [
        401,
        'BAD_SIGNATURE',
        {
          wrappedRoot: stored.wrappedRoot,
          gen: 0,
          sig: await signWrap(account, stored.wrappedRoot, 0, stranger),
        },
      ],
      // Signed over generation 1, sent as 0.
      [
        401,
        'BAD_SIGNATURE',
        { wrappedRoot: stored.wrappedRoot, gen: 0, sig: await signWrap(account, stored.wrappedRoot, 1) },
      ],
      // The stored wrap, with a signature over another one.
      [
        401,
        'BAD_SIGNATURE',
        { wrappedRoot: stored.wrappedRoot, gen: 0, sig: await signWrap(account, otherWrap, 0) },
      ],
      // A genuine signature, but over a wrap the server does not hold.
      [409, 'CONFLICT', { wrappedRoot: otherWrap, gen: 0, sig: await signWrap(account, otherWrap, 0) }],
    ];
    for (const [status, code, body] of attempts) {
      const res = await http(t.url, 'PUT', PATH, body, token);
      expect(res).toMatchObject({ status, body: { code } });
      expect(await wrappedRootOf(token)).toEqual(stored);
    }
    // Without a session.
    const sig = await signWrap(account, stored.wrappedRoot, 0);
    const anonymous = await http(t.url, 'PUT', PATH, { wrappedRoot: stored.wrappedRoot, gen: 0, sig });
    expect(anonymous).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    // From another account's session, for this account's wrap: checked against that account.
    const strangerToken = await sessionToken(t, stranger.device);
    const crossed = await http(
      t.url,
      'PUT',
      PATH,
      { wrappedRoot: stored.wrappedRoot, gen: 0, sig },
      strangerToken,
    );
    expect(crossed).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(await wrappedRootOf(token)).toEqual(stored);
  });

  it('is refused once the account is past generation 0: the old wrap can no longer be signed', async () => {
    const { account, token } = await legacyAccount();
    const generation0 = await wrappedRootOf(token);
    const next = (await wrapRootWithPassphrase(account.root, 'second passphrase', TEST_KDF)) as never;
    const changed = await http(
      t.url,
      'PUT',
      PATH,
      { wrappedRoot: next, gen: 1, sig: await signWrap(account, next, 1) },
      token,
    );
    expect(changed.status).toBe(200);
    const sig = await signWrap(account, generation0.wrappedRoot, 0);
    const late = await http(t.url, 'PUT', PATH, { wrappedRoot: generation0.wrappedRoot, gen: 0, sig }, token);
    expect(late).toMatchObject({ status: 409, body: { code: 'CONFLICT', details: { gen: 1 } } });
    expect(await wrappedRootOf(token)).toMatchObject({ gen: 1, wrappedRoot: next });
  });
});

describe('a restore from a backup made before the publication', () => {
  it('carries the signature into the restored store, where it still signs the wrap held there', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-gen0-'));
    const dataDir = path.join(dir, 'data');
    const backup = path.join(dir, 'backup.sqlite');
    let server: TestServer | null = await startServer({ dataDir });
    try {
      const { account, token } = await legacyAccount(server);
      const stored = await wrappedRootOf(token, server);
      await backupSqlite(server.store, backup);
      const sig = await signWrap(account, stored.wrappedRoot, 0);
      const put = { wrappedRoot: stored.wrappedRoot, gen: 0, sig };
      expect((await http(server.url, 'PUT', PATH, put, token)).status).toBe(200);
      await server.stop({ keepData: true });
      server = null;

      const warnings: string[] = [];
      const result = await restoreSqlite(backup, dataDir, { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([]);
      expect(result.carried).toMatchObject({ wrappedRoots: 1 });
      server = await startServer({ dataDir });
      const after = await wrappedRootOf(await sessionToken(server, account.device), server);
      expect(after).toEqual({ ...stored, sig });
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('carries no signature that does not verify over the wrap held there: that wrap stays unsigned', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-gen0-'));
    const dataDir = path.join(dir, 'data');
    const backup = path.join(dir, 'backup.sqlite');
    let server: TestServer | null = await startServer({ dataDir });
    try {
      const live = server;
      const stranger = await registerAccount(live);
      const accounts: Array<{ account: TestAccount; stored: HttpWrappedRootState }> = [];
      for (let i = 0; i < 3; i++) {
        const { account, token } = await legacyAccount(live);
        accounts.push({ account, stored: await wrappedRootOf(token, live) });
      }
      await backupSqlite(live.store, backup);
      const [a, b, c] = accounts;
      if (a === undefined || b === undefined || c === undefined) throw new Error('three accounts expected');
      const otherWrap = (await wrapRootWithPassphrase(
        a.account.root,
        'another passphrase',
        TEST_KDF,
      )) as never;
      // Signatures the PUT would have refused, written past it (a tampered or damaged store file). Each is a
      // real signature, over something other than the wrap the account holds at generation 0.
      const bad: Array<[TestAccount, string]> = [
        // The account's key over another wrap of the same root.
        [a.account, await signWrap(a.account, otherWrap, 0)],
        // The account's key over its wrap as generation 1.
        [b.account, await signWrap(b.account, b.stored.wrappedRoot, 1)],
        // Another account's key over the account's wrap.
        [c.account, await signWrap(c.account, c.stored.wrappedRoot, 0, stranger)],
      ];
      await live.stop({ keepData: true });
      server = null;
      const db = new Database(path.join(dataDir, SQLITE_FILE_NAME));
      try {
        const setSig = db.prepare<[string, string]>(
          'UPDATE accounts SET wrapped_root_sig = ? WHERE account_id = ? AND wrapped_root_gen = 0',
        );
        for (const [account, sig] of bad) expect(setSig.run(sig, account.accountId).changes).toBe(1);
      } finally {
        db.close();
      }

      const warnings: string[] = [];
      const result = await restoreSqlite(backup, dataDir, { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([]);
      expect(result.carried).toMatchObject({ wrappedRoots: 0 });
      server = await startServer({ dataDir });
      for (const { account, stored } of accounts) {
        const after = await wrappedRootOf(await sessionToken(server, account.device), server);
        expect(after).toEqual({ ...stored, sig: null });
      }
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
