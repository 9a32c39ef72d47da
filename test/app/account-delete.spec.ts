// Delete the account (Settings → Account): the person types their sign-in name to confirm; the server
// erases the account and this device's store is wiped; the app is back at its start screen, and signing in
// again with the old name and passphrase fails (no such account). The account's second device is locked out.
import { expect, test, type Page } from '@playwright/test';
import { addRecord, checkScreen, go, PASSPHRASE, signUp, uniqueName } from './support';

const databaseNames = async (page: Page): Promise<string[]> => {
  const names: unknown = await page.evaluate('indexedDB.databases().then((all) => all.map((d) => d.name))');
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
};

test('delete the account: confirmed by typing, everything erased, back at the start, old login fails', async ({
  page,
  browser,
}) => {
  const loginName = uniqueName('gone');
  await signUp(page, { loginName });
  await addRecord(page, 'allergies', { substance: 'Peanuts' });
  const other = await (await browser.newContext()).newPage();
  await other.goto('/start/join');
  await other.getByLabel('Sign-in name').fill(loginName);
  await other.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await other.getByRole('button', { name: 'Add this device' }).click();
  await expect(other.getByTestId('home-allergies')).toContainText('Peanuts', { timeout: 60_000 });

  const deviceDbs = (await databaseNames(page)).filter((name) => /hale-[a-z0-9_-]{22}-/.test(name));
  expect(deviceDbs.length).toBeGreaterThan(0);
  await go(page, '/settings');
  await page.getByRole('button', { name: 'Delete account…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete your account for good?' });
  await expect(dialog).toBeVisible();
  const confirm = dialog.getByRole('button', { name: 'Delete everything' });
  await dialog.getByLabel(`To confirm, type your sign-in name: ${loginName}`).fill('not my name');
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel(`To confirm, type your sign-in name: ${loginName}`).fill(loginName);
  await expect(confirm).toBeEnabled();
  await checkScreen(page, 'delete-account');
  await confirm.click();

  await expect(page.getByRole('heading', { name: 'Your health record, on your devices' })).toBeVisible({
    timeout: 30_000,
  });
  await expect(page.getByText('Your account was deleted.')).toBeVisible();
  // This device's store is gone: none of the databases the account's session used is left.
  const after = await databaseNames(page);
  expect(after.filter((name) => deviceDbs.includes(name))).toEqual([]);
  // A reload stays at the start: nothing of the account is left to unlock.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Your health record, on your devices' })).toBeVisible();

  // The old sign-in fails.
  await page.goto('/start/join');
  await page.getByLabel('Sign-in name').fill(loginName);
  await page.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Add this device' }).click();
  await expect(page.getByRole('alert')).toContainText('No account has that sign-in name on this server.');

  // The other device is locked out: after a reload the server does not know it; it shows nothing of the chart.
  await other.reload();
  await other.getByLabel('Passphrase').fill(PASSPHRASE);
  await other.getByRole('button', { name: 'Unlock' }).click();
  await expect(other.getByTestId('sync-badge')).toHaveAttribute('data-tone', 'red', { timeout: 30_000 });
  await expect(other.getByText('This device was signed out')).toBeVisible();
  await expect(other.getByText('Peanuts')).toHaveCount(0);
});
