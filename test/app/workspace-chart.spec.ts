// The clinician workspace, a patient's chart: a patient (a Node device) shares some kinds with a clinician
// who signed up through the screens; the clinician sees the patient, reads only the shared kinds (another
// kind is refused even by its address), writes and signs a note the patient then holds; after the patient
// revokes, the chart in the workspace is ended and its records are gone from the clinician's browser.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { verifyFhirExport } from '@hale/client';
import { checkScreen, go, unlock } from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

test('a shared chart: consented kinds only, a signed note reaches the patient, revoke ends it', async ({
  page,
  baseURL,
}) => {
  // Twenty-odd screens, each checked with every axe rule: 3 min idle, over 300 s at a load of 19.
  test.slow();
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Amira Haddad' }));
    await patient.records.add('Allergy', record('Allergy', { substance: 'Penicillin' }));
    await patient.records.add('LabResult', record('LabResult', { testName: 'HbA1c' }));
    await patient.sync.awaitInSync();

    await signUpClinician(page, { displayName: 'Dr Ana Ruiz', shots: true });
    await checkScreen(page, 'workspace-profile');
    await go(page, '/workspace/patients');
    await expect(page.getByText('No patient has shared a chart with you yet')).toBeVisible();

    const clinicianId = await findClinician(patient, 'Dr Ana Ruiz');
    const stored = await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'profile', access: 'read' },
        { type: 'lab-result', access: 'read' },
        { type: 'note', access: 'write' },
        { type: 'note-signature', access: 'write' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'diabetes follow-up',
    });
    const patientId = patient.account.accountId;

    // The list follows the grant live: the patient, by name once the profile synced, and what is shared.
    const row = page.getByTestId(`patient-${patientId}`);
    await expect(row).toContainText('Amira Haddad', { timeout: 30_000 });
    await expect(row).toContainText('Lab results (Read)');
    await expect(row).toContainText('Notes (Read and write)');
    await checkScreen(page, 'workspace-patients');

    await row.click();
    await expect(page.getByTestId('patient-name')).toHaveText('Amira Haddad');
    await expect(page.getByTestId('chart-state')).toHaveText('Shared');
    const sections = page.getByRole('navigation', { name: 'Sections of this chart' });
    await expect(sections.getByRole('link', { name: 'Lab results' })).toBeVisible();
    await expect(sections.getByRole('link', { name: 'Allergies' })).toHaveCount(0);
    await checkScreen(page, 'workspace-chart');

    // Read-only where the grant is read: the lab is there, nothing to add or edit.
    await sections.getByRole('link', { name: 'Lab results' }).click();
    await page.getByRole('link', { name: /HbA1c/ }).click();
    await expect(page.getByRole('heading', { name: /HbA1c/ })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Edit' })).toHaveCount(0);
    await go(page, `/workspace/patients/${patientId}/chart/labs/new`);
    await expect(page.getByTestId('kind-not-shared')).toHaveCount(0);

    // A kind outside the grant, asked for by its address: refused, and nothing of it on this device.
    await go(page, `/workspace/patients/${patientId}/chart/allergies`);
    await expect(page.getByTestId('kind-not-shared')).toContainText('has not shared Allergies with you');
    await expect(page.getByText('Penicillin')).toHaveCount(0);
    // The safety banner says so too, never an empty list (workspace-banner.spec.ts for one that shares).
    await expect(page.getByTestId('banner-allergies')).toHaveText(/Not shared with you/);
    await checkScreen(page, 'workspace-kind-not-shared');

    // A note: begun, written, signed.
    await go(page, `/workspace/patients/${patientId}`);
    await page.getByRole('link', { name: 'Write a note' }).click();
    await page.getByLabel('Title').fill('Diabetes review');
    await page.getByRole('button', { name: 'Begin note' }).click();
    await page.locator('#soap-subjective').fill('Feels well; occasional thirst.');
    await page.locator('#soap-assessment').fill('Type 2 diabetes, improving control.');
    await page.locator('#soap-plan').fill('Repeat HbA1c in three months.');
    await checkScreen(page, 'workspace-note-draft');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await expect(page.getByTestId('note-signed')).toContainText('Type 2 diabetes, improving control.');
    await checkScreen(page, 'workspace-note-signed');

    // The patient's own device holds the signed note and its text.
    await expect
      .poll(
        async () => {
          const notes = await patient.records.query('MedicalNote', {});
          const note = notes.items.find((n) => n.record.title === 'Diabetes review');
          if (note === undefined) return 'none';
          const versions = await patient.records.query('NoteVersion', {});
          const v = versions.items.find((x) => x.record.noteId === note.record.id);
          return `${note.record.status} ${note.by === clinicianId ? 'by-clinician' : 'by-other'} ${v?.record.assessment ?? ''}`;
        },
        { timeout: 30_000 },
      )
      .toBe('signed by-clinician Type 2 diabetes, improving control.');

    // The patient revokes: the workspace says the chart ended; the lab is gone from this browser.
    await patient.consent.revoke(stored.grant.grantId);
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('chart-state')).toHaveText('Access ended', { timeout: 30_000 });
    await expect(page.getByText('What you saw before cannot be recalled', { exact: false })).toBeVisible();
    // The patient is still named as while the grant stood (remembered in memory, not kept on disk).
    await expect(page.getByTestId('patient-name')).toHaveText('Amira Haddad');
    await expect(sections).toHaveCount(0);
    await go(page, `/workspace/patients/${patientId}/chart/labs`);
    await expect(page.getByTestId('kind-not-shared')).toBeVisible();
    await expect(page.getByText('HbA1c')).toHaveCount(0);
    await go(page, `/workspace/patients/${patientId}`);
    await checkScreen(page, 'workspace-chart-ended');

    // What the clinician wrote while the grant stood: a FHIR bundle signed by its account, the note in it.
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download your signed entries' }).click();
    const file = await (await downloading).path();
    const text = readFileSync(file, 'utf8');
    const checked = await verifyFhirExport(text);
    expect(checked.ok && { signer: checked.signer, patientId: checked.patientId }).toEqual({
      signer: clinicianId,
      patientId,
    });
    expect(text).toContain('Type 2 diabetes, improving control.');
    // Only what the clinician wrote: the note, not the patient's lab it could read.
    const bundle = JSON.parse(text) as { entry: { resource: { resourceType: string } }[] };
    const types = new Set(bundle.entry.map((e) => e.resource.resourceType));
    expect(types.has('Composition')).toBe(true);
    expect(types.has('Observation')).toBe(false);
    await expect(page.getByText('Your signed entries were downloaded.')).toBeVisible();
    // The problems list says what ended in words, not as a server fault.
    await go(page, '/problems');
    await expect(page.getByText('A patient ended your access').first()).toBeVisible();
    await expect(page.getByText('A sync problem')).toHaveCount(0);
    await go(page, '/workspace/patients');
    await expect(page.getByText('No patient has shared a chart with you yet')).toBeVisible();
    await page.getByText('Ended (1)').click();
    await expect(page.getByTestId(`patient-${patientId}`)).toContainText('Access ended');
    await expect(page.getByTestId(`patient-${patientId}`)).toContainText('Amira Haddad');
    // The name the clinician saw is kept (sealed on their device) across a lock: not a bare id.
    await page.reload();
    await unlock(page);
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('chart-state')).toHaveText('Access ended', { timeout: 30_000 });
    await expect(page.getByTestId('patient-name')).toHaveText('Amira Haddad');
    await checkScreen(page, 'workspace-chart-ended-named');
  } finally {
    await patient.close();
  }
});
