// The visit in the patient's hands: a clinician on its own Node device records a visit in the patient's chart
// (the encounter, a diagnosis, a result, a medicine started and one stopped, a plan's new version, a signed
// note a second clinician co-signs, the next appointment); the patient's home offers the visit, and its card
// says what was found and what changed with each signer by name, prints without the app's frame, and asks the
// clinician about it in a message that names the visit; once messages are no longer shared (the grant
// changed), it says so and leads to Sharing.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, NOTICE, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

test("a visit's card: found, changed, next, signed and co-signed by name; printed; asked about", async ({
  page,
  baseURL,
}) => {
  test.slow();
  const lena = await openClinician(baseURL ?? '', 'Dr Lena Vogt');
  const tariq = await openClinician(baseURL ?? '', 'Dr Tariq Nasser');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Hanna Weber' });
    // An earlier result the patient entered: the visit's result moves from it.
    await addRecord(page, 'labs', {
      testName: 'HbA1c',
      value: '8.1',
      units: '%',
      referenceRange: '4.0-5.6',
      effectiveAt: '2026-05-12T08:00',
    });
    await shareThroughScreens(page, 'Dr Lena Vogt', {
      encounter: 'write',
      note: 'write',
      'lab-result': 'write',
      medication: 'write',
      condition: 'write',
      'treatment-plan': 'write',
      appointment: 'write',
      message: 'write',
    });
    const received = lena.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    const [grant] = await clinicianSees(
      () => received.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'Dr Lena Vogt holds the grant',
    );
    const at = { patientId: grant!.patientId };
    const records = lena.session.records;
    const now = Date.now();
    const encounter = await records.add(
      'Encounter',
      {
        encounterNumber: 'V-2026-118',
        type: 'outpatient',
        clinicianId: lena.accountId,
        startedAt: new Date(now - 40 * 60_000).toISOString(),
        endedAt: new Date(now - 5 * 60_000).toISOString(),
        status: 'finished',
        reason: 'Diabetes review',
        department: 'Harbour Clinic',
      },
      at,
    );
    await records.add('Condition', { name: 'Type 2 diabetes', clinicalStatus: 'active' }, at);
    await records.add(
      'LabResult',
      {
        testName: 'HbA1c',
        value: 6.4,
        units: '%',
        referenceRange: '4.0-5.6',
        effectiveAt: new Date(now - 30 * 60_000).toISOString(),
        status: 'final',
      },
      at,
    );
    const today = new Date(now).toISOString().slice(0, 10);
    await records.add(
      'Medication',
      { name: 'Metformin', dose: '500 mg', frequency: 'twice daily', active: true, startDate: today },
      at,
    );
    await records.add(
      'Medication',
      { name: 'Gliclazide', active: false, status: 'stopped', startDate: '2024-02-01', endDate: today },
      at,
    );
    const plan = await records.add(
      'TreatmentPlan',
      { summary: 'Diabetes care', details: 'Diet and exercise', status: 'active' },
      at,
    );
    await records.update('TreatmentPlan', plan.id, {
      details: 'Metformin 500 mg twice daily; HbA1c in 3 months',
    });
    const next = new Date(now + 21 * 86_400_000);
    next.setUTCHours(9, 0, 0, 0);
    await records.add(
      'Appointment',
      {
        providerId: lena.accountId,
        startAt: next.toISOString(),
        endAt: new Date(next.getTime() + 1_800_000).toISOString(),
        status: 'scheduled',
        location: 'Harbour Clinic, room 3',
      },
      at,
    );
    const note = await records.add(
      'MedicalNote',
      {
        title: 'Diabetes review',
        noteType: 'progress',
        currentVersionNumber: 1,
        status: 'draft',
        encounterId: encounter.id,
      },
      at,
    );
    const version = await records.add(
      'NoteVersion',
      {
        noteId: note.id,
        versionNumber: 1,
        kind: 'original',
        assessment: 'HbA1c improved; starting metformin, stopping gliclazide.',
      },
      at,
    );
    await records.add(
      'NoteSignature',
      {
        noteId: note.id,
        noteVersionId: version.id,
        signerId: lena.accountId,
        signerRole: 'author',
        status: 'signed',
        requestedAt: new Date().toISOString(),
      },
      at,
    );
    await records.update('MedicalNote', note.id, { status: 'signed' });
    await lena.session.care.notes.requestCosign(note.id, tariq.accountId, 'attending');

    // The co-signer is let in from Sharing, in one screen; he signs.
    await go(page, '/care/sharing');
    const ask = page.getByTestId('cosign-ask');
    await expect(ask).toContainText('Dr Lena Vogt asked Dr Tariq Nasser to co-sign', { timeout: 60_000 });
    await ask.getByRole('link', { name: 'Let Dr Tariq Nasser co-sign' }).click();
    await page.getByRole('button', { name: 'The numbers match' }).click();
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.waitForURL(/\/care\/sharing$/);
    // The notice that it is shared closes by itself.
    await expect(page.getByText('Shared with Dr Tariq Nasser for co-signing.')).toBeVisible();
    await expect(page.locator(NOTICE)).toHaveCount(0, { timeout: 15_000 });
    const queue = tariq.session.care.notes.cosignQueue;
    stops.push(queue.subscribe(() => undefined));
    const [asked] = await clinicianSees(
      () => queue.get(),
      (q) => q.length === 1,
      'Dr Tariq Nasser holds the co-signature request',
    );
    await tariq.session.care.notes.cosign(asked!.record.id);

    // Home offers the visit.
    await go(page, '/');
    const step = page.getByTestId('next-step').filter({ hasText: 'Your visit with Dr Lena Vogt' });
    await expect(step).toHaveAttribute('data-rank', 'recent', { timeout: 60_000 });
    await step.getByRole('link').click();
    await page.waitForURL(/\/visits\/[0-9A-Z]{26}$/);

    const card = page.getByTestId('visit-card');
    await expect(card.getByTestId('visit-clinician')).toHaveText('With Dr Lena Vogt');
    const found = card.getByTestId('visit-found');
    await expect(found).toContainText('Type 2 diabetes · Active', { timeout: 60_000 });
    await expect(found).toContainText('HbA1c improved; starting metformin, stopping gliclazide.');
    await expect(found.getByTestId('visit-signers')).toContainText(
      /^Signed by Dr Lena Vogt on .+ · co-signed by Dr Tariq Nasser on /,
      {
        timeout: 60_000,
      },
    );
    const changed = card.getByTestId('visit-changed');
    await expect(changed.getByTestId('visit-result')).toHaveText(
      /^HbA1c 6\.4 % \(normal 4\.0-5\.6\) · ↓ from 8\.1/,
    );
    await expect(changed.getByTestId('visit-started')).toHaveText('StartedMetformin · 500 mg, twice daily');
    await expect(changed.getByTestId('visit-stopped')).toHaveText('StoppedGliclazide');
    const planChange = changed.getByTestId('visit-plan');
    await expect(planChange).toContainText('Plan changed: version 1 → 2Diabetes care');
    await expect(planChange).toContainText(
      'Details: Diet and exercise → Metformin 500 mg twice daily; HbA1c in 3 months',
    );
    await expect(card.getByTestId('visit-next')).toContainText('Dr Lena Vogt · Harbour Clinic, room 3');
    await checkScreen(page, 'visit-card');

    // Printed: the card alone, without the app's frame or the way to write.
    await page.emulateMedia({ media: 'print' });
    await expect(card).toBeVisible();
    await expect(page.getByTestId('visit-ask')).toBeHidden();
    await expect(page.locator('.mantine-AppShell-navbar')).toBeHidden();
    await expect(page.getByRole('button', { name: 'Print' })).toBeHidden();
    await page.emulateMedia({ media: 'screen' });

    // Asked about: a message to the clinician that names the visit.
    // By keyboard: the link takes focus and Enter follows it.
    await page.getByRole('link', { name: 'Ask Dr Lena Vogt about this visit' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/care\/messages\/new\?/);
    await expect(page.locator('#message-to')).toContainText('Dr Lena Vogt');
    await expect(page.getByLabel('Message', { exact: true })).toHaveValue(
      /^About my visit of .+ \(Diabetes review\): $/,
    );

    // The encounter's own screen leads to the card.
    await go(page, `/chart/encounters/${encounter.id}`);
    await page.getByTestId('visit-link').getByRole('link', { name: 'See this visit' }).click();
    await page.waitForURL(new RegExp(`/visits/${encounter.id}$`));

    // Messages no longer shared (the grant changed from Sharing): the card says so and leads to Sharing.
    await go(page, '/care/sharing');
    await page
      .locator('[data-testid="grant-card"][data-state="active"]')
      .getByRole('link', { name: 'Change what Dr Lena Vogt can see and do' })
      .click();
    await page.locator('#share-message').selectOption('none');
    await page.getByRole('button', { name: 'Review the change' }).click();
    await expect(page.getByTestId('change-removed')).toHaveText('Will no longer see: Messages');
    await page.getByRole('button', { name: 'Change the sharing' }).click();
    await page.waitForURL(/\/care\/sharing$/);
    await go(page, `/visits/${encounter.id}`);
    const askPart = page.getByTestId('visit-ask');
    await expect(askPart).toContainText('Messages are not shared');
    await expect(askPart).toContainText(
      'To write to Dr Lena Vogt about this visit, share your messages with them first.',
    );
    await expect(page.getByRole('link', { name: 'Ask Dr Lena Vogt about this visit' })).toHaveCount(0);
    await askPart.getByRole('link', { name: 'Go to Sharing' }).click();
    await page.waitForURL(/\/care\/sharing$/);
  } finally {
    for (const stop of stops) stop();
    await lena.close();
    await tariq.close();
  }
});
