// The unlock screen's JavaScript: at most 350 KB gzipped (measured from the build's manifest), and the
// screen really shows and takes the passphrase before the library arrives: with the library's chunks
// held back by the network, the unlock form is on screen; released, the unlock completes.
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { measureUnlock, UNLOCK_BUDGET_BYTES } from '../../packages/app/scripts/unlock-size';
import { PASSPHRASE, signUp, uniqueName, unlock } from './support';

const DIST = path.resolve(import.meta.dirname, '../../packages/app/dist');

test('the unlock screen loads at most 350 KB of gzipped JavaScript and shows before the library', async ({
  browser,
}) => {
  const size = measureUnlock(DIST);
  test.info().annotations.push({
    type: 'unlock JavaScript',
    description: `${(size.screen.gzipBytes / 1024).toFixed(1)} KB gzipped (library behind it: ${(size.behind.gzipBytes / 1024).toFixed(1)} KB)`,
  });
  expect(size.screen.gzipBytes).toBeLessThanOrEqual(UNLOCK_BUDGET_BYTES);
  expect(size.behind.files.length).toBeGreaterThan(0);

  // No service worker here: the page's own requests are the ones held.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await signUp(page, { loginName: uniqueName('size') });

  const library = new Set(size.behind.files.map((f) => `/${f}`));
  const held: (() => void)[] = [];
  const loaded: string[] = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'script') loaded.push(new URL(r.url()).pathname);
  });
  await page.route('**/assets/*.js', async (route) => {
    if (library.has(new URL(route.request().url()).pathname)) {
      await new Promise<void>((resolve) => held.push(resolve));
    }
    await route.continue();
  });
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Unlock Hale' })).toBeVisible();
  await page.getByLabel('Passphrase').fill(PASSPHRASE);
  expect(held.length).toBeGreaterThan(0);
  // Every script the screen loaded is one the measure counted (no chunk outside the manifest's closure).
  const counted = new Set(size.screen.files.map((f) => `/${f}`));
  expect(loaded.filter((p) => !counted.has(p) && !library.has(p))).toEqual([]);

  for (const release of held.splice(0)) release();
  await unlock(page);
  await expect(page.getByTestId('home-allergies')).toBeVisible();
  await context.close();
});
