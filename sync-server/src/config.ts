import { parseArgs } from 'node:util';
import path from 'node:path';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  logLevel: string;
  /** Cap on concurrent WebSocket connections for this node. */
  maxConnections: number;
  /** Requests or frames per device per second (token bucket refill) and burst. */
  rateLimitPerDevice: { perSecond: number; burst: number };
  /** HTTP requests per address per second and burst (unauthenticated routes included). */
  rateLimitPerAddress: { perSecond: number; burst: number };
  /** Milliseconds to wait for connections to drain on shutdown. */
  shutdownGraceMs: number;
  /** Trust X-Forwarded-For from this proxy (an address, CIDR list, or true for any hop); off by default. */
  trustProxy: boolean | string;
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8787,
  dataDir: './data',
  logLevel: 'info',
  maxConnections: 10_000,
  rateLimitPerDevice: { perSecond: 200, burst: 400 },
  rateLimitPerAddress: { perSecond: 100, burst: 200 },
  shutdownGraceMs: 10_000,
  trustProxy: false,
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
    help: 'pino log level (fatal…trace)',
    def: DEFAULT_CONFIG.logLevel,
  },
  'max-connections': {
    type: 'string',
    env: 'HALE_MAX_CONNECTIONS',
    help: 'cap on open WebSocket connections',
    def: String(DEFAULT_CONFIG.maxConnections),
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
    help: 'requests per second per client address (burst 2x)',
    def: String(DEFAULT_CONFIG.rateLimitPerAddress.perSecond),
  },
  'trust-proxy': {
    type: 'string',
    env: 'HALE_TRUST_PROXY',
    help: 'proxy address(es) whose X-Forwarded-For is trusted',
    def: 'off',
  },
} as const;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export const usage = (): string => {
  const lines = Object.entries(OPTIONS).map(
    ([flag, o]) => `  --${flag.padEnd(16)} ${o.env.padEnd(22)} ${o.help} (default ${o.def})`,
  );
  return [
    'Usage: hale-sync-server [serve] [options]',
    '       hale-sync-server backup --out FILE [--data-dir DIR]',
    '       hale-sync-server restore --from FILE [--data-dir DIR] [--force]',
    '',
    'Options (flag, environment variable, meaning):',
    ...lines,
    '  --help                                    show this help',
  ].join('\n');
};

export interface ParsedCommand {
  command: 'serve' | 'backup' | 'restore' | 'help';
  config: ServerConfig;
  out?: string;
  from?: string;
  force: boolean;
}

const toPort = (raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`port: not a port number: ${raw}`);
  return n;
};

const toPositiveInt = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name}: must be a positive integer: ${raw}`);
  return n;
};

const rate = (name: string, raw: string) => {
  const perSecond = toPositiveInt(name, raw);
  return { perSecond, burst: perSecond * 2 };
};

/** Flags win over environment variables, which win over defaults. */
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
      'rate-per-device': { type: 'string' },
      'rate-per-address': { type: 'string' },
      'trust-proxy': { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const pick = (flag: keyof typeof OPTIONS): string =>
    values[flag] ?? env[OPTIONS[flag].env] ?? OPTIONS[flag].def;
  const command = values.help ? 'help' : (positionals[0] ?? 'serve');
  if (command !== 'serve' && command !== 'backup' && command !== 'restore' && command !== 'help') {
    throw new ConfigError(`unknown command: ${command}`);
  }
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    host: pick('host'),
    port: toPort(pick('port')),
    dataDir: path.resolve(pick('data-dir')),
    logLevel: pick('log-level'),
    maxConnections: toPositiveInt('max-connections', pick('max-connections')),
    rateLimitPerDevice: rate('rate-per-device', pick('rate-per-device')),
    rateLimitPerAddress: rate('rate-per-address', pick('rate-per-address')),
    trustProxy: pick('trust-proxy') === 'off' ? false : pick('trust-proxy'),
  };
  const parsed: ParsedCommand = { command, config, force: values.force ?? false };
  if (values.out !== undefined) parsed.out = values.out;
  if (values.from !== undefined) parsed.from = values.from;
  if (command === 'backup' && parsed.out === undefined)
    throw new ConfigError('backup: --out FILE is required');
  if (command === 'restore' && parsed.from === undefined)
    throw new ConfigError('restore: --from FILE is required');
  return parsed;
};
