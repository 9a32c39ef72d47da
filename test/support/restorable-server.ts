// A server as a real process over its own data directory, which a test backs up and restores in place
// as docs/operations.md tells an operator to: stop (SIGTERM), restore, start on the same port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { backupSqlite, restoreSqlite, type RestoreResult } from '@hale/sync-server';
import type { TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client';
import { freePort, spawnServer, type ServerProcess } from './process';

/** Registers the clean-up (sessions closed, server stopped, directory removed) after each test. */
export const useRestorableServer = (prefix: string) => {
  const sessions: DeviceSession[] = [];
  let server: ServerProcess | null = null;
  let dir = '';
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await server?.kill('SIGTERM');
    server = null;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  const start = async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
    const dataDir = path.join(dir, 'data');
    const backupFile = path.join(dir, 'backup.sqlite');
    const port = await freePort();
    server = await spawnServer(dataDir, port);
    const t = { url: server.url } as TestServer;
    return {
      t,
      backup: () => backupSqlite(path.join(dataDir, 'hale.sqlite'), backupFile),
      /** Stop, restore the backup in place, start again; the devices stay open and reconnect. */
      restore: async (): Promise<RestoreResult> => {
        await server?.kill('SIGTERM');
        server = null;
        const restored = await restoreSqlite(backupFile, dataDir, { onWarning: () => {} });
        server = await spawnServer(dataDir, port);
        return restored;
      },
    };
  };
  return { sessions, start };
};
