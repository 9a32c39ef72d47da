// Add this device to an account by passphrase and by recovery key (second and third browser contexts, each
// its own IndexedDB): each sees the records; the first device renames the third, which shows the new name;
// then the first device removes one, which is locked out.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { addRecord, checkScreen, go, PASSPHRASE, signUp, uniqueName } from './support';

const openDevice = async (browser: Browser): Promise<Page> => {
  const context = await browser.newContext();
  return context.newPage();
};

test('join by passphrase and by recovery key; revoke a device and it is locked out', async ({
  page,
  browser,
}) => {
  const loginName = uniqueName('fam');
  const recoveryKey = await signUp(page, { loginName, fullName: 'Wang Xiu-Ying' });
  await addRecord(page, 'allergies', { substance: 'Latex', severity: { select: 'mild' } });

  // By passphrase.
  const second = await openDevice(browser);
  await second.goto('/');
  await second.getByRole('link', { name: 'Add this device' }).click();
  await checkScreen(second, 'join');
  await second.getByLabel('Sign-in name').fill(loginName);
  await second.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await second.getByLabel('Name of this device').fill('Phone');
  await second.getByRole('button', { name: 'Add this device' }).click();
  await expect(second.getByTestId('home-allergies')).toContainText('Latex', { timeout: 60_000 });

  // By recovery key, with a new passphrase.
  const third = await openDevice(browser);
  await third.goto('/start/join');
  await third.getByText('Recovery key', { exact: true }).click();
  await third
    .getByRole('textbox', { name: 'Recovery key' })
    .fill(recoveryKey.toLowerCase().replaceAll('-', ' '));
  await third.getByRole('textbox', { name: 'New passphrase' }).fill('harbour quilt saffron beacon 77');
  await third.getByLabel('Name of this device').fill('Tablet');
  await third.getByRole('button', { name: 'Add this device' }).click();
  await expect(third.getByTestId('home-allergies')).toContainText('Latex', { timeout: 60_000 });

  // The first device lists all three and removes the phone.
  await go(page, '/settings');
  const rows = page.getByTestId('device-row');
  await expect(rows).toHaveCount(3, { timeout: 30_000 });
  await checkScreen(page, 'settings');

  // The first device names the tablet anew, with the keyboard: the tablet shows it, in its list and its
  // frame's footer.
  await page.getByRole('button', { name: 'Rename Tablet' }).focus();
  await page.keyboard.press('Enter');
  const nameField = page.getByRole('textbox', { name: 'Device name' });
  await expect(nameField).toBeFocused();
  await expect(nameField).toHaveValue('Tablet');
  await nameField.fill('Kitchen tablet');
  await checkScreen(page, 'settings-rename');
  await page.keyboard.press('Enter');
  await expect(rows.filter({ hasText: 'Kitchen tablet' })).toHaveCount(1);
  await go(third, '/settings');
  await expect(third.getByTestId('device-row').filter({ hasText: 'Kitchen tablet' })).toHaveCount(1);
  await expect(third.getByText('This device: Kitchen tablet')).toBeAttached();

  await page.getByRole('button', { name: 'Remove Phone' }).click();
  await checkScreen(page, 'settings-revoke-confirm');
  await page.getByRole('button', { name: 'Remove device' }).click();
  await expect(page.getByText('Removed', { exact: true }).first()).toBeVisible();
  await expect(rows).toHaveCount(2);

  // The phone is cut off: it says so, and shows nothing of the chart.
  await expect(second.getByTestId('device-removed')).toBeVisible({ timeout: 60_000 });
  await expect(second.getByTestId('home-allergies')).toHaveCount(0);
  await checkScreen(second, 'device-removed');
  // The tablet is not.
  await go(third, '/chart/allergies');
  await expect(third.getByText('Latex')).toBeVisible();
  await expect(third.getByTestId('device-removed')).toHaveCount(0);
});
