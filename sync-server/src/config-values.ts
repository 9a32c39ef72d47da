/**
 * The server's option values: each option's text (a flag, an environment variable or the default) read
 * into its value, or refused with ConfigError naming where it came from.
 *
 * Invariants:
 * - Every reader is pure: it answers the value or throws ConfigError; nothing is read from the disk or the
 *   network here except where the option names a path (`toAppDir` checks the directory exists).
 * - Numbers are plain decimal digits only; sizes, hosts, origins and proxies are checked whole.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { REGISTRATION_MODES, type RegistrationMode } from '@hale/protocol';
import type { StoreConfig } from './config';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/**
 * Where a value came from, for error messages: `--port` for a flag (or the default), `PORT` for the
 * environment variable.
 */
export type Source = string;

/** Plain decimal digits only: `Number()` would also take '', ' ', '0x1F90', '8e3' and '1_000'. */
export const DECIMAL = /^[0-9]+$/;

/**
 * 1…65535. Port 0 ("any free port") is refused: nothing would tell the operator or the proxy which port
 * the server took.
 */
export const toPort = (from: Source, raw: string): number => {
  const n = DECIMAL.test(raw) && raw.length <= 5 ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 65535))
    throw new ConfigError(`${from}: not a port number (1-65535): ${JSON.stringify(raw)}`);
  return n;
};

export const toPositiveInt = (from: Source, raw: string): number => {
  const n = DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`${from}: must be a positive integer: ${JSON.stringify(raw)}`);
  }
  return n;
};

export const rate = (from: Source, raw: string) => {
  const perSecond = toPositiveInt(from, raw);
  return { perSecond, burst: perSecond * 2 };
};

export const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * A positive byte count: plain decimal digits, optionally followed by a binary unit (`KiB`, `MiB`, `GiB`,
 * `TiB`, any case, no blank). Decimal units (`GB`) and fractions are refused rather than guessed at.
 */
export const toByteSize = (from: Source, raw: string): number => {
  const match = /^([0-9]+)([a-z]*)$/i.exec(raw);
  const unit = match ? BYTE_UNITS[(match[2] ?? '').toLowerCase()] : undefined;
  const n = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(
      `${from}: must be a positive number of bytes, optionally with KiB, MiB, GiB or TiB: ${JSON.stringify(raw)}`,
    );
  }
  return n;
};

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
export const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * A name whose last label is a number (decimal, or hex with 0x): no real host name ends so (top-level
 * domains are not numeric), and the resolver reads it as an IPv4 address in inet_aton's forms — `0` is
 * 0.0.0.0 (every interface, while the start line names 127.0.0.1), `127.1` is 127.0.0.1, `010.0.0.1` is
 * 8.0.0.1 (octal). Refused: the address to listen on is written in full.
 */
export const NUMERIC_LAST_LABEL = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$/i;

/** An IP address (`0.0.0.0` and `::` for every interface, said explicitly) or a host name. */
export const toHost = (from: Source, raw: string): string => {
  if (isIP(raw) !== 0) return raw;
  if (!HOST_NAME.test(raw)) {
    throw new ConfigError(
      `${from}: not an IP address or host name (IPv6 without brackets): ${JSON.stringify(raw)}`,
    );
  }
  if (NUMERIC_LAST_LABEL.test(raw)) {
    throw new ConfigError(
      `${from}: not an IP address or host name: ${JSON.stringify(raw)} is a short or non-decimal IPv4 form ` +
        'that would be read as some address; write the address in full (127.0.0.1, or 0.0.0.0 for every interface)',
    );
  }
  return raw;
};

/** pino's levels; an unknown one would otherwise throw inside pino at start, past the usage text. */
export const LOG_LEVELS: readonly string[] = [...Object.keys(pino.levels.values), 'silent'];

export const toLogLevel = (from: Source, raw: string): string => {
  if (LOG_LEVELS.includes(raw)) return raw;
  throw new ConfigError(`${from}: not a log level (${LOG_LEVELS.join(', ')}): ${JSON.stringify(raw)}`);
};

/** One proxy entry: an IPv4 or IPv6 address, optionally with a /prefix length (1…32 or 1…128). */
export const isProxyAddress = (entry: string): boolean => {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  // No zone ids (fe80::1%eth0): the proxy matcher Fastify uses accepts only some of what node:net does.
  const family = address.includes('%') ? 0 : isIP(address);
  if (family === 0) return false;
  if (slash === -1) return true;
  const prefix = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix)) return false;
  const bits = Number(prefix);
  return bits >= 1 && bits <= (family === 4 ? 32 : 128);
};

/**
 * `off`/`false` → false, `true` → true, otherwise a comma-separated list of addresses and CIDR ranges
 * (returned with the blanks around entries removed). Anything else is refused here, naming the option;
 * passed on, it would surface only as a bare "invalid IP address" when Fastify builds the app. Named
 * ranges (`loopback`, …) are not accepted.
 */
export const toTrustProxy = (from: Source, raw: string): boolean | string => {
  const value = raw.trim().toLowerCase();
  if (value === 'off' || value === 'false') return false;
  if (value === 'true') return true;
  const entries = raw.split(',').map((entry) => entry.trim());
  const bad = entries.find((entry) => !isProxyAddress(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      `${from}: not off, true or a comma-separated list of IP addresses / CIDR ranges: ${JSON.stringify(bad)}`,
    );
  }
  return entries.join(',');
};

export const toRegistration = (from: Source, raw: string): RegistrationMode => {
  const value = raw.trim().toLowerCase();
  const mode = REGISTRATION_MODES.find((m) => m === value);
  if (mode !== undefined) return mode;
  const modes = `${REGISTRATION_MODES.slice(0, -1).join(', ')} or ${REGISTRATION_MODES.at(-1) ?? ''}`;
  throw new ConfigError(`${from}: must be ${modes}: ${JSON.stringify(raw)}`);
};

/**
 * `none` → [], otherwise a comma-separated list of origins, each exactly as a browser serializes it
 * (`https://app.example.org`, `http://localhost:5173`: lower case, no default port, no trailing slash), since
 * a request's `Origin` is matched as text. Anything else is refused with the origin it most likely meant,
 * never normalized silently: the operator should see what is allowed. `*` is refused: auth is by bearer
 * token only, so it would not hand any site a session, but it would let every page a user visits read the
 * server's unauthenticated answers through the user's browser (a server on a private network included),
 * register accounts where registration is open, and spend the user's address's rate and connection budget.
 */
export const toAllowedOrigins = (from: Source, raw: string): readonly string[] => {
  if (raw.trim().toLowerCase() === 'none') return [];
  const origins = raw.split(',').map((entry) => entry.trim());
  for (const entry of origins) {
    if (entry.includes('*')) {
      throw new ConfigError(
        `${from}: wildcards are not allowed; list the web app's origins (https://app.example.org): ${JSON.stringify(entry)}`,
      );
    }
    const url = URL.canParse(entry) ? new URL(entry) : null;
    const web = url !== null && (url.protocol === 'https:' || url.protocol === 'http:') ? url : null;
    if (web?.origin === entry) continue;
    throw new ConfigError(
      `${from}: not an origin (http(s)://host[:port]; no path, trailing slash, upper case or default port): ` +
        `${JSON.stringify(entry)}${web === null ? '' : ` (did you mean ${web.origin}?)`}`,
    );
  }
  return [...new Set(origins)];
};

/** Where `npm run build` puts the web app, from this file (sync-server/src). */
export const BUILT_APP_DIR = path.resolve(import.meta.dirname, '../../packages/app/dist');

/**
 * `none` → null; `auto` → the repository's build when it holds an index.html, else null; otherwise a
 * directory that must hold the built app's index.html (a missing build is said at start, not as 404s).
 */
export const toAppDir = (from: Source, raw: string): string | null => {
  const value = raw.trim().toLowerCase();
  if (value === 'none') return null;
  if (value === 'auto') return existsSync(path.join(BUILT_APP_DIR, 'index.html')) ? BUILT_APP_DIR : null;
  const dir = path.resolve(toPath(from, raw));
  if (!existsSync(path.join(dir, 'index.html'))) {
    throw new ConfigError(
      `${from}: no built app (index.html) in ${dir}: run \`npm run build\`, or give none`,
    );
  }
  return dir;
};

export const toStoreKind = (from: Source, raw: string): 'sqlite' | 'couchdb' => {
  const value = raw.trim().toLowerCase();
  if (value === 'sqlite' || value === 'couchdb') return value;
  throw new ConfigError(`${from}: must be sqlite or couchdb: ${JSON.stringify(raw)}`);
};

/** `none` (unset) or an http(s) URL without a path beyond `/`; credentials allowed. */
export const toCouchUrl = (from: Source, raw: string): string | null => {
  if (raw.trim().toLowerCase() === 'none') return null;
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (
    url === null ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new ConfigError(
      `${from}: not a CouchDB URL (http(s)://[user:pass@]host:port): ${JSON.stringify(raw.replace(/\/\/[^@/]*@/, '//…@'))}`,
    );
  }
  return raw.replace(/\/+$/, '');
};

/** A CouchDB database name: lower-case letter first, then lower-case letters, digits and _$()+- . */
export const toCouchDb = (from: Source, raw: string): string => {
  if (/^[a-z][a-z0-9_$()+-]{0,200}$/.test(raw)) return raw;
  throw new ConfigError(
    `${from}: not a CouchDB database name (a-z first, then a-z 0-9 _$()+-): ${JSON.stringify(raw)}`,
  );
};

export const toCouch = (url: string | null, database: string): Extract<StoreConfig, { kind: 'couchdb' }> => {
  if (url === null) throw new ConfigError('--store couchdb needs --couch-url (or HALE_COUCH_URL)');
  return { kind: 'couchdb', url, database };
};

/**
 * Blanks around a path are refused, not trimmed nor taken: `HALE_DATA_DIR="/srv/hale "` (an env file's
 * trailing blank) names another directory, where the server would make a new, empty store with a new
 * signing key. A blank inside a path is a path.
 */
export const toPath = (from: Source, raw: string): string => {
  if (raw.trim() !== raw) {
    throw new ConfigError(`${from}: blank at the start or end of a path: ${JSON.stringify(raw)}`);
  }
  return raw;
};

/** `none` → null, otherwise a path (resolved), refused with blanks around it as the data directory is. */
export const toOptionalPath = (from: Source, raw: string): string | null =>
  raw === 'none' ? null : path.resolve(toPath(from, raw));
