// The real process: the start entry (main.ts through tsx, and `npm start` from the repository root),
// --help, /healthz, JSON logs that never carry secrets, online backup, SIGTERM with a cleanly closed store,
// restore of the backup into a new data directory, and one server process per data directory. The
// commands that do not serve (--help, backup, restore) run in this process (cli.ts, as main.ts runs them),
// beside the server processes; `npm start -- --help` and the bad flag below are processes.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { EnvelopesFrame, PulledFrame, PushDoc, PushedFrame } from '@hale/protocol';
import { deriveInitialStreamKey, sealBytes } from '@hale/crypto';
import { newId } from '@hale/model';
import { childProcesses, freePort, serverCommand, type Running } from './child-process.test-util';
import { runCli } from './cli.test-util';
import { SQLITE_FILE_NAME } from './store/index';
import {
  connect,
  createBlob,
  digestOf,
  endpoint,
  getChunk,
  http,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRegistration,
  putChunk,
  registerAccount,
  sessionToken,
  streamOf,
  type Endpoint,
  type TestAccount,
} from './testing/harness';

const PASSPHRASE = 'process-test passphrase that never leaves the device';

const children = childProcesses();

const main = (args: string[], env: Record<string, string> = {}) =>
  children.start(serverCommand(...args), env);

const finish = async (r: Running) => ({ code: (await r.exited).code, ...r.output });

const serve = async (dataDir: string, env: Record<string, string> = {}) => {
  const r = await children.serve(serverCommand(), { dataDir, env });
  return { r, url: r.url, e: endpoint(r.url) };
};

const integrity = (dataDir: string) => {
  const db = new Database(path.join(dataDir, SQLITE_FILE_NAME), { readonly: true });
  try {
    return {
      check: db.pragma('integrity_check', { simple: true }) as string,
      docs: (
        db.prepare('SELECT count(*) AS n FROM docs WHERE stream NOT LIKE ?').get('%/audit') as { n: number }
      ).n,
    };
  } finally {
    db.close();
  }
};

const pullAll = async (e: Endpoint, account: TestAccount, stream: PushDoc['stream']) => {
  const ws = await connect(e, account.device);
  const pulled = await ws.request<PulledFrame>({
    t: 'pull',
    rid: 1,
    streams: [{ stream, since: 0 }],
    limit: 1000,
    maxBytes: 1 << 22,
  });
  await ws.close();
  return pulled.docs;
};

describe('the server process', () => {
  const { tempDir } = children;

  it('--help lists HOST, PORT and HALE_DATA_DIR and exits 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['HOST', 'PORT', 'HALE_DATA_DIR', 'backup --out FILE', 'restore --from FILE']) {
      expect(help.stdout).toContain(name);
    }
    const bad = await finish(main(['--port', 'not-a-port']));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('port');
  });

  it('serves, logs no secret, backs up online, stops cleanly on SIGTERM, and the backup restores', async () => {
    const dataDir = await tempDir('data');
    const { r, url, e } = await serve(dataDir, { HALE_LOG_LEVEL: 'trace' });
    expect((await http(url, 'GET', '/healthz')).body).toMatchObject({ status: 'ok', store: 'sqlite' });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of ['hale_ws_connections', 'hale_refusals_total', 'hale_process_resident_memory_bytes']) {
      expect(metrics).toContain(name);
    }

    // A realistic session: registration with a passphrase-wrapped root, sessions, records, a grant,
    // envelopes, a provider pull, a blob, and some refusals.
    const registration = await makeRegistration('patient', { passphrase: PASSPHRASE });
    expect((await http(url, 'POST', '/v1/accounts', registration.body)).status).toBe(201);
    const patient = registration.account;
    const provider = await registerAccount(e, 'provider');
    const tokens = [await sessionToken(e, patient.device), await sessionToken(e, provider.device)];
    const stream = streamOf(patient.accountId, 'allergy');
    const docs = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => makeDoc(patient, patient.device, 'allergy', { n: i })),
    );
    const ws = await connect(e, patient.device);
    const pushed = await ws.request<PushedFrame>({
      t: 'push',
      rid: 1,
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    });
    expect(pushed.results.every((x) => x.status === 'ok')).toBe(true);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await ws.request({ t: 'grant', rid: 2, grant })).t).toBe('ok');
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    expect((await ws.request({ t: 'putEnvelopes', rid: 3, envelopes: [envelope] })).t).toBe('ok');
    const providerWs = await connect(e, provider.device);
    expect(
      (
        await providerWs.request<PulledFrame>({
          t: 'pull',
          rid: 1,
          streams: [{ stream, since: 0 }],
          limit: 100,
          maxBytes: 1 << 20,
        })
      ).docs,
    ).toHaveLength(5);
    expect((await providerWs.request<EnvelopesFrame>({ t: 'getEnvelopes', rid: 2 })).envelopes).toHaveLength(
      1,
    );
    const docStream = streamOf(patient.accountId, 'document');
    const blobId = newId();
    const sealed = sealBytes(
      deriveInitialStreamKey(patient.root, docStream),
      { blobId, chunkIndex: 0, epoch: 0 },
      new Uint8Array(5000).fill(7),
    );
    const manifest = {
      blobId,
      stream: docStream,
      size: 5000,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(sealed)],
    };
    expect((await createBlob(e, tokens[0], manifest)).status).toBe(200);
    expect((await putChunk(e, tokens[0], blobId, 0, sealed)).status).toBe(200);
    expect((await getChunk(e, tokens[0], blobId, 0)).status).toBe(200);
    expect((await getChunk(e, tokens[1], blobId, 0)).status).toBe(403);
    expect((await http(url, 'GET', '/v1/directory?q=a', undefined, `${tokens[0]}x`)).status).toBe(401);
    expect((await http(url, 'POST', '/v1/join', { loginName: patient.loginName })).status).toBe(200);

    // Online backup from another process while the server runs, then one more write after it.
    const backupFile = path.join(await tempDir('backup'), 'hale-backup.sqlite');
    const backup = await runCli(['backup', '--out', backupFile], { HALE_DATA_DIR: dataDir });
    expect(backup.code).toBe(0);
    expect(statSync(backupFile).size).toBeGreaterThan(0);
    const late = await makeDoc(patient, patient.device, 'allergy', { n: 6 });
    expect(
      (await ws.request<PushedFrame>({ t: 'push', rid: 4, rows: [{ doc: late, assumedRev: null }] }))
        .results[0]?.status,
    ).toBe('ok');
    await ws.close();
    await providerWs.close();

    // SIGTERM: drains, closes the store, exits 0.
    r.child.kill('SIGTERM');
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.output.stdout).toContain('store closed cleanly');
    const closed = integrity(dataDir);
    expect(closed).toEqual({ check: 'ok', docs: 6 });
    const wal = path.join(dataDir, `${SQLITE_FILE_NAME}-wal`);
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);

    // Logs: pino JSON lines only, and none of what went through the server in confidence.
    const lines = r.output.stdout.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    const wrapped = registration.body.account.wrappedRoot as unknown as { ct: string; nonce: string };
    const secrets: Array<[string, string]> = [
      ...tokens.map((tok, i): [string, string] => [`session token ${i}`, tok]),
      ...docs.map((d, i): [string, string] => [`ciphertext ${i}`, d.ct.slice(0, 40)]),
      ['late ciphertext', late.ct.slice(0, 40)],
      ['wrapped stream key', envelope.wrapped.slice(0, 40)],
      ['wrapped root', wrapped.ct],
      ['wrapped root nonce', wrapped.nonce],
      ['sealed chunk (base64url)', Buffer.from(sealed.subarray(0, 30)).toString('base64url')],
      ['sealed chunk (base64)', Buffer.from(sealed.subarray(0, 30)).toString('base64')],
      ['passphrase', PASSPHRASE],
    ];
    const log = r.output.stdout + r.output.stderr;
    expect(secrets.filter(([, s]) => log.includes(s)).map(([name]) => name)).toEqual([]);

    // Restore the backup into a new data directory and serve it: the state at backup time.
    const restored = await tempDir('restored');
    const restore = await runCli(['restore', '--from', backupFile, '--data-dir', restored]);
    expect(restore.code).toBe(0);
    expect(integrity(restored)).toEqual({ check: 'ok', docs: 5 });
    const second = await serve(restored);
    const back = await pullAll(second.e, patient, stream);
    expect(back.map((d) => [d.id, d.ct])).toEqual(docs.map((d) => [d.id, d.ct]));
    expect((await getChunk(second.e, await sessionToken(second.e, patient.device), blobId, 0)).status).toBe(
      200,
    );
    second.r.child.kill('SIGTERM');
    expect(await second.r.exited).toEqual({ code: 0, signal: null });
  });

  it('one server per data directory: a second server, and a restore, are refused; backup works; SIGKILL frees it', async () => {
    const dataDir = await tempDir('single');
    const first = await serve(dataDir);
    const pid = first.r.child.pid;
    const patient = await registerAccount(first.e);
    const token = await sessionToken(first.e, patient.device);
    const ws = await connect(first.e, patient.device);
    const push = async (n: number, rid: number) => {
      const doc = await makeDoc(patient, patient.device, 'allergy', { n });
      const frame = await ws.request<PushedFrame>({ t: 'push', rid, rows: [{ doc, assumedRev: null }] });
      return frame.results[0];
    };
    expect(await push(1, 1)).toMatchObject({ status: 'ok', seq: 1 });
    const before = integrity(dataDir);
    const refusal = `another Hale server is using ${dataDir} (pid ${pid}); stop it first\n`;

    // A second server (another port, so only the data directory is shared): one line, non-zero, at once.
    const secondPort = await freePort();
    const second = await finish(
      main([], { HOST: '127.0.0.1', PORT: String(secondPort), HALE_DATA_DIR: dataDir }),
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(refusal);
    expect(second.stdout).toBe('');
    expect(await fetch(`http://127.0.0.1:${secondPort}/healthz`).catch(() => null)).toBeNull();

    // Restore into the running server's directory: refused the same way, with --force too, before copying.
    const backupFile = path.join(await tempDir('single-backup'), 'b.sqlite');
    const backup = await runCli(['backup', '--out', backupFile], { HALE_DATA_DIR: dataDir });
    expect(backup).toMatchObject({ code: 0, stderr: '' });
    for (const force of [[], ['--force']]) {
      const restore = await runCli(['restore', '--from', backupFile, '--data-dir', dataDir, ...force]);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toBe(refusal);
    }
    expect(readdirSync(dataDir).filter((f) => /restore|replaced/.test(f))).toEqual([]);

    // The first server is untouched and still serves, authenticated requests and writes included.
    expect(integrity(dataDir)).toEqual(before);
    expect((await http(first.url, 'GET', '/healthz')).status).toBe(200);
    expect((await http(first.url, 'GET', '/v1/directory?q=a', undefined, token)).status).toBe(200);
    expect(await push(2, 2)).toMatchObject({ status: 'ok', seq: 2 });
    await ws.close();
    // The backup taken beside it is a consistent copy of the state at that time.
    const copy = new Database(backupFile, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(
      copy
        .prepare('SELECT count(*) AS n FROM docs WHERE stream = ?')
        .get(streamOf(patient.accountId, 'allergy')),
    ).toEqual({ n: 1 });
    copy.close();

    // A crash leaves no stale lock: right after SIGKILL a new server starts on the directory.
    first.r.child.kill('SIGKILL');
    await first.r.exited;
    const third = await serve(dataDir);
    expect(await pullAll(third.e, patient, streamOf(patient.accountId, 'allergy'))).toHaveLength(2);
    third.r.child.kill('SIGTERM');
    expect(await third.r.exited).toEqual({ code: 0, signal: null });
  });

  it('`npm start` works from the repository root (help, serve, SIGTERM)', async () => {
    const help = await finish(children.start(['npm', 'start', '--', '--help']));
    expect(help.code).toBe(0);
    for (const name of ['HOST', 'PORT', 'HALE_DATA_DIR', 'backup --out FILE', 'restore --from FILE']) {
      expect(help.stdout).toContain(name);
    }

    const dataDir = await tempDir('npm');
    const r = await children.serve(['npm', 'start'], { dataDir });
    process.kill(-r.child.pid!, 'SIGTERM');
    await r.exited;
    // npm dies of the signal; the server's own exit shows in what it wrote before closing its pipes.
    await r.drained;
    expect(r.output.stdout).toContain('store closed cleanly');
    expect(integrity(dataDir).check).toBe('ok');
  });
});
