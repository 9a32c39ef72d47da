// Family history through the app's generic screens, which read the kind's description: the chart lists it,
// its form adds and edits a relative's condition (a refused age said at the field), its detail reads the
// relative, the age and the death, search finds it, and the screens show no English in Chinese.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, fillFields, go, signUp, uniqueName, englishIn } from './support';

/** What the person wrote (in English here): not the app's words. */
const WRITTEN = [
  'Lin Hui-Fen',
  'Chen Mei-Ling',
  'Breast cancer',
  'Congenital heart defect',
  'Type 2 diabetes',
];

test('family history: listed in the chart, added and edited through its form, read and found', async ({
  page,
}) => {
  // Six screens checked at two sizes each, and three languages.
  test.slow();
  await signUp(page, { loginName: uniqueName('fam'), fullName: 'Chen Mei-Ling' });
  await page.getByRole('navigation').getByRole('link', { name: 'Family history' }).first().click();
  // The pointer leaves the menu (a hovered item's colours are not the screen's).
  await page.mouse.move(0, 0);
  await expect(page.getByRole('heading', { name: 'Family history', level: 1 })).toBeVisible();
  await expect(page.getByText('No family history recorded')).toBeVisible();
  await checkScreen(page, 'family-history-empty');

  // An age that is not a whole number: said at the field, the typing kept.
  await go(page, '/chart/family-history/new');
  await fillFields(page, {
    relationship: { select: 'mother' },
    relativeName: 'Lin Hui-Fen',
    condition: 'Breast cancer',
    onsetAge: 'fifty',
    deceased: true,
  });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('#field-onsetAge-error')).toContainText('A whole number');
  await expect(page.locator('#field-condition')).toHaveValue('Breast cancer');
  await checkScreen(page, 'family-history-form');
  await fillFields(page, { onsetAge: '52' });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/family-history\/[0-9A-Z]{26}$/);
  const main = page.locator('#main');
  await expect(main.getByRole('heading', { name: 'Breast cancer' })).toBeVisible();
  for (const words of ['Mother', 'Lin Hui-Fen', 'age 52', 'Has died'])
    await expect(main.getByText(words, { exact: true }).first()).toBeVisible();
  await checkScreen(page, 'family-history-detail');

  // Edited: the age changes, the rest stays.
  await page.getByRole('link', { name: 'Edit' }).click();
  await fillFields(page, { onsetAge: '51' });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(main.getByText('age 51', { exact: true }).first()).toBeVisible();

  await addRecord(page, 'family-history', {
    relationship: { select: 'brother' },
    condition: 'Congenital heart defect',
    onsetAge: '0',
  });
  await expect(main.getByText('from birth', { exact: true }).first()).toBeVisible();
  await addRecord(page, 'family-history', {
    relationship: { select: 'maternal-grandfather' },
    condition: 'Type 2 diabetes',
  });
  await go(page, '/chart/family-history');
  for (const row of ['Mother · age 51 · Lin Hui-Fen', 'Brother · from birth', 'Grandfather (mother’s side)'])
    await expect(main.getByText(row).first()).toBeVisible();
  await expect(main.getByRole('link', { name: /Breast cancer|Congenital|Type 2 diabetes/ })).toHaveCount(3);
  await checkScreen(page, 'family-history-list');

  // Found by search, by the condition's words.
  await page.getByRole('link', { name: 'Search' }).click();
  await page.getByRole('textbox', { name: 'Search', exact: true }).fill('diabetes');
  await expect(page.getByTestId('search-hit')).toHaveCount(1);
  await expect(page.getByTestId('search-hit')).toContainText('Type 2 diabetes');

  // In Chinese, Traditional then Simplified: the same screens, no English.
  const screens = ['/chart/family-history', '/chart/family-history/new'];
  for (const [language, label, title, mother, shot] of [
    ['zh-Hant', 'Language', '家族病史', '母親', 'family-history-list-zh-hant'],
    ['zh-Hans', '語言', '家族病史', '母亲', 'family-history-list-zh-hans'],
  ] as const) {
    await go(page, '/settings');
    await page.getByLabel(label).selectOption(language);
    await go(page, '/chart/family-history');
    await expect(page.getByRole('heading', { name: title, level: 1 })).toBeVisible();
    await expect(
      main.getByText(`${mother} · 51 ${language === 'zh-Hant' ? '歲' : '岁'}`).first(),
    ).toBeVisible();
    await checkScreen(page, shot);
    for (const screen of screens) {
      await go(page, screen);
      const text = await main.innerText();
      expect({ screen, language, english: englishIn(text, WRITTEN) }).toEqual({
        screen,
        language,
        english: [],
      });
    }
  }
});
