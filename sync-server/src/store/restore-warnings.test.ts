// The warnings of a restore are reported once the copy is in place: by then the restore has happened, and
// a `onWarning` that throws (a logger that fails, a caller's bug) must not make it report failure, or the
// CLI would tell the operator to retry a restore that already replaced the store.
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-warnings-');
const S = 'pat/lab-result';

afterEach(() => {
  vi.restoreAllMocks();
});

const backupOfOneDoc = async (): Promise<string> => {
  const store = await openSqliteStore({ dataDir: newDir() });
  try {
    await store.docs.writeDocs([{ doc: makeDocInput(S, 'doc-1', '1-x'), assumedRev: null }], isoAt(1));
    const file = join(newDir(), 'b.sqlite');
    await backupSqlite(store, file);
    return file;
  } finally {
    await store.close();
  }
};

describe('a restore whose onWarning throws', () => {
  it('still resolves, offers every warning, and writes to stderr those the callback failed on', async () => {
    const backup = await backupOfOneDoc();
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const offered: string[] = [];
    // Into an empty directory: nothing can be carried, which is a warning.
    const dataDir = join(newDir(), 'data');
    const result = await restoreSqlite(backup, dataDir, {
      onWarning: (warning) => {
        offered.push(warning);
        throw new Error('the log sink is gone');
      },
    });
    expect(result.warnings.length).toBeGreaterThan(0);
    expect(offered).toEqual(result.warnings);
    for (const warning of result.warnings) {
      expect(stderr.some((line) => line.includes(warning))).toBe(true);
    }
    vi.restoreAllMocks();

    const restored = await openSqliteStore({ dataDir });
    try {
      expect((await restored.docs.getDoc(S, 'doc-1'))?.id).toBe('doc-1');
      expect(result.incarnation).not.toBe('');
    } finally {
      await restored.close();
    }
  });
});
