// Restore carries SMART Health Link state made after the backup (restore-carry-links.ts): a link revoked
// since stays revoked (the emergency card rotated away does not open again), a link locked by wrong
// passcodes stays locked, accesses logged since stay in its log and count, a one-time ticket used since
// stays used, a carried access with its viewer's name as sealed; a link created after the backup is not
// brought in; nothing moves backwards.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { makeAccount, makeDevice } from './conformance';
import { openSqliteStore, type SqliteStore } from './sqlite-store';
import type { ShlNewLink } from './shl-types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-carry-links-');

const link = (n: number): ShlNewLink => ({
  linkId: `LinkId_${String(n).padStart(15, '0')}`,
  tokenHash: String(n).repeat(64),
  patientId: 'pat',
  types: ['allergy'],
  sealed: `sealed-details-${n}`,
  passcodeHash: 'scrypt$x',
  attemptsLeft: 3,
  emergency: false,
  contentType: 'application/fhir+json',
  jwe: 'eyJ.x.y.z.w',
  createdAt: `2030-01-01T00:00:0${n}.000Z`,
});
const at = (s: number) => `2030-01-02T00:00:${String(s).padStart(2, '0')}.000Z`;
const access = (outcome: 'opened' | 'wrong-passcode' | 'refused', s: number) => ({
  at: at(s),
  outcome,
  sealedRecipient: `sealed viewer ${s}`,
});

const scenario = async (
  before: (store: SqliteStore) => Promise<void>,
  after: (store: SqliteStore) => Promise<void>,
) => {
  const dataDir = newDir();
  const backupFile = join(newDir(), 'backup.sqlite');
  const store = await openSqliteStore({ dataDir });
  try {
    await store.accounts.register(makeAccount('pat'), makeDevice('dev', 'pat'));
    await before(store);
    await backupSqlite(store, backupFile);
    await after(store);
  } finally {
    await store.close();
  }
  const result = await restoreSqlite(backupFile, dataDir, { onWarning: () => undefined });
  expect(result.warnings).toEqual([]);
  return { dataDir, carried: result.carried };
};

describe('restore carries shared links', () => {
  it('keeps revocations, locks, accesses and used tickets made after the backup; brings in no new link', async () => {
    const { dataDir, carried } = await scenario(
      async (s) => {
        for (const n of [1, 2, 3, 4]) await s.shl.create(link(n));
        await s.shl.recordAccess(link(3).linkId, access('opened', 1));
        await s.shl.putTicket(link(4).linkId, 'c'.repeat(64), Date.parse('2031-01-01T00:00:00.000Z'));
      },
      async (s) => {
        await s.shl.revoke('pat', link(1).linkId, at(10));
        for (const i of [11, 12, 13]) await s.shl.recordAccess(link(2).linkId, access('wrong-passcode', i));
        await s.shl.recordAccess(link(2).linkId, access('refused', 14));
        await s.shl.recordAccess(link(3).linkId, access('opened', 15));
        await s.shl.recordAccess(link(3).linkId, access('wrong-passcode', 16));
        expect((await s.shl.takeTicket('c'.repeat(64), Date.parse('2030-06-01T00:00:00.000Z')))?.linkId).toBe(
          link(4).linkId,
        );
        await s.shl.create(link(5));
      },
    );
    expect(carried).toMatchObject({ linkRevocations: 1, linkLocks: 2, linkAccesses: 6 });
    const store = await openSqliteStore({ dataDir });
    try {
      const byId = new Map((await store.shl.list('pat', 10)).map((l) => [l.linkId, l]));
      expect([...byId.keys()].sort()).toEqual([1, 2, 3, 4].map((n) => link(n).linkId));
      expect(byId.get(link(1).linkId)?.revokedAt).toBe(at(10));
      expect(await store.shl.recordAccess(link(1).linkId, access('opened', 30))).toBeNull();
      expect(byId.get(link(2).linkId)).toMatchObject({ attemptsLeft: 0, lastAccessAt: at(13) });
      expect(await store.shl.recordAccess(link(2).linkId, access('opened', 31))).toBeNull();
      expect(byId.get(link(3).linkId)).toMatchObject({
        accessCount: 2,
        attemptsLeft: 2,
        lastAccessAt: at(16),
      });
      expect(await store.shl.accesses('pat', link(3).linkId, 10)).toEqual([
        access('wrong-passcode', 16),
        access('opened', 15),
        access('opened', 1),
      ]);
      // The opening refused just above (the link locked) is logged too, after the carried entries.
      expect((await store.shl.accesses('pat', link(2).linkId, 10)).map((a) => [a.at, a.outcome])).toEqual([
        [at(31), 'refused'],
        [at(14), 'refused'],
        [at(13), 'wrong-passcode'],
        [at(12), 'wrong-passcode'],
        [at(11), 'wrong-passcode'],
      ]);
      // The log goes on after the carried entries.
      expect(await store.shl.recordAccess(link(3).linkId, access('opened', 32))).toEqual({
        attemptsLeft: 2,
        accessCount: 3,
      });
      expect(await store.shl.takeTicket('c'.repeat(64), Date.parse('2030-06-01T00:00:00.000Z'))).toBeNull();
      expect(await store.shl.byToken(link(5).tokenHash)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('moves nothing backwards: a backup taken later than the replaced state keeps its own', async () => {
    // The replaced store knows less than the copy (its link was never accessed): nothing is changed.
    const { dataDir, carried } = await scenario(
      async (s) => {
        await s.shl.create(link(1));
        await s.shl.recordAccess(link(1).linkId, access('wrong-passcode', 1));
        await s.shl.recordAccess(link(1).linkId, access('opened', 2));
      },
      async () => undefined,
    );
    expect(carried).toMatchObject({ linkRevocations: 0, linkLocks: 0, linkAccesses: 0 });
    const store = await openSqliteStore({ dataDir });
    try {
      expect((await store.shl.list('pat', 10))[0]).toMatchObject({ attemptsLeft: 2, accessCount: 1 });
    } finally {
      await store.close();
    }
  });
});
