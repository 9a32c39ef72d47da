/*
 * Conformance of `SyncStore` (types.ts): the directory, invites and meta. Declared inside
 * `runStoreConformance` (conformance.ts), on the fresh store each test gets there.
 */
import { describe, expect, it } from 'vitest';
import { isStoreError, type Invite, type ProviderEntry, type SyncStore } from './types';
import {
  bindStore,
  catchError,
  expectStoreError,
  isoAt,
  makeAccount,
  makeDevice,
} from './conformance.test-util';

export const describeServerConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));

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
};

export const describeServerStateConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));

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
};
