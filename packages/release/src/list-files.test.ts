import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFiles } from '../node/index';

describe('listFiles', () => {
  it('lists the served files, sorted; leaves out release.json and dot-names (not served)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-release-list-'));
    try {
      await mkdir(path.join(dir, 'assets'));
      await mkdir(path.join(dir, '.vite'));
      await writeFile(path.join(dir, 'index.html'), '<!doctype html>');
      await writeFile(path.join(dir, 'assets/app.js'), 'x');
      await writeFile(path.join(dir, 'release.json'), '{}');
      await writeFile(path.join(dir, '.vite/manifest.json'), '{}');
      await writeFile(path.join(dir, '.hidden'), 'y');
      expect((await listFiles(dir)).map((f) => f.path)).toEqual(['/assets/app.js', '/index.html']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
