// A clinician who holds Medications sees, on the patient's medication, how the week's schedule was kept:
// the patient (a Node device) has a morning and an evening dose, marked yesterday's morning dose taken and
// its evening dose skipped; the clinician's browser shows the week's count, each mark and its time.
import { expect, test } from '@playwright/test';
import { checkScreen, go } from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

/** The browser's (the config's zone) calendar day of `at`, `YYYY-MM-DD`. */
const dayIn = (at: number): string =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/Amsterdam',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);

test("a clinician holding Medications sees the week's doses kept on the patient's medication", async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Sione Tupou' }));
    // Taken since a month ago, with no end (the example's medication ended in 2025).
    const { endDate: _ended, ...taking } = record('Medication', {
      name: 'Amlodipine',
      dose: '5 mg',
      frequency: 'twice daily',
      active: true,
      startDate: dayIn(Date.now() - 30 * 86_400_000),
      schedule: { times: ['08:00', '20:00'], food: 'with' },
    }) as Record<string, unknown>;
    const medication = await patient.records.add('Medication', taking as never);
    const yesterday = dayIn(Date.now() - 86_400_000);
    for (const [time, status] of [
      ['08:00', 'taken'],
      ['20:00', 'skipped'],
    ] as const) {
      await patient.records.add(
        'MedicationDose',
        record('MedicationDose', {
          medicationId: medication.id,
          medicationName: 'Amlodipine',
          slot: `${yesterday}T${time}`,
          status,
          at: new Date(Date.now() - 86_400_000).toISOString(),
        }),
      );
    }
    await patient.sync.awaitInSync();

    await signUpClinician(page, { displayName: 'Dr Kofi Mensah' });
    const clinicianId = await findClinician(patient, 'Dr Kofi Mensah');
    await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'profile', access: 'read' },
        { type: 'medication', access: 'read' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'blood pressure review',
    });
    const patientId = patient.account.accountId;

    await go(page, `/workspace/patients/${patientId}/chart/medications`);
    await page
      .getByRole('link', { name: /Amlodipine/ })
      .first()
      .click({ timeout: 30_000 });
    const kept = page.getByTestId('dose-adherence');
    await expect(kept).toContainText('Every day at 8:00 AM, 8:00 PM · With food', { timeout: 30_000 });
    await expect(kept.getByTestId('adherence-line')).toHaveText('Last 7 days: 1 of 2 doses taken, 1 skipped');
    await expect(kept.getByTestId('dose-row')).toHaveCount(2);
    await expect(kept.getByTestId('dose-row').filter({ hasText: 'Taken' })).toContainText('due 8:00 AM');
    await expect(kept.getByTestId('dose-row').filter({ hasText: 'Skipped' })).toContainText('due 8:00 PM');
    // The patient's own link to today's doses is not the clinician's to follow.
    await expect(kept.getByRole('link', { name: "Today's medicines" })).toHaveCount(0);
    await checkScreen(page, 'workspace-medication-adherence');
  } finally {
    await patient.close();
  }
});
