// What a self-hoster mistypes on the command line (config.ts): a word after the command, a flag of
// another command, a path with a stray blank, a bad server setting in the environment a maintenance
// command shares with the server. Each must stop with a message (exit 2, usage text: main.ts) instead of
// doing something else than asked (a new invite code, a server on the old store, a new empty store), and
// none of the server's settings may stop `--help`, backup, restore or invite.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childProcesses, serverCommand, type Running } from './child-process.test-util';
import { ConfigError, DEFAULT_CONFIG, parseCommandLine, usage } from './config';

const refused = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
};

describe('words after the command', () => {
  it('are refused, naming the word and the flag it looks like', () => {
    expect(refused(['invite', 'list'])).toBe("unexpected argument 'list' (did you mean --list?)");
    expect(refused(['invite', 'revoke', '1a2b3c4d5e6f'])).toBe(
      "unexpected argument 'revoke' (did you mean --revoke?)",
    );
    expect(refused(['backup', '/backups/x.sqlite'])).toBe(
      "unexpected argument '/backups/x.sqlite' (did you mean --out /backups/x.sqlite?)",
    );
    expect(refused(['restore', '/backups/x.sqlite', '--force'])).toBe(
      "unexpected argument '/backups/x.sqlite' (did you mean --from /backups/x.sqlite?)",
    );
    expect(refused(['serve', 'now'])).toBe("unexpected argument 'now'");
    expect(refused(['invite', '--uses', '3', 'patient'])).toBe("unexpected argument 'patient'");
    // After `--` everything is a word too.
    expect(refused(['invite', '--', '--list'])).toBe("unexpected argument '--list'");
    // The command itself still works.
    expect(parseCommandLine(['invite', '--list'], {}).invite).toEqual({ action: 'list' });
  });
});

describe('a flag outside its command', () => {
  it('--out, --from and --force are refused without their command, as the invite flags are', () => {
    // The restore forgotten: this started the server on the old store.
    expect(refused(['--from', '/backups/x.sqlite', '--data-dir', '/srv/hale'])).toBe(
      '--from is only for the restore command',
    );
    expect(refused(['--out', '/backups/x.sqlite'])).toBe('--out is only for the backup command');
    expect(refused(['serve', '--out', 'b.sqlite'])).toBe('--out is only for the backup command');
    expect(refused(['--force'])).toBe('--force is only for the restore command');
    expect(refused(['backup', '--out', 'b.sqlite', '--from', 'a.sqlite'])).toBe(
      '--from is only for the restore command',
    );
    expect(refused(['backup', '--out', 'b.sqlite', '--force'])).toBe(
      '--force is only for the restore command',
    );
    expect(refused(['restore', '--from', 'a.sqlite', '--out', 'b.sqlite'])).toBe(
      '--out is only for the backup command',
    );
    expect(refused(['invite', '--from', 'a.sqlite'])).toBe('--from is only for the restore command');
  });

  it("the server's settings as flags are refused by backup, restore and invite, which do not use them", () => {
    expect(refused(['backup', '--out', 'b.sqlite', '--port', '9000'])).toBe(
      '--port is only for the serve command',
    );
    expect(refused(['invite', '--registration', 'invite'])).toBe(
      '--registration is only for the serve command',
    );
    expect(refused(['restore', '--from', 'a.sqlite', '--log-level', 'debug'])).toBe(
      '--log-level is only for the serve command',
    );
    // The data directory is every command's.
    for (const argv of [
      ['serve'],
      ['backup', '--out', 'b.sqlite'],
      ['restore', '--from', 'a.sqlite'],
      ['invite'],
    ]) {
      expect(parseCommandLine([...argv, '--data-dir', '/srv/hale'], {}).config.dataDir).toBe(
        path.resolve('/srv/hale'),
      );
    }
  });
});

describe('blanks around a path', () => {
  it('are refused in the data directory, --out and --from, naming the setting', () => {
    // A docker --env-file line with a trailing blank: a new directory, a new empty store, a new key.
    expect(refused([], { HALE_DATA_DIR: '/srv/hale ' })).toMatch(
      /^HALE_DATA_DIR: blank at the start or end of a path: "\/srv\/hale "/,
    );
    expect(refused(['--data-dir', ' /srv/hale'])).toMatch(/^--data-dir: blank at the start or end/);
    expect(refused(['invite'], { HALE_DATA_DIR: '/srv/hale\t' })).toMatch(/^HALE_DATA_DIR: blank/);
    expect(refused(['backup', '--out', '/backups/x.sqlite '])).toMatch(
      /^--out: blank at the start or end of a path/,
    );
    expect(refused(['restore', '--from', ' /backups/x.sqlite'])).toMatch(
      /^--from: blank at the start or end of a path/,
    );
    expect(refused(['backup', '--out', ''])).toMatch(/^--out is empty/);
    expect(refused(['restore', '--from', ' '])).toMatch(/^--from is empty/);
    // A blank inside a path is a path.
    expect(parseCommandLine([], { HALE_DATA_DIR: '/srv/hale data' }).config.dataDir).toBe(
      path.resolve('/srv/hale data'),
    );
    expect(parseCommandLine(['backup', '--out', '/b/my backup.sqlite'], {})).toMatchObject({
      out: '/b/my backup.sqlite',
    });
  });
});

describe('settings a command does not use', () => {
  const badServerEnv = {
    PORT: 'abc',
    HOST: 'bad_host',
    HALE_LOG_LEVEL: 'verbose',
    HALE_TRUST_PROXY: 'yes',
    HALE_REGISTRATION: 'sometimes',
    HALE_BLOB_QUOTA: '4GB',
    HALE_MAX_CONNECTIONS: '0',
  };

  it('--help prints help whatever the environment or the other flags hold', () => {
    expect(parseCommandLine(['--help'], { PORT: 'abc' }).command).toBe('help');
    expect(parseCommandLine(['-h'], { ...badServerEnv, HALE_DATA_DIR: '' }).command).toBe('help');
    expect(parseCommandLine(['--port', 'abc', '--help'], {}).command).toBe('help');
    expect(parseCommandLine(['invite', 'list', '--help'], {}).command).toBe('help');
  });

  it('backup, restore and invite read the data directory only', () => {
    const env = { ...badServerEnv, HALE_DATA_DIR: '/srv/hale' };
    const dataDir = path.resolve('/srv/hale');
    expect(parseCommandLine(['backup', '--out', 'b.sqlite'], env)).toMatchObject({
      command: 'backup',
      out: 'b.sqlite',
      config: { ...DEFAULT_CONFIG, dataDir },
    });
    expect(parseCommandLine(['restore', '--from', 'a.sqlite'], env)).toMatchObject({
      command: 'restore',
      config: { dataDir },
    });
    expect(parseCommandLine(['invite', '--list'], env)).toMatchObject({
      command: 'invite',
      config: { dataDir },
    });
    // The server itself still refuses them.
    expect(refused([], env)).toMatch(/^(PORT|HOST|HALE_[A-Z_]+):/);
    expect(refused(['serve'], { PORT: 'abc' })).toMatch(/^PORT: not a port number/);
  });
});

const children = childProcesses();

const run = async (args: string[], env: Record<string, string> = {}) => {
  const r: Running = children.start(serverCommand(...args), env);
  const exit = await r.exited;
  await r.drained;
  return { ...exit, ...r.output };
};

describe('the process', () => {
  it('`invite list` exits 2 with the message and the usage text, and creates nothing', async () => {
    const dataDir = path.join(await children.tempDir('stray'), 'data');
    const r = await run(['invite', 'list'], { HALE_DATA_DIR: dataDir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`unexpected argument 'list' (did you mean --list?)\n\n${usage()}\n`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--help with a bad PORT exits 0 with the usage text', async () => {
    const r = await run(['--help'], { PORT: 'abc' });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `${usage()}\n` });
  });
});
