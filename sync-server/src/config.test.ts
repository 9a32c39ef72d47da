import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseCommandLine, usage } from './config';

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
