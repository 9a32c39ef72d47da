// Lab trends show what was entered (converted where UCUM can, apart where not); the emergency card prints
// to a one-page PDF; the export downloads a FHIR Bundle that verifyFhirExport accepts; in Chinese no
// English string shows.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { verifyFhirExport, type SignedFhirBundle } from '@hale/client';
import { addRecord, checkScreen, go, signUp, uniqueName, noNotices, englishIn } from './support';

test('lab trend shows the entered values, converted, with out-of-range points marked', async ({ page }) => {
  await signUp(page, { loginName: uniqueName('lab') });
  const glucose = { testName: 'Glucose', testCode: '1558-6', referenceRange: '3.9-5.5 mmol/L' };
  await addRecord(page, 'labs', {
    ...glucose,
    value: '5.1',
    units: 'mmol/L',
    effectiveAt: '2023-01-10T08:00',
  });
  await addRecord(page, 'labs', {
    ...glucose,
    value: '110',
    units: 'mg/dL',
    referenceRange: '70-99 mg/dL',
    effectiveAt: '2023-06-10T08:00',
  });
  await addRecord(page, 'labs', {
    ...glucose,
    value: '6100',
    units: 'umol/L',
    effectiveAt: '2024-01-10T08:00',
  });
  await addRecord(page, 'labs', {
    ...glucose,
    value: '6.4',
    units: 'mmol/L',
    effectiveAt: '2024-06-10T08:00',
  });

  await go(page, '/labs/trends');
  const table = page.getByTestId('trend-table');
  await expect(table.getByRole('row')).toHaveCount(5);
  // Each entered value, as entered and as charted in mmol/L (the latest unit UCUM converts to).
  await expect(table).toContainText('5.1 mmol/L');
  await expect(table).toContainText('6.4 mmol/L');
  await expect(table).toContainText('6100 umol/L');
  await expect(table).toContainText('6.1 mmol/L');
  // 6.4 and 6100 umol/L (6.1 mmol/L) are above 3.9-5.5 mmol/L; 110 mg/dL above 70-99 mg/dL.
  await expect(table.getByText('High')).toHaveCount(3);
  // mg/dL to mmol/L needs a molecular weight: charted apart, and said so.
  await expect(page.getByText('Some results are charted apart')).toBeVisible();
  await expect(page.getByTestId('apart-series')).toHaveCount(1);
  await expect(page.locator('.recharts-line-dots circle').first()).toBeVisible();
  await checkScreen(page, 'lab-trends');

  // Manual entry from a paper report starts from the test's details.
  await page.getByRole('button', { name: 'Enter a result' }).click();
  await expect(page.locator('#field-testName')).toHaveValue('Glucose');
  await expect(page.locator('#field-units')).toHaveValue('mmol/L');
});

test('the emergency card prints on one page; the export is a Bundle verifyFhirExport accepts', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('card'), fullName: 'Lee Ka-Wai' });
  await addRecord(page, 'allergies', {
    substance: 'Sulfa drugs',
    severity: { select: 'severe' },
    reaction: 'Rash, swelling',
  });
  await addRecord(page, 'medications', { name: 'Lisinopril', dose: '10 mg', frequency: 'Once a day' });
  await addRecord(page, 'contacts', {
    name: 'Lee Chi-Ming',
    relationship: 'Husband',
    phone: '+852 9123 4567',
  });
  await go(page, '/emergency');
  await expect(page.getByTestId('emergency-card')).toContainText('Sulfa drugs');
  await expect(page.getByTestId('emergency-card')).toContainText('+852 9123 4567');
  await noNotices(page);

  await page.emulateMedia({ media: 'print' });
  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  await page.emulateMedia({ media: 'screen' });
  const dir = mkdtempSync(path.join(tmpdir(), 'hale-card-'));
  const file = path.join(dir, 'card.pdf');
  writeFileSync(file, pdf);
  const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  expect(info).toMatch(/^Pages:\s+1$/m);
  const text = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' });
  for (const shown of ['Lee Ka-Wai', 'Sulfa drugs', 'Lisinopril', '+852 9123 4567'])
    expect(text).toContain(shown);
  // The app's frame is not printed.
  expect(text).not.toContain('Lab trends');
  execFileSync('pdftoppm', ['-png', '-r', '60', '-singlefile', file, path.join(dir, 'card')]);
  expect(readFileSync(path.join(dir, 'card.png')).length).toBeGreaterThan(1000);

  await go(page, '/settings');
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download FHIR Bundle' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^hale-chart-\d{4}-\d{2}-\d{2}\.json$/);
  const bundle = JSON.parse(readFileSync(await download.path(), 'utf8')) as SignedFhirBundle;
  const verified = await verifyFhirExport(bundle);
  expect(verified).toMatchObject({ ok: true });
  const resources = JSON.stringify(bundle);
  for (const shown of ['Sulfa drugs', 'Lisinopril', 'Lee Chi-Ming']) expect(resources).toContain(shown);
  // Changed by a byte, it is refused.
  const tampered = JSON.parse(JSON.stringify(bundle).replace('Lisinopril', 'Lisinoprix')) as SignedFhirBundle;
  expect(await verifyFhirExport(tampered)).toMatchObject({ ok: false });
});

test('in Chinese, no English string shows', async ({ page }) => {
  await signUp(page, { loginName: uniqueName('zh'), fullName: '陳美玲' });
  await addRecord(page, 'medications', { name: '二甲雙胍', dose: '500 mg' });
  await noNotices(page);
  await go(page, '/settings');
  await page.getByLabel('Language').selectOption('zh-Hant');
  await expect(page.getByRole('heading', { name: '設定', exact: true })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant-TW');
  const screens = [
    '/',
    '/chart/allergies',
    '/chart/allergies/new',
    '/chart/medications',
    '/labs/trends',
    '/emergency',
    '/problems',
    '/settings',
    '/documents/upload',
    '/search',
  ];
  for (const screen of screens) {
    await go(page, screen);
    await page.waitForTimeout(300);
    const text = await page.locator('body').innerText();
    expect({ screen, english: englishIn(text) }).toEqual({ screen, english: [] });
  }
  await go(page, '/');
  await checkScreen(page, 'home-zh-hant');
  await go(page, '/settings');
  await page.getByLabel('語言').selectOption('zh-Hans');
  await expect(page.getByRole('heading', { name: '设置', exact: true })).toBeVisible();
  for (const screen of ['/', '/chart/medications', '/settings']) {
    await go(page, screen);
    await page.waitForTimeout(300);
    const text = await page.locator('body').innerText();
    expect({ screen, english: englishIn(text) }).toEqual({ screen, english: [] });
  }
  await go(page, '/');
  await checkScreen(page, 'home-zh-hans');
});
