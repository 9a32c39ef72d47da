// `--allowed-origins` / HALE_ALLOWED_ORIGINS: the web app origins a browser may use the API from
// (plugins/cors.ts). Matched as text against the `Origin` a browser sends, so only that exact form is taken.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseCommandLine, usage } from './config';

const origins = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  parseCommandLine(argv, env).config.allowedOrigins;

const refused = (value: string, message: RegExp) => {
  expect(() => origins(['--allowed-origins', value]), value).toThrow(ConfigError);
  expect(() => origins(['--allowed-origins', value]), value).toThrow(message);
};

describe('--allowed-origins', () => {
  it('allows none by default, as before the setting existed', () => {
    expect(DEFAULT_CONFIG.allowedOrigins).toEqual([]);
    expect(origins([])).toEqual([]);
    expect(origins(['--allowed-origins', 'none'])).toEqual([]);
    expect(origins([], { HALE_ALLOWED_ORIGINS: 'None' })).toEqual([]);
  });

  it('takes a comma-separated list of origins from the flag or the environment, the flag first', () => {
    expect(origins(['--allowed-origins', 'https://app.example.org'])).toEqual(['https://app.example.org']);
    const env = { HALE_ALLOWED_ORIGINS: 'https://app.example.org, http://localhost:5173,http://[::1]:8080' };
    expect(origins([], env)).toEqual([
      'https://app.example.org',
      'http://localhost:5173',
      'http://[::1]:8080',
    ]);
    expect(origins(['--allowed-origins', 'https://other.example.org'], env)).toEqual([
      'https://other.example.org',
    ]);
    // The same origin twice is one.
    expect(origins(['--allowed-origins', 'https://a.example.org,https://a.example.org'])).toEqual([
      'https://a.example.org',
    ]);
  });

  it('refuses what a browser never sends as an origin, saying what was most likely meant', () => {
    refused(
      'https://app.example.org/',
      /--allowed-origins: not an origin.*did you mean https:\/\/app\.example\.org\?/,
    );
    refused('https://app.example.org/app', /did you mean https:\/\/app\.example\.org\?/);
    refused('https://app.example.org?x=1', /did you mean https:\/\/app\.example\.org\?/);
    refused('https://App.Example.org', /did you mean https:\/\/app\.example\.org\?/);
    refused('https://app.example.org:443', /did you mean https:\/\/app\.example\.org\?/);
    refused('https://user@app.example.org', /did you mean https:\/\/app\.example\.org\?/);
    for (const bad of ['app.example.org', 'ftp://app.example.org', 'file:///srv/app', 'null', 'https://']) {
      refused(bad, /--allowed-origins: not an origin/);
    }
    // An empty entry (a doubled or trailing comma) is refused, not skipped.
    refused('https://a.example.org,', /not an origin.*""/);
    refused('https://a.example.org,,https://b.example.org', /not an origin.*""/);
  });

  it('refuses wildcards, `*` itself included', () => {
    for (const bad of ['*', 'https://*.example.org', 'https://a.example.org,*']) {
      refused(bad, /--allowed-origins: wildcards are not allowed/);
    }
  });

  it('refuses a blank value and names the environment variable a bad value came from', () => {
    expect(() => origins([], { HALE_ALLOWED_ORIGINS: '' })).toThrow(/^HALE_ALLOWED_ORIGINS is empty/);
    expect(() => origins(['--allowed-origins', ' '])).toThrow(/^--allowed-origins is empty/);
    expect(() => origins([], { HALE_ALLOWED_ORIGINS: 'https://a.example.org/' })).toThrow(
      /^HALE_ALLOWED_ORIGINS: not an origin/,
    );
  });

  it('is a server setting: listed in --help, refused for the other commands', () => {
    expect(usage()).toMatch(/--allowed-origins\s+HALE_ALLOWED_ORIGINS .*\(default none\)/);
    expect(() => parseCommandLine(['backup', '--out', 'b.sqlite', '--allowed-origins', 'none'], {})).toThrow(
      /--allowed-origins is only for the serve command/,
    );
  });
});
