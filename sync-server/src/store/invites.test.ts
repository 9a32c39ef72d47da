// Invite codes as the store keeps them: the code format, how the
// invite command opens the store (invite-store.ts), and that a restore keeps revoked invites revoked.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { crockfordBase32Encode as crockfordBase32 } from '@hale/crypto';
import { INVITE_CODE_PATTERN, normalizeInviteCode } from '@hale/protocol';
import { backupSqlite, restoreSqlite } from './backup';
import { isoAt, makeAccount, makeDevice } from './conformance';
import { openInviteStore } from './invite-store';
import { formatInviteCode, inviteCodeHash, inviteId, newInviteCode } from './invites';
import { openSqliteStore, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION } from './sqlite-store';
import { isStoreError, type Invite, type StoreErrorCode } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-invites-');
const rejectsWith = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<string> => {
  let error: unknown = null;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(isStoreError(error, code), `expected StoreError ${code}, got ${String(error)}`).toBe(true);
  return error instanceof Error ? error.message : '';
};

const invite = (codeHash: string, extra: Partial<Invite> = {}): Invite => ({
  codeHash,
  uses: 1,
  usesLeft: 1,
  expiresAt: isoAt(100),
  createdAt: isoAt(0),
  ...extra,
});

const versionOf = (dataDir: string): number => {
  const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
};

describe('invite codes', () => {
  it('are 160 random bits as 32 Crockford base32 symbols, which the wire pattern and normalizer take', () => {
    const codes = new Set(Array.from({ length: 200 }, newInviteCode));
    expect(codes.size).toBe(200);
    for (const code of codes) {
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{32}$/);
      expect(new RegExp(INVITE_CODE_PATTERN).test(code)).toBe(true);
      const shown = formatInviteCode(code);
      expect(shown).toMatch(/^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
      // As a person types it back: lower case, spaces instead of hyphens.
      expect(normalizeInviteCode(` ${shown.toLowerCase().replaceAll('-', ' ')} `)).toBe(code);
    }
  });

  it('encode bits as RFC 4648 base32 does, in the Crockford alphabet', () => {
    // RFC 4648 §10: BASE32("foobar") = "MZXW6YTBOI"; the same 5-bit groups, read through each alphabet.
    const rfc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const expected = [...'MZXW6YTBOI'].map((c) => crockford[rfc.indexOf(c)]).join('');
    expect(crockfordBase32(new TextEncoder().encode('foobar'))).toBe(expected);
    expect(crockfordBase32(new Uint8Array(5).fill(0xff))).toBe('ZZZZZZZZ');
    expect(crockfordBase32(new Uint8Array(20))).toBe('0'.repeat(32));
    // The store's hash is of the exact wire text; the listing id is its first 12 hex digits.
    expect(inviteCodeHash('CSQPYRK1E8')).toMatch(/^[0-9a-f]{64}$/);
    expect(inviteCodeHash('CSQPYRK1E8')).not.toBe(inviteCodeHash('CSQPYRK1E9'));
    expect(inviteId(inviteCodeHash('CSQPYRK1E8'))).toBe(inviteCodeHash('CSQPYRK1E8').slice(0, 12));
  });

  it('the normalizer refuses what is not a code after folding', () => {
    for (const bad of ['', 'short', 'ABCD-EFGH-JKMN-PQRU-TVWX', '!'.repeat(32), 'A'.repeat(65)]) {
      expect(normalizeInviteCode(bad), bad).toBeNull();
    }
    // Crockford's look-alikes are read as the digits they stand for.
    expect(normalizeInviteCode('oooo-iiii-llll-0000')).toBe('0000111111110000');
  });
});

describe('openInviteStore (the invite command)', () => {
  it('creates no store: a data directory without one is NOT_FOUND and stays empty', async () => {
    const dataDir = newDir();
    expect(await rejectsWith(openInviteStore(dataDir), 'NOT_FOUND')).toMatch(/no Hale store at .*--data-dir/);
    expect(existsSync(join(dataDir, SQLITE_FILE_NAME))).toBe(false);
  });

  it('with no server on the directory: claims it, as a server start does', async () => {
    const dataDir = newDir();
    await (await openSqliteStore({ dataDir })).close();
    const { store, besideRunningServer } = await openInviteStore(dataDir);
    try {
      expect(besideRunningServer).toBe(false);
      expect(versionOf(dataDir)).toBe(SQLITE_SCHEMA_VERSION);
      // Claimed: a server starting now is refused until the command is done.
      await rejectsWith(openSqliteStore({ dataDir }), 'DATA_DIR_IN_USE');
    } finally {
      await store.close();
    }
  });

  it('beside a running server: writes what the server reads at once', async () => {
    const dataDir = newDir();
    const server = await openSqliteStore({ dataDir });
    try {
      const { store, besideRunningServer } = await openInviteStore(dataDir);
      const codeHash = inviteCodeHash(newInviteCode());
      try {
        expect(besideRunningServer).toBe(true);
        await store.invites.put(invite(codeHash));
      } finally {
        await store.close();
      }
      await server.accounts.register(makeAccount('acc-1'), makeDevice('dev-1', 'acc-1'), {
        invite: { codeHash, now: isoAt(1) },
      });
      expect(await server.invites.list()).toMatchObject([{ codeHash, usesLeft: 0 }]);
    } finally {
      await server.close();
    }
  });
});

describe('restore', () => {
  it('keeps an invite revoked after the backup revoked; uses taken after it come back with the accounts gone', async () => {
    const dataDir = newDir();
    const backupFile = join(newDir(), 'backup.sqlite');
    const leaked = inviteCodeHash(newInviteCode());
    const used = inviteCodeHash(newInviteCode());
    const store = await openSqliteStore({ dataDir });
    try {
      await store.invites.put(invite(leaked));
      await store.invites.put(invite(used, { createdAt: isoAt(1) }));
      await backupSqlite(store, backupFile);
      await store.invites.revoke(leaked, isoAt(5));
      await store.accounts.register(makeAccount('acc-1'), makeDevice('dev-1', 'acc-1'), {
        invite: { codeHash: used, now: isoAt(6) },
      });
    } finally {
      await store.close();
    }
    const result = await restoreSqlite(backupFile, dataDir);
    expect(result.carried?.inviteRevocations).toBe(1);
    const restored = await openSqliteStore({ dataDir });
    try {
      const byHash = new Map((await restored.invites.list()).map((i) => [i.codeHash, i]));
      expect(byHash.get(leaked)?.revokedAt).toBe(isoAt(5));
      expect(byHash.get(used)).toMatchObject({ usesLeft: 1 });
      expect(byHash.get(used)?.revokedAt).toBeUndefined();
      expect(await restored.accounts.get('acc-1')).toBeNull();
    } finally {
      await restored.close();
    }
  });
});
