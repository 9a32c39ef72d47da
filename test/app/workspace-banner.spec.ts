// The clinician's chart puts the dangers first: a patient (a Node device) shares allergies, medications
// and lab results but not conditions; on every page of the chart the safety banner shows the severe
// penicillin allergy, the active medication, and says in words that conditions are not shared (the
// patient's condition never reaches the clinician's screen). The lab list shows values, units and
// High/Low marks; the trend view charts a test with its reference range. On a phone the banner folds to a
// line with the severe allergy still shown, and the sections are a menu worked from the keyboard.
import { expect, test, type Page } from '@playwright/test';
import { exampleInput } from '@hale/model';
import { checkScreen, go } from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

const lab = (testName: string, testCode: string, value: number, units: string, range: string, at: string) =>
  record('LabResult', {
    testName,
    testCode,
    value,
    units,
    referenceRange: range,
    effectiveAt: at,
    publishedAt: `${at}T12:00:00.000Z`,
    status: 'final',
    components: [],
    attachments: [],
  });

/** The banner shows the severe, high-risk allergy, marked so, on the page shown (once: a folded copy is hidden). */
async function severeShown(page: Page): Promise<void> {
  const severe = page.getByTestId('safety-banner').locator('[data-danger="true"]:visible');
  await expect(severe).toBeVisible({ timeout: 30_000 });
  await expect(severe).toContainText('Penicillin');
  await expect(severe).toContainText('Severe');
  await expect(severe).toContainText('High risk');
}

test('the safety banner on every chart page, unshared kinds said so, lab values with flags and trends', async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Leila Nasser' }));
    await patient.records.add(
      'Allergy',
      record('Allergy', {
        substance: 'Penicillin',
        severity: 'severe',
        criticality: 'high',
        reaction: 'Anaphylaxis',
      }),
    );
    await patient.records.add(
      'Allergy',
      record('Allergy', {
        substance: 'Peanuts',
        severity: 'mild',
        criticality: 'low',
        verificationStatus: 'unconfirmed',
        reaction: 'Itching',
      }),
    );
    await patient.records.add(
      'Medication',
      record('Medication', { name: 'Metformin', dose: '500 mg', frequency: 'twice daily', active: true }),
    );
    // An active problem (the example's abatement date left out): the patient has it, the grant does not share it.
    const { abatementDate: _ended, ...condition } = exampleInput('Condition', {
      name: 'Type 2 diabetes',
      clinicalStatus: 'active',
    });
    await patient.records.add('Condition', condition as never);
    await patient.records.add('LabResult', lab('HbA1c', '4548-4', 8.1, '%', '4.0-5.6 %', '2026-05-12'));
    await patient.records.add('LabResult', lab('HbA1c', '4548-4', 6.4, '%', '4.0-5.6 %', '2026-11-10'));
    await patient.records.add(
      'LabResult',
      lab('Potassium', '2823-3', 3.1, 'mmol/L', '3.5-5.0', '2026-11-10'),
    );
    await patient.records.add('LabResult', lab('Sodium', '2951-2', 140, 'mmol/L', '135-145', '2026-11-10'));
    await patient.sync.awaitInSync();

    await signUpClinician(page, { displayName: 'Dr Mei Lin' });
    const clinicianId = await findClinician(patient, 'Dr Mei Lin');
    await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'profile', access: 'read' },
        { type: 'allergy', access: 'read' },
        { type: 'medication', access: 'read' },
        { type: 'lab-result', access: 'read' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'diabetes follow-up',
    });
    const patientId = patient.account.accountId;

    // The overview: the dangers first, each part in words.
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('patient-name')).toHaveText('Leila Nasser', { timeout: 30_000 });
    const banner = page.getByTestId('safety-banner');
    await severeShown(page);
    const allergies = banner.getByTestId('banner-allergies');
    await expect(allergies).toHaveAttribute('data-state', 'list');
    // The most dangerous first; the mild one after it, not marked, with its severity, risk and doubt.
    await expect(allergies.locator('[data-severity]')).toHaveText([
      /^Penicillin/,
      /^Peanuts · Itching\s*Mild\s*Low risk\s*Unconfirmed$/,
    ]);
    await expect(allergies.locator('[data-danger="true"]')).toHaveCount(1);
    await expect(banner.getByTestId('banner-medications')).toContainText('Metformin · 500 mg twice daily');
    const problems = banner.getByTestId('banner-problems');
    await expect(problems).toHaveAttribute('data-state', 'not-shared');
    await expect(problems).toContainText('Not shared with you');
    await expect(page.getByText('Type 2 diabetes')).toHaveCount(0);
    await checkScreen(page, 'workspace-banner-overview');

    // Every section of the chart keeps the banner; the sections wrap on one screen, none cut short.
    const sections = page.getByRole('navigation', { name: 'Sections of this chart' });
    for (const name of ['Allergies', 'Medications', 'Lab results']) {
      await sections.getByRole('link', { name, exact: true }).click();
      await expect(sections.getByRole('link', { name, exact: true })).toHaveAttribute('aria-current', 'page');
      await severeShown(page);
      await expect(problems).toContainText('Not shared with you');
    }

    // The lab list: values with units, the range, High and Low marks.
    const table = page.getByTestId('lab-table');
    const row = (text: string) => table.getByRole('row').filter({ hasText: text });
    await expect(row('8.1 %')).toContainText('High');
    await expect(row('8.1 %')).toContainText('4.0-5.6 %');
    await expect(row('3.1 mmol/L')).toContainText('Low');
    await expect(row('6.4 %')).toContainText('High');
    await expect(row('140 mmol/L')).not.toContainText(/High|Low/);
    // Which way a result moved from the test's one before: HbA1c down from 8.1; the first of a test, none.
    await expect(row('6.4 %').getByTestId('lab-trend')).toHaveAttribute('data-direction', 'down');
    await expect(row('6.4 %').getByTestId('lab-trend')).toContainText('Down from 8.1');
    await expect(row('8.1 %').getByTestId('lab-trend')).toHaveCount(0);
    await checkScreen(page, 'workspace-banner-labs');

    // The trend the patient has, here over the patient's shared results, with the reference range.
    await page.getByRole('link', { name: 'Trends' }).click();
    await expect(page.getByRole('heading', { name: 'Lab trends' })).toBeVisible();
    await page.getByLabel('Test', { exact: true }).selectOption({ label: 'HbA1c' });
    await expect(page.getByRole('figure', { name: 'Chart of HbA1c over time, in %' })).toBeVisible();
    await expect(page.getByText('Shaded: the reference range, 4 to 5.6 %.')).toBeVisible();
    await expect(page.getByTestId('trend-table').getByRole('row')).toHaveCount(3);
    await severeShown(page);
    await checkScreen(page, 'workspace-banner-trends');
    // A result in the trend's table opens in this chart.
    await page.getByTestId('trend-table').getByRole('link').first().click();
    await expect(page).toHaveURL(new RegExp(`/workspace/patients/${patientId}/chart/labs/[0-9A-Z]{26}$`));
    await severeShown(page);

    // A phone: the banner folds to a line, the severe allergy still shown; it opens on request.
    await page.setViewportSize({ width: 390, height: 844 });
    await severeShown(page);
    const toggle = page.getByTestId('banner-toggle');
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await expect(toggle).toContainText('Allergies: 2');
    await expect(toggle).toContainText('Conditions: not shared');
    await expect(page.getByText('Peanuts')).toBeHidden();
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await expect(banner.getByText('Peanuts')).toBeVisible();
    await expect(problems).toContainText('Not shared with you');

    // The sections, a menu within the screen's width (no row running off it), worked from the keyboard:
    // open, down to Medications, Enter.
    const menu = page.getByTestId('chart-sections-menu');
    for (const control of await sections.locator('a, button').all()) {
      const box = await control.boundingBox();
      if (box !== null) expect(box.x + box.width).toBeLessThanOrEqual(390);
    }
    await expect(menu).toHaveText('Section: Lab results');
    await menu.focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('menuitem', { name: 'Medications' })).toBeVisible();
    for (let i = 0; i < 10; i += 1) {
      if ((await page.evaluate('document.activeElement?.textContent')) === 'Medications') break;
      await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(new RegExp(`/workspace/patients/${patientId}/chart/medications$`));
    await expect(menu).toHaveText('Section: Medications');
    await severeShown(page);
    await page.setViewportSize({ width: 1440, height: 900 });
    await checkScreen(page, 'workspace-banner-medications');
  } finally {
    await patient.close();
  }
});

test('a shared kind with nothing in it says "None recorded" in the banner, never an empty space', async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Rania Aziz' }));
    await signUpClinician(page, { displayName: 'Dr Omar Saleh' });
    await patient.consent.grant({
      granteeId: await findClinician(patient, 'Dr Omar Saleh'),
      scope: (['profile', 'allergy', 'medication', 'condition'] as const).map((type) => ({
        type,
        access: 'read' as const,
      })),
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'first visit',
    });
    await patient.sync.awaitInSync();
    await go(page, `/workspace/patients/${patient.account.accountId}`);
    await expect(page.getByTestId('patient-name')).toHaveText('Rania Aziz', { timeout: 30_000 });
    const banner = page.getByTestId('safety-banner');
    for (const part of ['banner-allergies', 'banner-medications', 'banner-problems']) {
      await expect(banner.getByTestId(part)).toHaveAttribute('data-state', 'none');
      await expect(banner.getByTestId(part)).toContainText('None recorded');
    }
  } finally {
    await patient.close();
  }
});
