// One real server per test and the device sessions the test opened, closed afterwards; one crypto
// worker per test file, closed after its tests.
import { afterAll, afterEach, beforeEach } from 'vitest';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import type { CryptoOffload, DeviceSession } from '@hale/client/advanced';
import { createTestCryptoOffload } from './test-offload';

export interface ServerFixture {
  /** The current test's server (set in beforeEach). */
  readonly t: TestServer;
  /** Sessions pushed here are closed after the test, before the server stops. */
  readonly sessions: DeviceSession[];
}

export const useServer = (options: Parameters<typeof startServer>[0] = {}): ServerFixture => {
  let current: TestServer | null = null;
  const sessions: DeviceSession[] = [];
  beforeEach(async () => {
    current = await startServer(options);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await current?.stop();
    current = null;
  });
  return {
    get t(): TestServer {
      if (!current) throw new Error('useServer: no server outside a test');
      return current;
    },
    sessions,
  };
};

/**
 * A crypto worker thread (`createTestCryptoOffload`: in the worker project, every batch) for the calling test file, closed after all its
 * tests. Created at once, not in a hook, so that tables of cases built while tests are collected can
 * name it.
 */
export const useCryptoWorker = (): CryptoOffload => {
  const worker = createTestCryptoOffload();
  afterAll(() => worker.close());
  return worker;
};

/**
 * Flips one byte near the end of a record's stored ciphertext, as a malicious or broken server would;
 * answers the altered bytes (what the row must still hold if no device wrote over it).
 */
export const flipStoredCiphertext = (t: TestServer, id: string): Buffer => {
  const row = t.store.db.prepare('SELECT ct FROM docs WHERE id = ?').get(id) as { ct: Buffer };
  const ct = Buffer.from(row.ct);
  ct.writeUInt8(ct.readUInt8(ct.length - 5) ^ 0x01, ct.length - 5);
  t.store.db.prepare('UPDATE docs SET ct = ? WHERE id = ?').run(ct, id);
  return ct;
};

/** A record's row in the server's store, as a replay needs it. */
export interface StoredDocRow {
  stream: string;
  rev: string;
  ct: Buffer;
  sig: string | null;
  deleted: number;
  epoch: number;
  author: string;
  size: number;
}

/** The row the server holds for a record now (keep it to replay later). */
export const storedRow = (t: TestServer, id: string): StoredDocRow =>
  t.store.db.prepare('SELECT * FROM docs WHERE id = ?').get(id) as StoredDocRow;

/** What a dishonest server can do: serve a version it once stored again, as the newest, at a new seq. */
export const replayStored = (t: TestServer, id: string, old: StoredDocRow): void => {
  const { head } = t.store.db.prepare('SELECT head FROM stream_heads WHERE stream = ?').get(old.stream) as {
    head: number;
  };
  t.store.db
    .prepare(
      'UPDATE docs SET rev = ?, ct = ?, sig = ?, deleted = ?, epoch = ?, author = ?, size = ?, seq = ? WHERE id = ?',
    )
    .run(old.rev, old.ct, old.sig, old.deleted, old.epoch, old.author, old.size, head + 1, id);
  t.store.db.prepare('UPDATE stream_heads SET head = ? WHERE stream = ?').run(head + 1, old.stream);
};

/** The ciphertext the server holds for a record. */
export const storedCiphertext = (t: TestServer, id: string): Buffer =>
  (t.store.db.prepare('SELECT ct FROM docs WHERE id = ?').get(id) as { ct: Buffer }).ct;
