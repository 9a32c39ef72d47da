// Logs redirected to a file (`hale-sync-server >> /var/log/hale.log`) on a disk that fills up: the writes
// fail with ENOSPC until space is freed. That is not a reader that is gone (EPIPE): the lines written
// meanwhile are dropped and counted, and logging goes on once the disk takes writes again, instead of
// stopping for the rest of the process's life. The disk filling is simulated at `fs.write`.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as Fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** How many of the next `fs.write` calls fail as on a full disk. */
const full = vi.hoisted(() => ({ writes: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const write = (...args: Parameters<typeof fs.write>): void => {
    const callback = args.at(-1);
    if (full.writes > 0 && typeof callback === 'function') {
      full.writes--;
      const error: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
      error.code = 'ENOSPC';
      setImmediate(() => {
        Reflect.apply(callback, undefined, [error, 0]);
      });
      return;
    }
    Reflect.apply(fs.write, fs, args);
  };
  return { ...fs, default: { ...fs, write }, write };
});

const { createLogDestination } = await import('./log-destination');

const dirs: string[] = [];
afterEach(() => {
  full.writes = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a log file on a full disk', () => {
  it('drops and counts the lines while the disk is full, then writes again and reports the gap', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hale-log-full-'));
    dirs.push(dir);
    const file = path.join(dir, 'hale.log');
    const fd = openSync(file, 'a');
    try {
      const reports: number[] = [];
      const d = createLogDestination(fd, { onDropped: (n) => reports.push(n) });
      full.writes = 1;
      d.write('{"i":0}\n');
      await d.settle(5_000);
      expect(d.dropped).toBe(1);
      // The disk has room again.
      d.write('{"i":1}\n');
      await d.settle(5_000);
      d.write('{"i":2}\n');
      await d.settle(5_000);
      expect(d.failure).toBeNull();
      expect(readFileSync(file, 'utf8')).toBe('{"i":1}\n{"i":2}\n');
      expect(reports).toEqual([1]);
    } finally {
      closeSync(fd);
    }
  });
});
