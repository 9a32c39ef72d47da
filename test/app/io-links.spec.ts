// The patient summary and its sharing through the app's screens: the International Patient Summary shown
// and saved; a SMART Health Link made with a passcode, its QR read as a phone would (jsqr) and opened in a
// second browser context with no account (the server's viewer page) — the access listed, the link revoked
// and then refused; wrong passcodes lock a link; a one-time link opens once. The emergency card's QR prints on the card; scanned, the
// patient's app shows the access live.
import { readFileSync } from 'node:fs';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName } from './support';
import { readQr } from './io-qr';

/** A person without Hale opening a link in the server's viewer page, in a fresh browser context. */
async function openAsViewer(
  browser: Browser,
  url: string,
  options: { recipient: string; passcode?: string },
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel('Your name or organisation').fill(options.recipient);
  if (options.passcode !== undefined) await page.getByLabel('Passcode').fill(options.passcode);
  await page.getByRole('button', { name: 'Open' }).click();
  return page;
}

test('summary and shared link: made, scanned, opened without an account, seen in the list, revoked', async ({
  page,
  browser,
}) => {
  test.setTimeout(300_000);
  await signUp(page, { loginName: uniqueName('share'), fullName: 'Wong Siu-Ling' });
  await addRecord(page, 'allergies', { substance: 'Peanuts', severity: { select: 'severe' } });
  await addRecord(page, 'medications', { name: 'Metformin', dose: '500 mg' });
  await addRecord(page, 'conditions', { name: 'Type 2 diabetes mellitus', onsetDate: '2019-03' });
  await checkScreen(page, 'condition-detail');

  // The summary, section by section, saved as an IPS document Bundle.
  await go(page, '/records/summary');
  await expect(page.getByTestId('summary-patient')).toContainText('Wong Siu-Ling');
  await expect(page.getByTestId('summary-section-48765-2')).toContainText('Peanuts');
  await expect(page.getByTestId('summary-section-10160-0')).toContainText('Metformin');
  await expect(page.getByTestId('summary-section-11450-4')).toContainText('Type 2 diabetes mellitus');
  await checkScreen(page, 'patient-summary');
  const saving = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Save as a file' }).click();
  const ips = JSON.parse(readFileSync(await (await saving).path(), 'utf8')) as {
    resourceType: string;
    type: string;
    entry: { resource: { resourceType: string; section?: { code: { coding: { code: string }[] } }[] } }[];
  };
  expect([ips.resourceType, ips.type]).toEqual(['Bundle', 'document']);
  const composition = ips.entry[0]?.resource;
  expect(composition?.resourceType).toBe('Composition');
  expect(composition?.section?.map((s) => s.code.coding[0]?.code)).toEqual(
    expect.arrayContaining(['48765-2', '10160-0', '11450-4']),
  );

  // A link with a passcode: the form's checks first, then made; the QR carries the viewer's address.
  await page.getByRole('link', { name: 'Share', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Shared links' })).toBeVisible();
  await page.getByLabel('Label').fill('For Dr. Rossi');
  await page.getByLabel('Passcode (optional)').fill('24');
  await page.getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByText('At least 4 characters.')).toBeVisible();
  await expect(page.getByLabel('Label')).toHaveValue('For Dr. Rossi');
  await page.getByLabel('Passcode (optional)').fill('2468');
  await page.getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByTestId('link-created')).toBeVisible();
  const url = await page.getByTestId('link-url').inputValue();
  expect(url).toMatch(/\/shl\/view#shlink:\//);
  expect(url).not.toContain('2468');
  expect(await readQr(page.getByTestId('link-qr'))).toBe(url);
  await expect(page.getByTestId('shared-links').getByTestId('link-row')).toHaveCount(1);
  await checkScreen(page, 'share-link-created');

  // Opened from a second context with no account: the summary shows.
  const viewer = await openAsViewer(browser, url, { recipient: 'Ospedale San Marco', passcode: '2468' });
  await expect(viewer.getByText('Peanuts')).toBeVisible({ timeout: 20_000 });
  await expect(viewer.getByText('Type 2 diabetes mellitus')).toBeVisible();
  await expect(viewer.locator('h1')).toHaveText('For Dr. Rossi');

  // The patient sees the access: live as an alert, and in the link's list, under the link's label (which,
  // like the viewer's name, the server holds only sealed).
  await expect(page.getByTestId('link-access-alert').first()).toContainText('Ospedale San Marco');
  const row = page.getByTestId('shared-links').getByTestId('link-row').first();
  await expect(row).toContainText('For Dr. Rossi');
  await row.getByRole('button', { name: /Accesses \(1 opening\)/ }).click();
  await expect(row.getByTestId('link-accesses')).toContainText('Ospedale San Marco');
  await expect(row.getByTestId('link-accesses')).toContainText('Opened');
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('button', { name: 'Dismiss' }).first().click();
  await checkScreen(page, 'share-links');

  // Revoked: the list says so; the viewer is refused and sees nothing.
  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('button', { name: 'Revoke link' }).click();
  await expect(row.getByTestId('link-status')).toHaveText('Revoked');
  const again = await openAsViewer(browser, url, { recipient: 'Ospedale San Marco', passcode: '2468' });
  await expect(again.getByRole('status')).toContainText('no longer works');
  await expect(again.getByText('Peanuts')).toHaveCount(0);
  await viewer.context().close();
  await again.context().close();

  // Three wrong passcodes lock a link; the right one then opens nothing.
  await page.getByLabel('Label').fill('Locks');
  await page.getByLabel('Passcode (optional)').fill('1357');
  await page.getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByTestId('link-created')).toBeVisible();
  const locking = await page.getByTestId('link-url').inputValue();
  const guesser = await openAsViewer(browser, locking, { recipient: 'Guesser', passcode: '0000' });
  await expect(guesser.getByRole('status')).toContainText('Wrong passcode. Tries left: 2.');
  for (const left of ['1', '0']) {
    await guesser.getByLabel('Passcode').fill('0000');
    await guesser.getByRole('button', { name: 'Open' }).click();
    await expect(guesser.getByRole('status')).toContainText(`Tries left: ${left}.`);
  }
  await guesser.getByLabel('Passcode').fill('1357');
  await guesser.getByRole('button', { name: 'Open' }).click();
  await expect(guesser.getByRole('status')).toContainText('no longer works');
  await expect(guesser.getByText('Peanuts')).toHaveCount(0);
  await guesser.context().close();
  const locked = page.getByTestId('shared-links').getByTestId('link-row').filter({ hasText: 'Locks' });
  await expect(locked.getByTestId('link-status')).toHaveText('Locked');

  // A one-time link opens for the first viewer, then for no one; the list says it was used.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByLabel('Label').fill('Just once');
  await page.getByLabel('Opens once').check();
  await page.getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByTestId('link-created')).toBeVisible();
  const onceUrl = await page.getByTestId('link-url').inputValue();
  const first = await openAsViewer(browser, onceUrl, { recipient: 'First reader' });
  await expect(first.getByText('Peanuts')).toBeVisible({ timeout: 20_000 });
  const second = await openAsViewer(browser, onceUrl, { recipient: 'Second reader' });
  await expect(second.getByRole('status')).toContainText('no longer works');
  await expect(second.getByText('Peanuts')).toHaveCount(0);
  await first.context().close();
  await second.context().close();
  const used = page.getByTestId('shared-links').getByTestId('link-row').filter({ hasText: 'Just once' });
  await expect(used.getByTestId('link-status')).toHaveText('Used');
  await expect(used).toContainText('Once');
});

test('the emergency card shows a QR; scanned, the patient sees the access live; a new QR stops the old', async ({
  page,
  browser,
}) => {
  test.setTimeout(240_000);
  await signUp(page, { loginName: uniqueName('sos'), fullName: 'Lam Ka-Yan' });
  await addRecord(page, 'allergies', { substance: 'Latex', severity: { select: 'severe' } });
  await addRecord(page, 'conditions', { name: 'Epilepsy' });
  await go(page, '/emergency');
  await expect(page.getByTestId('emergency-card')).toContainText('Epilepsy');
  await page.getByRole('button', { name: 'Make the emergency QR code' }).click();
  const qr = page.getByTestId('emergency-card').getByTestId('emergency-qr');
  const url = await readQr(qr);
  expect(url).toMatch(/\/shl\/view#shlink:\//);
  await expect(page.getByTestId('link-watch')).toHaveAttribute('data-ready', 'true');
  await checkScreen(page, 'emergency-qr');

  // A first responder scans it: no passcode; the patient's app says so at once.
  const responder = await openAsViewer(browser, url, { recipient: 'Ambulance 42' });
  await expect(responder.getByText('Latex')).toBeVisible({ timeout: 20_000 });
  await expect(responder.getByText('Epilepsy')).toBeVisible();
  const alert = page.getByTestId('link-access-alert').first();
  await expect(alert).toContainText('Your emergency card was opened');
  await expect(alert).toContainText('Ambulance 42');
  await checkScreen(page, 'emergency-opened');

  // A new QR: the old one stops working.
  await page.getByRole('button', { name: 'Make a new QR (the old one stops working)' }).click();
  await page.getByRole('button', { name: 'Make a new QR', exact: true }).click();
  await expect.poll(async () => readQr(qr)).not.toBe(url);
  const old = await openAsViewer(browser, url, { recipient: 'Someone' });
  await expect(old.getByRole('status')).toContainText('no longer works');
  await expect(old.getByText('Latex')).toHaveCount(0);
  await responder.context().close();
  await old.context().close();
});
