// `hale-sync-server invite` as an operator runs it: a second process on the data directory of a running
// server (started with HALE_REGISTRATION=invite), then on a stopped one. Real server processes and SQLite
// file; the command is a process of its own where its exit and streams are the point, else it runs in this
// process (cli.ts, as main.ts runs it).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeInviteCode } from '@hale/protocol';
import { childProcesses, serverCommand, type Running } from './child-process.test-util';
import { runCli } from './cli.test-util';
import { SQLITE_FILE_NAME } from './store/index';
import { http, makeRegistration } from './testing/harness';

const children = childProcesses();

/** `args` as a process of its own. */
const spawned = async (args: string[], dataDir: string, env: Record<string, string> = {}) => {
  const r: Running = children.start(serverCommand(...args), { HALE_DATA_DIR: dataDir, ...env });
  const exit = await r.exited;
  await r.drained;
  return { ...exit, ...r.output };
};

const run = (args: string[], dataDir: string, env: Record<string, string> = {}) =>
  runCli(args, { HALE_DATA_DIR: dataDir, ...env });

const register = async (url: string, invite?: string) => {
  const { body } = await makeRegistration();
  return http(url, 'POST', '/v1/accounts', invite === undefined ? body : { ...body, invite });
};

describe('hale-sync-server invite', () => {
  it('makes codes a running server takes at once; lists and revokes them; works with the server stopped', async () => {
    const dataDir = await children.tempDir('invite');
    const server = await children.serve(serverCommand(), {
      dataDir,
      env: { HALE_REGISTRATION: 'invite' },
    });
    expect((await http(server.url, 'GET', '/v1/server')).body).toMatchObject({ registration: 'invite' });
    expect((await register(server.url)).body).toMatchObject({ code: 'INVITE_INVALID' });

    // Created beside the running server by a process of its own: the code alone on stdout, what it is on
    // stderr.
    const created = await spawned(['invite', '--note', 'for Mum'], dataDir);
    expect(created).toMatchObject({ code: 0, signal: null });
    expect(created.stdout).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}\n$/);
    expect(created.stderr).toMatch(/^invite [0-9a-f]{12}: 1 of 1 use left, any role, expires /);
    expect(created.stderr).toContain('shown only now');
    const code = normalizeInviteCode(created.stdout);
    expect(code).not.toBeNull();
    const id = /^invite ([0-9a-f]{12})/.exec(created.stderr)?.[1] ?? '';

    expect((await register(server.url, code ?? '')).status).toBe(201);
    expect((await register(server.url, code ?? '')).body).toMatchObject({ code: 'INVITE_INVALID' });

    const listed = await run(['invite', '--list'], dataDir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID +STATE +USES LEFT +ROLE +EXPIRES +CREATED +NOTE\n/);
    expect(listed.stdout).toMatch(new RegExp(`^${id} +used up +0/1 +any .* for Mum$`, 'm'));

    // Revoked by the code as a person would paste it (lower case, spaces): refused from then on.
    const second = await run(['invite', '--uses', '3', '--role', 'patient', '--expires', '12h'], dataDir);
    expect(second.stderr).toMatch(/3 of 3 uses left, patient accounts only/);
    const typed = second.stdout.trim().toLowerCase().replaceAll('-', ' ');
    const revoked = await run(['invite', '--revoke', typed], dataDir);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked invite [0-9a-f]{12}\n$/);
    expect((await register(server.url, normalizeInviteCode(typed) ?? '')).body).toMatchObject({
      code: 'INVITE_INVALID',
    });
    expect((await run(['invite', '--revoke', 'ffffffffffff'], dataDir)).stderr).toContain(
      'no invite with the code or id',
    );

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });

    // With the server stopped the command claims the directory itself, and gives it back.
    const offline = await run(['invite'], dataDir);
    expect(offline.code).toBe(0);
    const all = await run(['invite', '--list'], dataDir);
    expect(all.stdout.trim().split('\n')).toHaveLength(4);
    expect(all.stdout).toMatch(/ revoked +3\/3 +patient /);
    const again = await children.serve(serverCommand(), { dataDir, env: { HALE_REGISTRATION: 'invite' } });
    expect((await register(again.url, normalizeInviteCode(offline.stdout) ?? '')).status).toBe(201);
    again.child.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });

  it('never creates a store: a data directory without one is refused and left empty', async () => {
    const dataDir = await children.tempDir('invite-empty');
    const r = await spawned(['invite'], dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^no Hale store at .*--data-dir/);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(dataDir, SQLITE_FILE_NAME))).toBe(false);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('a server with a bad HALE_REGISTRATION does not start, and says why', async () => {
    const dataDir = await children.tempDir('invite-bad');
    const r = await run([], dataDir, { HALE_REGISTRATION: 'invites' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^HALE_REGISTRATION: must be open, invite or closed: "invites"\n\nUsage:/);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
