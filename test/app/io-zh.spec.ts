// The records-in-and-out screens in Chinese: no English string shows (Traditional, then Simplified).
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, fillFields, go, signUp, uniqueName, noNotices, englishIn } from './support';

const SCREENS = [
  '/records/import',
  '/records/export',
  '/records/summary',
  '/records/share',
  '/chart/conditions',
  '/chart/conditions/new',
  '/chart/procedures',
  '/emergency',
];

test('the import, export, summary, sharing and condition screens show no English in Chinese', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('zhio'), fullName: '陳美玲' });
  await go(page, '/chart/profile');
  await page.getByRole('link', { name: /陳美玲/ }).click();
  await page.getByRole('link', { name: 'Edit' }).click();
  await fillFields(page, { bloodType: { select: 'A-' } });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/profile\/[0-9A-Z]{26}$/);
  await addRecord(page, 'conditions', { name: '第二型糖尿病', onsetDate: '2019-03' });
  await addRecord(page, 'procedures', { name: '闌尾切除術', performedAt: '2011-07-02' });
  await noNotices(page);
  await go(page, '/settings');
  await page.getByLabel('Language').selectOption('zh-Hant');
  await expect(page.getByRole('heading', { name: '設定', exact: true })).toBeVisible();
  for (const screen of SCREENS) {
    await go(page, screen);
    await page.waitForTimeout(400);
    const text = await page.locator('body').innerText();
    expect({ screen, english: englishIn(text) }).toEqual({ screen, english: [] });
  }
  await go(page, '/records/summary');
  await expect(page.getByTestId('summary-section-11450-4')).toContainText('第二型糖尿病');
  await expect(page.getByTestId('summary-section-11450-4')).toContainText('進行中');
  // The blood type in Hale's words, not the summary's English.
  await expect(page.getByText('血型', { exact: true })).toBeVisible();
  await checkScreen(page, 'patient-summary-zh-hant');
  await go(page, '/settings');
  await page.getByLabel('語言').selectOption('zh-Hans');
  await expect(page.getByRole('heading', { name: '设置', exact: true })).toBeVisible();
  // A passphrase field's show/hide button (Settings) is named in the language too.
  const toggle = page.locator('.mantine-PasswordInput-visibilityToggle').first();
  await expect(toggle).toHaveAttribute('aria-label', '显示或隐藏输入的内容');
  for (const screen of SCREENS) {
    await go(page, screen);
    await page.waitForTimeout(400);
    const text = await page.locator('body').innerText();
    expect({ screen, english: englishIn(text) }).toEqual({ screen, english: [] });
  }
});
