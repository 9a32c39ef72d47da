// Start entry: `npm start` from the repository root, `node --import tsx src/main.ts`, or the package's bin
// (bin/hale-sync-server.js, which loads this file in its own process). buildApp() knows nothing about
// listening or signals; this file owns the process: flags, listen, graceful shutdown, backup, restore and
// invite codes. A start that cannot go on (bad flags: status 2; a refusal the operator can act on, such as a
// data directory in use, a store of a newer schema or a port in use: status 1) says so in one line on
// stderr (start-failure.ts); only a bug prints its stack trace. A start counts as the server's last (what
// `invite` reports) only once it listens. The commands that do not serve run in cli.ts.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError, type ServerConfig } from './config';
import { buildApp } from './app';
import { runCommand } from './cli';
import { isStoreError, openSqliteStore, SQLITE_FILE_NAME, type SyncStore } from './store/index';
import { openCouchStore, redactUrl } from './store/couch/index';
import { SERVER_KEY_META } from './app';
import { randomBytes } from 'node:crypto';
import { loosePermissions } from './store/file-modes';
import { createLogger } from './logger';
import { createLogDestination } from './log-destination';
import { recordRegistrationMode } from './invite-command';
import { startFailureLine, type StartContext } from './start-failure';

/**
 * How long the exit waits for log lines still queued for stdout. Bounded: a log reader that stopped
 * reading must not keep a stopped server (store closed, data directory released) from exiting.
 */
const LOG_SETTLE_MS = 2_000;

/** Waits (bounded) for queued log lines; set once the server's log destination exists. */
let settleLogs = (_ms: number): Promise<void> => Promise.resolve();
const exit = (code: number): void => {
  void settleLogs(LOG_SETTLE_MS).then(() => process.exit(code));
};

/**
 * The certificate chain and key of `--tls-cert`/`--tls-key`, read and checked to belong together: a file
 * that cannot be read, is not PEM, or a key not of the certificate is a ConfigError naming the file (status 2)
 * before anything is opened.
 */
const readTls = (tls: NonNullable<ServerConfig['tls']>): { cert: Buffer; key: Buffer } => {
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ConfigError(`${flag}: cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  };
  const cert = read(tls.certFile, '--tls-cert');
  const key = read(tls.keyFile, '--tls-key');
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `--tls-cert/--tls-key: ${tls.certFile} and ${tls.keyFile} are not a PEM certificate chain and its private key (${reason})`,
    );
  }
  return { cert, key };
};

/** What the failure of a start names (the data directory, the address); set once the flags are read. */
let startContext: StartContext | null = null;

const main = async (): Promise<number> => {
  const outcome = await runCommand(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    now: Date.now,
  });
  if ('status' in outcome) return outcome.status;
  const config = outcome.serve;
  startContext = { command: 'serve', dataDir: config.dataDir, host: config.host, port: config.port };

  // Not pino's default destination, whose synchronous flush at exit blocks for as long as the log reader
  // does not read (see log-destination.ts).
  const destination = createLogDestination(1, {
    onDropped: (dropped) =>
      logger.warn(
        { dropped },
        'log lines were dropped: the log reader did not keep up, or the log disk was full',
      ),
  });
  const logger = createLogger(config.logLevel, destination);
  settleLogs = (ms) => destination.settle(ms);
  // The certificate is checked before any store is opened: a bad one is said at once.
  const tls = config.tls === undefined ? undefined : readTls(config.tls);
  let store: SyncStore;
  if (config.store.kind === 'couchdb') {
    // A stateless node: no data directory, no lock; every node of the cluster shares the store.
    const couch = await openCouchStore({ url: config.store.url, database: config.store.database });
    try {
      await couch.init();
      // Created once, whichever node starts first: racing nodes must not each pick their own key.
      await couch.createMeta(SERVER_KEY_META, Buffer.from(randomBytes(32)).toString('base64url'));
    } catch (error) {
      await couch.close();
      if (isStoreError(error, 'UNAVAILABLE')) {
        process.stderr.write(`cannot reach CouchDB at ${redactUrl(config.store.url)}: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
    store = couch;
  } else {
    // What the server creates is private (0700/0600); what the operator made is theirs to fix, so warn.
    for (const loose of loosePermissions([config.dataDir, path.join(config.dataDir, SQLITE_FILE_NAME)])) {
      logger.warn(
        loose,
        'readable by other users, yet it holds the server signing key and every wrapped root: chmod 700 the data directory and 600 its files',
      );
    }
    store = await openSqliteStore({ dataDir: config.dataDir });
  }
  // One server per process here, so the process-wide default metrics (memory, event loop, GC) are on.
  const server = await buildApp({
    config,
    store,
    logger,
    defaultMetrics: true,
    ...(tls === undefined ? {} : { https: tls }),
  });
  // A renewed certificate (certbot, acme.sh) is taken on SIGHUP without dropping connections; one that
  // does not load is logged and the old one kept.
  const raw = server.app.server;
  if (config.tls !== undefined && raw instanceof HttpsServer) {
    const files = config.tls;
    process.on('SIGHUP', () => {
      try {
        raw.setSecureContext(readTls(files));
        logger.info({ cert: files.certFile }, 'TLS certificate reloaded');
      } catch (error) {
        logger.error({ err: error }, 'TLS certificate not reloaded; the previous one stays in use');
      }
    });
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, draining');
    const force = setTimeout(() => {
      logger.error('drain timed out, exiting');
      exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    server
      .close()
      .then(() => store.close())
      .then(() => {
        logger.info('store closed cleanly');
        exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  let address: string;
  try {
    address = await server.app.listen({ host: config.host, port: config.port });
  } catch (error) {
    // Port in use, address not ours, …: nothing was served. The store is closed (and the directory given
    // back) the orderly way before the one-line refusal, and the start is not recorded (below).
    stopping = true;
    await server.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
  // Only a start that listens counts as the last one `invite` reports. With an IP address to listen on,
  // listen() settles and this (synchronous SQLite) write runs before the event loop takes a connection; a
  // host name makes Fastify look up its other addresses first, and an `invite` run in that moment reports
  // the previous start.
  await recordRegistrationMode(store, config.registration, new Date().toISOString());
  logger.info(
    {
      address: tls === undefined ? address : address.replace(/^http:/, 'https:'),
      tls: tls !== undefined,
      ...(config.store.kind === 'couchdb'
        ? { store: 'couchdb', couch: redactUrl(config.store.url), database: config.store.database }
        : { dataDir: config.dataDir }),
      registration: config.registration,
    },
    'hale sync server listening',
  );
  return -1;
};

main().then(
  (code) => {
    if (code >= 0) exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      exit(2);
      return;
    }
    // Expected refusals (data directory in use, bad backup file, a store of a newer schema, a port in use,
    // a directory that cannot be created, ...) are one line a self-hoster can act on (start-failure.ts);
    // only what is left, a bug, keeps the stack trace.
    const line = startContext === null ? null : startFailureLine(error, startContext);
    if (line !== null) {
      process.stderr.write(`${line}\n`);
      exit(1);
      return;
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exit(1);
  },
);
