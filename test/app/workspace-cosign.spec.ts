// Co-signature across two clinicians, each in its own browser: the author writes and signs a note in a
// shared chart and asks a second clinician to co-sign; the second sees it in its co-sign queue and signs
// exactly that version; the author sees the co-signature, amends the note, and the co-signature is shown
// as of the earlier version (the amendment needs a new one). The patient's device holds the amended note.
import { expect, test } from '@playwright/test';
import { checkScreen, go } from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

const SCOPE = [
  { type: 'profile', access: 'read' },
  { type: 'note', access: 'write' },
  { type: 'note-signature', access: 'write' },
] as const;

test('a note signed, co-signed by a second clinician, amended: the co-signature is of the earlier version', async ({
  page,
  browser,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  const second = await browser.newContext();
  const page2 = await second.newPage();
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Noor Saleh' }));
    await signUpClinician(page, { displayName: 'Dr Kai Moreno' });
    await signUpClinician(page2, { displayName: 'Dr Lena Park' });
    for (const name of ['Dr Kai Moreno', 'Dr Lena Park']) {
      await patient.consent.grant({
        granteeId: await findClinician(patient, name),
        scope: [...SCOPE],
        durationMs: 30 * 24 * 3_600_000,
        purpose: 'shared care',
      });
    }
    const patientId = patient.account.accountId;

    // The author: a note, written and signed.
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('patient-name')).toHaveText('Noor Saleh', { timeout: 30_000 });
    await page.getByRole('link', { name: 'Write a note' }).click();
    await page.getByLabel('Title').fill('Asthma review');
    await page.getByRole('button', { name: 'Begin note' }).click();
    await page.locator('#soap-subjective').fill('Night cough twice a week.');
    await page.locator('#soap-assessment').fill('Asthma, partly controlled.');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await expect(page.getByTestId('note-signed')).toContainText('Asthma, partly controlled.');

    // Co-signature asked of the second clinician, found in the directory.
    await page.getByRole('button', { name: 'Request co-signature' }).click();
    await page.getByLabel('Name, specialty or clinic').fill('Lena Park');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Choose Dr Lena Park' }).click();
    await checkScreen(page, 'workspace-cosign-request');
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('cosign-pending')).toContainText('Dr Lena Park');

    // The second clinician: its day says a note waits; the queue, the exact version, signed.
    await go(page2, '/workspace/today');
    await expect(page2.getByText('1 note to co-sign')).toBeVisible({ timeout: 30_000 });
    await checkScreen(page2, 'workspace-today');
    await go(page2, '/workspace/cosign');
    const asked = page2.locator('[data-testid^="cosign-"]').filter({ hasText: 'Asthma review' });
    await expect(asked).toBeVisible({ timeout: 30_000 });
    // The one who asked is named from the directory, not by an account id.
    await expect(asked).toContainText('Asked by Dr Kai Moreno', { timeout: 30_000 });
    await checkScreen(page2, 'workspace-cosign-queue');
    await asked.click();
    await expect(page2.getByText('Asthma, partly controlled.')).toBeVisible({ timeout: 30_000 });
    await expect(page2.getByText('Dr Kai Moreno asked you to co-sign this note of Noor Saleh')).toBeVisible();
    await checkScreen(page2, 'workspace-cosign-review');
    await page2.getByRole('button', { name: 'Co-sign version 1' }).click();
    await expect(page2.getByText(/You co-signed version 1 on/)).toBeVisible();

    // The author sees it; an amendment makes version 2, which the co-signature does not cover.
    await expect(page.getByTestId('cosign-signed')).toContainText('signed version 1', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Amend' }).click();
    await page.getByLabel('Reason for the amendment').fill('Inhaler technique was checked.');
    await page.getByRole('button', { name: 'Start amendment' }).click();
    await page.locator('#soap-assessment').fill('Asthma, partly controlled; inhaler technique corrected.');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await expect(page.getByTestId('note-signed')).toContainText('inhaler technique corrected');
    await expect(page.getByTestId('cosign-outdated')).toContainText(
      'Dr Lena Park signed version 1; the note is at version 2 now',
      {
        timeout: 30_000,
      },
    );
    await checkScreen(page, 'workspace-note-amended');

    await expect
      .poll(
        async () => {
          const notes = await patient.records.query('MedicalNote', {});
          const note = notes.items.find((n) => n.record.title === 'Asthma review');
          return `${note?.record.status ?? '-'} v${note?.record.currentVersionNumber ?? 0}`;
        },
        { timeout: 30_000 },
      )
      .toBe('amended v2');
  } finally {
    await second.close();
    await patient.close();
  }
});
