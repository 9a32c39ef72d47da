// The refusal of a store of a newer schema carries the versions in its error (details), and the start's one
// line is built from them: not from reopening the store file after the failure, which may by then be gone,
// replaced or unreadable. In process; start-failures.test.ts runs the same refusals as real processes.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFailureLine } from './start-failure';
import { lockDataDir } from './store/data-dir-lock';
import { openInviteStore } from './store/invite-store';
import { isStoreError, openSqliteStore, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION } from './store/index';
import { useTempDirs } from './store/temp-dirs.test-util';

const newDir = useTempDirs('hale-start-failure-');

const newerStore = async (): Promise<string> => {
  const dataDir = newDir();
  const store = await openSqliteStore({ dataDir });
  store.db.pragma('user_version = 99');
  await store.close();
  return dataDir;
};

const refusal = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => null,
    (error: unknown) => error,
  );

const context = (dataDir: string, command: 'serve' | 'invite') => ({
  command,
  dataDir,
  host: '127.0.0.1',
  port: 1,
});

describe('a store of a newer schema', () => {
  it('the store refuses it with both schema versions in the error details', async () => {
    const dataDir = await newerStore();
    const opened = await refusal(openSqliteStore({ dataDir }));
    expect(isStoreError(opened) ? opened.details : opened).toEqual({
      schemaVersion: 99,
      supportedSchemaVersion: SQLITE_SCHEMA_VERSION,
    });
    // Beside a running server (the directory held), the invite command's own check says the same.
    const lock = lockDataDir(dataDir);
    try {
      const beside = await refusal(openInviteStore(dataDir));
      expect(isStoreError(beside) ? beside.details : beside).toEqual({
        schemaVersion: 99,
        supportedSchemaVersion: SQLITE_SCHEMA_VERSION,
      });
    } finally {
      lock.release();
    }
  });

  it('the one line comes from the refusal, even with the store file gone since', async () => {
    const dataDir = await newerStore();
    const error = await refusal(openSqliteStore({ dataDir }));
    rmSync(join(dataDir, SQLITE_FILE_NAME));
    for (const command of ['serve', 'invite'] as const) {
      const line = startFailureLine(error, context(dataDir, command));
      expect(line).toContain(
        `schema version 99, newer than this version of Hale supports (${SQLITE_SCHEMA_VERSION})`,
      );
      expect(line).toMatch(/restore/);
    }
  });
});
