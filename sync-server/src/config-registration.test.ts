// The `registration` setting and the `invite` command's flags, as the command line and environment give
// them (config.ts); the started process is in invite-command.test.ts.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseCommandLine, usage } from './config';

const registration = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  parseCommandLine(argv, env).config.registration;

const refused = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
};

describe('registration', () => {
  it('is open unless told otherwise; the flag wins over HALE_REGISTRATION', () => {
    expect(DEFAULT_CONFIG.registration).toBe('open');
    expect(registration([])).toBe('open');
    expect(registration([], { HALE_REGISTRATION: 'invite' })).toBe('invite');
    expect(registration(['--registration', 'closed'], { HALE_REGISTRATION: 'invite' })).toBe('closed');
    expect(registration([], { HALE_REGISTRATION: ' Closed ' })).toBe('closed');
  });

  it('refuses anything else, naming where it came from and what is allowed', () => {
    expect(refused([], { HALE_REGISTRATION: 'invites' })).toBe(
      'HALE_REGISTRATION: must be open, invite or closed: "invites"',
    );
    expect(refused(['--registration', 'yes'])).toMatch(/^--registration: must be open, invite or closed/);
    expect(refused([], { HALE_REGISTRATION: '' })).toMatch(/^HALE_REGISTRATION is empty/);
  });

  it('is in the usage text with its variable', () => {
    expect(usage()).toMatch(/--registration +HALE_REGISTRATION +who may create accounts/);
    expect(usage()).toContain('hale-sync-server invite [--expires 7d] [--uses 1]');
  });
});

describe('invite command flags', () => {
  it('create: 7 days and one use unless told, any role', () => {
    expect(parseCommandLine(['invite'], {}).invite).toEqual({
      action: 'create',
      expiresInMs: 7 * 24 * 3_600_000,
      uses: 1,
    });
    expect(
      parseCommandLine(
        ['invite', '--expires', '36h', '--uses', '5', '--role', 'provider', '--note', ' clinic staff '],
        {},
      ).invite,
    ).toEqual({
      action: 'create',
      expiresInMs: 36 * 3_600_000,
      uses: 5,
      role: 'provider',
      note: 'clinic staff',
    });
    expect(parseCommandLine(['invite', '--expires', '2w'], {}).invite).toMatchObject({
      expiresInMs: 14 * 24 * 3_600_000,
    });
  });

  it('--role in any case, and with blanks around it, as --registration is: the two roles cannot be mixed up', () => {
    for (const role of ['Provider', 'PROVIDER', ' provider ']) {
      expect(parseCommandLine(['invite', '--role', role], {}).invite, role).toMatchObject({
        role: 'provider',
      });
    }
    expect(parseCommandLine(['invite', '--role', 'Patient'], {}).invite).toMatchObject({ role: 'patient' });
    // Still only those two: the message lists them and shows what was given, as given.
    expect(refused(['invite', '--role', 'Providers'])).toBe(
      '--role: must be patient or provider: "Providers"',
    );
  });

  it('list and revoke', () => {
    expect(parseCommandLine(['invite', '--list'], {}).invite).toEqual({ action: 'list' });
    expect(parseCommandLine(['invite', '--revoke', 'abc123def456'], {}).invite).toEqual({
      action: 'revoke',
      target: 'abc123def456',
    });
  });

  it('refuses bad values and flags that do not go together', () => {
    for (const expires of ['0d', '7', '7 days', '1y', '367d', '1.5d']) {
      expect(refused(['invite', '--expires', expires]), expires).toMatch(/^--expires:/);
    }
    expect(refused(['invite', '--uses', '0'])).toMatch(/^--uses:/);
    expect(refused(['invite', '--uses', '10001'])).toMatch(/^--uses: at most 10000/);
    expect(refused(['invite', '--role', 'admin'])).toMatch(/^--role: must be patient or provider/);
    expect(refused(['invite', '--note', 'a\nb'])).toMatch(/^--note:/);
    expect(refused(['invite', '--note', 'x'.repeat(201)])).toMatch(/^--note:/);
    expect(refused(['invite', '--list', '--uses', '2'])).toBe('invite: --list takes no --uses');
    expect(refused(['invite', '--revoke', 'abc', '--list'])).toMatch(/^invite: --(list|revoke) takes no/);
    expect(refused(['invite', '--revoke', ' '])).toMatch(/needs the code or the id/);
  });

  it('belong to the invite command only: a forgotten command does not start a server', () => {
    expect(refused(['--uses', '3'])).toBe('--uses is only for the invite command');
    expect(refused(['backup', '--out', 'f', '--list'])).toBe('--list is only for the invite command');
    expect(parseCommandLine(['serve'], {}).invite).toBeUndefined();
  });
});
