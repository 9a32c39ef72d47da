// The installed web app: after one visit the release service worker keeps the signed build; with the
// browser context offline a reload is answered by the worker (not the server), the app unlocks, reads and
// writes; back online the writes reach the account's other device. Settings says what is kept.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, PASSPHRASE, signUp, uniqueName, unlock } from './support';

test('after one visit: offline reload opens the app, unlocks, reads and writes; online it syncs', async ({
  page,
  context,
  browser,
}) => {
  const loginName = uniqueName('pwa');
  await signUp(page, { loginName });
  // The first visit installed the release (a development build here: signed with the public dev key).
  await expect(page.getByText('Hale works offline now')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText('This is a development build')).toBeVisible();
  expect(await page.evaluate('navigator.serviceWorker.ready.then((r) => r.active.scriptURL)')).toMatch(
    /\/sw\.js$/,
  );
  const manifest = (await (await page.request.get('/manifest.webmanifest')).json()) as {
    icons: { sizes: string; purpose: string }[];
    display: string;
  };
  expect(manifest.display).toBe('standalone');
  expect(manifest.icons.map((i) => `${i.sizes} ${i.purpose}`)).toEqual([
    '192x192 any',
    '512x512 any',
    '512x512 maskable',
  ]);
  await addRecord(page, 'allergies', { substance: 'Penicillin' });

  const other = await (await browser.newContext()).newPage();
  await other.goto('/start/join');
  await other.getByLabel('Sign-in name').fill(loginName);
  await other.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await other.getByRole('button', { name: 'Add this device' }).click();
  await expect(other.getByTestId('home-allergies')).toContainText('Penicillin', { timeout: 60_000 });
  await go(other, '/chart/medications');

  await context.setOffline(true);
  const reloaded = await page.reload();
  expect(reloaded?.fromServiceWorker()).toBe(true);
  expect(await reloaded?.headerValue('x-hale-release')).toBe('0.1.0');
  expect(await reloaded?.headerValue('content-security-policy')).toContain("script-src 'self'");
  await unlock(page);
  await go(page, '/');
  await expect(page.getByTestId('home-allergies')).toContainText('Penicillin');
  const badge = page.getByTestId('sync-badge');
  await expect(badge).toContainText('Offline', { timeout: 60_000 });
  // Screens not opened before this load come from the kept release too.
  await addRecord(page, 'medications', { name: 'Metformin', dose: '500 mg' });
  await go(page, '/labs/trends');
  await expect(page.getByRole('heading', { name: 'Lab trends' })).toBeVisible();
  await go(page, '/settings');
  await expect(page.getByTestId('app-offline')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('app-panel')).toContainText('Version 0.1.0');
  await page.getByTestId('app-panel').scrollIntoViewIfNeeded();
  await checkScreen(page, 'settings-this-app');
  await expect(other.getByText('Metformin')).toHaveCount(0);

  await context.setOffline(false);
  await expect(other.getByText('Metformin')).toBeVisible({ timeout: 90_000 });
  await expect(badge).not.toContainText('Offline', { timeout: 60_000 });
});
