// `npm start` with a certificate: the real server process (main.ts) serves HTTPS and WSS with a self-signed
// certificate made here with openssl, and two devices of one account sync through it (the second joins with
// the passphrase over HTTPS, records arrive over WSS). The devices trust only that certificate: a client
// without it, or speaking plain HTTP, gets nothing. SIGHUP takes a renewed certificate without a restart.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodePlatform } from '@hale/platform-node';
import { openHaleForTests } from '@hale/client/testing';
import type { FetchLike, HaleSession, Platform, WebSocketLike } from '@hale/client';
import { input } from '../support/records';
import { eventually } from '../support/devices';
import { START_WAIT_MS, freePort } from '../support/process';

const root = path.resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
});

/** A self-signed certificate for 127.0.0.1 (EC P-256, one day), as PEM files in `dir`. */
const selfSigned = (dir: string, name: string): { cert: string; key: string } => {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
};

/** `fetch` over node:https trusting only `ca` (Node's global fetch takes no CA of its own). */
const httpsFetch =
  (ca: string): FetchLike =>
  (url, init) =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: init.method, headers: init.headers, ca, ...(init.signal ? { signal: init.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            const status = res.statusCode ?? 0;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, headers }));
          });
        },
      );
      req.on('error', reject);
      if (init.body !== undefined) req.write(init.body);
      req.end();
    });

const tlsPlatform = (ca: string): Platform => ({
  ...nodePlatform(),
  fetch: httpsFetch(ca),
  createWebSocket: (url) => new WebSocket(url, { ca }) as unknown as WebSocketLike,
});

const startTlsServer = async (files: { cert: string; key: string }) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-https-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'sync-server/src/main.ts'),
      '--port',
      String(port),
      '--data-dir',
      dataDir,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOST: '127.0.0.1', HALE_TLS_CERT: files.cert, HALE_TLS_KEY: files.key },
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });
  const url = `https://127.0.0.1:${port}`;
  const ca = await readFile(files.cert, 'utf8');
  const until = Date.now() + START_WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    const up = await httpsFetch(ca)(`${url}/healthz`, { method: 'GET', headers: {} }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > until) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, ca, child, log: () => out };
};

/** The SHA-256 fingerprint of the certificate the server presents now. */
const presented = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });

describe('HTTPS and WSS with a certificate and key', () => {
  it('serves both, and two devices of one account sync through it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-cert-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const files = selfSigned(dir, 'server');
    const server = await startTlsServer(files);
    expect(server.log()).toContain(`"address":"https://127.0.0.1:${server.port}"`);

    // Plain HTTP to the TLS port, and HTTPS without trusting the certificate, get nothing.
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();

    const sessions: HaleSession[] = [];
    cleanups.push(async () => {
      for (const s of sessions) await s.close();
    });
    const laptop = await (
      await openHaleForTests({ server: server.url, platform: tlsPlatform(server.ca) })
    ).createAccount({
      role: 'patient',
      loginName: 'ada',
      passphrase: 'correct horse battery',
      deviceName: 'Laptop',
    });
    sessions.push(laptop.session);
    const phone = await (
      await openHaleForTests({ server: server.url, platform: tlsPlatform(server.ca) })
    ).join({
      loginName: 'ada',
      passphrase: 'correct horse battery',
      deviceName: 'Phone',
    });
    sessions.push(phone);
    const written = await laptop.session.records.add(
      'Allergy',
      input('Allergy', { substance: 'penicillin' }),
    );
    await eventually(
      async () => (await phone.records.get(written.id)) !== null,
      'phone has it over WSS',
      30_000,
    );
    expect(['online', 'syncing']).toContain(phone.sync.state.get().status);
  }, 120_000);

  it('takes a renewed certificate on SIGHUP, without a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-cert-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const files = selfSigned(dir, 'server');
    const server = await startTlsServer(files);
    const first = await presented(server.port);
    expect(first).toBe(new X509Certificate(await readFile(files.cert)).fingerprint256);
    const renewed = selfSigned(dir, 'renewed');
    await writeFile(files.cert, await readFile(renewed.cert));
    await writeFile(files.key, await readFile(renewed.key));
    server.child.kill('SIGHUP');
    const expected = new X509Certificate(await readFile(renewed.cert)).fingerprint256;
    await eventually(
      async () => (await presented(server.port)) === expected,
      'the renewed certificate',
      10_000,
    );
    expect(server.child.exitCode).toBeNull();
  }, 120_000);

  it('refuses to start with a key that is not the certificate’s (status 2, one line)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-cert-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const a = selfSigned(dir, 'a');
    const b = selfSigned(dir, 'b');
    const dataDir = path.join(dir, 'data');
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'sync-server/src/main.ts',
          '--data-dir',
          dataDir,
          '--tls-cert',
          a.cert,
          '--tls-key',
          b.key,
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => resolve({ code, err }));
    });
    expect(result.code).toBe(2);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toContain('are not a PEM certificate chain and its private key');
  }, 120_000);
});
