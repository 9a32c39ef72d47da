// Search draws the first 20 hits of a query and the rest on request; the count says every match.
import { expect, test } from '@playwright/test';
import { openHale } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';
import { addThisDevice, PASSPHRASE, uniqueName } from './support';
import { record } from './workspace-support';

test('search shows 20 hits, then more on request, and starts at 20 again for the next text', async ({
  page,
  baseURL,
}) => {
  const loginName = uniqueName('more');
  const hale = await openHale({ server: baseURL ?? '', platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'kitchen laptop',
  });
  try {
    for (let i = 0; i < 25; i++) {
      await session.records.add('Allergy', record('Allergy', { substance: `Quinapril batch ${i}` }));
    }
    await session.sync.awaitInSync();
  } finally {
    await session.close();
  }
  await addThisDevice(page, loginName, 'Test browser');
  await expect(page.getByTestId('sync-badge')).toHaveAttribute('data-tone', 'teal', { timeout: 60_000 });

  await page.getByRole('link', { name: 'Search' }).click();
  const box = page.getByRole('textbox', { name: 'Search', exact: true });
  await box.fill('quinapril');
  const hits = page.getByTestId('search-hit');
  await expect(page.getByText('25 records match')).toBeVisible();
  await expect(hits).toHaveCount(20);
  await page.getByRole('button', { name: 'Show more (5 not shown)' }).click();
  await expect(hits).toHaveCount(25);
  await expect(page.getByRole('button', { name: /Show more/ })).toHaveCount(0);
  // Another text starts at 20 again.
  await box.fill('quinapril batch');
  await expect(page.getByText('25 records match')).toBeVisible();
  await expect(hits).toHaveCount(20);
});
