// `hale-sync-server invite` and the registration mode the server runs with: each start records its mode in
// the store, and the command warns (stderr, exit 0, the invite still made) when that mode would not ask for
// the codes it makes. Real server processes on a real SQLite file; the command runs in this process
// (cli.ts, as main.ts runs it), beside them or after them.
import { describe, expect, it } from 'vitest';
import { normalizeInviteCode } from '@hale/protocol';
import { childProcesses, serverCommand } from './child-process.test-util';
import { runCli } from './cli.test-util';
import { openSqliteStore } from './store/sqlite-store';

const children = childProcesses();

const run = (args: string[], dataDir: string) => runCli(args, { HALE_DATA_DIR: dataDir });

/** Serves `dataDir` with `mode` until the returned stop is called; `startedWithin` brackets the start. */
const serve = async (dataDir: string, mode: string) => {
  const before = Date.now();
  const server = await children.serve(serverCommand(), { dataDir, env: { HALE_REGISTRATION: mode } });
  const after = Date.now();
  return {
    startedWithin: [before, after] as const,
    stop: async () => {
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    },
  };
};

const OPEN =
  /^This server last started at (\S+) with registration open: anyone can sign up and invite codes are not asked for\. Restart it with --registration invite \(HALE_REGISTRATION=invite\) to require them\.$/m;
const CLOSED =
  /^This server last started at (\S+) with registration closed: no one can sign up, and invite codes are refused until it runs with --registration invite \(HALE_REGISTRATION=invite\)\.$/m;
const ANY_WARNING = /This server last started|registration mode .* unknown/;

/** The start time a warning names, which must lie within the start that recorded it. */
const startedAt = (stderr: string, pattern: RegExp, within: readonly [number, number]): number => {
  const at = Date.parse(pattern.exec(stderr)?.[1] ?? '');
  expect(at).toBeGreaterThanOrEqual(within[0]);
  expect(at).toBeLessThanOrEqual(within[1]);
  return at;
};

const expectCreated = (r: { code: number | null; stdout: string; stderr: string }): void => {
  expect(r.code).toBe(0);
  expect(normalizeInviteCode(r.stdout)).not.toBeNull();
  expect(r.stderr).toMatch(/^invite [0-9a-f]{12}: 1 of 1 use left/);
};

describe('hale-sync-server invite: the registration mode the server runs with', () => {
  it('warns while the server last started open or closed, not once it starts with invite', async () => {
    const dataDir = await children.tempDir('invite-mode');

    const open = await serve(dataDir, 'open');
    const created = await run(['invite'], dataDir);
    expectCreated(created);
    // The generic "the running server takes it from now on" would be false here.
    expect(created.stderr).not.toContain('takes it from now on');
    const openAt = startedAt(created.stderr, OPEN, open.startedWithin);
    const listed = await run(['invite', '--list'], dataDir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID +STATE/);
    expect(startedAt(listed.stderr, OPEN, open.startedWithin)).toBe(openAt);
    await open.stop();
    // Stopped: still what it last started with.
    expect(startedAt((await run(['invite', '--list'], dataDir)).stderr, OPEN, open.startedWithin)).toBe(
      openAt,
    );

    // The next start with another mode replaces the record.
    const closed = await serve(dataDir, 'closed');
    const refused = await run(['invite'], dataDir);
    expectCreated(refused);
    startedAt(refused.stderr, CLOSED, closed.startedWithin);
    expect(refused.stderr).not.toMatch(OPEN);
    startedAt((await run(['invite', '--list'], dataDir)).stderr, CLOSED, closed.startedWithin);
    await closed.stop();

    const invite = await serve(dataDir, 'invite');
    const good = await run(['invite'], dataDir);
    expectCreated(good);
    expect(good.stderr).not.toMatch(ANY_WARNING);
    expect(good.stderr).toContain('the running server takes it from now on');
    const goodList = await run(['invite', '--list'], dataDir);
    expect(goodList.stdout.trim().split('\n')).toHaveLength(4);
    expect(goodList.stderr).toBe('');
    await invite.stop();
    const stopped = await run(['invite'], dataDir);
    expectCreated(stopped);
    expect(stopped.stderr).not.toMatch(ANY_WARNING);
  });

  it('says the mode is unknown for a store no server of this version has started on', async () => {
    // A store no server start has recorded a mode in.
    const dataDir = await children.tempDir('invite-mode-unknown');
    await (await openSqliteStore({ dataDir })).close();

    const created = await run(['invite'], dataDir);
    expectCreated(created);
    expect(created.stderr).toMatch(
      /^The registration mode of this server is unknown: no start of it with this version of Hale is recorded in its store\. Invite codes are asked for only when it runs with --registration invite \(HALE_REGISTRATION=invite\)\.$/m,
    );
    const listed = await run(['invite', '--list'], dataDir);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(/registration mode of this server is unknown/);
  });

  it('does not take a mode it does not know (a later version) for one it knows', async () => {
    const dataDir = await children.tempDir('invite-mode-later');
    const store = await openSqliteStore({ dataDir });
    await store.serverState.put('registration', 'waitlist', '2030-01-01T00:00:00.000Z');
    await store.close();
    const created = await run(['invite'], dataDir);
    expectCreated(created);
    expect(created.stderr).toContain(
      'This server last started at 2030-01-01T00:00:00.000Z with registration "waitlist", which this version ' +
        'of Hale does not know. Invite codes are asked for only when it runs with --registration invite',
    );
  });
});
