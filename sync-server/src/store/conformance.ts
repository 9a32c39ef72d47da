/*
 * Conformance suite for `SyncStore` implementations: declares Vitest tests that check the contract in
 * types.ts through the interface only (no backend specifics), so SQLite and CouchDB pass the same tests.
 * Call it from an implementation's `*.test.ts`. Each test gets a fresh, empty store from `makeStore`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeAvailabilityConformance } from './availability-conformance';
import { describeEraseConformance } from './erase-conformance';
import { describeHeadsConformance } from './heads-conformance';
import { describeShlConformance, describeShlSharedConformance } from './shl-conformance';
import {
  BLOB_CHUNK_OVERHEAD_BYTES,
  blobQuotaBytes,
  isStoreError,
  type StoreError,
  type AccessGuard,
  type Account,
  type BlobManifest,
  type Challenge,
  type Device,
  type DocInput,
  type DocWrite,
  type DocWriteResult,
  type Grant,
  type Invite,
  type ProviderEntry,
  type Session,
  type StoreErrorCode,
  type StreamHead,
  type SyncStore,
} from './types';

export interface StoreHandle {
  store: SyncStore;
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Two store instances over one backend (e.g. two server nodes on one cluster): enables sharing tests. */
  makeSharedPair?: () => Promise<{ stores: [SyncStore, SyncStore]; cleanup: () => Promise<void> }>;
}

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
/** ISO time `seconds` after a fixed origin. */
export const isoAt = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

const encoder = new TextEncoder();

export const makeAccount = (accountId: string, extra: Partial<Account> = {}): Account => ({
  accountId,
  role: 'patient',
  identityPublicKey: `idk-${accountId}`,
  wrappingPublicKey: `wrk-${accountId}`,
  wrappedRoot: {
    v: 1,
    kdf: { name: 'scrypt', N: 131072, r: 8, p: 1 },
    salt: 'c2FsdA',
    box: `box-${accountId}`,
  },
  wrappedRootGen: 0,
  wrappedRootSig: null,
  createdAt: isoAt(0),
  ...extra,
});

export const makeDevice = (deviceId: string, accountId: string, extra: Partial<Device> = {}): Device => ({
  deviceId,
  accountId,
  cert: { account: accountId, device: deviceId, sig: `sig-${deviceId}`, nested: { list: [1, 'two', null] } },
  devicePublicKey: `dpk-${deviceId}`,
  createdAt: isoAt(1),
  ...extra,
});

export const makeDocInput = (
  stream: string,
  id: string,
  rev: string,
  extra: Partial<DocInput> = {},
): DocInput => {
  const ct = extra.ct ?? encoder.encode(`ciphertext of ${stream}/${id}@${rev}`);
  return { stream, id, rev, deleted: false, epoch: 1, ct, size: ct.byteLength, author: 'device-a', ...extra };
};

/** A write of a new audit entry `id`, at `authorSeq` of `author`'s chain in `stream`. */
export const auditWrite = (stream: string, id: string, author: string, authorSeq: number): DocWrite => ({
  doc: makeDocInput(stream, id, `1-${id}`, {
    author,
    sig: `sig-${id}`,
    audit: { authorSeq, prevHash: authorSeq === 1 ? null : `h${authorSeq - 1}`, at: isoAt(authorSeq) },
  }),
  assumedRev: null,
});

const paddedCt = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

const catchError = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject');
};

const expectStoreError = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<void> => {
  const error = await catchError(promise);
  expect(isStoreError(error), `expected a StoreError, got ${String(error)}`).toBe(true);
  expect((error as { code: unknown }).code).toBe(code);
};

const expectBytes = (actual: Uint8Array | null | undefined, expected: Uint8Array): void => {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(Array.from(actual ?? [])).toEqual(Array.from(expected));
};

const okSeq = (result: DocWriteResult | undefined): number => {
  if (result?.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.seq;
};

const waitFor = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A blob of three chunks of 4 bytes (the last of 2) in a patient's document stream. */
const BLOB_MANIFEST: BlobManifest = {
  blobId: 'blob-1',
  stream: 'p/document',
  size: 10,
  chunkSize: 4,
  chunkCount: 3,
  digests: ['d0', 'd1', 'd2'],
  createdBy: 'dev-1',
  createdAt: isoAt(0),
};

export const runStoreConformance = (
  name: string,
  makeStore: () => Promise<StoreHandle>,
  options: ConformanceOptions = {},
): void => {
  describe(`SyncStore conformance: ${name}`, () => {
    let store: SyncStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.init();
    });
    afterEach(async () => {
      await cleanup();
    });

    const seedAccounts = async (...ids: string[]): Promise<void> => {
      for (const id of ids) await store.accounts.put(makeAccount(id));
    };

    describe('lifecycle', () => {
      it('init is idempotent and health reports ok', async () => {
        await store.init();
        const health = await store.health();
        expect(health.ok).toBe(true);
        expect(health.backend.length).toBeGreaterThan(0);
      });

      it('after close every call rejects with UNAVAILABLE and close is idempotent', async () => {
        await store.close();
        await store.close();
        expect((await store.health()).ok).toBe(false);
        await expectStoreError(store.meta.get('k'), 'UNAVAILABLE');
        await expectStoreError(store.serverState.put('k', 'v', isoAt(0)), 'UNAVAILABLE');
        await expectStoreError(store.docs.readDocs('p/allergy', 0, 10, 1000), 'UNAVAILABLE');
        await expectStoreError(
          store.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-x'), assumedRev: null }], isoAt(0)),
          'UNAVAILABLE',
        );
      });
    });

    describe('accounts', () => {
      it('round-trips an account, by id and by login name', async () => {
        const withLogin = makeAccount('acc-1', { loginName: 'alice', role: 'provider' });
        const without = makeAccount('acc-2');
        await store.accounts.put(withLogin);
        await store.accounts.put(without);
        expect(await store.accounts.get('acc-1')).toStrictEqual(withLogin);
        expect(await store.accounts.get('acc-2')).toStrictEqual(without);
        expect(await store.accounts.getByLogin('alice')).toStrictEqual(withLogin);
        expect(await store.accounts.get('nobody')).toBeNull();
        expect(await store.accounts.getByLogin('bob')).toBeNull();
      });

      it('replaces the wrapped root only, only with a later generation, and only of an existing account', async () => {
        const account = makeAccount('acc-1', { loginName: 'alice' });
        await store.accounts.put(account);
        const first = { wrappedRoot: { v: 1, rewrapped: 1 }, gen: 1, sig: 'sig-1' };
        await store.accounts.updateWrappedRoot('acc-1', first);
        const changed = {
          ...account,
          wrappedRoot: first.wrappedRoot,
          wrappedRootGen: 1,
          wrappedRootSig: 'sig-1',
        };
        expect(await store.accounts.get('acc-1')).toStrictEqual(changed);
        // Compare-and-set: a second change built on generation 0 (or a replay of generation 1) and an
        // older generation lose, and change nothing.
        for (const gen of [1, 0]) {
          await expectStoreError(
            store.accounts.updateWrappedRoot('acc-1', {
              wrappedRoot: { v: 1, rewrapped: gen },
              gen,
              sig: 'x',
            }),
            'CONFLICT',
          );
        }
        // The conflict names the stored generation, so a caller need not read the account again.
        const conflict = await catchError(
          store.accounts.updateWrappedRoot('acc-1', { wrappedRoot: { v: 1 }, gen: 1, sig: 'x' }),
        );
        expect(isStoreError(conflict, 'CONFLICT') && conflict.details).toEqual({ gen: 1 });
        expect(await store.accounts.get('acc-1')).toStrictEqual(changed);
        await store.accounts.updateWrappedRoot('acc-1', {
          wrappedRoot: { v: 1, rewrapped: 2 },
          gen: 2,
          sig: 'sig-2',
        });
        expect((await store.accounts.get('acc-1'))?.wrappedRootGen).toBe(2);
        // Past the next one too (a device ahead of a store restored from an older backup), after which
        // the generations it skipped are older ones.
        await store.accounts.updateWrappedRoot('acc-1', {
          wrappedRoot: { v: 1, rewrapped: 5 },
          gen: 5,
          sig: 'sig-5',
        });
        expect((await store.accounts.get('acc-1'))?.wrappedRootGen).toBe(5);
        const skipped = await catchError(
          store.accounts.updateWrappedRoot('acc-1', { wrappedRoot: { v: 1 }, gen: 4, sig: 'x' }),
        );
        expect(isStoreError(skipped, 'CONFLICT') && skipped.details).toEqual({ gen: 5 });
        await expectStoreError(
          store.accounts.updateWrappedRoot('nobody', { wrappedRoot: { v: 1 }, gen: 1, sig: 'x' }),
          'NOT_FOUND',
        );
      });

      it('keeps the wrapping-key signature given at registration or set later, of an existing account only', async () => {
        const signed = makeAccount('acc-1', { wrappingKeySig: 'wk-sig-1' });
        await store.accounts.put(signed);
        expect(await store.accounts.get('acc-1')).toStrictEqual(signed);
        const legacy = makeAccount('acc-2');
        await store.accounts.put(legacy);
        expect((await store.accounts.get('acc-2'))?.wrappingKeySig).toBeUndefined();
        await store.accounts.setWrappingKeySig('acc-2', 'wk-sig-2');
        expect(await store.accounts.get('acc-2')).toStrictEqual({ ...legacy, wrappingKeySig: 'wk-sig-2' });
        await expectStoreError(store.accounts.setWrappingKeySig('nobody', 'x'), 'NOT_FOUND');
      });

      it('keeps the role signature given at registration; an account without one is read without it', async () => {
        const signed = makeAccount('acc-1', { roleSig: 'role-sig-1' });
        await store.accounts.put(signed);
        expect(await store.accounts.get('acc-1')).toStrictEqual(signed);
        const legacy = makeAccount('acc-2');
        await store.accounts.put(legacy);
        expect(await store.accounts.get('acc-2')).toStrictEqual(legacy);
        expect(Object.hasOwn((await store.accounts.get('acc-2')) ?? {}, 'roleSig')).toBe(false);
      });

      it('adds the role signature of an account without one, never replaces a held one', async () => {
        const legacy = makeAccount('acc-2');
        await store.accounts.put(legacy);
        await store.accounts.setRoleSig('acc-2', 'role-sig-2');
        expect(await store.accounts.get('acc-2')).toStrictEqual({ ...legacy, roleSig: 'role-sig-2' });
        await store.accounts.setRoleSig('acc-2', 'another');
        expect((await store.accounts.get('acc-2'))?.roleSig).toBe('role-sig-2');
        const signed = makeAccount('acc-1', { roleSig: 'role-sig-1' });
        await store.accounts.put(signed);
        await store.accounts.setRoleSig('acc-1', 'another');
        expect(await store.accounts.get('acc-1')).toStrictEqual(signed);
        await expectStoreError(store.accounts.setRoleSig('nobody', 'x'), 'NOT_FOUND');
      });

      it('adds the signature of an unsigned wrap only to that very wrap at that generation, once', async () => {
        const account = makeAccount('acc-1');
        await store.accounts.put(account);
        // The same JSON with its keys in another order is the same wrap.
        const reordered = Object.fromEntries(Object.entries(account.wrappedRoot).reverse());
        const conflicts = [
          { wrappedRoot: { ...account.wrappedRoot, box: 'another box' }, gen: 0, sig: 'x' },
          { wrappedRoot: account.wrappedRoot, gen: 1, sig: 'x' },
        ];
        for (const wrong of conflicts) {
          const error = await catchError(store.accounts.setWrappedRootSig('acc-1', wrong));
          expect(isStoreError(error, 'CONFLICT') && error.details).toEqual({ gen: 0 });
          expect(await store.accounts.get('acc-1')).toStrictEqual(account);
        }
        await store.accounts.setWrappedRootSig('acc-1', { wrappedRoot: reordered, gen: 0, sig: 'sig-0' });
        const signed = { ...account, wrappedRootSig: 'sig-0' };
        expect(await store.accounts.get('acc-1')).toStrictEqual(signed);
        // A signature already there stays.
        await store.accounts.setWrappedRootSig('acc-1', {
          wrappedRoot: account.wrappedRoot,
          gen: 0,
          sig: 'y',
        });
        expect(await store.accounts.get('acc-1')).toStrictEqual(signed);
        // Past generation 0, the old wrap cannot be signed any more.
        await store.accounts.updateWrappedRoot('acc-1', {
          wrappedRoot: { v: 1, rewrapped: 1 },
          gen: 1,
          sig: 's1',
        });
        const late = await catchError(
          store.accounts.setWrappedRootSig('acc-1', { wrappedRoot: account.wrappedRoot, gen: 0, sig: 'z' }),
        );
        expect(isStoreError(late, 'CONFLICT') && late.details).toEqual({ gen: 1 });
        await expectStoreError(
          store.accounts.setWrappedRootSig('nobody', { wrappedRoot: account.wrappedRoot, gen: 0, sig: 'x' }),
          'NOT_FOUND',
        );
      });

      it('refuses a duplicate id or login name with ALREADY_EXISTS', async () => {
        await store.accounts.put(makeAccount('acc-1', { loginName: 'alice' }));
        await expectStoreError(
          store.accounts.put(makeAccount('acc-1', { loginName: 'other' })),
          'ALREADY_EXISTS',
        );
        await expectStoreError(
          store.accounts.put(makeAccount('acc-2', { loginName: 'alice' })),
          'ALREADY_EXISTS',
        );
        expect(await store.accounts.get('acc-2')).toBeNull();
        expect((await store.accounts.get('acc-1'))?.loginName).toBe('alice');
      });

      it('registers an account with its first device atomically: both or neither', async () => {
        const takenBy = async (promise: Promise<unknown>): Promise<unknown> => {
          const error = await catchError(promise);
          expect(isStoreError(error, 'ALREADY_EXISTS'), `expected ALREADY_EXISTS, got ${String(error)}`).toBe(
            true,
          );
          return isStoreError(error) ? error.details?.taken : undefined;
        };
        const first = makeAccount('acc-1', { loginName: 'alice' });
        const firstDevice = makeDevice('dev-1', 'acc-1');
        await store.accounts.register(first, firstDevice);
        expect(await store.accounts.get('acc-1')).toStrictEqual(first);
        expect(await store.devices.listForAccount('acc-1')).toStrictEqual([firstDevice]);

        // A second account whose device id is taken: neither the account nor its login name is kept.
        const second = makeAccount('acc-2', { loginName: 'bob' });
        expect(await takenBy(store.accounts.register(second, makeDevice('dev-1', 'acc-2')))).toBe('deviceId');
        expect(await store.accounts.get('acc-2')).toBeNull();
        expect(await store.accounts.getByLogin('bob')).toBeNull();
        expect((await store.devices.get('dev-1'))?.accountId).toBe('acc-1');

        expect(
          await takenBy(store.accounts.register(makeAccount('acc-1'), makeDevice('dev-9', 'acc-1'))),
        ).toBe('accountId');
        expect(
          await takenBy(
            store.accounts.register(
              makeAccount('acc-3', { loginName: 'alice' }),
              makeDevice('dev-9', 'acc-3'),
            ),
          ),
        ).toBe('loginName');
        await expectStoreError(store.accounts.register(second, makeDevice('dev-2', 'acc-1')), 'INVALID');
        expect(await store.devices.get('dev-9')).toBeNull();
        expect(await store.devices.get('dev-2')).toBeNull();
        expect(await store.accounts.get('acc-3')).toBeNull();

        // Nothing was left behind: the refused account registers properly afterwards.
        const secondDevice = makeDevice('dev-2', 'acc-2');
        await store.accounts.register(second, secondDevice);
        expect(await store.accounts.getByLogin('bob')).toStrictEqual(second);
        expect(await store.devices.listForAccount('acc-2')).toStrictEqual([secondDevice]);
      });
    });

    describe('devices', () => {
      it('stores devices per account', async () => {
        await seedAccounts('acc-1', 'acc-2');
        const d1 = makeDevice('dev-1', 'acc-1');
        const d2 = makeDevice('dev-2', 'acc-1', { createdAt: isoAt(2) });
        await store.devices.put(d1);
        await store.devices.put(d2);
        await store.devices.put(makeDevice('dev-3', 'acc-2'));
        expect(await store.devices.get('dev-1')).toStrictEqual(d1);
        expect(await store.devices.listForAccount('acc-1')).toStrictEqual([d1, d2]);
        expect(await store.devices.get('dev-9')).toBeNull();
      });

      it('refuses duplicates and devices of unknown accounts', async () => {
        await seedAccounts('acc-1');
        await store.devices.put(makeDevice('dev-1', 'acc-1'));
        await expectStoreError(store.devices.put(makeDevice('dev-1', 'acc-1')), 'ALREADY_EXISTS');
        await expectStoreError(store.devices.put(makeDevice('dev-2', 'acc-unknown')), 'NOT_FOUND');
      });

      it('revoke keeps the first time and removes the device sessions and challenges only', async () => {
        await seedAccounts('acc-1');
        await store.devices.put(makeDevice('dev-1', 'acc-1'));
        await store.devices.put(makeDevice('dev-2', 'acc-1'));
        const session = (tokenHash: string, deviceId: string): Session => ({
          tokenHash,
          deviceId,
          accountId: 'acc-1',
          expiresAt: isoAt(3600),
        });
        await store.sessions.put(session('t1', 'dev-1'));
        await store.sessions.put(session('t2', 'dev-2'));
        await store.challenges.put({
          challengeId: 'c1',
          deviceId: 'dev-1',
          nonce: 'n1',
          expiresAt: isoAt(60),
        });
        await store.challenges.put({
          challengeId: 'c2',
          deviceId: 'dev-2',
          nonce: 'n2',
          expiresAt: isoAt(60),
        });

        const revoked = await store.devices.revoke('dev-1', isoAt(10));
        expect(revoked.revokedAt).toBe(isoAt(10));
        expect((await store.devices.revoke('dev-1', isoAt(20))).revokedAt).toBe(isoAt(10));
        expect((await store.devices.get('dev-1'))?.revokedAt).toBe(isoAt(10));
        expect(await store.sessions.get('t1')).toBeNull();
        expect(await store.challenges.take('c1')).toBeNull();
        expect(await store.sessions.get('t2')).not.toBeNull();
        expect(await store.challenges.take('c2')).not.toBeNull();
        expect((await store.devices.get('dev-2'))?.revokedAt).toBeUndefined();
        await expectStoreError(store.devices.revoke('dev-9', isoAt(10)), 'NOT_FOUND');
        // Revoked without a signed revocation (as before the store kept them): a later one is taken, once.
        expect((await store.devices.get('dev-1'))?.revocation).toBeUndefined();
        const signed = {
          revocation: { v: 1, accountId: 'acc-1', deviceId: 'dev-1', revokedAt: isoAt(30) },
          sig: 's',
        };
        const again = await store.devices.revoke('dev-1', isoAt(30), signed);
        expect([again.revokedAt, again.revocation]).toEqual([isoAt(10), signed]);
        await store.devices.revoke('dev-1', isoAt(40), { ...signed, sig: 'other' });
        expect((await store.devices.get('dev-1'))?.revocation).toEqual(signed);
      });
    });

    describe('challenges', () => {
      const challenge: Challenge = {
        challengeId: 'c1',
        deviceId: 'dev-1',
        nonce: 'nonce-1',
        expiresAt: isoAt(60),
      };

      it('take returns a challenge once', async () => {
        await store.challenges.put(challenge);
        expect(await store.challenges.take('c1')).toStrictEqual(challenge);
        expect(await store.challenges.take('c1')).toBeNull();
        expect(await store.challenges.take('never')).toBeNull();
      });

      it('concurrent takes of one challenge: exactly one wins', async () => {
        await store.challenges.put(challenge);
        const taken = await Promise.all(Array.from({ length: 8 }, () => store.challenges.take('c1')));
        expect(taken.filter((c) => c !== null)).toHaveLength(1);
      });

      it('refuses duplicates and deletes only expired challenges', async () => {
        await store.challenges.put(challenge);
        await expectStoreError(store.challenges.put(challenge), 'ALREADY_EXISTS');
        await store.challenges.put({ ...challenge, challengeId: 'c2', expiresAt: isoAt(120) });
        expect(await store.challenges.deleteExpired(isoAt(60))).toBe(1);
        expect(await store.challenges.take('c1')).toBeNull();
        expect(await store.challenges.take('c2')).not.toBeNull();
      });
    });

    describe('sessions', () => {
      beforeEach(async () => {
        await seedAccounts('acc-1', 'acc-2');
        await store.devices.put(makeDevice('dev-1', 'acc-1'));
      });
      const session = (tokenHash: string, expiresAt: string): Session => ({
        tokenHash,
        deviceId: 'dev-1',
        accountId: 'acc-1',
        expiresAt,
      });

      it('round-trips and refuses duplicates, unknown devices and foreign accounts', async () => {
        await store.sessions.put(session('h1', isoAt(100)));
        expect(await store.sessions.get('h1')).toStrictEqual(session('h1', isoAt(100)));
        expect(await store.sessions.get('h-unknown')).toBeNull();
        await expectStoreError(store.sessions.put(session('h1', isoAt(100))), 'ALREADY_EXISTS');
        await expectStoreError(
          store.sessions.put({ ...session('h2', isoAt(1)), deviceId: 'dev-9' }),
          'NOT_FOUND',
        );
        await expectStoreError(
          store.sessions.put({ ...session('h3', isoAt(1)), accountId: 'acc-2' }),
          'INVALID',
        );
      });

      it('deleteExpired removes exactly the expired sessions', async () => {
        await store.sessions.put(session('old', isoAt(10)));
        await store.sessions.put(session('edge', isoAt(50)));
        await store.sessions.put(session('new', isoAt(100)));
        expect(await store.sessions.deleteExpired(isoAt(50))).toBe(2);
        expect(await store.sessions.get('old')).toBeNull();
        expect(await store.sessions.get('edge')).toBeNull();
        expect(await store.sessions.get('new')).not.toBeNull();
        expect(await store.sessions.deleteExpired(isoAt(50))).toBe(0);
      });

      it('deleteForDevice removes that device sessions', async () => {
        await store.sessions.put(session('a', isoAt(100)));
        await store.sessions.put(session('b', isoAt(100)));
        expect(await store.sessions.deleteForDevice('dev-1')).toBe(2);
        expect(await store.sessions.get('a')).toBeNull();
      });
    });

    describe('grants', () => {
      const grant = (grantId: string, granteeId: string, issuedAt: string): Grant => ({
        grantId,
        patientId: 'pat',
        granteeId,
        scope: [
          { type: 'allergy', access: 'read' },
          { type: 'lab-result', access: 'write' },
        ],
        start: isoAt(0),
        expiresAt: isoAt(86400),
        issuedAt,
        signed: { body: { grantId }, sig: 'sig' },
      });

      beforeEach(async () => {
        await seedAccounts('pat', 'doc-1', 'doc-2');
      });

      it('round-trips and lists by patient and by grantee in issue order', async () => {
        const g2 = grant('g2', 'doc-1', isoAt(20));
        const g1 = grant('g1', 'doc-1', isoAt(10));
        const g3 = grant('g3', 'doc-2', isoAt(30));
        for (const g of [g2, g1, g3]) await store.grants.put(g);
        expect(await store.grants.get('g1')).toStrictEqual(g1);
        expect(await store.grants.get('g9')).toBeNull();
        expect(await store.grants.listForPatient('pat')).toStrictEqual([g1, g2, g3]);
        expect(await store.grants.listForGrantee('doc-1')).toStrictEqual([g1, g2]);
        expect(await store.grants.listForGrantee('doc-2')).toStrictEqual([g3]);
        expect(await store.grants.listForPatient('doc-1')).toStrictEqual([]);
      });

      it('refuses duplicates and unknown accounts', async () => {
        await store.grants.put(grant('g1', 'doc-1', isoAt(1)));
        await expectStoreError(store.grants.put(grant('g1', 'doc-2', isoAt(1))), 'ALREADY_EXISTS');
        await expectStoreError(store.grants.put(grant('g2', 'doc-unknown', isoAt(1))), 'NOT_FOUND');
      });

      it('revoke records the first revocation', async () => {
        await store.grants.put(grant('g1', 'doc-1', isoAt(1)));
        const revoked = await store.grants.revoke('g1', isoAt(50), { reason: 'ended', sig: 's1' });
        expect(revoked.revokedAt).toBe(isoAt(50));
        expect(revoked.revocation).toStrictEqual({ reason: 'ended', sig: 's1' });
        const again = await store.grants.revoke('g1', isoAt(60), { reason: 'again' });
        expect(again).toStrictEqual(revoked);
        expect(await store.grants.get('g1')).toStrictEqual(revoked);
        await expectStoreError(store.grants.revoke('g9', isoAt(1), {}), 'NOT_FOUND');
      });

      it('counts unended grants by patient, by grantee and by pair', async () => {
        await seedAccounts('pat-2');
        const at = (g: Grant, start: number, expires: number): Grant => ({
          ...g,
          start: isoAt(start),
          expiresAt: isoAt(expires),
        });
        await store.grants.put(at(grant('g1', 'doc-1', isoAt(1)), 0, 100));
        await store.grants.put(at(grant('g2', 'doc-1', isoAt(2)), 0, 200));
        // Not started yet at 50: still counts.
        await store.grants.put(at(grant('g3', 'doc-2', isoAt(3)), 80, 300));
        await store.grants.put({ ...at(grant('g4', 'doc-1', isoAt(4)), 0, 300), patientId: 'pat-2' });
        await store.grants.put(at(grant('g5', 'doc-1', isoAt(5)), 0, 300));
        await store.grants.revoke('g5', isoAt(6), {});
        const count = (of: { patientId?: string; granteeId?: string }, seconds: number) =>
          store.grants.countUnended(of, isoAt(seconds));
        expect(await count({ patientId: 'pat' }, 50)).toBe(3);
        expect(await count({ granteeId: 'doc-1' }, 50)).toBe(3);
        expect(await count({ patientId: 'pat', granteeId: 'doc-1' }, 50)).toBe(2);
        expect(await count({ patientId: 'pat-2', granteeId: 'doc-2' }, 50)).toBe(0);
        // Expiry is exclusive: a grant is ended at its expiresAt.
        expect(await count({ patientId: 'pat', granteeId: 'doc-1' }, 100)).toBe(1);
        expect(await count({ patientId: 'pat' }, 300)).toBe(0);
        await expectStoreError(count({}, 50), 'INVALID');
      });

      describe('unended and ended', () => {
        const at = (g: Grant, start: number, expires: number): Grant => ({
          ...g,
          start: isoAt(start),
          expiresAt: isoAt(expires),
        });
        // At 50: g1 ended at 40, g2 unended, g3 not started (unended), g4 revoked, g5 another patient's.
        let g1: Grant, g2: Grant, g3: Grant, g4: Grant, g5: Grant;
        beforeEach(async () => {
          await seedAccounts('pat-2');
          g1 = at(grant('g1', 'doc-1', isoAt(1)), 0, 40);
          g2 = at(grant('g2', 'doc-1', isoAt(2)), 0, 200);
          g3 = at(grant('g3', 'doc-2', isoAt(3)), 80, 300);
          g4 = at(grant('g4', 'doc-1', isoAt(4)), 0, 300);
          g5 = { ...at(grant('g5', 'doc-1', isoAt(5)), 0, 300), patientId: 'pat-2' };
          for (const g of [g5, g4, g3, g2, g1]) await store.grants.put(g);
          g4 = await store.grants.revoke('g4', isoAt(6), { sig: 'r4' });
        });

        it('lists the unended grants of a patient or a grantee, oldest issued first', async () => {
          expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(50))).toStrictEqual([g2, g3]);
          expect(await store.grants.listUnended({ granteeId: 'doc-1' }, isoAt(50))).toStrictEqual([g2, g5]);
          expect(await store.grants.listUnended({ granteeId: 'doc-2' }, isoAt(50))).toStrictEqual([g3]);
          // Expiry is exclusive, as countUnended counts.
          expect(await store.grants.listUnended({ granteeId: 'doc-1' }, isoAt(200))).toStrictEqual([g5]);
          expect(await store.grants.listUnended({ patientId: 'doc-1' }, isoAt(50))).toStrictEqual([]);
          await expectStoreError(store.grants.listUnended({}, isoAt(50)), 'INVALID');
          await expectStoreError(
            store.grants.listUnended({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(50)),
            'INVALID',
          );
        });

        it("pages a grantee's unended grants by patient as stream ids order them, or reads named patients'", async () => {
          // Stream ids order `pat-2/…` before `pat/…` ('-' < '/') and `patz/…` after, unlike the ids alone.
          await seedAccounts('patz');
          const g6 = at(grant('g6', 'doc-1', isoAt(7)), 0, 300);
          const g7 = { ...at(grant('g7', 'doc-1', isoAt(1)), 0, 300), patientId: 'patz' };
          const g8 = { ...at(grant('g8', 'doc-1', isoAt(1)), 0, 300), patientId: 'patz' };
          for (const g of [g8, g6, g7]) await store.grants.put(g);
          const page = (after: string | undefined, limit = 10, seconds = 50) =>
            store.grants.listUnendedByPatient('doc-1', isoAt(seconds), {
              limit,
              ...(after === undefined ? {} : { after }),
            });
          expect(await page(undefined)).toStrictEqual([g5, g2, g6, g7, g8]);
          expect(await page(undefined, 2)).toStrictEqual([g5, g2]);
          expect(await page(undefined, 0)).toStrictEqual([]);
          // Strictly after: a stream id of a patient leaves that patient out, a prefix of one does not.
          expect(await page('pat-2/')).toStrictEqual([g2, g6, g7, g8]);
          expect(await page('pat/allergy')).toStrictEqual([g7, g8]);
          expect(await page('pat')).toStrictEqual([g5, g2, g6, g7, g8]);
          expect(await page('patz/', 10)).toStrictEqual([]);
          // Ended at its expiresAt, as listUnended.
          expect(await page(undefined, 10, 200)).toStrictEqual([g5, g6, g7, g8]);
          expect(await store.grants.listUnendedByPatient('doc-2', isoAt(50), { limit: 10 })).toStrictEqual([
            g3,
          ]);

          const from = (granteeId: string, patientIds: string[]) =>
            store.grants.listUnendedFrom(granteeId, patientIds, isoAt(50));
          expect(await from('doc-1', ['patz', 'pat', 'nobody', 'pat'])).toStrictEqual([g2, g6, g7, g8]);
          expect(await from('doc-1', ['pat-2'])).toStrictEqual([g5]);
          // Not started yet is unended; another grantee's grants are not read.
          expect(await from('doc-2', ['pat', 'pat-2'])).toStrictEqual([g3]);
          expect(await from('doc-1', [])).toStrictEqual([]);

          await expectStoreError(page(undefined, -1), 'INVALID');
          await expectStoreError(page(undefined, 1.5), 'INVALID');
          await expectStoreError(from('doc-1', ['']), 'INVALID');
        });

        it('lists the ended grants of a patient or a grantee, newest issued first, at most `limit`', async () => {
          expect(await store.grants.listEnded({ patientId: 'pat' }, isoAt(50), 10)).toStrictEqual([g4, g1]);
          expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 10)).toStrictEqual([g4, g1]);
          expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 1)).toStrictEqual([g4]);
          expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 0)).toStrictEqual([]);
          expect(await store.grants.listEnded({ granteeId: 'doc-2' }, isoAt(50), 10)).toStrictEqual([]);
          // Ended at its expiresAt.
          expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(200), 10)).toStrictEqual([
            g4,
            g2,
            g1,
          ]);
          await expectStoreError(store.grants.listEnded({}, isoAt(50), 10), 'INVALID');
          await expectStoreError(store.grants.listEnded({ patientId: 'pat' }, isoAt(50), -1), 'INVALID');
          await expectStoreError(store.grants.listEnded({ patientId: 'pat' }, isoAt(50), 1.5), 'INVALID');
        });

        it("answers what a pair's ended grants covered, revoked or expired", async () => {
          const scopes = async (patientId: string, granteeId: string, seconds: number, limit = 10) =>
            [...(await store.grants.endedScopes({ patientId, granteeId }, isoAt(seconds), limit))].sort(
              (a, b) => `${a.type}${a.revoked}`.localeCompare(`${b.type}${b.revoked}`),
            );
          // g1 expired, g4 revoked; both name allergy and lab-result.
          expect(await scopes('pat', 'doc-1', 50)).toStrictEqual([
            { type: 'allergy', revoked: false },
            { type: 'allergy', revoked: true },
            { type: 'lab-result', revoked: false },
            { type: 'lab-result', revoked: true },
          ]);
          // Before g1 expired only the revocation counts.
          expect(await scopes('pat', 'doc-1', 20)).toStrictEqual([
            { type: 'allergy', revoked: true },
            { type: 'lab-result', revoked: true },
          ]);
          expect(await scopes('pat', 'doc-2', 50)).toStrictEqual([]);
          expect(await scopes('pat-2', 'doc-1', 50)).toStrictEqual([]);
          await store.grants.put({
            ...at(grant('g6', 'doc-2', isoAt(7)), 0, 10),
            scope: [{ type: 'medication', access: 'read' }],
          });
          expect(await scopes('pat', 'doc-2', 50)).toStrictEqual([{ type: 'medication', revoked: false }]);
          // Only the `limit` newest issued ended grants count: g4 (revoked, issued 4) before g1 (issued 1).
          expect(await scopes('pat', 'doc-1', 50, 1)).toStrictEqual([
            { type: 'allergy', revoked: true },
            { type: 'lab-result', revoked: true },
          ]);
          expect(await scopes('pat', 'doc-1', 50, 0)).toStrictEqual([]);
          await expectStoreError(
            store.grants.endedScopes({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(50), -1),
            'INVALID',
          );
        });
      });

      it('counts the grants of a pair put after a receive time', async () => {
        await seedAccounts('pat-2');
        await store.grants.put(grant('g1', 'doc-1', isoAt(1)), isoAt(10));
        await store.grants.put(grant('g2', 'doc-1', isoAt(2)), isoAt(20));
        await store.grants.put(grant('g3', 'doc-2', isoAt(3)), isoAt(20));
        await store.grants.put({ ...grant('g4', 'doc-1', isoAt(4)), patientId: 'pat-2' }, isoAt(20));
        // Without a receive time no window counts it.
        await store.grants.put(grant('g5', 'doc-1', isoAt(5)));
        // Revoked (ended) grants still count: the window is about what was stored.
        await store.grants.revoke('g2', isoAt(30), {});
        const count = (granteeId: string, seconds: number) =>
          store.grants.countStoredSince({ patientId: 'pat', granteeId }, isoAt(seconds));
        expect(await count('doc-1', 0)).toBe(2);
        expect(await count('doc-1', 10)).toBe(1);
        expect(await count('doc-1', 20)).toBe(0);
        expect(await count('doc-2', 0)).toBe(1);
        expect(
          await store.grants.countStoredSince({ patientId: 'pat-2', granteeId: 'doc-1' }, isoAt(0)),
        ).toBe(1);
      });

      it('tells which grantees had grants put or revoked since a position', async () => {
        const start = await store.grants.changesSince(0);
        expect(start.granteeIds).toStrictEqual([]);
        await store.grants.put(grant('g1', 'doc-1', isoAt(1)), isoAt(1));
        const a = await store.grants.changesSince(start.position);
        expect(a.granteeIds).toStrictEqual(['doc-1']);
        expect(a.position).toBeGreaterThan(start.position);
        // Nothing changed: same position, nothing listed.
        expect(await store.grants.changesSince(a.position)).toStrictEqual({
          position: a.position,
          granteeIds: [],
        });
        await store.grants.put(grant('g2', 'doc-2', isoAt(2)), isoAt(2));
        await store.grants.revoke('g1', isoAt(3), {});
        const b = await store.grants.changesSince(a.position);
        expect(b.position).toBeGreaterThan(a.position);
        expect([...b.granteeIds].sort()).toStrictEqual(['doc-1', 'doc-2']);
        // Only the first revocation is a change.
        await store.grants.revoke('g1', isoAt(4), {});
        expect(await store.grants.changesSince(b.position)).toStrictEqual({
          position: b.position,
          granteeIds: [],
        });
        // A refused put is none either.
        await expectStoreError(store.grants.put(grant('g2', 'doc-1', isoAt(2)), isoAt(5)), 'ALREADY_EXISTS');
        expect((await store.grants.changesSince(b.position)).granteeIds).toStrictEqual([]);
        expect([...(await store.grants.changesSince(0)).granteeIds].sort()).toStrictEqual(['doc-1', 'doc-2']);
        await expectStoreError(store.grants.changesSince(-1), 'INVALID');
      });
    });

    describe('acceptances', () => {
      const accept = (granteeId: string, patientId: string, seconds: number, max = 10) =>
        store.acceptances.put({ granteeId, patientId, acceptedAt: isoAt(seconds) }, max);
      const grant = (grantId: string, patientId: string, granteeId: string, expires: number): Grant => ({
        grantId,
        patientId,
        granteeId,
        scope: [{ type: 'allergy', access: 'read' }],
        start: isoAt(0),
        expiresAt: isoAt(expires),
        issuedAt: isoAt(1),
        signed: { body: { grantId }, sig: 'sig' },
      });

      beforeEach(async () => {
        await seedAccounts('doc', 'doc-2', 'pat-a', 'pat-b', 'pat-c');
      });

      it('adds an acceptance once, keeps the first time, removes it, and answers per grantee', async () => {
        expect(await accept('doc', 'pat-b', 10)).toBe('added');
        expect(await accept('doc', 'pat-b', 20)).toBe('kept');
        expect(await accept('doc', 'pat-a', 30)).toBe('added');
        expect(await store.acceptances.has('doc', 'pat-b')).toBe(true);
        expect(await store.acceptances.has('doc-2', 'pat-b')).toBe(false);
        expect(await store.acceptances.has('pat-b', 'doc')).toBe(false);
        expect(await store.acceptances.count('doc')).toBe(2);
        expect(await store.acceptances.count('doc-2')).toBe(0);
        expect(await store.acceptances.listPage('doc', { limit: 10 })).toStrictEqual([
          { granteeId: 'doc', patientId: 'pat-a', acceptedAt: isoAt(30) },
          { granteeId: 'doc', patientId: 'pat-b', acceptedAt: isoAt(10) },
        ]);
        expect(await store.acceptances.delete('doc', 'pat-b')).toBe(true);
        expect(await store.acceptances.delete('doc', 'pat-b')).toBe(false);
        expect(await store.acceptances.has('doc', 'pat-b')).toBe(false);
        // Accepted again: a new acceptance, at the new time.
        expect(await accept('doc', 'pat-b', 40)).toBe('added');
        expect((await store.acceptances.listPage('doc', { after: 'pat-a', limit: 10 }))[0]?.acceptedAt).toBe(
          isoAt(40),
        );
      });

      it('stores nothing past `max`, for unknown accounts or for one account alone', async () => {
        expect(await accept('doc', 'pat-a', 1, 2)).toBe('added');
        expect(await accept('doc', 'pat-b', 2, 2)).toBe('added');
        expect(await accept('doc', 'pat-c', 3, 2)).toBe('full');
        // At the cap an acceptance already there is still answered as kept.
        expect(await accept('doc', 'pat-a', 4, 2)).toBe('kept');
        expect(await store.acceptances.has('doc', 'pat-c')).toBe(false);
        // The cap is per grantee.
        expect(await accept('doc-2', 'pat-c', 5, 2)).toBe('added');
        await expectStoreError(accept('doc', 'nobody', 6), 'NOT_FOUND');
        await expectStoreError(accept('nobody', 'pat-a', 6), 'NOT_FOUND');
        await expectStoreError(accept('doc', 'doc', 6), 'INVALID');
        await expectStoreError(accept('doc', 'pat-c', 6, -1), 'INVALID');
        await expectStoreError(accept('doc', 'pat-c', 6, 1.5), 'INVALID');
        expect(await store.acceptances.count('doc')).toBe(2);
        expect(await store.acceptances.has('doc', 'nobody')).toBe(false);
      });

      it('of concurrent acceptances at the cap exactly one is stored', async () => {
        expect(await accept('doc', 'pat-a', 1, 2)).toBe('added');
        const outcomes = await Promise.all([accept('doc', 'pat-b', 2, 2), accept('doc', 'pat-c', 3, 2)]);
        expect([...outcomes].sort()).toStrictEqual(['added', 'full']);
        expect(await store.acceptances.count('doc')).toBe(2);
      });

      it('pages by patient id, strictly after the one given, at most `limit`', async () => {
        for (const [i, id] of ['pat-c', 'pat-a', 'pat-b'].entries()) await accept('doc', id, i);
        const ids = async (page: { after?: string; limit: number }) =>
          (await store.acceptances.listPage('doc', page)).map((a) => a.patientId);
        expect(await ids({ limit: 2 })).toStrictEqual(['pat-a', 'pat-b']);
        expect(await ids({ after: 'pat-b', limit: 2 })).toStrictEqual(['pat-c']);
        expect(await ids({ after: 'pat-c', limit: 2 })).toStrictEqual([]);
        // A position that is no stored id still pages from where it falls.
        expect(await ids({ after: 'pat-a0', limit: 5 })).toStrictEqual(['pat-b', 'pat-c']);
        expect(await ids({ limit: 0 })).toStrictEqual([]);
        expect(await store.acceptances.listPage('doc-2', { limit: 5 })).toStrictEqual([]);
        await expectStoreError(store.acceptances.listPage('doc', { limit: -1 }), 'INVALID');
      });

      it('counts the unended grants a grantee received from patients it did not accept', async () => {
        await store.grants.put(grant('g1', 'pat-a', 'doc', 100));
        await store.grants.put(grant('g2', 'pat-a', 'doc', 300));
        await store.grants.put(grant('g3', 'pat-b', 'doc', 300));
        await store.grants.put(grant('g4', 'pat-c', 'doc', 300));
        await store.grants.revoke('g4', isoAt(5), {});
        await store.grants.put(grant('g5', 'pat-c', 'doc-2', 300));
        const strangers = (granteeId: string, seconds: number) =>
          store.grants.countUnendedNotAccepted(granteeId, isoAt(seconds));
        // Nobody accepted: the same count as countUnended.
        expect(await strangers('doc', 50)).toBe(3);
        expect(await store.grants.countUnended({ granteeId: 'doc' }, isoAt(50))).toBe(3);
        await accept('doc', 'pat-a', 1);
        expect(await strangers('doc', 50)).toBe(1);
        // Expiry is exclusive, as countUnended counts.
        await store.acceptances.delete('doc', 'pat-a');
        expect(await strangers('doc', 100)).toBe(2);
        // Another grantee's acceptance of the patient counts for that grantee only.
        await accept('doc-2', 'pat-b', 1);
        expect(await strangers('doc', 50)).toBe(3);
        expect(await strangers('doc-2', 50)).toBe(1);
        await accept('doc-2', 'pat-c', 1);
        expect(await strangers('doc-2', 50)).toBe(0);
        // The pair and patient counts are unchanged by acceptances.
        expect(await store.grants.countUnended({ patientId: 'pat-c' }, isoAt(50))).toBe(1);
        expect(await store.grants.countUnended({ granteeId: 'doc-2' }, isoAt(50))).toBe(1);
      });
    });

    describe('documents', () => {
      const S = 'pat/allergy';

      it('stores a new document with every field and assigns seq 1', async () => {
        const input = makeDocInput(S, 'a', '1-aaa', {
          sig: 'signature',
          ct: paddedCt(300, 7),
          size: 300,
          epoch: 3,
        });
        const [result] = await store.docs.writeDocs([{ doc: input, assumedRev: null }], isoAt(5));
        expect(result).toStrictEqual({ status: 'ok', seq: 1 });
        const stored = await store.docs.getDoc(S, 'a');
        expect(stored).not.toBeNull();
        const { ct, ...rest } = stored ?? { ct: null };
        const { ct: inputCt, ...inputRest } = input;
        expect(rest).toStrictEqual({ ...inputRest, seq: 1, at: isoAt(5) });
        expectBytes(ct, inputCt);
        expect(await store.docs.getDoc(S, 'missing')).toBeNull();
        expect(await store.docs.getDoc('pat/medication', 'a')).toBeNull();
      });

      it('round-trips tombstones, empty ciphertext and audit headers', async () => {
        const A = 'pat/audit';
        const rows = [
          {
            doc: makeDocInput(S, 'gone', '2-ddd', { deleted: true, ct: new Uint8Array(0), size: 0 }),
            assumedRev: null,
          },
          {
            doc: makeDocInput(A, 'e1', '1-e1', {
              sig: 's',
              audit: { authorSeq: 1, prevHash: null, at: isoAt(1) },
            }),
            assumedRev: null,
          },
          {
            doc: makeDocInput(A, 'e2', '1-e2', {
              sig: 's',
              audit: { authorSeq: 2, prevHash: 'h1', at: isoAt(2) },
            }),
            assumedRev: null,
          },
        ];
        const results = await store.docs.writeDocs(rows, isoAt(3));
        expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
        const gone = await store.docs.getDoc(S, 'gone');
        expect(gone?.deleted).toBe(true);
        expectBytes(gone?.ct, new Uint8Array(0));
        expect((await store.docs.getDoc(A, 'e1'))?.audit).toStrictEqual({
          authorSeq: 1,
          prevHash: null,
          at: isoAt(1),
        });
        expect((await store.docs.getDoc(A, 'e2'))?.audit).toStrictEqual({
          authorSeq: 2,
          prevHash: 'h1',
          at: isoAt(2),
        });
        expect(gone?.audit).toBeUndefined();
      });

      it("writes a row with expectedEpoch only while it is the stream's current key epoch", async () => {
        const M = 'pat/medication';
        const envelope = (stream: string, epoch: number) => ({
          stream,
          epoch,
          recipient: 'pat',
          keyId: `k-${epoch}`,
          wrapped: 'w',
          createdBy: 'dev-1',
          createdAt: isoAt(epoch),
        });
        await store.envelopes.putAll([envelope(S, 0), envelope(S, 1), envelope(S, 2)]);
        const results = await store.docs.writeDocs(
          [
            { doc: makeDocInput(S, 'old', '1-a', { epoch: 1 }), assumedRev: null, expectedEpoch: 1 },
            { doc: makeDocInput(S, 'cur', '1-a', { epoch: 2 }), assumedRev: null, expectedEpoch: 2 },
            // A stream without envelopes is at epoch 0.
            { doc: makeDocInput(M, 'm0', '1-a', { epoch: 0 }), assumedRev: null, expectedEpoch: 0 },
            { doc: makeDocInput(M, 'm1', '1-a', { epoch: 1 }), assumedRev: null, expectedEpoch: 1 },
            // Without expectedEpoch the store does not look at epochs.
            { doc: makeDocInput(S, 'any', '1-a', { epoch: 7 }), assumedRev: null },
          ],
          isoAt(3),
        );
        expect(results).toStrictEqual([
          { status: 'stale-epoch', epoch: 2 },
          { status: 'ok', seq: 1 },
          { status: 'ok', seq: 1 },
          { status: 'stale-epoch', epoch: 0 },
          { status: 'ok', seq: 2 },
        ]);
        expect(await store.docs.getDoc(S, 'old')).toBeNull();
        expect(await store.docs.getDoc(M, 'm1')).toBeNull();

        // A rotation stored after the writer's check refuses the next write checked against the old epoch.
        await store.envelopes.put(envelope(S, 3));
        const [stale] = await store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'cur', '2-b', { epoch: 2 }), assumedRev: '1-a', expectedEpoch: 2 }],
          isoAt(4),
        );
        expect(stale).toStrictEqual({ status: 'stale-epoch', epoch: 3 });
        expect((await store.docs.getDoc(S, 'cur'))?.rev).toBe('1-a');
        expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 2 }]);
        await expectStoreError(
          store.docs.writeDocs(
            [{ doc: makeDocInput(S, 'bad', '1-a'), assumedRev: null, expectedEpoch: -1 }],
            isoAt(5),
          ),
          'INVALID',
        );
      });

      it('compare-and-set: accepts the assumed revision, returns the master on conflict', async () => {
        await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-aaa'), assumedRev: null }], isoAt(1));
        const [update] = await store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'a', '2-bbb'), assumedRev: '1-aaa' }],
          isoAt(2),
        );
        expect(update).toStrictEqual({ status: 'ok', seq: 2 });

        const [stale, recreate, phantom] = await store.docs.writeDocs(
          [
            { doc: makeDocInput(S, 'a', '2-ccc'), assumedRev: '1-aaa' },
            { doc: makeDocInput(S, 'a', '1-zzz'), assumedRev: null },
            { doc: makeDocInput(S, 'b', '2-yyy'), assumedRev: '1-yyy' },
          ],
          isoAt(3),
        );
        for (const conflict of [stale, recreate]) {
          expect(conflict?.status).toBe('conflict');
          const master = conflict?.status === 'conflict' ? conflict.master : null;
          expect(master?.rev).toBe('2-bbb');
          expect(master?.seq).toBe(2);
          expectBytes(master?.ct, makeDocInput(S, 'a', '2-bbb').ct);
        }
        expect(phantom).toStrictEqual({ status: 'conflict', master: null });
        expect((await store.docs.getDoc(S, 'a'))?.rev).toBe('2-bbb');
        expect(await store.docs.getDoc(S, 'b')).toBeNull();
        expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 2 }]);
      });

      it('rows of one batch see earlier rows of the batch', async () => {
        const results = await store.docs.writeDocs(
          [
            { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
            { doc: makeDocInput(S, 'a', '2-a'), assumedRev: '1-a' },
            { doc: makeDocInput(S, 'a', '3-a'), assumedRev: '1-a' },
            { doc: makeDocInput(S, 'b', '1-b'), assumedRev: null },
          ],
          isoAt(1),
        );
        expect(results[0]).toStrictEqual({ status: 'ok', seq: 1 });
        expect(results[1]).toStrictEqual({ status: 'ok', seq: 2 });
        expect(results[2]?.status === 'conflict' ? results[2].master?.rev : 'no conflict').toBe('2-a');
        expect(results[3]).toStrictEqual({ status: 'ok', seq: 3 });
      });

      it('a tombstone can be followed by a new revision that assumes it', async () => {
        await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }], isoAt(1));
        await store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'a', '2-a', { deleted: true }), assumedRev: '1-a' }],
          isoAt(2),
        );
        const [again] = await store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'a', '3-a'), assumedRev: '2-a' }],
          isoAt(3),
        );
        expect(again).toStrictEqual({ status: 'ok', seq: 3 });
        expect((await store.docs.getDoc(S, 'a'))?.deleted).toBe(false);
      });

      it('audit streams are append-only: existing ids are never overwritten', async () => {
        const A = 'pat/audit';
        const first = makeDocInput(A, 'e1', '1-e1');
        await store.docs.writeDocs([{ doc: first, assumedRev: null }], isoAt(1));
        const results = await store.docs.writeDocs(
          [
            { doc: makeDocInput(A, 'e1', '2-e1'), assumedRev: '1-e1' },
            { doc: makeDocInput(A, 'e1', '2-e1', { deleted: true }), assumedRev: '1-e1' },
            { doc: makeDocInput(A, 'e1', '1-e1'), assumedRev: null },
            { doc: makeDocInput(A, 'e2', '1-e2'), assumedRev: null },
          ],
          isoAt(2),
        );
        expect(results).toStrictEqual([
          { status: 'append-only' },
          { status: 'append-only' },
          { status: 'append-only' },
          { status: 'ok', seq: 2 },
        ]);
        const stored = await store.docs.getDoc(A, 'e1');
        expect(stored?.rev).toBe('1-e1');
        expect(stored?.deleted).toBe(false);
        expect(stored?.seq).toBe(1);
        // Only the `/audit` suffix makes a stream append-only.
        await store.docs.writeDocs(
          [{ doc: makeDocInput('pat/audit-x', 'e1', '1-x'), assumedRev: null }],
          isoAt(3),
        );
        const [plain] = await store.docs.writeDocs(
          [{ doc: makeDocInput('pat/audit-x', 'e1', '2-x'), assumedRev: '1-x' }],
          isoAt(4),
        );
        expect(plain?.status).toBe('ok');
      });

      it("auditChainEnd finds the end of an author's chain stored in order (the server's own) in one stream", async () => {
        const A = 'pat/audit';
        const entry = auditWrite;
        expect(await store.docs.auditChainEnd(A, 'srv')).toBeNull();
        await store.docs.writeDocs([entry(A, 's1', 'srv', 1), entry(A, 'd1', 'dev', 1)], isoAt(1));
        await store.docs.writeDocs([entry(A, 's2', 'srv', 2), entry(A, 'd2', 'dev', 2)], isoAt(2));
        // Later rows of other authors, of the author in another stream, and one without an audit header.
        await store.docs.writeDocs(
          [
            entry(A, 'd3', 'dev', 3),
            entry('other/audit', 'o1', 'srv', 7),
            { doc: makeDocInput(A, 'bare', '1-bare', { author: 'srv' }), assumedRev: null },
          ],
          isoAt(3),
        );
        expect(await store.docs.auditChainEnd(A, 'srv')).toStrictEqual(await store.docs.getDoc(A, 's2'));
        expect((await store.docs.auditChainEnd(A, 'srv'))?.audit).toStrictEqual({
          authorSeq: 2,
          prevHash: 'h1',
          at: isoAt(2),
        });
        expect((await store.docs.auditChainEnd(A, 'dev'))?.id).toBe('d3');
        expect((await store.docs.auditChainEnd('other/audit', 'srv'))?.id).toBe('o1');
        expect(await store.docs.auditChainEnd(A, 'nobody')).toBeNull();
        expect(await store.docs.auditChainEnd('pat/allergy', 'srv')).toBeNull();
      });

      it("auditChainEnd finds an author's entry at its highest position in one stream, in any order stored", async () => {
        const A = 'pat/audit';
        const entry = auditWrite;
        expect(await store.docs.auditChainEnd(A, 'dev')).toBeNull();
        // Position 4 stored before 2 and 3 (sent again after a restore that lost them).
        await store.docs.writeDocs([entry(A, 'd1', 'dev', 1), entry(A, 'd4', 'dev', 4)], isoAt(1));
        await store.docs.writeDocs([entry(A, 'd2', 'dev', 2), entry(A, 'd3', 'dev', 3)], isoAt(2));
        // Later rows of other authors, of the author in another stream, and one without an audit header.
        await store.docs.writeDocs(
          [
            entry(A, 's9', 'srv', 9),
            entry('other/audit', 'o7', 'dev', 7),
            { doc: makeDocInput(A, 'bare', '1-bare', { author: 'dev' }), assumedRev: null },
          ],
          isoAt(3),
        );
        expect(await store.docs.auditChainEnd(A, 'dev')).toStrictEqual(await store.docs.getDoc(A, 'd4'));
        // Not the author's latest by seq.
        expect((await store.docs.getDoc(A, 'd3'))?.seq).toBeGreaterThan(
          (await store.docs.getDoc(A, 'd4'))?.seq ?? Infinity,
        );
        expect((await store.docs.auditChainEnd(A, 'srv'))?.id).toBe('s9');
        expect((await store.docs.auditChainEnd('other/audit', 'dev'))?.id).toBe('o7');
        expect(await store.docs.auditChainEnd(A, 'nobody')).toBeNull();
        expect(await store.docs.auditChainEnd('pat/allergy', 'dev')).toBeNull();
      });

      describe('auditEntriesOfAccountSince', () => {
        it("counts every device of the account, from a receive time on, and no other author's entries", async () => {
          const A = 'pat/audit';
          const entry = auditWrite;
          await store.accounts.register(
            makeAccount('clinic', { role: 'provider' }),
            makeDevice('c1', 'clinic'),
          );
          await store.devices.put(makeDevice('c2', 'clinic'));
          await store.devices.put(makeDevice('c3', 'clinic'));
          await store.accounts.register(
            makeAccount('other', { role: 'provider' }),
            makeDevice('o1', 'other'),
          );
          const counted = (accountId: string, since: number) =>
            store.docs.auditEntriesOfAccountSince(A, accountId, isoAt(since));
          expect(await counted('clinic', 0)).toStrictEqual({ count: 0, first: null });

          await store.docs.writeDocs([entry(A, 'a', 'c1', 1), entry(A, 'b', 'c2', 1)], isoAt(1));
          await store.docs.writeDocs([entry(A, 'c', 'c3', 1), entry(A, 'd', 'c1', 2)], isoAt(2));
          await store.devices.revoke('c3', isoAt(3));
          // Not counted: the server's entries, another account's, the account's in another stream, and a
          // row of one of its devices without an audit header.
          await store.docs.writeDocs(
            [
              entry(A, 's', 'srv', 1),
              entry(A, 'o', 'o1', 1),
              entry('other/audit', 'x', 'c1', 1),
              { doc: makeDocInput(A, 'bare', '1-bare', { author: 'c2' }), assumedRev: null },
            ],
            isoAt(3),
          );
          expect([
            await counted('clinic', 0),
            await counted('clinic', 2),
            await counted('other', 0),
            await counted('nobody', 0),
          ]).toStrictEqual([
            { count: 4, first: isoAt(1) },
            { count: 2, first: isoAt(2) },
            { count: 1, first: isoAt(3) },
            { count: 0, first: null },
          ]);
        });
      });

      it('concurrent batches get gap-free, strictly increasing seqs per stream', async () => {
        const streams = ['pat/allergy', 'pat/medication', 'other/allergy'];
        const batches = Array.from({ length: 24 }, (_, b) =>
          Array.from({ length: 10 }, (_, i) => ({
            doc: makeDocInput(streams[(b + i) % streams.length] ?? S, `d-${b}-${i}`, '1-x'),
            assumedRev: null,
          })),
        );
        const results = await Promise.all(batches.map((rows) => store.docs.writeDocs(rows, isoAt(1))));
        for (const stream of streams) {
          const seqs = batches
            .flatMap((rows, b) => rows.map((row, i) => ({ row, result: results[b]?.[i] })))
            .filter(({ row }) => row.doc.stream === stream)
            .map(({ result }) => okSeq(result));
          const expected = Array.from({ length: seqs.length }, (_, i) => i + 1);
          expect([...seqs].sort((x, y) => x - y)).toEqual(expected);
          const page = await store.docs.readDocs(stream, 0, 1000, 10_000_000);
          expect(page.docs.map((d) => d.seq)).toEqual(expected);
          expect(page.done).toBe(true);
        }
        // Each batch's seqs within one stream increase in row order.
        for (const [b, rows] of batches.entries()) {
          for (const stream of streams) {
            const seqs = rows.flatMap((row, i) =>
              row.doc.stream === stream ? [okSeq(results[b]?.[i])] : [],
            );
            expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
          }
        }
        const heads = await store.docs.streamHeads([...streams, 'nobody/allergy']);
        expect(heads).toStrictEqual([
          { stream: 'pat/allergy', head: 80 },
          { stream: 'pat/medication', head: 80 },
          { stream: 'other/allergy', head: 80 },
          { stream: 'nobody/allergy', head: 0 },
        ]);
      });

      it('a batch that fails validation stores nothing', async () => {
        const bad = { ...makeDocInput(S, 'b', '1-b'), ct: 'not bytes' as unknown as Uint8Array };
        await expectStoreError(
          store.docs.writeDocs(
            [
              { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
              { doc: bad, assumedRev: null },
            ],
            isoAt(1),
          ),
          'INVALID',
        );
        expect(await store.docs.getDoc(S, 'a')).toBeNull();
        expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 0 }]);
      });

      const writeMany = async (stream: string, n: number, ctBytes = 10): Promise<void> => {
        const rows = Array.from({ length: n }, (_, i) => ({
          doc: makeDocInput(stream, `d${String(i).padStart(4, '0')}`, '1-x', {
            ct: paddedCt(ctBytes, i % 251),
          }),
          assumedRev: null,
        }));
        await store.docs.writeDocs(rows, isoAt(1));
      };

      it('readDocs pages by count with checkpoints and done', async () => {
        await writeMany(S, 10);
        const pages: Array<{ seqs: number[]; checkpoint: number; done: boolean }> = [];
        let since = 0;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.docs.readDocs(S, since, 3, 1_000_000);
          pages.push({ seqs: page.docs.map((d) => d.seq), checkpoint: page.checkpoint, done: page.done });
          since = page.checkpoint;
          if (page.done) break;
        }
        expect(pages).toStrictEqual([
          { seqs: [1, 2, 3], checkpoint: 3, done: false },
          { seqs: [4, 5, 6], checkpoint: 6, done: false },
          { seqs: [7, 8, 9], checkpoint: 9, done: false },
          { seqs: [10], checkpoint: 10, done: true },
        ]);
        const exact = await store.docs.readDocs(S, 7, 3, 1_000_000);
        expect(exact.docs.map((d) => d.seq)).toEqual([8, 9, 10]);
        expect(exact.done).toBe(true);
        expect(await store.docs.readDocs(S, 10, 3, 1_000_000)).toStrictEqual({
          docs: [],
          checkpoint: 10,
          done: true,
        });
        expect(await store.docs.readDocs(S, 99, 3, 1_000_000)).toStrictEqual({
          docs: [],
          checkpoint: 99,
          done: true,
        });
        expect(await store.docs.readDocs('pat/other', 0, 3, 1_000_000)).toStrictEqual({
          docs: [],
          checkpoint: 0,
          done: true,
        });
      });

      it('readDocs pages by bytes but always returns at least one document', async () => {
        await writeMany(S, 5, 100);
        const twoPerPage = await store.docs.readDocs(S, 0, 100, 250);
        expect(twoPerPage.docs.map((d) => d.seq)).toEqual([1, 2]);
        expect(twoPerPage.done).toBe(false);
        const exactFit = await store.docs.readDocs(S, 0, 100, 300);
        expect(exactFit.docs.map((d) => d.seq)).toEqual([1, 2, 3]);
        const tooSmall = await store.docs.readDocs(S, 2, 100, 10);
        expect(tooSmall.docs.map((d) => d.seq)).toEqual([3]);
        expect(tooSmall.checkpoint).toBe(3);
        expect(tooSmall.done).toBe(false);
        const last = await store.docs.readDocs(S, 4, 100, 10);
        expect(last.docs.map((d) => d.seq)).toEqual([5]);
        expect(last.done).toBe(true);
        expectBytes(last.docs[0]?.ct, paddedCt(100, 4));
      });

      it('readDocs returns the latest version at its new seq', async () => {
        await writeMany(S, 3);
        await store.docs.writeDocs([{ doc: makeDocInput(S, 'd0000', '2-y'), assumedRev: '1-x' }], isoAt(2));
        const page = await store.docs.readDocs(S, 0, 100, 1_000_000);
        expect(page.docs.map((d) => [d.id, d.seq, d.rev])).toEqual([
          ['d0001', 2, '1-x'],
          ['d0002', 3, '1-x'],
          ['d0000', 4, '2-y'],
        ]);
        expect(page.docs.map((d) => d.at)).toEqual([isoAt(1), isoAt(1), isoAt(2)]);
      });

      it('onCommitted fires after commit with the advanced heads, until unsubscribed', async () => {
        const calls: StreamHead[][] = [];
        const seen: Array<Promise<number>> = [];
        const unsubscribe = store.onCommitted((heads) => {
          calls.push(heads);
          // After commit, the new documents must already be readable.
          seen.push(store.docs.readDocs(S, 0, 100, 1_000_000).then((p) => p.docs.length));
        });
        await store.docs.writeDocs(
          [
            { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
            { doc: makeDocInput(S, 'b', '1-b'), assumedRev: null },
            { doc: makeDocInput('pat/medication', 'm', '1-m'), assumedRev: 'wrong' },
          ],
          isoAt(1),
        );
        await waitFor(() => calls.length >= 1);
        expect(calls[0]).toStrictEqual([{ stream: S, head: 2 }]);
        expect(await Promise.all(seen)).toEqual([2]);

        await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }], isoAt(2));
        await store.docs.writeDocs([], isoAt(2));
        unsubscribe();
        await store.docs.writeDocs([{ doc: makeDocInput(S, 'c', '1-c'), assumedRev: null }], isoAt(3));
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(calls).toHaveLength(1);
      });

      it('a throwing listener neither fails the write nor stops other listeners', async () => {
        const heads: StreamHead[][] = [];
        store.onCommitted(() => {
          throw new Error('listener bug');
        });
        store.onCommitted((h) => heads.push(h));
        const [result] = await store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }],
          isoAt(1),
        );
        expect(result).toStrictEqual({ status: 'ok', seq: 1 });
        await waitFor(() => heads.length === 1);
        expect((await store.docs.getDoc(S, 'a'))?.rev).toBe('1-a');
      });
    });

    describe('envelopes', () => {
      const env = (
        stream: string,
        epoch: number,
        recipient: string,
        wrapped = `w-${stream}-${epoch}-${recipient}`,
      ) => ({
        stream,
        epoch,
        recipient,
        keyId: `k-${epoch}`,
        wrapped,
        createdBy: 'dev-1',
        createdAt: isoAt(epoch),
      });

      it("keeps the publisher's signature with the envelope, and its absence", async () => {
        await store.envelopes.put({ ...env('p/allergy', 1, 'doc'), sig: 'signature' });
        await store.envelopes.put(env('p/allergy', 2, 'doc'));
        expect(await store.envelopes.list('doc')).toStrictEqual([
          { ...env('p/allergy', 1, 'doc'), sig: 'signature' },
          env('p/allergy', 2, 'doc'),
        ]);
      });

      it('put is idempotent per (stream, epoch, recipient): the first envelope stays', async () => {
        expect(await store.envelopes.put(env('p/allergy', 1, 'doc'))).toStrictEqual({ created: true });
        expect(await store.envelopes.put(env('p/allergy', 1, 'doc', 'other'))).toStrictEqual({
          created: false,
        });
        expect(await store.envelopes.list('doc')).toStrictEqual([env('p/allergy', 1, 'doc')]);
      });

      it('putAll stores a batch as put does, one result per envelope in order', async () => {
        await store.envelopes.put(env('p/allergy', 1, 'doc'));
        expect(
          await store.envelopes.putAll([
            env('p/allergy', 2, 'doc'),
            env('p/allergy', 1, 'doc', 'other'),
            { ...env('p/allergy', 2, 'pat'), sig: 'signature' },
            env('p/allergy', 2, 'doc', 'again'),
          ]),
        ).toStrictEqual([{ created: true }, { created: false }, { created: true }, { created: false }]);
        expect(await store.envelopes.list('doc')).toStrictEqual([
          env('p/allergy', 1, 'doc'),
          env('p/allergy', 2, 'doc'),
        ]);
        expect(await store.envelopes.list('pat')).toStrictEqual([
          { ...env('p/allergy', 2, 'pat'), sig: 'signature' },
        ]);
        expect(await store.envelopes.putAll([])).toStrictEqual([]);
      });

      it('putAll stores none of a batch it refuses', async () => {
        await expectStoreError(
          store.envelopes.putAll([env('p/allergy', 1, 'doc'), env('p/allergy', -1, 'pat')]),
          'INVALID',
        );
        await expectStoreError(
          store.envelopes.putAll([env('p/allergy', 1, 'doc'), env('p/allergy', 1, '')]),
          'INVALID',
        );
        expect(await store.envelopes.list('doc')).toStrictEqual([]);
        expect(await store.envelopes.currentEpoch('p/allergy')).toBeNull();
      });

      it('lists per recipient, optionally per stream, and reports the current epoch', async () => {
        const all = [
          env('p/medication', 1, 'doc'),
          env('p/allergy', 2, 'doc'),
          env('p/allergy', 1, 'doc'),
          env('p/allergy', 3, 'pat'),
        ];
        for (const e of all) await store.envelopes.put(e);
        expect(await store.envelopes.list('doc')).toStrictEqual([
          env('p/allergy', 1, 'doc'),
          env('p/allergy', 2, 'doc'),
          env('p/medication', 1, 'doc'),
        ]);
        expect(await store.envelopes.list('doc', ['p/medication', 'p/lab-result'])).toStrictEqual([
          env('p/medication', 1, 'doc'),
        ]);
        expect(await store.envelopes.list('doc', [])).toStrictEqual([]);
        expect(await store.envelopes.list('nobody')).toStrictEqual([]);
        // At most `limit`, the first in the same order.
        expect(await store.envelopes.list('doc', ['p/allergy', 'p/medication'], 2)).toStrictEqual([
          env('p/allergy', 1, 'doc'),
          env('p/allergy', 2, 'doc'),
        ]);
        expect(await store.envelopes.list('doc', undefined, 1)).toStrictEqual([env('p/allergy', 1, 'doc')]);
        expect(await store.envelopes.list('doc', ['p/allergy'], 0)).toStrictEqual([]);
        await expectStoreError(store.envelopes.list('doc', undefined, -1), 'INVALID');
        expect(await store.envelopes.currentEpoch('p/allergy')).toBe(3);
        expect(await store.envelopes.currentEpoch('p/medication')).toBe(1);
        expect(await store.envelopes.currentEpoch('p/none')).toBeNull();
        expect(
          await store.envelopes.currentEpochs(['p/medication', 'p/none', 'p/allergy', 'p/medication']),
        ).toStrictEqual([1, null, 3, 1]);
        expect(await store.envelopes.currentEpochs([])).toStrictEqual([]);
      });

      it('lists the holders of streams and their creators without key material, in order, at most `limit`', async () => {
        for (const e of [
          env('p/allergy', 1, 'pat'),
          env('p/allergy', 0, 'doc'),
          env('p/allergy', 0, 'pat'),
          env('p/medication', 0, 'pat'),
          env('q/allergy', 0, 'pat'),
        ]) {
          await store.envelopes.put(e);
        }
        expect(await store.envelopes.holders(['p/allergy', 'p/medication', 'p/none'], 100)).toStrictEqual([
          { stream: 'p/allergy', epoch: 0, recipient: 'doc', createdBy: 'dev-1' },
          { stream: 'p/allergy', epoch: 0, recipient: 'pat', createdBy: 'dev-1' },
          { stream: 'p/allergy', epoch: 1, recipient: 'pat', createdBy: 'dev-1' },
          { stream: 'p/medication', epoch: 0, recipient: 'pat', createdBy: 'dev-1' },
        ]);
        expect(await store.envelopes.holders(['p/allergy'], 2)).toHaveLength(2);
        expect(await store.envelopes.holders([], 100)).toStrictEqual([]);
      });
    });

    describe('blobs', () => {
      const manifest = BLOB_MANIFEST;

      it('manifests: identical re-put is a no-op, a different one is refused', async () => {
        await store.blobs.putManifest(manifest);
        await store.blobs.putManifest({ ...manifest, digests: [...manifest.digests] });
        // A resumed upload announces again later, possibly from another device: the first stays.
        await store.blobs.putManifest({ ...manifest, createdBy: 'dev-2', createdAt: isoAt(60) });
        expect(await store.blobs.getManifest('blob-1')).toStrictEqual(manifest);
        await expectStoreError(
          store.blobs.putManifest({ ...manifest, digests: ['x', 'y', 'z'] }),
          'ALREADY_EXISTS',
        );
        await expectStoreError(
          store.blobs.putManifest({ ...manifest, blobId: 'b2', chunkCount: 2 }),
          'INVALID',
        );
        expect(await store.blobs.getManifest('blob-2')).toBeNull();
      });

      it("manifests with expectedEpoch: a new one only under the stream's current epoch; a stored one resumes", async () => {
        await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
        const mine = { ...manifest, createdBy: 'dev-q1' };
        const quota = { accountId: 'acc-q', maxBytes: 10 * blobQuotaBytes(manifest) };
        const envelope = (epoch: number) => ({
          stream: manifest.stream,
          epoch,
          recipient: 'p',
          keyId: `k-${epoch}`,
          wrapped: 'w',
          createdBy: 'dev-1',
          createdAt: isoAt(epoch),
        });
        // A stream without envelopes is at epoch 0.
        await store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { quota, expectedEpoch: 0 });
        await store.envelopes.putAll([envelope(0), envelope(1)]);
        const usage = await store.blobs.usage('acc-q');
        for (const expectedEpoch of [0, 2]) {
          const refused = await catchError(
            store.blobs.putManifest({ ...mine, blobId: 'e-stale' }, { quota, expectedEpoch }),
          );
          expect(isStoreError(refused, 'STALE_EPOCH')).toBe(true);
          expect((refused as StoreError).details).toEqual({ epoch: 1 });
        }
        // Nothing stored, nothing reserved, no chunk can follow.
        expect(await store.blobs.getManifest('e-stale')).toBeNull();
        expect(await store.blobs.usage('acc-q')).toBe(usage);
        await expectStoreError(store.blobs.putChunk('e-stale', 0, paddedCt(4, 1)), 'NOT_FOUND');
        await store.blobs.putManifest({ ...mine, blobId: 'e-1' }, { quota, expectedEpoch: 1 });
        expect(await store.blobs.getManifest('e-1')).toStrictEqual({ ...mine, blobId: 'e-1' });
        // Stored before the re-keying: announcing it again resumes, whatever epoch it names.
        await store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { quota, expectedEpoch: 0 });
        await store.blobs.putChunk('e-0', 0, paddedCt(4, 1));
        // A taken id answers as taken, a deleted one as deleted, before any epoch is compared.
        await expectStoreError(
          store.blobs.putManifest({ ...mine, blobId: 'e-0', digests: ['x', 'y', 'z'] }, { expectedEpoch: 0 }),
          'ALREADY_EXISTS',
        );
        await store.blobs.delete('e-0', { deletedBy: 'dev-1', deletedAt: isoAt(9) });
        await expectStoreError(
          store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { expectedEpoch: 0 }),
          'DELETED',
        );
        // Without expectedEpoch the store does not look at epochs (tools, restores).
        await store.blobs.putManifest({ ...mine, blobId: 'e-any' });
        await expectStoreError(store.blobs.putManifest(mine, { expectedEpoch: -1 }), 'INVALID');
      });

      it('chunks: stored by index, checked against the manifest', async () => {
        await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 1)), 'NOT_FOUND');
        await store.blobs.putManifest(manifest);
        await store.blobs.putChunk('blob-1', 2, paddedCt(2, 3));
        await store.blobs.putChunk('blob-1', 0, paddedCt(4, 1));
        expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0, 2]);
        expect(await store.blobs.getChunk('blob-1', 1)).toBeNull();
        await expectStoreError(store.blobs.putChunk('blob-1', 3, paddedCt(4, 1)), 'INVALID');
        await expectStoreError(store.blobs.putChunk('blob-1', -1, paddedCt(4, 1)), 'INVALID');
        await expectStoreError(store.blobs.putChunk('blob-1', 1, paddedCt(3, 1)), 'INVALID');
        await expectStoreError(
          store.blobs.putChunk('blob-1', 2, paddedCt(2 + BLOB_CHUNK_OVERHEAD_BYTES + 1, 1)),
          'INVALID',
        );
        // Stored chunks are sealed: up to the sealing overhead beyond the plaintext size fits.
        await store.blobs.putChunk('blob-1', 1, paddedCt(4 + BLOB_CHUNK_OVERHEAD_BYTES, 5));
        expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0, 1, 2]);
        await store.blobs.putChunk('blob-1', 0, paddedCt(4, 1));
        await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 9)), 'ALREADY_EXISTS');
        expectBytes(await store.blobs.getChunk('blob-1', 0), paddedCt(4, 1));
        expectBytes(await store.blobs.getChunk('blob-1', 1), paddedCt(4 + BLOB_CHUNK_OVERHEAD_BYTES, 5));
        expectBytes(await store.blobs.getChunk('blob-1', 2), paddedCt(2, 3));
        expect(await store.blobs.chunkIndexes('blob-none')).toEqual([]);
      });

      it('quota: a new manifest is stored only within the account quota, counted from what its devices created', async () => {
        await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
        await store.devices.put(makeDevice('dev-q2', 'acc-q'));
        await store.accounts.register(makeAccount('acc-r'), makeDevice('dev-r1', 'acc-r'));
        const one = blobQuotaBytes(manifest);
        const quota = { accountId: 'acc-q', maxBytes: 2 * one };
        const blob = (blobId: string, createdBy: string): BlobManifest => ({
          ...manifest,
          blobId,
          createdBy,
        });
        expect(await store.blobs.usage('acc-q')).toBe(0);

        await store.blobs.putManifest(blob('q-1', 'dev-q1'), { quota });
        // Exactly filling the quota is within it; another device of the account draws on the same room.
        await store.blobs.putManifest(blob('q-2', 'dev-q2'), { quota });
        expect(await store.blobs.usage('acc-q')).toBe(2 * one);
        const refused = await catchError(store.blobs.putManifest(blob('q-3', 'dev-q1'), { quota }));
        expect(isStoreError(refused, 'QUOTA_EXCEEDED')).toBe(true);
        expect((refused as StoreError).details).toEqual({
          usedBytes: 2 * one,
          requestedBytes: one,
          quotaBytes: 2 * one,
        });
        expect(await store.blobs.getManifest('q-3')).toBeNull();
        await expectStoreError(store.blobs.putChunk('q-3', 0, paddedCt(4, 1)), 'NOT_FOUND');
        expect(await store.blobs.usage('acc-q')).toBe(2 * one);

        // Re-announcing a stored manifest reserves nothing new: never refused, whoever is full.
        await store.blobs.putManifest(blob('q-1', 'dev-q1'), { quota });
        await store.blobs.putManifest(blob('q-1', 'dev-r1'), { quota: { accountId: 'acc-r', maxBytes: 1 } });
        // Revoked devices' blobs still count; other accounts have their own usage.
        await store.devices.revoke('dev-q2', isoAt(10));
        expect(await store.blobs.usage('acc-q')).toBe(2 * one);
        expect(await store.blobs.usage('acc-r')).toBe(0);
        await store.blobs.putManifest(blob('r-1', 'dev-r1'), {
          quota: { accountId: 'acc-r', maxBytes: one },
        });
        expect(await store.blobs.usage('acc-r')).toBe(one);
        // Without a quota (tools, older callers) nothing is checked, but the manifest counts all the same.
        await store.blobs.putManifest(blob('q-4', 'dev-q1'));
        expect(await store.blobs.usage('acc-q')).toBe(3 * one);
      });

      it('quota: concurrent manifests of one account cannot both take the last room', async () => {
        await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
        const quota = { accountId: 'acc-q', maxBytes: blobQuotaBytes(manifest) };
        const settled = await Promise.allSettled(
          ['c-1', 'c-2', 'c-3'].map((blobId) =>
            store.blobs.putManifest({ ...manifest, blobId, createdBy: 'dev-q1' }, { quota }),
          ),
        );
        expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of settled) {
          if (r.status === 'rejected') expect(isStoreError(r.reason, 'QUOTA_EXCEEDED')).toBe(true);
        }
        expect(await store.blobs.usage('acc-q')).toBe(blobQuotaBytes(manifest));
      });

      it('an empty blob is one chunk', async () => {
        const empty = { ...manifest, blobId: 'blob-empty', size: 0, chunkCount: 1, digests: ['d0'] };
        await store.blobs.putManifest(empty);
        await expectStoreError(
          store.blobs.putManifest({ ...empty, blobId: 'blob-zero', chunkCount: 0, digests: [] }),
          'INVALID',
        );
        await store.blobs.putChunk('blob-empty', 0, paddedCt(60, 7));
        expect(await store.blobs.chunkIndexes('blob-empty')).toEqual([0]);
      });

      it('delete: manifest and chunks go, the quota is released, the id is never stored again', async () => {
        await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
        const mine = { ...manifest, createdBy: 'dev-q1' };
        const quota = { accountId: 'acc-q', maxBytes: blobQuotaBytes(manifest) };
        await store.blobs.putManifest(mine, { quota });
        await store.blobs.putManifest({ ...mine, blobId: 'blob-other' });
        for (const id of ['blob-1', 'blob-other']) {
          await store.blobs.putChunk(id, 0, paddedCt(4, 1));
          await store.blobs.putChunk(id, 2, paddedCt(2, 3));
        }
        // Full: another blob does not fit.
        await expectStoreError(
          store.blobs.putManifest({ ...mine, blobId: 'blob-2' }, { quota: { ...quota, maxBytes: 0 } }),
          'QUOTA_EXCEEDED',
        );
        const deletion = { deletedBy: 'dev-x', deletedAt: isoAt(30) };
        expect(await store.blobs.delete('blob-1', deletion)).toStrictEqual({
          blobId: 'blob-1',
          stream: 'p/document',
          ...deletion,
        });
        expect(await store.blobs.getManifest('blob-1')).toBeNull();
        expect(await store.blobs.getChunk('blob-1', 0)).toBeNull();
        expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
        expect(await store.blobs.getTombstone('blob-1')).toStrictEqual({
          blobId: 'blob-1',
          stream: 'p/document',
          ...deletion,
        });
        // Only the other blob (stored without a quota) still counts.
        expect(await store.blobs.usage('acc-q')).toBe(blobQuotaBytes(manifest));
        await store.blobs.delete('blob-other', deletion);
        expect(await store.blobs.usage('acc-q')).toBe(0);
        await store.blobs.putManifest({ ...mine, blobId: 'blob-2' }, { quota });

        // Deleting again finds nothing; nothing of the tombstone changes.
        await expectStoreError(
          store.blobs.delete('blob-1', { ...deletion, deletedAt: isoAt(40) }),
          'NOT_FOUND',
        );
        await expectStoreError(store.blobs.delete('blob-none', deletion), 'NOT_FOUND');
        expect((await store.blobs.getTombstone('blob-1'))?.deletedAt).toBe(isoAt(30));
        expect(await store.blobs.getTombstone('blob-none')).toBeNull();

        // The id is gone for good: not the same manifest, not another one, no chunk.
        for (const again of [mine, { ...mine, digests: ['x', 'y', 'z'] }]) {
          const refused = await catchError(store.blobs.putManifest(again, { quota }));
          expect(isStoreError(refused, 'DELETED')).toBe(true);
          expect((refused as StoreError).details).toEqual({ deletedAt: isoAt(30) });
        }
        await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 1)), 'NOT_FOUND');
        expect(await store.blobs.getManifest('blob-1')).toBeNull();
      });

      it('delete: an upload that never finished is deleted too', async () => {
        await store.blobs.putManifest(manifest);
        await store.blobs.putChunk('blob-1', 1, paddedCt(4, 2));
        await store.blobs.delete('blob-1', { deletedBy: 'dev-1', deletedAt: isoAt(5) });
        expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
        expect(await store.blobs.getManifest('blob-1')).toBeNull();
      });

      it('delete: racing deletes and re-announcements end with the blob deleted, once', async () => {
        await store.blobs.putManifest(manifest);
        const deletion = { deletedBy: 'dev-1', deletedAt: isoAt(5) };
        const settled = await Promise.allSettled([
          store.blobs.delete('blob-1', deletion),
          store.blobs.putManifest(manifest),
          store.blobs.delete('blob-1', deletion),
          store.blobs.putManifest(manifest),
        ]);
        const deletes = [settled[0], settled[2]];
        expect(deletes.filter((r) => r?.status === 'fulfilled')).toHaveLength(1);
        for (const r of settled) {
          if (r.status === 'rejected') {
            expect(isStoreError(r.reason, 'NOT_FOUND') || isStoreError(r.reason, 'DELETED')).toBe(true);
          }
        }
        expect(await store.blobs.getManifest('blob-1')).toBeNull();
        await expectStoreError(store.blobs.putManifest(manifest), 'DELETED');
      });
    });

    // Writes that commit with an account of them: a blob chunk or deletion with the access entries it
    // carries (types.ts AccessEntries), and a writeDocs row the writer counted out (`expectRefused`).
    // Both commit in one transaction with what they carry, or nothing does.
    describe('writes committed with their account', () => {
      let committed: StreamHead[][];
      beforeEach(() => {
        committed = [];
        store.onCommitted((heads) => committed.push(heads));
      });
      const loggedManifest = BLOB_MANIFEST;
      const chunk = (fill: number): Uint8Array => new Uint8Array(4).fill(fill);
      const AUDIT = 'p/audit';
      const entries = (...seqs: number[]) => ({
        rows: seqs.map((n) => auditWrite(AUDIT, `e${n}`, 'server', n)),
        now: isoAt(5),
      });
      const codeOf = async (promise: Promise<unknown>): Promise<string> => {
        try {
          await promise;
          return 'resolved';
        } catch (error) {
          return isStoreError(error) ? error.code : String(error);
        }
      };
      const auditIds = async (): Promise<string[]> =>
        (await store.docs.readDocs(AUDIT, 0, 100, 1 << 20)).docs.map((d) => d.id);
      const refusing: AccessGuard = {
        granteeId: 'g',
        patientIds: ['p'],
        at: isoAt(5),
        check: () => {
          throw new Error('access ended');
        },
      };

      describe('blob writes with access entries', () => {
        beforeEach(async () => {
          await store.blobs.putManifest(loggedManifest);
        });

        it('a chunk and its entries commit together, and the entries are announced to commit listeners', async () => {
          await store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(1));
          expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0]);
          expect(await auditIds()).toEqual(['e1']);
          expect(committed).toEqual([[{ stream: AUDIT, head: 1 }]]);
          // The same chunk again (a retry) is logged again: it is the upload the entry claims.
          await store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(2));
          expect(await auditIds()).toEqual(['e1', 'e2']);
        });

        it('a chunk the store refuses writes none of its entries', async () => {
          await store.blobs.putChunk('blob-1', 0, chunk(1));
          expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(2), undefined, entries(1)))).toBe(
            'ALREADY_EXISTS',
          );
          expect(await codeOf(store.blobs.putChunk('blob-2', 0, chunk(2), undefined, entries(1)))).toBe(
            'NOT_FOUND',
          );
          expect(await codeOf(store.blobs.putChunk('blob-1', 1, chunk(2), refusing, entries(1)))).toBe(
            'Error: access ended',
          );
          expect(await auditIds()).toEqual([]);
          expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0]);
        });

        it('an entry the store does not write (a chain position taken) stores no chunk: CONFLICT', async () => {
          await store.docs.writeDocs([auditWrite(AUDIT, 'held', 'server', 1)], isoAt(1));
          committed = [];
          expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(1)))).toBe(
            'CONFLICT',
          );
          // An id stored already (append-only) is refused too.
          expect(
            await codeOf(
              store.blobs.putChunk('blob-1', 0, chunk(1), undefined, {
                rows: [auditWrite(AUDIT, 'held', 'server', 2)],
                now: isoAt(5),
              }),
            ),
          ).toBe('CONFLICT');
          expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
          expect(await auditIds()).toEqual(['held']);
          expect(committed).toEqual([]);
        });

        it('a deletion and its entries commit together, or neither', async () => {
          await store.blobs.putChunk('blob-1', 0, chunk(1));
          await store.docs.writeDocs([auditWrite(AUDIT, 'held', 'server', 1)], isoAt(1));
          const deletion = { deletedBy: 'dev-9', deletedAt: isoAt(6) };
          expect(await codeOf(store.blobs.delete('blob-1', deletion, undefined, entries(1)))).toBe(
            'CONFLICT',
          );
          expect(await codeOf(store.blobs.delete('blob-1', deletion, refusing, entries(2)))).toBe(
            'Error: access ended',
          );
          expect(await store.blobs.getManifest('blob-1')).not.toBeNull();
          expect(await store.blobs.getTombstone('blob-1')).toBeNull();
          expect(await auditIds()).toEqual(['held']);

          committed = [];
          const tombstone = await store.blobs.delete('blob-1', deletion, undefined, entries(2));
          expect(tombstone).toEqual({ blobId: 'blob-1', stream: loggedManifest.stream, ...deletion });
          expect(await store.blobs.getManifest('blob-1')).toBeNull();
          expect(await auditIds()).toEqual(['held', 'e2']);
          expect(committed).toEqual([[{ stream: AUDIT, head: 2 }]]);
          // Deleted already: nothing more is logged.
          expect(await codeOf(store.blobs.delete('blob-1', deletion, undefined, entries(3)))).toBe(
            'NOT_FOUND',
          );
          expect(await auditIds()).toEqual(['held', 'e2']);
        });

        it('entries that break the contract are refused before anything is written: INVALID', async () => {
          const bad = {
            rows: [{ doc: { ...makeDocInput(AUDIT, 'x', '1-x'), id: '' }, assumedRev: null }],
            now: isoAt(5),
          };
          expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, bad))).toBe('INVALID');
          expect(
            await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, { rows: [], now: '' })),
          ).toBe('INVALID');
          expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
        });
      });

      describe('writeDocs rows marked expectRefused', () => {
        it('refused as expected: the batch is written and answered as without the mark', async () => {
          await store.docs.writeDocs(
            [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
            isoAt(1),
          );
          const results = await store.docs.writeDocs(
            [
              { doc: makeDocInput('p/allergy', 'a', '2-b'), assumedRev: '1-x', expectRefused: true },
              { doc: makeDocInput('p/allergy', 'c', '1-c'), assumedRev: null },
            ],
            isoAt(2),
          );
          expect(results.map((r) => r.status)).toEqual(['conflict', 'ok']);
        });

        it('one that would be written rejects the batch CONFLICT and writes nothing of it', async () => {
          await store.docs.writeDocs(
            [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
            isoAt(1),
          );
          committed = [];
          const batch = [
            { doc: makeDocInput('p/allergy', 'c', '1-c'), assumedRev: null },
            { doc: makeDocInput('p/allergy', 'a', '2-a'), assumedRev: '1-a', expectRefused: true },
          ];
          expect(await codeOf(store.docs.writeDocs(batch, isoAt(2)))).toBe('CONFLICT');
          expect(await store.docs.getDoc('p/allergy', 'c')).toBeNull();
          expect((await store.docs.getDoc('p/allergy', 'a'))?.rev).toBe('1-a');
          expect(await store.docs.streamHeads(['p/allergy'])).toEqual([{ stream: 'p/allergy', head: 1 }]);
          expect(committed).toEqual([]);
        });
      });
    });

    describe('directory', () => {
      const provider = (
        accountId: string,
        displayName: string,
        extra: Partial<ProviderEntry> = {},
      ): ProviderEntry => ({
        accountId,
        displayName,
        specialty: 'Cardiology',
        clinic: 'North Clinic',
        identifier: `NPI-${accountId}`,
        signed: { sig: accountId },
        updatedAt: isoAt(0),
        ...extra,
      });

      it('searches case-insensitively by substring of name, specialty, clinic or identifier', async () => {
        const ana = provider('p1', 'Dr. Ana Souza', { contact: 'ana@example.org' });
        const ben = provider('p2', 'Dr. Ben Okafor', { specialty: 'Dermatology', clinic: 'South Clinic' });
        const eve = provider('p3', 'Eve Ström', { specialty: 'Pediatrics', identifier: 'X-77' });
        for (const p of [eve, ben, ana]) await store.directory.putProvider(p);
        expect(await store.directory.searchProviders('ana', 10)).toStrictEqual([ana]);
        expect(await store.directory.searchProviders('DERMA', 10)).toStrictEqual([ben]);
        expect(await store.directory.searchProviders('north', 10)).toStrictEqual([ana, eve]);
        expect(await store.directory.searchProviders('x-7', 10)).toStrictEqual([eve]);
        expect(await store.directory.searchProviders('STRÖM', 10)).toStrictEqual([eve]);
        expect(await store.directory.searchProviders('clinic', 2)).toHaveLength(2);
        expect(await store.directory.searchProviders('nobody', 10)).toStrictEqual([]);
        // A match never spans two fields.
        expect(await store.directory.searchProviders('souzacardio', 10)).toStrictEqual([]);
      });

      it('putProvider replaces the entry of the same account', async () => {
        await store.directory.putProvider(provider('p1', 'Old Name'));
        const renamed = provider('p1', 'New Name', { updatedAt: isoAt(5) });
        await store.directory.putProvider(renamed);
        expect(await store.directory.searchProviders('old', 10)).toStrictEqual([]);
        expect(await store.directory.searchProviders('new name', 10)).toStrictEqual([renamed]);
      });
    });

    describe('invites', () => {
      const hash = (n: number): string => n.toString(16).padStart(64, '0');
      const invite = (n: number, extra: Partial<Invite> = {}): Invite => ({
        codeHash: hash(n),
        uses: 1,
        usesLeft: 1,
        expiresAt: isoAt(100),
        createdAt: isoAt(n),
        ...extra,
      });
      const use = (n: number, now = isoAt(50)) => ({ invite: { codeHash: hash(n), now } });
      const refusal = async (promise: Promise<unknown>): Promise<unknown> => {
        const error = await catchError(promise);
        expect(isStoreError(error, 'INVITE_INVALID'), `expected INVITE_INVALID, got ${String(error)}`).toBe(
          true,
        );
        return isStoreError(error) ? error.details : undefined;
      };
      const nothingStored = async (accountId: string, deviceId: string): Promise<void> => {
        expect(await store.accounts.get(accountId)).toBeNull();
        expect(await store.devices.get(deviceId)).toBeNull();
      };

      it('keeps invites as given, lists them newest first, revokes once', async () => {
        const first = invite(1, { role: 'provider', uses: 3, usesLeft: 3, note: 'front desk' });
        const second = invite(2);
        await store.invites.put(first);
        await store.invites.put(second);
        expect(await store.invites.list()).toStrictEqual([second, first]);
        await expectStoreError(store.invites.put(invite(1)), 'ALREADY_EXISTS');
        await expectStoreError(store.invites.put(invite(3, { codeHash: 'not-a-hash' })), 'INVALID');
        await expectStoreError(store.invites.put(invite(3, { uses: 0, usesLeft: 0 })), 'INVALID');
        await expectStoreError(store.invites.put(invite(3, { usesLeft: 2 })), 'INVALID');
        expect(await store.invites.revoke(hash(1), isoAt(10))).toStrictEqual({
          ...first,
          revokedAt: isoAt(10),
        });
        // The first revocation time is kept.
        expect((await store.invites.revoke(hash(1), isoAt(20))).revokedAt).toBe(isoAt(10));
        await expectStoreError(store.invites.revoke(hash(9), isoAt(10)), 'NOT_FOUND');
      });

      it('a registration with a usable invite takes one use of it, in the same step', async () => {
        await store.invites.put(invite(1, { uses: 2, usesLeft: 2 }));
        await store.accounts.register(makeAccount('acc-1'), makeDevice('dev-1', 'acc-1'), use(1));
        expect((await store.invites.list())[0]?.usesLeft).toBe(1);
        await store.accounts.register(makeAccount('acc-2'), makeDevice('dev-2', 'acc-2'), use(1));
        expect((await store.invites.list())[0]?.usesLeft).toBe(0);
        expect(
          await refusal(store.accounts.register(makeAccount('acc-3'), makeDevice('dev-3', 'acc-3'), use(1))),
        ).toEqual({
          reason: 'used-up',
        });
        await nothingStored('acc-3', 'dev-3');
        expect((await store.accounts.get('acc-2'))?.accountId).toBe('acc-2');
      });

      it('refuses unknown, expired, revoked and wrong-role invites, storing and using up nothing', async () => {
        await store.invites.put(invite(1));
        await store.invites.put(invite(2, { role: 'provider' }));
        await store.invites.put(invite(3));
        await store.invites.revoke(hash(3), isoAt(10));
        const attempt = (n: number, now?: string) =>
          refusal(store.accounts.register(makeAccount('acc-x'), makeDevice('dev-x', 'acc-x'), use(n, now)));
        expect(await attempt(9)).toEqual({ reason: 'unknown' });
        // Expired at expiresAt itself.
        expect(await attempt(1, isoAt(100))).toEqual({ reason: 'expired' });
        expect(await attempt(3)).toEqual({ reason: 'revoked' });
        expect(await attempt(2)).toEqual({ reason: 'role', role: 'provider' });
        await nothingStored('acc-x', 'dev-x');
        expect((await store.invites.list()).map((i) => i.usesLeft)).toEqual([1, 1, 1]);
        // Still usable where it was: before expiry, and by the role it names.
        await store.accounts.register(makeAccount('acc-1'), makeDevice('dev-1', 'acc-1'), use(1, isoAt(99)));
        await store.accounts.register(
          makeAccount('acc-2', { role: 'provider' }),
          makeDevice('dev-2', 'acc-2'),
          use(2),
        );
      });

      it('checks the invite before the ids: no usable invite, no word on what is taken; a taken id uses nothing up', async () => {
        await store.accounts.register(
          makeAccount('acc-1', { loginName: 'alice' }),
          makeDevice('dev-1', 'acc-1'),
        );
        expect(
          await refusal(
            store.accounts.register(
              makeAccount('acc-2', { loginName: 'alice' }),
              makeDevice('dev-2', 'acc-2'),
              use(9),
            ),
          ),
        ).toEqual({ reason: 'unknown' });
        await store.invites.put(invite(1));
        await expectStoreError(
          store.accounts.register(
            makeAccount('acc-2', { loginName: 'alice' }),
            makeDevice('dev-2', 'acc-2'),
            use(1),
          ),
          'ALREADY_EXISTS',
        );
        expect((await store.invites.list())[0]?.usesLeft).toBe(1);
      });

      it('of concurrent registrations on a single-use invite exactly one succeeds', async () => {
        await store.invites.put(invite(1));
        const settled = await Promise.allSettled(
          [1, 2, 3, 4].map((n) =>
            store.accounts.register(makeAccount(`acc-${n}`), makeDevice(`dev-${n}`, `acc-${n}`), use(1)),
          ),
        );
        expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of settled) {
          if (r.status === 'rejected') expect(isStoreError(r.reason, 'INVITE_INVALID')).toBe(true);
        }
        const stored = await Promise.all([1, 2, 3, 4].map((n) => store.accounts.get(`acc-${n}`)));
        expect(stored.filter((a) => a !== null)).toHaveLength(1);
      });
    });

    describe('meta', () => {
      it('gets, puts and overwrites values', async () => {
        expect(await store.meta.get('server-id')).toBeNull();
        await store.meta.put('server-id', 'srv-1');
        await store.meta.put('signing-seed', 'c2VlZA');
        await store.meta.put('server-id', 'srv-2');
        expect(await store.meta.get('server-id')).toBe('srv-2');
        expect(await store.meta.get('signing-seed')).toBe('c2VlZA');
      });
    });

    describeHeadsConformance(() => store, isoAt(5));
    describeShlConformance(() => store);
    describeAvailabilityConformance(() => store);

    describeEraseConformance(() => store);

    describe('serverState', () => {
      it('keeps the last value put per key, with its time', async () => {
        expect(await store.serverState.get('registration')).toBeNull();
        await store.serverState.put('registration', 'open', isoAt(1));
        await store.serverState.put('other', 'x', isoAt(2));
        await store.serverState.put('registration', 'invite', isoAt(3));
        expect(await store.serverState.get('registration')).toEqual({ value: 'invite', at: isoAt(3) });
        expect(await store.serverState.get('other')).toEqual({ value: 'x', at: isoAt(2) });
        // Apart from meta: neither sees the other's keys.
        expect(await store.meta.get('registration')).toBeNull();
      });

      it('refuses a put without a time, keeping the value before', async () => {
        await store.serverState.put('registration', 'closed', isoAt(1));
        await expectStoreError(store.serverState.put('registration', 'open', ''), 'INVALID');
        expect(await store.serverState.get('registration')).toEqual({ value: 'closed', at: isoAt(1) });
      });
    });
  });

  const { makeSharedPair } = options;
  if (makeSharedPair !== undefined) {
    describe(`SyncStore conformance (shared backend): ${name}`, () => {
      it('instances sharing a backend allocate gap-free seqs and see each other', async () => {
        const { stores, cleanup } = await makeSharedPair();
        try {
          const [a, b] = stores;
          const S = 'pat/lab-result';
          const heardByB: StreamHead[][] = [];
          b.onCommitted((heads) => heardByB.push(heads));
          const writes = Array.from({ length: 16 }, (_, i) =>
            (i % 2 === 0 ? a : b).docs.writeDocs(
              Array.from({ length: 5 }, (_, j) => ({
                doc: makeDocInput(S, `d-${i}-${j}`, '1-x'),
                assumedRev: null,
              })),
              isoAt(1),
            ),
          );
          const seqs = (await Promise.all(writes)).flat().map(okSeq);
          expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
          for (const s of [a, b]) {
            const page = await s.docs.readDocs(S, 0, 1000, 10_000_000);
            expect(page.docs.map((d) => d.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
          }
          // B hears commits made through A too (possibly coalesced): eventually head 80.
          await waitFor(() => heardByB.some((heads) => heads.some((h) => h.stream === S && h.head === 80)));

          // Compare-and-set holds across instances: only one of two racing updates wins.
          const [ra, rb] = await Promise.all([
            a.docs.writeDocs([{ doc: makeDocInput(S, 'd-0-0', '2-a'), assumedRev: '1-x' }], isoAt(2)),
            b.docs.writeDocs([{ doc: makeDocInput(S, 'd-0-0', '2-b'), assumedRev: '1-x' }], isoAt(2)),
          ]);
          expect([ra?.[0]?.status, rb?.[0]?.status].sort()).toEqual(['conflict', 'ok']);
        } finally {
          await cleanup();
        }
      });

      it('an invite written through one instance admits exactly one registration across both', async () => {
        const { stores, cleanup } = await makeSharedPair();
        try {
          const [a, b] = stores;
          const codeHash = 'ab'.repeat(32);
          await b.invites.put({ codeHash, uses: 1, usesLeft: 1, expiresAt: isoAt(100), createdAt: isoAt(0) });
          const settled = await Promise.allSettled(
            [a, b, a, b].map((s, n) =>
              s.accounts.register(makeAccount(`acc-${n}`), makeDevice(`dev-${n}`, `acc-${n}`), {
                invite: { codeHash, now: isoAt(1) },
              }),
            ),
          );
          expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          expect((await a.invites.list())[0]?.usesLeft).toBe(0);
        } finally {
          await cleanup();
        }
      });

      describeShlSharedConformance(makeSharedPair);
    });
  }
};
