// Sign up, add a record of every kind through its form (a refused field shown at the field, the typing
// kept), reload, unlock: every record is still there, read from this browser's IndexedDB.
import { expect, test } from '@playwright/test';
import {
  addRecord,
  checkScreen,
  createProvider,
  fillFields,
  go,
  signUp,
  uniqueName,
  unlock,
} from './support';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

test('sign up, add every kind, reload, unlock: all there', async ({ page, baseURL }) => {
  // Every kind added and its screens checked at two sizes: a long journey.
  test.slow();
  // The journeys share one server: each names its clinicians apart from every other journey's.
  const clinic = await createProvider(baseURL ?? '', 'Dr Chang Yu-Hsuan');
  await signUp(page, { loginName: uniqueName('pat'), fullName: 'Chen Mei-Ling', shots: true });
  await checkScreen(page, 'home-empty');

  // Profile: made at sign-up with the name; filled in here.
  await go(page, '/chart/profile');
  await page.getByRole('link', { name: /Chen Mei-Ling/ }).click();
  await page.getByRole('link', { name: 'Edit' }).click();
  await fillFields(page, {
    birthDate: '1980-04-12',
    bloodType: { select: 'O+' },
    sexAtBirth: { select: 'female' },
    medicalRecordNumber: 'MRN-22817',
    primaryCareProvider: 'Harbour Clinic',
    'contact.phone': '+886 2 2700 1234',
  });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('MRN-22817')).toBeVisible();
  await expect(page.getByText('+886 2 2700 1234')).toBeVisible();

  await addRecord(page, 'contacts', { name: 'Chen Wei', relationship: 'Brother', phone: '+886 2 2345 6789' });

  // A refused field: said at the field; what was typed stays, also after leaving the form.
  await go(page, '/chart/allergies/new');
  await fillFields(page, {
    substance: 'Penicillin',
    reaction: 'Hives',
    severity: { select: 'moderate' },
    onsetDate: '2999',
  });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('#field-onsetDate-error')).toContainText('in the future');
  await checkScreen(page, 'form-field-error');
  await go(page, '/');
  await expect(page.getByTestId('home-allergies')).toBeVisible();
  await go(page, '/chart/allergies/new');
  await expect(page.getByText('What you typed before is back.')).toBeVisible();
  await expect(page.locator('#field-substance')).toHaveValue('Penicillin');
  await fillFields(page, { onsetDate: '2009-06' });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);
  await addRecord(page, 'allergies', {
    substance: 'Peanuts',
    severity: { select: 'severe' },
    category: { select: 'food' },
  });

  await addRecord(page, 'medications', {
    name: 'Metformin',
    dose: '500 mg',
    frequency: 'Twice daily',
    reason: 'Type 2 diabetes',
  });
  await addRecord(page, 'immunizations', {
    vaccineName: 'Tetanus, diphtheria (Td)',
    administeredAt: '2019-06',
    dose: '1 of 1',
  });
  const lab = await addRecord(page, 'labs', {
    testName: 'Glucose, fasting',
    value: '130',
    units: 'mg/dL',
    referenceRange: '70-99 mg/dL',
    effectiveAt: '2024-03-02T08:15',
  });
  // A correction makes version 2, with its reason, in the history.
  await go(page, `/chart/labs/${lab}/edit`);
  await fillFields(page, { value: '126', changeReason: 'Corrected from the printed report' });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('version-2')).toContainText('Corrected from the printed report');
  await expect(page.getByTestId('version-1')).toContainText('130');
  await checkScreen(page, 'lab-detail-history');
  // An earlier result of the same test: home says which way the latest one moved.
  await addRecord(page, 'labs', {
    testName: 'Glucose, fasting',
    value: '112',
    units: 'mg/dL',
    referenceRange: '70-99 mg/dL',
    effectiveAt: '2023-09-01T08:00',
  });

  await addRecord(page, 'plans', {
    summary: 'Bring HbA1c under 7%',
    details: 'Walk 30 minutes a day.',
    status: { select: 'active' },
  });
  await expect(page.getByRole('button', { name: 'I have read this plan' })).toBeVisible();
  await page.getByRole('button', { name: 'I have read this plan' }).click();
  await expect(page.getByText('Acknowledged (version 1)')).toBeVisible();

  // An appointment with a clinician found in the server's directory.
  await go(page, '/chart/appointments/new');
  await page.getByRole('button', { name: 'Find in the directory' }).click();
  await page.getByLabel('Name, specialty or clinic').fill('Chang Yu-Hsuan');
  await page.getByRole('dialog').getByRole('button', { name: 'Search' }).click();
  await page.getByRole('button', { name: /Dr Chang Yu-Hsuan/ }).click();
  await expect(page.locator('#field-providerId')).toHaveValue(clinic.accountId);
  const next = new Date(Date.now() + 14 * 86_400_000);
  const day = next.toISOString().slice(0, 10);
  await fillFields(page, {
    startAt: `${day}T09:30`,
    endAt: `${day}T10:00`,
    reason: 'Diabetes review',
    location: 'Harbour Clinic, room 3',
  });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/appointments\/[0-9A-Z]{26}$/);

  await addRecord(page, 'encounters', {
    encounterNumber: 'E-1001',
    reason: 'Annual check-up',
    startedAt: '2024-03-01T10:00',
    type: { select: 'outpatient' },
  });
  await addRecord(page, 'notes', {
    title: 'Questions for my doctor',
    subjective: 'Tired in the afternoons.',
  });

  // A document, by the file picker.
  await go(page, '/documents/upload');
  await page
    .getByTestId('file-picker')
    .setInputFiles({ name: 'insurance-card.png', mimeType: 'image/png', buffer: PNG });
  await expect(page.getByTestId('upload-row')).toHaveAttribute('data-state', 'uploaded', { timeout: 60_000 });
  await checkScreen(page, 'documents-upload');
  await page.getByRole('link', { name: 'Open the document' }).click();
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByRole('img', { name: 'insurance-card.png' })).toBeVisible();
  // A new file makes version 2; the first stays in the history.
  await page
    .getByTestId('new-version')
    .setInputFiles({ name: 'insurance-card-2025.png', mimeType: 'image/png', buffer: PNG });
  await expect(page.getByTestId('version-2')).toContainText('insurance-card-2025.png');
  await expect(page.getByTestId('version-1')).toContainText('insurance-card.png');
  await go(page, '/problems');
  await expect(page.getByTestId('no-problems')).toBeVisible({ timeout: 60_000 });
  await checkScreen(page, 'problems');

  await go(page, '/');
  await expect(page.getByTestId('home-labs').getByTestId('out-of-range')).toHaveText('High');
  await expect(page.getByTestId('home-appointments')).toContainText(
    'With Dr Chang Yu-Hsuan · Diabetes review · Harbour Clinic, room 3',
  );
  await expect(page.getByTestId('home-lab-trend')).toHaveText(' · ↑ from 112Up from 112');
  await expect(page.getByTestId('sync-badge')).toHaveAttribute('data-tone', 'teal', { timeout: 60_000 });
  await checkScreen(page, 'home');
  await go(page, '/chart/allergies');
  await checkScreen(page, 'list-allergies');
  await go(page, '/emergency');
  await checkScreen(page, 'emergency-card');

  // Reload: locked, nothing of the chart; unlock: every kind is there.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Unlock Hale' })).toBeVisible();
  await expect(page.getByText('Penicillin')).toHaveCount(0);
  await checkScreen(page, 'unlock');
  await unlock(page);
  const expected: Record<string, string> = {
    profile: 'Chen Mei-Ling',
    contacts: 'Chen Wei',
    allergies: 'Penicillin',
    medications: 'Metformin',
    immunizations: 'Tetanus, diphtheria (Td)',
    labs: 'Glucose, fasting',
    documents: 'insurance-card',
    plans: 'Bring HbA1c under 7%',
    appointments: 'Diabetes review',
    encounters: 'Annual check-up',
    notes: 'Questions for my doctor',
  };
  for (const [slug, title] of Object.entries(expected)) {
    await go(page, `/chart/${slug}`);
    await expect(page.getByRole('list').getByText(title, { exact: true }).first()).toBeVisible();
  }
  // The two glucose results, the newest first.
  await go(page, '/chart/labs');
  await expect(page.getByRole('list').getByRole('link', { name: /^Glucose, fasting/ })).toHaveText([
    /Mar 2, 2024/,
    /Sep 1, 2023/,
  ]);
  await go(page, '/chart/notes');
  await page.getByText('Questions for my doctor').click();
  await expect(page.getByText('Tired in the afternoons.')).toBeVisible();

  // Search across the chart (the library's local search), from the header.
  await page.getByRole('link', { name: 'Search' }).click();
  await page.getByRole('textbox', { name: 'Search' }).fill('metformin');
  const hit = page.getByTestId('search-hit');
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText('Medication');
  await hit.getByRole('link', { name: 'Metformin' }).click();
  await expect(page.getByText('Type 2 diabetes')).toBeVisible();
  await go(page, '/search?q=harbour');
  await expect(page.getByTestId('search-hit').first()).toBeVisible();
  await checkScreen(page, 'search');
});
