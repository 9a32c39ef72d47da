// The patient summary says what a clinician needs of each entry (a medication's dose and frequency, an
// allergy's reaction, severity and risk) and what each date is (an onset only when one was recorded, else the
// day it was recorded; a year stays a year), and prints without the app around it; the emergency card
// prints in two languages side by side on one page, the second face wholly in its language (#66, item 5).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { addRecord, checkScreen, englishIn, go, noNotices, signUp, uniqueName } from './support';

const SHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');
/** What the person wrote: shown as written in every language. */
const WRITTEN = [
  'Chan Tai-Man',
  'Peanuts',
  'Swelling of the throat',
  'Penicillin',
  'Hives',
  'Lisinopril',
  'Once a day',
];

/** The page printed to A4 (print media), its text and its number of pages; a screenshot as printed. */
async function printed(page: Page, shot: string): Promise<{ text: string; pages: number }> {
  const size = page.viewportSize() ?? { width: 1440, height: 900 };
  await page.emulateMedia({ media: 'print' });
  try {
    // About A4's printable width at 96 dpi, as the print dialog lays it out.
    await page.setViewportSize({ width: 720, height: 1000 });
    await page.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    const dir = mkdtempSync(path.join(tmpdir(), 'hale-print-'));
    const file = path.join(dir, `${shot}.pdf`);
    writeFileSync(file, pdf);
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
    return {
      text: execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }),
      pages: Number(/^Pages:\s+(\d+)$/m.exec(info)?.[1]),
    };
  } finally {
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize(size);
  }
}

test('the summary labels its dates and doses and prints clean; the card prints in two languages on one page', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('print'), fullName: 'Chan Tai-Man' });
  await addRecord(page, 'allergies', {
    substance: 'Peanuts',
    reaction: 'Swelling of the throat',
    severity: { select: 'severe' },
    criticality: { select: 'high' },
  });
  await addRecord(page, 'allergies', { substance: 'Penicillin', reaction: 'Hives', onsetDate: '2009' });
  await addRecord(page, 'medications', { name: 'Lisinopril', dose: '10 mg', frequency: 'Once a day' });
  const today = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeZone: 'Europe/Amsterdam' }).format(
    new Date(),
  );
  await noNotices(page);

  await go(page, '/records/summary');
  const allergies = page.getByTestId('summary-section-48765-2');
  const peanuts = allergies.getByTestId('summary-row').filter({ hasText: 'Peanuts' });
  const penicillin = allergies.getByTestId('summary-row').filter({ hasText: 'Penicillin' });
  // No onset recorded: the day it was recorded, said to be that, without the time it was typed.
  await expect(peanuts.getByTestId('summary-date')).toHaveText(`Recorded${today}`);
  await expect(peanuts.getByTestId('summary-facts')).toHaveText(
    'Reaction Swelling of the throat · Severity Severe · High risk',
  );
  // An onset of a year: "Onset", and the year, not the first of January.
  await expect(penicillin.getByTestId('summary-date')).toHaveText('Onset2009');
  await expect(penicillin.getByTestId('summary-facts')).toHaveText('Reaction Hives');
  const lisinopril = page.getByTestId('summary-section-10160-0').getByTestId('summary-row');
  await expect(lisinopril).toHaveCount(1);
  await expect(lisinopril.getByTestId('summary-facts')).toHaveText('Dose 10 mg · Frequency Once a day');
  await expect(lisinopril.getByTestId('summary-date')).toHaveText(`Recorded${today}`);
  await expect(page.getByRole('button', { name: 'Print' })).toBeEnabled();
  await checkScreen(page, 'patient-summary-labelled');

  const summary = await printed(page, 'patient-summary-print');
  for (const shown of ['Patient summary', 'Chan Tai-Man', 'Peanuts', 'Severe', 'Onset', '2009', '10 mg'])
    expect(summary.text).toContain(shown);
  // Neither the app's frame (navigation, search, lock) nor the screen's buttons and explanation are printed.
  for (const hidden of ['Save as a file', 'Print', 'Emergency card', 'Lock', 'standard form clinicians'])
    expect(summary.text).not.toContain(hidden);

  // The card in English and Traditional Chinese side by side.
  await go(page, '/emergency');
  await expect(page.getByTestId('emergency-card-second')).toHaveCount(0);
  await page.getByRole('switch', { name: 'Print in two languages' }).check();
  const second = page.getByLabel('Second language');
  // The app's own language is not offered again.
  await expect(second.locator('option')).toHaveText(['繁體中文', '简体中文']);
  await second.selectOption('zh-Hant');
  const chinese = page.getByTestId('emergency-card-second');
  await expect(chinese).toHaveAttribute('lang', 'zh-Hant-TW');
  for (const shown of [
    '醫療緊急資訊',
    '過敏',
    '重度',
    '高風險',
    '目前使用的藥物',
    '緊急聯絡人',
    'Peanuts',
    'Lisinopril',
  ])
    await expect(chinese).toContainText(shown);
  // Wholly in Chinese: no English word but what the person wrote.
  expect(englishIn(await chinese.innerText(), WRITTEN)).toEqual([]);
  const english = page.getByTestId('emergency-card-face');
  for (const shown of ['Medical emergency information', 'Allergies', 'Severe', 'Current medications'])
    await expect(english).toContainText(shown);
  // A high-risk allergy says so on the card, in each language.
  await expect(english.getByTestId('card-criticality')).toHaveText('High risk');
  await expect(chinese.getByTestId('card-criticality')).toHaveText('高風險');
  // The severity is shown whole on each face at either size (not cut to "Sev…" or a dot).
  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: 900 });
    for (const badge of [
      ...(await page.getByTestId('card-severity').all()),
      ...(await page.getByTestId('card-criticality').all()),
    ]) {
      const label = badge.locator('.mantine-Badge-label');
      // Its whole word within the label: nothing clipped (a label narrower than its text).
      const clipped = await label.evaluate((e) => {
        const box = e as unknown as { scrollWidth: number; clientWidth: number };
        return box.scrollWidth - box.clientWidth;
      });
      expect(clipped).toBe(0);
      expect((await label.boundingBox())?.width).toBeGreaterThan(15);
    }
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await checkScreen(page, 'emergency-card-two-languages');

  const card = await printed(page, 'emergency-card-two-languages-print');
  expect(card.pages).toBe(1);
  // (The card's heading is in capitals: CSS, which the printed text has.)
  for (const shown of [
    'MEDICAL EMERGENCY INFORMATION',
    '醫療緊急資訊',
    'Chan Tai-Man',
    'Peanuts',
    'Lisinopril',
  ])
    expect(card.text).toContain(shown);
  expect(card.text).not.toContain('Print in two languages');
  // Side by side: the two headings on one line of the printed page.
  expect(card.text.split('\n').some((line) => /MEDICAL EMERGENCY INFORMATION.*醫療緊急資訊/.test(line))).toBe(
    true,
  );
});
