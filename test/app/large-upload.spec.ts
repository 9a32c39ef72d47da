// A 20 MB document uploaded while offline: queued on the device (said so), sent when the network returns,
// then downloaded on the account's other device with the same bytes (SHA-256 compared).
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { go, PASSPHRASE, signUp, uniqueName } from './support';

const SIZE = 20 * 1024 * 1024;

test('20 MB document uploaded offline, sent on reconnect, downloaded identical on the other device', async ({
  page,
  context,
  browser,
}) => {
  test.setTimeout(420_000);
  const bytes = randomBytes(SIZE);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(tmpdir(), `${uniqueName('scan')}.pdf`);
  await writeFile(file, bytes);

  const loginName = uniqueName('big');
  await signUp(page, { loginName });
  const other = await (await browser.newContext()).newPage();
  await other.goto('/start/join');
  await other.getByLabel('Sign-in name').fill(loginName);
  await other.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await other.getByRole('button', { name: 'Add this device' }).click();
  await expect(other.getByTestId('home-allergies')).toBeVisible({ timeout: 60_000 });

  await context.setOffline(true);
  await expect(page.getByTestId('sync-badge')).toContainText('Offline', { timeout: 60_000 });
  await go(page, '/documents/upload');
  await page.getByTestId('file-picker').setInputFiles(file);
  const row = page.getByTestId('upload-row');
  await expect(row).toHaveAttribute('data-state', 'queued', { timeout: 120_000 });
  await expect(row).toContainText('Waiting to upload');

  await context.setOffline(false);
  await expect(row).toHaveAttribute('data-state', 'uploaded', { timeout: 300_000 });

  await go(other, '/chart/documents');
  await other.getByText(path.basename(file, '.pdf')).click({ timeout: 120_000 });
  const downloading = other.waitForEvent('download', { timeout: 240_000 });
  await other.getByRole('button', { name: 'Download' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(path.basename(file));
  const saved = await download.path();
  const got = await readFile(saved);
  expect(got.length).toBe(SIZE);
  expect(createHash('sha256').update(got).digest('hex')).toBe(digest);
  await rm(file, { force: true });
});
