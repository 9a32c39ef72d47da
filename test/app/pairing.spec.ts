// Add a device by pairing: a second browser context (its own IndexedDB) shows a code, the signed-in device
// types it, both show the same six digits, the person approves on both; the paired device then sees the
// first device's records live, and the first device sees a record the paired device writes. A mistyped
// code is refused in words.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName } from './support';

test('a second device joins by pairing (code typed) and both see each other’s records live', async ({
  page,
  browser,
}) => {
  await signUp(page, { loginName: uniqueName('pair'), fullName: 'Lin Mei' });
  await addRecord(page, 'allergies', { substance: 'Sulfonamides', severity: { select: 'moderate' } });

  // The new device asks for a code.
  const phone = await (await browser.newContext()).newPage();
  await phone.goto('/start/join');
  await phone.getByText('Pair with a device', { exact: true }).click();
  await phone.getByLabel('Name of this device').fill('Phone');
  await phone.getByRole('button', { name: 'Show a pairing code' }).click();
  const codeText = phone.getByTestId('pairing-code');
  await expect(codeText).toHaveText(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  await expect(phone.getByTestId('qr-code')).toBeVisible();
  await checkScreen(phone, 'pair-new-device');
  const code = (await codeText.textContent()) ?? '';

  // The signed-in device: a mistyped code first, then the right one.
  await go(page, '/settings');
  await page.getByRole('button', { name: 'Add a device' }).click();
  await page.getByRole('tab', { name: 'Type the code' }).click();
  await page.getByLabel('Code shown on the new device').fill('ABC');
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toContainText('That is not a pairing code');
  await page.getByLabel('Code shown on the new device').fill(code.toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();

  // Both screens show the same digits.
  const mine = page.getByTestId('pairing-digits');
  const theirs = phone.getByTestId('pairing-digits');
  await expect(mine).toBeVisible({ timeout: 30_000 });
  await expect(theirs).toBeVisible({ timeout: 30_000 });
  const digits = await mine.getAttribute('data-digits');
  expect(digits).toMatch(/^\d{3} \d{3}$/);
  expect(await theirs.getAttribute('data-digits')).toBe(digits);
  await expect(page.getByTestId('add-device')).toContainText('Phone now shows six digits');
  await checkScreen(page, 'pair-approve');
  await checkScreen(phone, 'pair-compare');

  await phone.getByRole('button', { name: 'They match' }).click();
  await page.getByRole('button', { name: 'Yes, add Phone' }).click();
  await expect(page.getByText('Phone is now a device of your account')).toBeVisible({ timeout: 60_000 });
  await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).last().click();
  await expect(page.getByTestId('device-row')).toHaveCount(2, { timeout: 30_000 });

  // The paired device opens the chart, with the first device's record.
  await expect(phone.getByTestId('home-allergies')).toContainText('Sulfonamides', { timeout: 60_000 });
  // Live both ways: the first device writes, the phone sees it; the phone writes, the first device sees it.
  await go(phone, '/chart/medications');
  await go(page, '/chart/immunizations');
  await addRecord(page, 'medications', { name: 'Metformin', dose: '500 mg' });
  await expect(phone.getByText('Metformin')).toBeVisible({ timeout: 60_000 });
  await go(page, '/chart/immunizations');
  await addRecord(phone, 'immunizations', { vaccineName: 'Influenza', administeredAt: '2024-10-01' });
  await expect(page.getByText('Influenza')).toBeVisible({ timeout: 60_000 });
});
