// The commands of the start entry that do not serve (main.ts): --help, backup, restore, invite, migrate, and a
// command line that does not parse. They write only through `io` and answer their exit status, so main.ts
// and the tests run the same code. A refusal the operator can act on is one line on `err`, status 1
// (start-failure.ts); a ConfigError is its message, status 2; anything else (a bug) is thrown.
import path from 'node:path';
import { parseCommandLine, usage, ConfigError, type ServerConfig } from './config';
import { backupSqlite, restoreSqlite, SQLITE_FILE_NAME } from './store/index';
import { runInviteCommand, type InviteCommandIo } from './invite-command';
import { startFailureLine } from './start-failure';
import { openCouchStore, redactUrl } from './store/couch/index';
import { migrateSqliteToCouch } from './store/couch/migrate';

export type CommandIo = InviteCommandIo;

/** The exit status of a command that ran, or the configuration to serve with. */
export type CommandOutcome = { readonly status: number } | { readonly serve: ServerConfig };

export const runCommand = async (
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CommandIo,
): Promise<CommandOutcome> => {
  let parsed;
  try {
    parsed = parseCommandLine(argv, env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.err(`${message}\n\n${usage()}\n`);
    return { status: 2 };
  }
  const { command, config } = parsed;
  if (command === 'help') {
    io.out(`${usage()}\n`);
    return { status: 0 };
  }
  if (command === 'serve') return { serve: config };
  try {
    if (parsed.command === 'backup') {
      // Read-only, from the file: opening the store would claim the data directory, which the running
      // server holds, and would create or migrate a store that is not there.
      await backupSqlite(path.join(config.dataDir, SQLITE_FILE_NAME), parsed.out);
      io.out(`backup written to ${parsed.out}\n`);
    } else if (parsed.command === 'invite') {
      // Beside a running server or on a stopped one's store; never creates a store (invite-store.ts).
      await runInviteCommand(parsed.invite, config.dataDir, io);
    } else if (parsed.command === 'migrate') {
      // The server must be stopped: the SQLite store is opened as the server opens it (its directory claimed).
      const target = await openCouchStore({ url: parsed.to.url, database: parsed.to.database });
      try {
        await target.init();
        io.out(`migrating ${config.dataDir} into ${redactUrl(parsed.to.url)}/${parsed.to.database}\n`);
        const counts = await migrateSqliteToCouch(config.dataDir, target, (line) => io.out(`${line}\n`));
        const off = counts.filter((c) => c.source !== c.target);
        if (off.length > 0) {
          io.err(
            `migration incomplete: ${off.map((c) => c.what).join(', ')} differ; the SQLite store is unchanged\n`,
          );
          return { status: 1 };
        }
        io.out('migration complete: start the nodes with --store couchdb\n');
      } finally {
        await target.close();
      }
    } else if (parsed.command === 'restore') {
      const result = await restoreSqlite(parsed.from, config.dataDir, { force: parsed.force });
      io.out(`restored ${parsed.from} into ${config.dataDir}\n`);
      // What the operator would otherwise redo by hand (revocations and the like kept from the old store).
      if (result.carried !== null) {
        const kept = Object.entries(result.carried).map(([what, n]) => `${what} ${n}`);
        io.out(`carried from the replaced store: ${kept.join(', ')}\n`);
      }
    }
    return { status: 0 };
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return { status: 2 };
    }
    const context = { command, dataDir: config.dataDir, host: config.host, port: config.port };
    const line = startFailureLine(error, context);
    if (line === null) throw error;
    io.err(`${line}\n`);
    return { status: 1 };
  }
};
