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
    ]) {
      expect(help).toContain(name);
    }
    expect(parseCommandLine(['--help'], {}).command).toBe('help');
  });
});
