// `invite` (or a server start) run while a `restore` replaces the store. The restore claims the data
// directory like a server does; `invite` used to take any holder for a running server and write beside it,
// into the store the restore was about to move aside: a revocation made after the restore had read what to
// carry, or a code created then, was gone from the restored store while the command had reported success.
// Now the command (and a server start) is refused with one line naming the restore. The restore runs in
// this process (its carry step is where the command is let in, as the slowest step of a real restore); the
// command is a real second process, as an operator runs it.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { childProcesses, freePort, serverCommand, type Running } from './child-process.test-util';
import { backupSqlite, restoreSqlite } from './store/backup';
import { inviteCodeHash, newInviteCode } from './store/invites';
import type * as RestoreCarryModule from './store/restore-carry';
import { openSqliteStore, SQLITE_FILE_NAME } from './store/sqlite-store';
import type { Invite } from './store/types';

/** What runs inside the restore, right after it has read what to carry from the store it replaces. */
const duringCarry = vi.hoisted(() => ({ run: null as null | (() => Promise<void>) }));

vi.mock('./store/restore-carry', async (importOriginal) => {
  const actual = await importOriginal<typeof RestoreCarryModule>();
  return {
    ...actual,
    carryIntoRestored: async (...args: Parameters<typeof actual.carryIntoRestored>) => {
      const report = await actual.carryIntoRestored(...args);
      await duringCarry.run?.();
      return report;
    },
  };
});

const children = childProcesses();

const run = async (args: string[], env: Record<string, string> = {}) => {
  const r: Running = children.start(serverCommand(...args), env);
  const exit = await r.exited;
  await r.drained;
  return { ...exit, ...r.output };
};

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A stopped store holding one active invite for `code`, and a backup of it taken now. */
const storeAndBackup = async (code: string): Promise<{ dataDir: string; backup: string }> => {
  const dataDir = await children.tempDir('restore-target');
  const backup = join(await children.tempDir('restore-backup'), 'b.sqlite');
  const store = await openSqliteStore({ dataDir });
  const invite: Invite = {
    codeHash: inviteCodeHash(code),
    uses: 1,
    usesLeft: 1,
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    createdAt: new Date(T0).toISOString(),
  };
  try {
    await store.invites.put(invite);
    await backupSqlite(store, backup);
  } finally {
    await store.close();
  }
  return { dataDir, backup };
};

/** The invites of the store in `dataDir`, read from the file: code hash → revoked or not. */
const invitesIn = (dataDir: string): Map<string, boolean> => {
  const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
  try {
    const rows = db.prepare('SELECT code_hash, revoked_at FROM invites').all() as Array<{
      code_hash: string;
      revoked_at: string | null;
    }>;
    return new Map(rows.map((r) => [r.code_hash, r.revoked_at !== null]));
  } finally {
    db.close();
  }
};

/** Exit 1, nothing on stdout, one line on stderr naming the restore and its pid: never a silent success. */
const expectRefusedForRestore = (
  r: { code: number | null; stdout: string; stderr: string },
  dataDir: string,
): void => {
  expect(r.stderr).toBe(
    `a restore is replacing the store in ${dataDir} (pid ${process.pid}); run this again once it has finished\n`,
  );
  expect(r).toMatchObject({ code: 1, stdout: '' });
};

describe('a CLI command while a restore replaces the store', () => {
  // Four processes of the server's CLI (about 1–3 s apiece on a loaded machine).
  it('invite --revoke and invite are refused, naming the restore; run again after it, they land', async () => {
    const code = newInviteCode();
    const { dataDir, backup } = await storeAndBackup(code);
    let revoke: Awaited<ReturnType<typeof run>> | null = null;
    let create: Awaited<ReturnType<typeof run>> | null = null;
    duringCarry.run = async () => {
      revoke = await run(['invite', '--revoke', code, '--data-dir', dataDir]);
      create = await run(['invite', '--data-dir', dataDir]);
    };
    try {
      await restoreSqlite(backup, dataDir, { onWarning: () => undefined });
    } finally {
      duringCarry.run = null;
    }
    expect(revoke).not.toBeNull();
    expect(create).not.toBeNull();
    expectRefusedForRestore(revoke!, dataDir);
    expectRefusedForRestore(create!, dataDir);
    // Nothing was written beside the restore: the restored store is the backup's.
    expect(invitesIn(dataDir)).toEqual(new Map([[inviteCodeHash(code), false]]));

    // Once the restore is done, the same command lands in the restored store.
    const again = await run(['invite', '--revoke', code, '--data-dir', dataDir]);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(invitesIn(dataDir)).toEqual(new Map([[inviteCodeHash(code), true]]));
  });

  it('a server start is refused naming the restore, not "another Hale server"', async () => {
    const { dataDir, backup } = await storeAndBackup(newInviteCode());
    let served: Awaited<ReturnType<typeof run>> | null = null;
    duringCarry.run = async () => {
      served = await run([], { HALE_DATA_DIR: dataDir, PORT: String(await freePort()) });
    };
    try {
      await restoreSqlite(backup, dataDir, { onWarning: () => undefined });
    } finally {
      duringCarry.run = null;
    }
    expect(served).not.toBeNull();
    expectRefusedForRestore(served!, dataDir);
  });
});
