// A server as a real process over its own data directory, which a test backs up and restores as
// docs/operations.md tells an operator to: stop (SIGTERM), restore, start on the same port. In place by
// default; with `lostDisk` the data directory is lost first and the backup restored onto an empty one ("a
// lost disk, a new machine"): with no store to carry from, stream positions restart from the backup's, so
// versions stored after the restore take seqs that devices were served before it for other versions.
// With `inProcess` the server runs in the test's process instead (startServer on the same data directory
// and port, stopped as SIGTERM stops the process: server.close, then the store): for tests about the
// restore, not the process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import { backupSqlite, restoreSqlite, type RestoreResult } from '@hale/sync-server';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { freePort, spawnServer, type ServerProcess } from './process';

/** Registers the clean-up (sessions closed, server stopped, directory removed) after each test. */
export const useRestorableServer = (
  prefix: string,
  options: { lostDisk?: boolean; inProcess?: boolean } = {},
) => {
  const sessions: DeviceSession[] = [];
  let server: Pick<ServerProcess, 'url' | 'kill'> | null = null;
  /** The server over `dataDir` on `port`: a child process, or (`inProcess`) one in this process. */
  const run = async (dataDir: string, port: number): Promise<Pick<ServerProcess, 'url' | 'kill'>> => {
    if (options.inProcess !== true) return spawnServer(dataDir, port);
    const running = await startServer({ dataDir, port, realClock: true });
    return {
      url: running.url,
      kill: async () => {
        await running.stop({ keepData: true });
        return 0;
      },
    };
  };
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
    const file = path.join(dataDir, 'hale.sqlite');
    const backupFile = path.join(dir, 'backup.sqlite');
    const port = await freePort();
    server = await run(dataDir, port);
    const t = { url: server.url } as TestServer;
    return {
      t,
      backup: () => backupSqlite(file, backupFile),
      /** Stop, restore the backup (onto an empty directory with `lostDisk`), start again; devices reconnect. */
      restore: async (): Promise<RestoreResult> => {
        await server?.kill('SIGTERM');
        server = null;
        if (options.lostDisk === true) await rm(dataDir, { recursive: true, force: true });
        const restored = await restoreSqlite(backupFile, dataDir, { onWarning: () => {} });
        server = await run(dataDir, port);
        return restored;
      },
      /**
       * The seq the running server stores the current version of each record of `stream` under, by id,
       * and the stream's head (read-only, beside the server: the store runs in WAL mode).
       */
      positions: (stream: string): { seqs: Map<string, number>; head: number } => {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          const rows = db.prepare('SELECT id, seq FROM docs WHERE stream = ?').all(stream) as Array<{
            id: string;
            seq: number;
          }>;
          const head = db.prepare('SELECT head FROM stream_heads WHERE stream = ?').get(stream) as
            { head: number } | undefined;
          return { seqs: new Map(rows.map((r) => [r.id, r.seq])), head: head?.head ?? 0 };
        } finally {
          db.close();
        }
      },
    };
  };
  return { sessions, start };
};
