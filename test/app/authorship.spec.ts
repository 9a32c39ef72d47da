// A clinician's signed note in the patient's app: no Edit, no Delete (the note is its author's to change),
// "Ask for a correction" instead, which opens a message to the author naming the note. The patient in the
// browser, the clinician a Node device writing into the shared chart, both present.
import { expect, test } from '@playwright/test';
import { checkScreen, go, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

test("a clinician's signed note: the patient is offered a correction request, not Edit or Delete", async ({
  page,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Amara Osei');
  try {
    await signUp(page, { loginName: uniqueName('patient'), fullName: 'Ruth Mensah' });
    await shareThroughScreens(page, 'Dr Amara Osei', { note: 'write', message: 'write' });
    const received = await clinicianSees(
      () => clinician.session.consent.grantsReceived.get(),
      (list) => list.length === 1,
      'the clinician holds the grant',
    );
    const chart = received[0]!.patientId;
    const note = await clinician.session.records.add(
      'MedicalNote',
      { title: 'Progress note', noteType: 'progress', currentVersionNumber: 1, status: 'signed' },
      { patientId: chart },
    );
    await clinician.session.records.add(
      'NoteVersion',
      { noteId: note.id, versionNumber: 1, kind: 'original', assessment: 'Knee sprain, improving.' },
      { patientId: chart },
    );
    await clinician.session.sync.awaitInSync();

    await go(page, `/chart/notes/${note.id}`);
    await expect(page.getByRole('heading', { name: 'Progress note' })).toBeVisible({ timeout: 30_000 });
    await expect(page.getByText('Knee sprain, improving.')).toBeVisible();
    await expect(page.getByRole('link', { name: 'Edit' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Delete' })).toHaveCount(0);
    const ask = page.getByRole('link', { name: 'Ask for a correction' });
    await expect(ask).toBeVisible();
    await checkScreen(page, 'note-of-another-author');
    await ask.click();
    await expect(page.getByLabel('Message', { exact: true })).toHaveValue(
      /Please correct “Progress note” \(Note, /,
    );
    await checkScreen(page, 'correction-request');
  } finally {
    await clinician.close();
  }
});
