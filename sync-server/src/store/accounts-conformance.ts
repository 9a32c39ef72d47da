/*
 * Conformance of `SyncStore` (types.ts): accounts, devices and sign-in (lifecycle, accounts, devices,
 * challenges, sessions). Declared inside `runStoreConformance` (conformance.ts), on the fresh store each
 * test gets there.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { isStoreError, type Challenge, type Session, type SyncStore } from './types';
import {
  catchError,
  expectStoreError,
  isoAt,
  makeAccount,
  makeDevice,
  makeRevocation,
  makeDocInput,
  seedAccountsOf,
  bindStore,
} from './conformance.test-util';

export const describeAccountsConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));
  const seedAccounts = seedAccountsOf(current);

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

      expect(await takenBy(store.accounts.register(makeAccount('acc-1'), makeDevice('dev-9', 'acc-1')))).toBe(
        'accountId',
      );
      expect(
        await takenBy(
          store.accounts.register(makeAccount('acc-3', { loginName: 'alice' }), makeDevice('dev-9', 'acc-3')),
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

      const signed = makeRevocation('dev-1', isoAt(10));
      const revoked = await store.devices.revoke('dev-1', isoAt(10), signed);
      expect([revoked.revokedAt, revoked.revocation]).toEqual([isoAt(10), signed]);
      // Again: the first time and signed revocation stay.
      const again = await store.devices.revoke(
        'dev-1',
        isoAt(20),
        makeRevocation('dev-1', isoAt(20), 'other'),
      );
      expect([again.revokedAt, again.revocation]).toEqual([isoAt(10), signed]);
      expect((await store.devices.get('dev-1'))?.revokedAt).toBe(isoAt(10));
      expect(await store.sessions.get('t1')).toBeNull();
      expect(await store.challenges.take('c1')).toBeNull();
      expect(await store.sessions.get('t2')).not.toBeNull();
      expect(await store.challenges.take('c2')).not.toBeNull();
      expect((await store.devices.get('dev-2'))?.revokedAt).toBeUndefined();
      await expectStoreError(
        store.devices.revoke('dev-9', isoAt(10), makeRevocation('dev-9', isoAt(10))),
        'NOT_FOUND',
      );
      expect((await store.devices.get('dev-1'))?.revocation).toEqual(signed);
    });

    /** A name record as the rename route stores it (the store keeps it opaque). */
    const nameRecord = (deviceId: string, seq: number, sig = `sig-${seq}`) => ({
      name: { v: 1, accountId: 'acc-1', deviceId, sealedName: `sealed-${seq}`, seq },
      sig,
    });

    it('rename stores a name record only at a higher seq; the same record again is answered as stored', async () => {
      await seedAccounts('acc-1');
      const device = makeDevice('dev-1', 'acc-1');
      await store.devices.put(device);
      await store.devices.put(makeDevice('dev-2', 'acc-1'));
      // A device never renamed is read without one (its certificate's name is seq 0).
      expect(await store.devices.get('dev-1')).toStrictEqual(device);

      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 1), 1)).toEqual({
        status: 'stored',
        seq: 1,
      });
      // Any higher seq, not only the next.
      const third = nameRecord('dev-1', 3);
      expect(await store.devices.rename('dev-1', third, 3)).toEqual({ status: 'stored', seq: 3 });
      const renamed = { ...device, nameRecord: third, nameSeq: 3 };
      expect(await store.devices.get('dev-1')).toStrictEqual(renamed);
      expect(await store.devices.listForAccount('acc-1')).toStrictEqual([
        renamed,
        makeDevice('dev-2', 'acc-1'),
      ]);

      // The very record again (its keys in another order too): a retry, nothing written.
      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 3), 3)).toEqual({
        status: 'same',
        seq: 3,
      });
      expect(await store.devices.rename('dev-1', { sig: third.sig, name: third.name }, 3)).toEqual({
        status: 'same',
        seq: 3,
      });
      // Another record at the stored seq, and any lower seq (an older record replayed too): refused.
      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 3, 'other'), 3)).toEqual({
        status: 'conflict',
        seq: 3,
      });
      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 1), 1)).toEqual({
        status: 'conflict',
        seq: 3,
      });
      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 2), 2)).toEqual({
        status: 'conflict',
        seq: 3,
      });
      expect(await store.devices.get('dev-1')).toStrictEqual(renamed);
      // Another device of the account is not touched.
      expect(await store.devices.get('dev-2')).toStrictEqual(makeDevice('dev-2', 'acc-1'));
    });

    it('rename refuses an unknown device, a revoked one and a seq that is not a positive integer', async () => {
      await seedAccounts('acc-1');
      await store.devices.put(makeDevice('dev-1', 'acc-1'));
      await store.devices.put(makeDevice('dev-2', 'acc-1'));
      await expectStoreError(store.devices.rename('dev-9', nameRecord('dev-9', 1), 1), 'NOT_FOUND');
      for (const seq of [0, -1, 1.5, Number.NaN]) {
        await expectStoreError(store.devices.rename('dev-1', nameRecord('dev-1', 1), seq), 'INVALID');
      }
      expect((await store.devices.get('dev-1'))?.nameRecord).toBeUndefined();

      const named = nameRecord('dev-2', 1);
      expect((await store.devices.rename('dev-2', named, 1)).status).toBe('stored');
      await store.devices.revoke('dev-2', isoAt(10), makeRevocation('dev-2', isoAt(10)));
      // Whatever the seq, the very record stored included; the record stored before the revocation stays.
      for (const [record, seq] of [
        [nameRecord('dev-2', 2), 2],
        [named, 1],
      ] as const) {
        expect(await store.devices.rename('dev-2', record, seq)).toEqual({ status: 'revoked' });
      }
      const revoked = await store.devices.get('dev-2');
      expect([revoked?.revokedAt, revoked?.nameRecord, revoked?.nameSeq]).toEqual([isoAt(10), named, 1]);
      // A device revoked before any rename never takes one.
      await store.devices.revoke('dev-1', isoAt(11), makeRevocation('dev-1', isoAt(11)));
      expect(await store.devices.rename('dev-1', nameRecord('dev-1', 1), 1)).toEqual({ status: 'revoked' });
      expect((await store.devices.get('dev-1'))?.nameRecord).toBeUndefined();
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
};
