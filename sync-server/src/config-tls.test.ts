// `--tls-cert` / `--tls-key` (HALE_TLS_CERT / HALE_TLS_KEY) as the command line and environment give them;
// serving HTTPS and WSS with them is test/server/https.e2e.test.ts.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseCommandLine } from './config';

const tls = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, env).config.tls;

const refused = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
};

describe('TLS settings', () => {
  it('are off by default (plain HTTP, for a TLS proxy in front)', () => {
    expect(tls([])).toBeUndefined();
    expect(tls(['--tls-cert', 'none', '--tls-key', 'none'])).toBeUndefined();
  });

  it('take both files from flags or the environment, flags first, as absolute paths', () => {
    expect(tls(['--tls-cert', 'c.pem', '--tls-key', 'k.pem'])).toEqual({
      certFile: path.resolve('c.pem'),
      keyFile: path.resolve('k.pem'),
    });
    expect(tls([], { HALE_TLS_CERT: '/etc/hale/c.pem', HALE_TLS_KEY: '/etc/hale/k.pem' })).toEqual({
      certFile: '/etc/hale/c.pem',
      keyFile: '/etc/hale/k.pem',
    });
    expect(tls(['--tls-cert', '/a.pem'], { HALE_TLS_CERT: '/b.pem', HALE_TLS_KEY: '/k.pem' })).toEqual({
      certFile: '/a.pem',
      keyFile: '/k.pem',
    });
  });

  it('refuse one without the other, an empty value, and blanks around a path', () => {
    expect(refused(['--tls-cert', 'c.pem'])).toMatch(/--tls-cert is given without --tls-key/);
    expect(refused([], { HALE_TLS_KEY: 'k.pem' })).toMatch(/--tls-key is given without --tls-cert/);
    expect(refused([], { HALE_TLS_CERT: '' })).toMatch(/HALE_TLS_CERT is empty/);
    expect(refused(['--tls-cert', 'c.pem ', '--tls-key', 'k.pem'])).toMatch(/blank at the start or end/);
  });
});
