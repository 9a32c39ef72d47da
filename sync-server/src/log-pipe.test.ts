// The log reader goes away (`hale-sync-server | head -1`, a log shipper that died: every log write fails
// with EPIPE) or stops reading (a log shipper that hangs: the pipe fills and writes block). Either way the
// server must keep serving, and SIGTERM must still drain it, close the store (the WAL checkpointed away)
// and give the data directory up, exiting 0.
import { connect as tcp } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { PushedFrame } from '@hale/protocol';
import { answers, childProcesses, freePort, serverCommand } from './child-process.test-util';
import { SQLITE_FILE_NAME } from './store/index';
import { connect, endpoint, http, makeDoc, registerAccount } from './testing/harness';

const children = childProcesses();

/** A socket that upgrades and then sends a frame with a reserved opcode: the server logs a warning. */
const badFrame = (port: number) =>
  new Promise<void>((resolve) => {
    const s = tcp(port, '127.0.0.1');
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('connect', () =>
      s.write(
        'GET /sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    s.once('data', () => s.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0])));
  });

/** Exit code and signal, or 'still running' if the process has not exited `ms` after the call. */
const exitWithin = (exited: Promise<unknown>, ms: number) =>
  Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), ms).unref())]);

describe('a log reader that went away or stopped reading', () => {
  it.each([
    ['closed', 'a closed stdout pipe (EPIPE)'],
    ['stalled', 'a stdout pipe nobody reads (full, writes block)'],
  ] as const)(
    '%s: logging into %s neither blocks nor crashes the server; SIGTERM still stops it cleanly',
    async (mode, _what) => {
      const dataDir = await children.tempDir('log-pipe');
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const { child, output, exited } = children.start(serverCommand(), {
        PORT: String(port),
        HALE_DATA_DIR: dataDir,
        HALE_LOG_LEVEL: 'trace',
        // The bad frames below come in faster than the default upgrade budget allows.
        HALE_RATE_PER_ADDRESS: '100000',
      });

      // Read the first line (what `| head -1` does), then close the read end of the pipe.
      await new Promise<void>((resolve, reject) => {
        const onData = () => {
          if (output.stdout.includes('listening')) {
            child.stdout.off('data', onData);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.once('exit', () => reject(new Error(`exited early: ${output.stderr}`)));
      });
      if (mode === 'closed') child.stdout.destroy();
      else child.stdout.pause();

      // It keeps serving with nobody reading its log: registration, a push, refusals all log.
      const e = endpoint(url);
      expect(await answers(url)).toBe(true);
      const patient = await registerAccount(e);
      const ws = await connect(e, patient.device);
      const docs = await Promise.all(
        [1, 2, 3].map((n) => makeDoc(patient, patient.device, 'allergy', { n })),
      );
      const pushed = await ws.request<PushedFrame>({
        t: 'push',
        rid: 1,
        rows: docs.map((doc) => ({ doc, assumedRev: null })),
      });
      expect(pushed.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
      for (let i = 0; i < 20; i++) expect((await http(url, 'GET', '/v1/nope')).status).toBe(404);
      // Warnings of about 1 KiB each: far more than a pipe holds (64 KiB on Linux).
      for (let i = 0; i < 300; i++) await badFrame(port);
      expect(await answers(url)).toBe(true);
      expect(child.exitCode).toBe(null);

      // SIGTERM with the connection still open: the shutdown logs several lines into the dead pipe.
      child.kill('SIGTERM');
      // Bounded well past the drain (10 s grace + 5 s) only so a hang fails this test instead of the run.
      const result = await exitWithin(exited, 30_000);
      await ws.closed;
      expect(result, output.stderr).toEqual({ code: 0, signal: null });

      // The store was closed cleanly: the WAL is checkpointed away, the acknowledged writes are there, and
      // the data directory is free (another server may open it).
      const wal = path.join(dataDir, `${SQLITE_FILE_NAME}-wal`);
      expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
      const db = new Database(path.join(dataDir, SQLITE_FILE_NAME));
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const n = db
          .prepare('SELECT count(*) AS n FROM docs WHERE stream = ?')
          .get(`${patient.accountId}/allergy`);
        expect(n).toEqual({ n: 3 });
      } finally {
        db.close();
      }
    },
    60_000,
  );
});
