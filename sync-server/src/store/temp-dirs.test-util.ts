import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/**
 * Call at a test file's top level: returns a maker of fresh temporary directories named `prefix…`, each
 * removed after the test that made it. Registered first, its clean-up runs after the file's own
 * `afterEach` hooks (Vitest runs them in reverse), so stores and processes are closed before.
 */
export const useTempDirs = (prefix: string): (() => string) => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
};
