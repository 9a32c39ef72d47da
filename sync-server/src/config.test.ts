import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseCommandLine, usage } from './config';

const trustProxy = (value: string) => parseCommandLine(['--trust-proxy', value], {}).config.trustProxy;

describe('command line', () => {
  it('uses defaults, then environment, then flags', () => {
    expect(parseCommandLine([], {}).config).toMatchObject({
      host: '127.0.0.1',
      port: 8787,
      trustProxy: false,
    });
    const env = { PORT: '9000', HALE_RATE_PER_DEVICE: '50', HALE_TRUST_PROXY: '10.0.0.1' };
    expect(parseCommandLine([], env).config).toMatchObject({
      port: 9000,
      rateLimitPerDevice: { perSecond: 50, burst: 100 },
      rateLimitPerAddress: DEFAULT_CONFIG.rateLimitPerAddress,
      trustProxy: '10.0.0.1',
    });
    expect(parseCommandLine(['--port', '9100', '--rate-per-address', '7'], env).config).toMatchObject({
      port: 9100,
      rateLimitPerAddress: { perSecond: 7, burst: 14 },
    });
  });

  it('refuses bad values with a message naming the option', () => {
    expect(() => parseCommandLine(['--port', 'x'], {})).toThrow(/port/);
    expect(() => parseCommandLine(['--rate-per-device', '0'], {})).toThrow(/rate-per-device/);
    expect(() => parseCommandLine(['backup'], {})).toThrow(/--out/);
  });

  it('gives each command what it needs and nothing of the others', () => {
    const served = parseCommandLine([], {}).config;
    expect(parseCommandLine(['serve'], {})).toEqual({ command: 'serve', config: served });
    // Only serve looks for the built app (`--app-dir auto`); the others keep the default.
    const config = { ...served, appDir: DEFAULT_CONFIG.appDir };
    expect(parseCommandLine(['backup', '--out', 'b.sqlite'], {})).toEqual({
      command: 'backup',
      config,
      out: 'b.sqlite',
    });
    // Another command's flags are refused (config-stray-arguments.test.ts), no longer ignored.
    expect(() => parseCommandLine(['serve', '--out', 'b.sqlite'], {})).toThrow(ConfigError);
    expect(parseCommandLine(['restore', '--from', 'a.sqlite', '--force'], {})).toEqual({
      command: 'restore',
      config,
      from: 'a.sqlite',
      force: true,
    });
    expect(parseCommandLine(['restore', '--from', 'a.sqlite'], {})).toMatchObject({ force: false });
    expect(parseCommandLine(['invite', '--list'], {})).toEqual({
      command: 'invite',
      config,
      invite: { action: 'list' },
    });
    expect(() => parseCommandLine(['restore'], {})).toThrow(/--from/);
  });

  it('parses --trust-proxy: off, true, or a list of addresses and CIDR ranges', () => {
    expect(trustProxy('off')).toBe(false);
    expect(trustProxy('false')).toBe(false);
    expect(trustProxy('true')).toBe(true);
    expect(parseCommandLine([], { HALE_TRUST_PROXY: 'true' }).config.trustProxy).toBe(true);
    expect(trustProxy('10.0.0.1')).toBe('10.0.0.1');
    expect(trustProxy('10.0.0.1, 192.168.0.0/16,::1 , fd00::/8')).toBe(
      '10.0.0.1,192.168.0.0/16,::1,fd00::/8',
    );
    // Whatever the parser lets through, Fastify accepts (it compiles the list when the app is built).
    for (const value of ['10.0.0.1', '10.0.0.0/8,::1/128,::ffff:10.0.0.1', 'true', 'off']) {
      expect(() => Fastify({ trustProxy: trustProxy(value) })).not.toThrow();
    }
  });

  it('refuses a --trust-proxy value that is not off, true or addresses', () => {
    for (const bad of [
      'yes',
      'proxy.example.com',
      'loopback',
      '10.0.0.256',
      '10.0.0.1,',
      '10.0.0.0/33',
      '10.0.0.0/0',
      '10.0.0.0/x',
      '::1/129',
      'fe80::1%eth0',
      '',
    ]) {
      expect(() => trustProxy(bad), bad).toThrow(ConfigError);
      expect(() => trustProxy(bad), bad).toThrow(/--trust-proxy/);
    }
  });

  it('lists every option with its environment variable in --help', () => {
    const help = usage();
    for (const name of [
      'HOST',
      'PORT',
      'HALE_DATA_DIR',
      'HALE_RATE_PER_DEVICE',
      'HALE_RATE_PER_ADDRESS',
      'HALE_TRUST_PROXY',
      'HALE_BLOB_QUOTA',
    ]) {
      expect(help).toContain(name);
    }
    expect(parseCommandLine(['--help'], {}).command).toBe('help');
  });
});

// What a self-hoster's environment file or unit can hand the server: a bad value must stop the start
// (exit 2 with the usage text, in main.ts) instead of being guessed at.
describe('blank and malformed values', () => {
  const refused = (argv: string[], env: NodeJS.ProcessEnv, message: RegExp) => {
    expect(() => parseCommandLine(argv, env)).toThrow(ConfigError);
    expect(() => parseCommandLine(argv, env)).toThrow(message);
  };

  it('refuses a blank value from the environment or a flag, naming where it came from', () => {
    // `HOST=` used to reach Fastify as '', which listens on every interface.
    refused([], { HOST: '' }, /^HOST is empty/);
    refused([], { HOST: ' ' }, /^HOST is empty/);
    refused(['--host', ''], {}, /^--host is empty/);
    // `PORT=` used to be port 0, a random port.
    refused([], { PORT: '' }, /^PORT is empty/);
    refused([], { PORT: ' ' }, /^PORT is empty/);
    // `HALE_DATA_DIR=` used to resolve to the working directory: a new, empty store there.
    refused([], { HALE_DATA_DIR: '' }, /^HALE_DATA_DIR is empty/);
    refused(['--data-dir', ''], {}, /^--data-dir is empty/);
    refused([], { HALE_LOG_LEVEL: '' }, /^HALE_LOG_LEVEL is empty/);
    refused([], { HALE_RATE_PER_DEVICE: '' }, /^HALE_RATE_PER_DEVICE is empty/);
    refused([], { HALE_TRUST_PROXY: '' }, /^HALE_TRUST_PROXY is empty/);
    // The flag wins over the environment, as documented, so a blank variable under a flag is not read.
    expect(parseCommandLine(['--host', '127.0.0.1'], { HOST: '' }).config.host).toBe('127.0.0.1');
  });

  it('takes ports as decimal 1-65535 only', () => {
    for (const bad of [
      '0x1F90',
      '8e3',
      '1_000',
      '+80',
      '-1',
      '0',
      '65536',
      '080800',
      '80 ',
      ' 80',
      '8080.0',
    ]) {
      refused([`--port=${bad}`], {}, /^--port: not a port number/);
    }
    refused([], { PORT: '0x1F90' }, /^PORT: not a port number/);
    expect(parseCommandLine(['--port', '1'], {}).config.port).toBe(1);
    expect(parseCommandLine([], { PORT: '65535' }).config.port).toBe(65535);
  });

  it('takes counts and rates as decimal positive integers only', () => {
    for (const bad of ['0x10', '1e3', '2.5', ' 5', '9007199254740993']) {
      refused(['--max-connections', bad], {}, /^--max-connections: must be a positive integer/);
    }
    refused([], { HALE_RATE_PER_ADDRESS: '1e2' }, /^HALE_RATE_PER_ADDRESS: must be a positive integer/);
  });

  it('takes the blob quota as bytes, or a whole number of KiB, MiB, GiB or TiB', () => {
    expect(parseCommandLine([], {}).config.blobQuotaBytes).toBe(4 * 1024 ** 3);
    expect(DEFAULT_CONFIG.blobQuotaBytes).toBe(4 * 1024 ** 3);
    const quota = (value: string) => parseCommandLine(['--blob-quota', value], {}).config.blobQuotaBytes;
    expect(quota('1')).toBe(1);
    expect(quota('1048576')).toBe(1024 ** 2);
    expect(quota('512KiB')).toBe(512 * 1024);
    expect(quota('20MiB')).toBe(20 * 1024 ** 2);
    expect(quota('10gib')).toBe(10 * 1024 ** 3);
    expect(quota('2TiB')).toBe(2 * 1024 ** 4);
    expect(parseCommandLine([], { HALE_BLOB_QUOTA: '1GiB' }).config.blobQuotaBytes).toBe(1024 ** 3);
    expect(
      parseCommandLine(['--blob-quota', '2GiB'], { HALE_BLOB_QUOTA: '1GiB' }).config.blobQuotaBytes,
    ).toBe(2 * 1024 ** 3);
    for (const bad of [
      '0',
      '0GiB',
      '4GB',
      '4G',
      '1.5GiB',
      '4 GiB',
      ' 4GiB',
      '-1',
      '0x10',
      '1e9',
      'GiB',
      '9007199254740993',
      '9999999TiB',
    ]) {
      refused([`--blob-quota=${bad}`], {}, /^--blob-quota: must be a positive number of bytes/);
    }
    refused([], { HALE_BLOB_QUOTA: '5GB' }, /^HALE_BLOB_QUOTA: must be a positive number of bytes/);
    refused([], { HALE_BLOB_QUOTA: '' }, /^HALE_BLOB_QUOTA is empty/);
  });

  it('takes an IP address or a host name to listen on', () => {
    for (const good of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'hale-1.internal.example']) {
      expect(parseCommandLine(['--host', good], {}).config.host).toBe(good);
    }
    for (const bad of [
      '[::1]',
      '127.0.0.1:8787',
      'http://localhost',
      'bad_host',
      '-x',
      'a..b',
      'host name',
    ]) {
      refused([`--host=${bad}`], {}, /^--host: not an IP address or host name/);
    }
    refused([], { HOST: 'localhost:80' }, /^HOST: not an IP address or host name/);
  });

  it('refuses a name the resolver reads as an IPv4 address in a short or non-decimal form', () => {
    // `HOST=0` listened on every interface while the start line named 127.0.0.1; `010.0.0.1` is 8.0.0.1.
    for (const bad of [
      '0',
      '127.1',
      '10.0.1',
      '2130706433',
      '0x7f000001',
      '0x7f.1',
      '010.0.0.1',
      '1.2.3.4.5',
    ]) {
      refused([`--host=${bad}`], {}, /^--host: not an IP address or host name: .*write the address in full/);
    }
    refused([], { HOST: '0' }, /^HOST: not an IP address or host name/);
    for (const good of ['1password.example', 'host-0.example', '10-0-0-1.nip.example', 'x0']) {
      expect(parseCommandLine(['--host', good], {}).config.host).toBe(good);
    }
  });

  it("takes pino's log levels only", () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(parseCommandLine(['--log-level', level], {}).config.logLevel).toBe(level);
    }
    refused(['--log-level', 'verbose'], {}, /^--log-level: not a log level/);
    refused([], { HALE_LOG_LEVEL: 'INFO' }, /^HALE_LOG_LEVEL: not a log level/);
  });

  it('names the environment variable when --trust-proxy came from it', () => {
    refused([], { HALE_TRUST_PROXY: 'yes' }, /^HALE_TRUST_PROXY: not off, true/);
  });
});
