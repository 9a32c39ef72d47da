// The records-in-and-out screens in Chinese: no English string shows (Traditional, then Simplified).
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName, noNotices, englishIn } from './support';

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
  await checkScreen(page, 'patient-summary-zh-hant');
  await go(page, '/settings');
  await page.getByLabel('語言').selectOption('zh-Hans');
  await expect(page.getByRole('heading', { name: '设置', exact: true })).toBeVisible();
  for (const screen of SCREENS) {
    await go(page, screen);
    await page.waitForTimeout(400);
    const text = await page.locator('body').innerText();
    expect({ screen, english: englishIn(text) }).toEqual({ screen, english: [] });
  }
});
