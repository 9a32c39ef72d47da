// The clinician workspace's care flows with a patient on a Node device: the clinician publishes its
// availability, answers the patient's appointment request from the schedule (the patient's device sees it
// confirmed), enters a lab result and a treatment plan in the chart (the patient's device holds both),
// makes the plan active; the patient acknowledges it; the clinician's plan screen shows the acknowledgement.
import { expect, test } from '@playwright/test';
import { checkScreen, fillFields, go } from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

test('schedule, lab and plan: the patient sees what the clinician did, the clinician sees the acknowledgement', async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Tomas Berg' }));
    await signUpClinician(page, { displayName: 'Dr Ines Okafor' });
    const clinicianId = await findClinician(patient, 'Dr Ines Okafor');
    await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'profile', access: 'read' },
        { type: 'lab-result', access: 'write' },
        { type: 'treatment-plan', access: 'write' },
        { type: 'appointment', access: 'write' },
        { type: 'encounter', access: 'write' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'hypertension care',
    });
    const patientId = patient.account.accountId;

    // Availability: the default weekday hours, published and signed; the patient reads free slots.
    await go(page, '/workspace/schedule/availability');
    await expect(page.getByLabel('Slot length')).toBeVisible();
    await checkScreen(page, 'workspace-availability');
    await page.getByRole('button', { name: 'Publish availability' }).click();
    await expect(page.getByText(/Published: \d+ free slots? in the next two weeks\./)).toBeVisible();
    const slots = await patient.care.appointments.slots(clinicianId);
    expect(slots.length).toBeGreaterThan(0);

    // A request for a time of the patient's choosing: the clinician confirms it in the schedule.
    const start = new Date(Date.now() + 3 * 24 * 3_600_000);
    start.setUTCHours(14, 0, 0, 0);
    const request = await patient.care.appointments.request({
      providerId: clinicianId,
      reason: 'Blood pressure review',
      preferredTimes: [
        { startAt: start.toISOString(), endAt: new Date(start.getTime() + 30 * 60_000).toISOString() },
      ],
      timeZone: 'Europe/Amsterdam',
    });
    await go(page, '/workspace/schedule');
    const row = page.getByTestId(`appointment-${request.id}`);
    await expect(row).toContainText('Blood pressure review', { timeout: 30_000 });
    await checkScreen(page, 'workspace-schedule');
    await row.getByRole('button', { name: 'Confirm' }).click();
    await expect(page.getByText('Appointment confirmed.')).toBeVisible();
    await expect
      .poll(
        async () =>
          (await patient.records.query('Appointment', { ids: [request.id] })).items[0]?.record.status ??
          'none',
        { timeout: 30_000 },
      )
      .toBe('scheduled');

    // A lab result entered in the chart, where the grant lets the clinician write.
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('patient-name')).toHaveText('Tomas Berg', { timeout: 30_000 });
    await page.getByRole('link', { name: 'Enter lab result' }).click();
    await fillFields(page, {
      testName: 'LDL cholesterol',
      value: '3.1',
      units: 'mmol/L',
      referenceRange: '0-3.0',
      effectiveAt: '2026-11-20T08:30',
    });
    await checkScreen(page, 'workspace-lab-entry');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/chart\/labs\/[0-9A-Z]{26}$/);

    // A treatment plan: a draft, then active.
    await go(page, `/workspace/patients/${patientId}`);
    await page.getByRole('link', { name: 'New treatment plan' }).click();
    await fillFields(page, {
      summary: 'Lower blood pressure',
      details: 'Amlodipine 5 mg daily; home readings twice a week.',
      'goal.testName': 'Systolic blood pressure',
      'goal.target': '<140',
      'recheck.testName': 'Potassium',
      'recheck.due': '2027-01-15',
    });
    // The re-check's date picker closed (its open calendar is not what this screen is checked for).
    await page.locator('#main h1').first().click();
    await expect(page.locator('.mantine-DateInput-calendarHeaderControl')).toHaveCount(0);
    await expect(page.locator('#field-recheck-due')).toHaveValue('2027-01-15');
    await checkScreen(page, 'workspace-plan-form');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.waitForURL(/\/chart\/plans\/[0-9A-Z]{26}$/);
    const planId = page.url().split('/').at(-1) ?? '';
    await expect(page.getByTestId('plan-goal')).toHaveText('Goal: Systolic blood pressure <140');
    await expect(page.getByTestId('plan-recheck')).toHaveText('Re-check: Potassium by Jan 15, 2027');
    await expect(page.getByTestId('plan-ack')).toHaveText('Draft: not shown for acknowledgement');
    await page.getByRole('button', { name: 'Make active' }).click();
    await expect(page.getByTestId('plan-status')).toHaveText('Active');

    // The patient's device holds the lab and the plan, and acknowledges the plan.
    await expect
      .poll(
        async () => {
          const labs = await patient.records.query('LabResult', {});
          const plans = await patient.records.query('TreatmentPlan', {});
          const lab = labs.items.find((l) => l.record.testName === 'LDL cholesterol');
          const plan = plans.items.find((p) => p.record.id === planId);
          return `${lab?.by === clinicianId ? 'lab' : '-'} ${plan?.record.status ?? '-'}`;
        },
        { timeout: 30_000 },
      )
      .toBe('lab active');
    await patient.care.plans.acknowledge(planId);
    await patient.sync.awaitInSync();

    await expect(page.getByTestId('plan-ack')).toContainText(/Acknowledged by the patient: version \d/, {
      timeout: 30_000,
    });
    await checkScreen(page, 'workspace-plan');

    // An encounter, and the visit summary to give the patient, with the active plan in it.
    await go(page, `/workspace/patients/${patientId}`);
    await page.getByRole('link', { name: 'Start encounter' }).click();
    await fillFields(page, { type: { select: 'outpatient' }, reason: 'Blood pressure review' });
    await page.getByRole('button', { name: 'Start encounter' }).click();
    await page.waitForURL(/\/chart\/encounters\/[0-9A-Z]{26}$/);
    await page.getByRole('link', { name: 'Visit summary' }).click();
    await expect(page.getByText('Lower blood pressure')).toBeVisible();
    await checkScreen(page, 'workspace-visit-summary');
    await expect
      .poll(async () => (await patient.records.query('Encounter', {})).items[0]?.record.reason ?? '-', {
        timeout: 30_000,
      })
      .toBe('Blood pressure review');
  } finally {
    await patient.close();
  }
});
