import { parseArgs } from 'node:util';
import path from 'node:path';
import { CHALLENGE_TTL_MS, type AccountRole, type RegistrationMode } from '@hale/protocol';

import {
  ConfigError,
  type Source,
  toPort,
  toPositiveInt,
  rate,
  toByteSize,
  toHost,
  toLogLevel,
  toTrustProxy,
  toRegistration,
  toAllowedOrigins,
  toAppDir,
  toStoreKind,
  toCouchUrl,
  toCouchDb,
  toCouch,
  toPath,
  toOptionalPath,
} from './config-values';
export { ConfigError, BUILT_APP_DIR } from './config-values';
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  logLevel: string;
  /** Cap on concurrent WebSocket connections for this node. */
  maxConnections: number;
  /**
   * Cap on concurrent WebSocket connections from one client address, so one address cannot take every
   * slot of `maxConnections` (nor hold the memory of that many sockets). Behind a proxy, set `trustProxy`:
   * otherwise every device shares the proxy's address, and this cap.
   */
  maxConnectionsPerAddress: number;
  /** Requests or frames per device per second (token bucket refill) and burst. */
  rateLimitPerDevice: { perSecond: number; burst: number };
  /** HTTP requests per address per second and burst (unauthenticated routes included). */
  rateLimitPerAddress: { perSecond: number; burst: number };
  /**
   * WebSocket upgrades (requests for /sync) per address per second and burst, a bucket of their own;
   * unset, derived from `rateLimitPerAddress` (see `upgradeRateLimit`).
   */
  rateLimitUpgradesPerAddress?: { perSecond: number; burst: number };
  /** Milliseconds to wait for connections to drain on shutdown. */
  shutdownGraceMs: number;
  /**
   * Milliseconds a WebSocket may take from opening to `ready`; later it is closed (UNAUTHENTICATED), so
   * sockets that never authenticate cannot hold the connection slots of `maxConnections`.
   */
  handshakeTimeoutMs: number;
  /**
   * Milliseconds a socket's unread replies may stay above the send cap without the client taking any of
   * them; then the socket is dropped, so a client that stopped reading does not hold that memory until
   * its session ends. The live hub drops a socket whose buffered live changes the client takes none of
   * for as long (hub.ts).
   */
  sendStallTimeoutMs: number;
  /**
   * Milliseconds an HTTP request may take to arrive whole, headers and body; one still arriving then is
   * answered UNAVAILABLE (503) and its connection closed, so a client trickling a body cannot hold the
   * connection and what it sent for as long as it likes. Checked every 30 s at most (every this many ms
   * when shorter). Not WebSocket frames, which have their own limits (sync-ws.ts).
   */
  requestTimeoutMs: number;
  /**
   * Trust X-Forwarded-For from these proxies: false (off, the default), true (any hop: only behind a proxy
   * that overwrites the header), or a comma-separated list of IP addresses and CIDR ranges.
   */
  trustProxy: boolean | string;
  /**
   * Bytes of blobs (document attachments) one account may store, counted from each blob's manifest when
   * the upload starts (see `blobQuotaBytes`); an upload that would pass it is refused (QUOTA_EXCEEDED)
   * before anything is stored.
   */
  blobQuotaBytes: number;
  /**
   * Milliseconds of the windows in which a grantee device's repeated pulls, key fetches and blob transfers
   * of one stream go into the patient's audit log as one tally (core/access-windows.ts); 0 logs each one.
   */
  accessAuditWindowMs: number;
  /**
   * Audit entries one account (all its devices together) may append to one
   * patient's audit stream per rolling day (24 h by the server's receive time); more are refused
   * RATE_LIMITED, row by row, until older ones leave the window. The server's own access events are not
   * counted. See DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY.
   */
  auditEntriesPerAccountPerDay: number;
  /**
   * Who may create an account: `open` anyone who reaches the server, `invite` only with a valid invite
   * code (`hale-sync-server invite`), `closed` no one. Existing accounts, their sign-ins and adding devices
   * to them are the same in every mode.
   */
  registration: RegistrationMode;
  /**
   * Web origins (`scheme://host[:port]`, exactly as a browser sends them) whose pages may use the API from
   * a browser: CORS on the HTTP routes and the `Origin` of WebSocket upgrades (plugins/cors.ts). Empty, the
   * default: same-origin only, as before the setting existed.
   */
  allowedOrigins: readonly string[];
  /**
   * The built web app (packages/app/dist) to serve at `/` (plugins/app-static.ts); null serves none. The
   * command line's default, `auto`, is the repository's build when it exists.
   */
  appDir: string | null;
  /**
   * Serve HTTPS (and WSS) with this certificate chain and private key (PEM files, read at start and again on
   * SIGHUP). Unset, the default: plain HTTP, for a TLS-terminating reverse proxy in front (docs/operations.md).
   */
  tls?: { readonly certFile: string; readonly keyFile: string };
  /**
   * Where the server keeps its data: `sqlite`, one file in `dataDir` (one server per directory), or
   * `couchdb`, a CouchDB 3 cluster that any number of server nodes share (store/couch/store.ts).
   */
  store: StoreConfig;
}

/** The store a server (or `migrate`) opens. `url` may carry credentials: never log it unredacted. */
export type StoreConfig =
  { readonly kind: 'sqlite' } | { readonly kind: 'couchdb'; readonly url: string; readonly database: string };

/**
 * Default of `auditEntriesPerAccountPerDay`. Devices coalesce record changes into one entry per burst: the
 * first change arms a 200 ms timer, and one entry then lists up to 500 changes (audit-log.ts). So 10,000
 * entries a day is a separate burst of writes to one patient every 8.6 s around the clock, far past what a
 * person or a clinic does with one chart; an import (a bulk write) costs one entry per 500 records. A device
 * that does reach it loses nothing: its entries wait in its outbox and go once the window frees. What one
 * account, however many devices it registers, can pile onto a patient's log (which every view of it reads
 * and verifies whole) grows by at most this per day. (A device writing without pause all day could append
 * at most 5 a second, 432,000.)
 */
export const DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY = 10_000;

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8787,
  dataDir: './data',
  logLevel: 'info',
  maxConnections: 10_000,
  // Well above what one household or clinic behind one NAT address opens (one socket per device).
  maxConnectionsPerAddress: 200,
  rateLimitPerDevice: { perSecond: 200, burst: 400 },
  rateLimitPerAddress: { perSecond: 100, burst: 200 },
  shutdownGraceMs: 10_000,
  // A device that answers its challenge in time is ready well within it.
  handshakeTimeoutMs: CHALLENGE_TTL_MS,
  sendStallTimeoutMs: 60_000,
  // Node's own default, which Fastify turns off: a 2 MiB body at 64 kbit/s arrives in about 260 s.
  requestTimeoutMs: 300_000,
  trustProxy: false,
  // Years of scanned letters, lab reports and photos for one person; a clinic uploading for many patients
  // may need more (`--blob-quota`).
  blobQuotaBytes: 4 * 1024 ** 3,
  // As live delivery's windows (hub.ts).
  accessAuditWindowMs: 60_000,
  auditEntriesPerAccountPerDay: DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY,
  // What every server did before registration control existed, so an upgrade changes nothing by itself.
  registration: 'open',
  // What every server did before the setting existed: no CORS, so a page of another origin reads nothing.
  allowedOrigins: [],
  // Programs that build the app themselves (tests) name it; the command line finds the repository's build.
  appDir: null,
  store: { kind: 'sqlite' },
};

/**
 * The upgrade bucket: the configured one, else a tenth of the per-address rate and half its burst
 * (10/s, burst 100 by default). Derived rather than fixed so that `--rate-per-address` (and tests that
 * lift the per-address limit) scale it too; its own bucket so that an address that spent its HTTP
 * budget can still open a socket, and gets its pre-auth refusals in-band.
 */
export const upgradeRateLimit = (config: ServerConfig): { perSecond: number; burst: number } =>
  config.rateLimitUpgradesPerAddress ?? {
    perSecond: Math.max(1, config.rateLimitPerAddress.perSecond / 10),
    burst: Math.max(1, Math.floor(config.rateLimitPerAddress.burst / 2)),
  };

const OPTIONS = {
  host: { type: 'string', env: 'HOST', help: 'address to listen on', def: DEFAULT_CONFIG.host },
  port: { type: 'string', env: 'PORT', help: 'port to listen on', def: String(DEFAULT_CONFIG.port) },
  'data-dir': {
    type: 'string',
    env: 'HALE_DATA_DIR',
    help: 'directory holding the SQLite store',
    def: DEFAULT_CONFIG.dataDir,
  },
  'log-level': {
    type: 'string',
    env: 'HALE_LOG_LEVEL',
    help: 'log level: fatal, error, warn, info, debug, trace or silent',
    def: DEFAULT_CONFIG.logLevel,
  },
  'max-connections': {
    type: 'string',
    env: 'HALE_MAX_CONNECTIONS',
    help: 'cap on open WebSocket connections',
    def: String(DEFAULT_CONFIG.maxConnections),
  },
  'max-connections-per-address': {
    type: 'string',
    env: 'HALE_MAX_CONNECTIONS_PER_ADDRESS',
    help: 'cap on open WebSocket connections from one client address',
    def: String(DEFAULT_CONFIG.maxConnectionsPerAddress),
  },
  'rate-per-device': {
    type: 'string',
    env: 'HALE_RATE_PER_DEVICE',
    help: 'requests+frames per second per device (burst 2x)',
    def: String(DEFAULT_CONFIG.rateLimitPerDevice.perSecond),
  },
  'rate-per-address': {
    type: 'string',
    env: 'HALE_RATE_PER_ADDRESS',
    help: 'requests per second per client address (burst 2x); WebSocket upgrades: a tenth of it, burst equal to it',
    def: String(DEFAULT_CONFIG.rateLimitPerAddress.perSecond),
  },
  'trust-proxy': {
    type: 'string',
    env: 'HALE_TRUST_PROXY',
    help: 'off, true (any hop) or proxy addresses/CIDR ranges (comma-separated) whose X-Forwarded-For is trusted',
    def: 'off',
  },
  'blob-quota': {
    type: 'string',
    env: 'HALE_BLOB_QUOTA',
    help: 'blob (attachment) bytes one account may store: bytes, or a number with KiB, MiB, GiB or TiB',
    def: '4GiB',
  },
  'audit-entries-per-day': {
    type: 'string',
    env: 'HALE_AUDIT_ENTRIES_PER_DAY',
    help: "audit entries one account (all its devices) may append to one patient's audit log per rolling day",
    def: String(DEFAULT_CONFIG.auditEntriesPerAccountPerDay),
  },
  registration: {
    type: 'string',
    env: 'HALE_REGISTRATION',
    help: 'who may create accounts: open (anyone), invite (with a code from `invite`) or closed (no one)',
    def: DEFAULT_CONFIG.registration,
  },
  'allowed-origins': {
    type: 'string',
    env: 'HALE_ALLOWED_ORIGINS',
    help: 'web app origins (comma-separated, e.g. https://app.example.org) allowed to use the API from a browser, or none',
    def: 'none',
  },
  'app-dir': {
    type: 'string',
    env: 'HALE_APP_DIR',
    help: 'built web app to serve at / (packages/app/dist by default, when built), or none',
    def: 'auto',
  },
  'tls-cert': {
    type: 'string',
    env: 'HALE_TLS_CERT',
    help: 'PEM certificate chain file: serve HTTPS and WSS (with --tls-key; reloaded on SIGHUP), or none',
    def: 'none',
  },
  'tls-key': {
    type: 'string',
    env: 'HALE_TLS_KEY',
    help: 'PEM private key file of --tls-cert, or none',
    def: 'none',
  },
  store: {
    type: 'string',
    env: 'HALE_STORE',
    help: 'sqlite (one file in the data directory) or couchdb (a CouchDB cluster several nodes share; needs --couch-url)',
    def: 'sqlite',
  },
  'couch-url': {
    type: 'string',
    env: 'HALE_COUCH_URL',
    help: "CouchDB's URL for --store couchdb, credentials included (http://user:pass@host:5984)",
    def: 'none',
  },
  'couch-db': {
    type: 'string',
    env: 'HALE_COUCH_DB',
    help: 'name of the CouchDB database for --store couchdb (the log database is <name>-log)',
    def: 'hale',
  },
} as const;

export const usage = (): string => {
  const entries = Object.entries(OPTIONS);
  const flagWidth = Math.max(...entries.map(([flag]) => flag.length));
  const envWidth = Math.max(...entries.map(([, o]) => o.env.length));
  const lines = entries.map(
    ([flag, o]) => `  --${flag.padEnd(flagWidth)} ${o.env.padEnd(envWidth)} ${o.help} (default ${o.def})`,
  );
  return [
    'Usage: hale-sync-server [serve] [options]',
    '       hale-sync-server backup --out FILE [--data-dir DIR]',
    '       hale-sync-server restore --from FILE [--data-dir DIR] [--force]',
    '       hale-sync-server invite [--expires 7d] [--uses 1] [--role patient|provider] [--note TEXT] [--data-dir DIR]',
    '       hale-sync-server invite --list | --revoke CODE-OR-ID [--data-dir DIR]',
    '       hale-sync-server migrate --from sqlite --to couchdb --couch-url URL [--couch-db NAME] [--data-dir DIR]',
    '',
    'Server options (flag, environment variable, meaning); backup, restore and invite read --data-dir only:',
    ...lines,
    `  --${'help'.padEnd(flagWidth)} ${''.padEnd(envWidth)} show this help`,
  ].join('\n');
};

/** What `hale-sync-server invite` is asked to do. */
export type InviteCommand =
  | {
      action: 'create';
      /** Milliseconds from now until the code stops working. */
      expiresInMs: number;
      uses: number;
      role?: AccountRole;
      note?: string;
    }
  | { action: 'list' }
  /** `target`: the code as given, or an invite id from the listing. */
  | { action: 'revoke'; target: string };

/**
 * What the command line asks for, keyed on `command`: each command carries what it needs, checked here,
 * so the caller has no gaps to fill. `invite?: never` on the others lets `parsed.invite` be read (as
 * undefined) without narrowing first.
 */
export type ParsedCommand = { config: ServerConfig } & (
  | { command: 'serve' | 'help'; invite?: never }
  | { command: 'backup'; out: string; invite?: never }
  | { command: 'restore'; from: string; force: boolean; invite?: never }
  | { command: 'invite'; invite: InviteCommand }
  | { command: 'migrate'; to: Extract<StoreConfig, { kind: 'couchdb' }>; invite?: never }
);

const HOUR_MS = 3_600_000;
const DURATION_UNITS: Readonly<Record<string, number>> = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };
/** The longest an invite may stay valid: a forgotten code should not open the server for years. */
export const MAX_INVITE_LIFETIME_MS = 366 * 24 * HOUR_MS;
/** The most registrations one invite may allow (a clinic's whole staff, not the world). */
export const MAX_INVITE_USES = 10_000;
/** The longest note an invite keeps. */
export const MAX_INVITE_NOTE_LENGTH = 200;

/** `12h`, `7d`, `2w`: hours, days or weeks, at most MAX_INVITE_LIFETIME_MS. */
const toInviteLifetime = (raw: string): number => {
  const match = /^([0-9]{1,4})([hdw])$/.exec(raw.trim().toLowerCase());
  const ms = match ? Number(match[1]) * (DURATION_UNITS[match[2] ?? ''] ?? NaN) : NaN;
  if (!(ms > 0 && ms <= MAX_INVITE_LIFETIME_MS)) {
    throw new ConfigError(
      `--expires: a number of hours, days or weeks (12h, 7d, 2w), at most 366d: ${JSON.stringify(raw)}`,
    );
  }
  return ms;
};

const INVITE_FLAGS = ['expires', 'uses', 'role', 'note', 'list', 'revoke'] as const;

const parseInvite = (values: { [K in (typeof INVITE_FLAGS)[number]]?: string | boolean }): InviteCommand => {
  const given = INVITE_FLAGS.filter((flag) => values[flag] !== undefined);
  const { list, revoke } = values;
  if (list === true || typeof revoke === 'string') {
    const other = given.find((flag) => flag !== (list === true ? 'list' : 'revoke'));
    if (other !== undefined) {
      throw new ConfigError(`invite: --${list === true ? 'list' : 'revoke'} takes no --${other}`);
    }
    if (typeof revoke === 'string') {
      if (revoke.trim() === '')
        throw new ConfigError('invite: --revoke needs the code or the id of an invite');
      return { action: 'revoke', target: revoke };
    }
    return { action: 'list' };
  }
  const create: Extract<InviteCommand, { action: 'create' }> = {
    action: 'create',
    expiresInMs: toInviteLifetime(typeof values.expires === 'string' ? values.expires : '7d'),
    uses: 1,
  };
  if (typeof values.uses === 'string') {
    const uses = toPositiveInt('--uses', values.uses);
    if (uses > MAX_INVITE_USES) throw new ConfigError(`--uses: at most ${MAX_INVITE_USES}: ${values.uses}`);
    create.uses = uses;
  }
  if (typeof values.role === 'string') {
    // Any case, as --registration: folded, `Provider` can only mean one of the two roles.
    const role = values.role.trim().toLowerCase();
    if (role !== 'patient' && role !== 'provider') {
      throw new ConfigError(`--role: must be patient or provider: ${JSON.stringify(values.role)}`);
    }
    create.role = role;
  }
  if (typeof values.note === 'string') {
    const note = values.note.trim();
    // One line of text: a listing prints it as is.
    if (note === '' || note.length > MAX_INVITE_NOTE_LENGTH || /\p{Cc}/u.test(note)) {
      throw new ConfigError(
        `--note: one line of 1-${MAX_INVITE_NOTE_LENGTH} characters: ${JSON.stringify(values.note)}`,
      );
    }
    create.note = note;
  }
  return create;
};

type Command = ParsedCommand['command'];

/**
 * The command each flag is for, when it is not `serve`'s (the server's settings in OPTIONS) nor every
 * command's (`--data-dir`). A flag given to another command is refused rather than ignored: with the
 * command forgotten, `--from FILE` would start the server on the store it was meant to replace.
 */
const COMMAND_OF_FLAG: Readonly<Record<string, Exclude<Command, 'serve' | 'help'>>> = {
  out: 'backup',
  from: 'restore',
  force: 'restore',
  to: 'migrate',
  ...Object.fromEntries(INVITE_FLAGS.map((flag) => [flag, 'invite'] as const)),
};

/** Flags that more than one command takes (besides `--data-dir`, which every command takes). */
const SHARED_FLAGS: Readonly<Record<string, readonly Command[]>> = {
  from: ['restore', 'migrate'],
  'couch-url': ['serve', 'migrate'],
  'couch-db': ['serve', 'migrate'],
};

const commandOf = (flag: string): Command | 'any' =>
  flag === 'data-dir' ? 'any' : (COMMAND_OF_FLAG[flag] ?? 'serve');

/**
 * What a word after the command most likely meant: a flag of this command without its dashes
 * (`invite list`), or the file of backup's `--out` / restore's `--from`.
 */
const strayHint = (command: Command, word: string, fileFlag: 'out' | 'from' | null): string => {
  const flag = word.toLowerCase();
  const owner = Object.hasOwn(OPTIONS, flag) || Object.hasOwn(COMMAND_OF_FLAG, flag) ? commandOf(flag) : null;
  if (owner === command || owner === 'any') return ` (did you mean --${flag}?)`;
  return fileFlag === null ? '' : ` (did you mean --${fileFlag} ${word}?)`;
};

/**
 * Flags win over environment variables, which win over defaults. Each command reads only the settings
 * it uses: backup, restore and invite the data directory, so a server setting they share an environment
 * with (a bad PORT) does not stop them, and `--help` none, so it prints whatever else is wrong.
 */
export const parseCommandLine = (argv: string[], env: NodeJS.ProcessEnv): ParsedCommand => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'rate-per-device': { type: 'string' },
      'rate-per-address': { type: 'string' },
      'trust-proxy': { type: 'string' },
      'blob-quota': { type: 'string' },
      'audit-entries-per-day': { type: 'string' },
      registration: { type: 'string' },
      'allowed-origins': { type: 'string' },
      'app-dir': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      store: { type: 'string' },
      'couch-url': { type: 'string' },
      'couch-db': { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
      expires: { type: 'string' },
      uses: { type: 'string' },
      role: { type: 'string' },
      note: { type: 'string' },
      list: { type: 'boolean' },
      revoke: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  /**
   * The flag's value, else the environment variable's, else the default, handed to `check` with where it
   * came from. A blank value is refused rather than read as unset: `HOST=` or `HALE_DATA_DIR=` is usually
   * a template or an .env line whose value went missing, and guessing is worse than stopping — an empty
   * HOST reached Fastify as "every interface", an empty data directory meant the working directory (a new,
   * empty store with a new signing key), an empty PORT a random port.
   */
  const pick = <T>(flag: keyof typeof OPTIONS, check: (from: Source, raw: string) => T): T => {
    const option = OPTIONS[flag];
    const fromFlag = values[flag];
    const fromEnv = env[option.env];
    const [from, raw] =
      fromFlag !== undefined
        ? [`--${flag}`, fromFlag]
        : fromEnv !== undefined
          ? [option.env, fromEnv]
          : [`--${flag}`, option.def];
    if (raw.trim() === '') {
      throw new ConfigError(
        `${from} is empty: give a value, or leave ${from === option.env ? 'the variable unset' : 'the flag out'} for the default (${option.def})`,
      );
    }
    return check(from, raw);
  };
  /** `--out` or `--from`: blank or blanks around it refused as the data directory's are. */
  const fileFlag = (flag: 'out' | 'from'): string | undefined => {
    const raw = values[flag];
    if (raw !== undefined && raw.trim() === '') throw new ConfigError(`--${flag} is empty: give a file`);
    return raw === undefined ? undefined : toPath(`--${flag}`, raw);
  };
  const command = values.help ? 'help' : (positionals[0] ?? 'serve');
  if (
    command !== 'serve' &&
    command !== 'backup' &&
    command !== 'restore' &&
    command !== 'invite' &&
    command !== 'migrate' &&
    command !== 'help'
  ) {
    throw new ConfigError(`unknown command: ${command}`);
  }
  if (command === 'help') {
    return { command, config: { ...DEFAULT_CONFIG, dataDir: path.resolve(DEFAULT_CONFIG.dataDir) } };
  }
  // `invite list` (dashes forgotten) must not create an invite code, as it did when only the command was read.
  const stray = positionals[1];
  if (stray !== undefined) {
    const file = command === 'backup' ? 'out' : command === 'restore' ? 'from' : null;
    const hint = strayHint(command, stray, file !== null && values[file] === undefined ? file : null);
    throw new ConfigError(`unexpected argument '${stray}'${hint}`);
  }
  // `hale-sync-server --uses 3` or `--from FILE` (the command forgotten) must not start a server instead.
  for (const [flag, value] of Object.entries(values)) {
    const owner = commandOf(flag);
    if (value !== undefined && SHARED_FLAGS[flag]?.includes(command) === true) continue;
    if (value !== undefined && owner !== 'any' && owner !== command) {
      throw new ConfigError(`--${flag} is only for the ${owner} command`);
    }
  }
  const dataDir = path.resolve(pick('data-dir', toPath));
  // The server's other settings stay at their defaults for the commands that do not read them.
  switch (command) {
    case 'backup': {
      const out = fileFlag('out');
      if (out === undefined) throw new ConfigError('backup: --out FILE is required');
      return { command, config: { ...DEFAULT_CONFIG, dataDir }, out };
    }
    case 'restore': {
      const from = fileFlag('from');
      if (from === undefined) throw new ConfigError('restore: --from FILE is required');
      return { command, config: { ...DEFAULT_CONFIG, dataDir }, from, force: values.force ?? false };
    }
    case 'invite':
      return { command, config: { ...DEFAULT_CONFIG, dataDir }, invite: parseInvite(values) };
    case 'migrate': {
      if (values.from?.trim().toLowerCase() !== 'sqlite' || values.to?.trim().toLowerCase() !== 'couchdb') {
        throw new ConfigError('migrate: only --from sqlite --to couchdb is supported');
      }
      const to = toCouch(pick('couch-url', toCouchUrl), pick('couch-db', toCouchDb));
      return { command, config: { ...DEFAULT_CONFIG, dataDir }, to };
    }
  }
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    host: pick('host', toHost),
    port: pick('port', toPort),
    dataDir,
    logLevel: pick('log-level', toLogLevel),
    maxConnections: pick('max-connections', toPositiveInt),
    maxConnectionsPerAddress: pick('max-connections-per-address', toPositiveInt),
    rateLimitPerDevice: pick('rate-per-device', rate),
    rateLimitPerAddress: pick('rate-per-address', rate),
    trustProxy: pick('trust-proxy', toTrustProxy),
    blobQuotaBytes: pick('blob-quota', toByteSize),
    auditEntriesPerAccountPerDay: pick('audit-entries-per-day', toPositiveInt),
    registration: pick('registration', toRegistration),
    allowedOrigins: pick('allowed-origins', toAllowedOrigins),
    appDir: pick('app-dir', toAppDir),
    store:
      pick('store', toStoreKind) === 'sqlite'
        ? { kind: 'sqlite' }
        : toCouch(pick('couch-url', toCouchUrl), pick('couch-db', toCouchDb)),
  };
  const certFile = pick('tls-cert', toOptionalPath);
  const keyFile = pick('tls-key', toOptionalPath);
  if ((certFile === null) !== (keyFile === null)) {
    throw new ConfigError(
      certFile === null
        ? '--tls-key is given without --tls-cert: HTTPS needs both (or neither, behind a TLS proxy)'
        : '--tls-cert is given without --tls-key: HTTPS needs both (or neither, behind a TLS proxy)',
    );
  }
  if (certFile !== null && keyFile !== null) config.tls = { certFile, keyFile };
  return { command, config };
};
