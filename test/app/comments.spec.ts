// The patient's own comment beside a clinician's signed note: the patient in the browser opens the note
// (no Edit, "Ask for a correction"), adds a comment (what was typed survives leaving the screen), sees it
// beside the note with its date, edits it; the clinician, a Node device granted comments, reads it; the
// note stays as signed on both sides. In the workspace, a clinician granted comments sees the patient's
// comment below the note it signed.
import { expect, test } from '@playwright/test';
import { checkScreen, go, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';
import { findClinician, nodePatient, signUpClinician } from './workspace-support';

test("the patient comments on a clinician's signed note; the note stays as signed", async ({
  page,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Lena Brandt');
  try {
    await signUp(page, { loginName: uniqueName('patient'), fullName: 'Tomas Varga' });
    await shareThroughScreens(page, 'Dr Lena Brandt', { note: 'write', comment: 'read' });
    const received = await clinicianSees(
      () => clinician.session.consent.grantsReceived.get(),
      (list) => list.length === 1,
      'the clinician holds the grant',
    );
    const chart = received[0]!.patientId;
    const note = await clinician.session.records.add(
      'MedicalNote',
      { title: 'Blood pressure review', noteType: 'progress', currentVersionNumber: 1, status: 'signed' },
      { patientId: chart },
    );
    await clinician.session.records.add(
      'NoteVersion',
      { noteId: note.id, versionNumber: 1, kind: 'original', plan: 'Stop amlodipine in April.' },
      { patientId: chart },
    );
    await clinician.session.sync.awaitInSync();
    const signed = (await clinician.session.records.get(note.id))!;

    await go(page, `/chart/notes/${note.id}`);
    await expect(page.getByRole('heading', { name: 'Blood pressure review' })).toBeVisible({
      timeout: 30_000,
    });
    await expect(page.getByRole('link', { name: 'Edit' })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Ask for a correction' })).toBeVisible();
    const comments = page.getByRole('region', { name: 'Your comments' });
    await expect(comments).toContainText('No comments on this record yet.');

    // Typing survives leaving the screen: the form opens again with the words.
    await comments.getByRole('button', { name: 'Add a comment' }).click();
    await comments.getByLabel('Your comment').fill('I stopped the tablets in March, not April.');
    await go(page, '/chart/notes');
    await go(page, `/chart/notes/${note.id}`);
    await expect(comments.getByLabel('Your comment')).toHaveValue(
      'I stopped the tablets in March, not April.',
    );
    await checkScreen(page, 'comment-form');
    await comments.getByRole('button', { name: 'Save' }).click();

    const item = comments.getByRole('article');
    await expect(item).toHaveCount(1);
    await expect(item).toContainText('I stopped the tablets in March, not April.');
    await expect(item).toContainText('this device');
    await expect(comments.getByRole('button', { name: 'Add a comment' })).toBeVisible();
    await checkScreen(page, 'comment-beside-note');

    // Its writer edits it.
    await item.getByRole('button', { name: 'Edit' }).click();
    await comments.getByLabel('Edit your comment').fill('I stopped the tablets on 3 March.');
    await comments.getByRole('button', { name: 'Save' }).click();
    await expect(item).toContainText('I stopped the tablets on 3 March.');
    await expect(item).toContainText('edited');

    // The clinician reads the comment; the note is unchanged on both sides.
    const seen = await clinicianSees(
      async () =>
        (await clinician.session.records.query('Comment', { patientId: chart })).items.map((c) => c.record),
      (list) => list.some((c) => c.text === 'I stopped the tablets on 3 March.'),
      'the clinician reads the comment',
    );
    expect(seen[0]).toMatchObject({ about: note.id, aboutKind: 'MedicalNote' });
    const after = (await clinician.session.records.get(note.id))!;
    expect({ rv: after.rv, record: after.record }).toEqual({ rv: signed.rv, record: signed.record });
    await expect(page.getByText('Stop amlodipine in April.')).toBeVisible();
  } finally {
    await clinician.close();
  }
});

test("the workspace: the patient's comment shows below the clinician's signed note", async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await signUpClinician(page, { displayName: 'Dr Noor Haddad' });
    const clinicianId = await findClinician(patient, 'Dr Noor Haddad');
    await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'note', access: 'write' },
        { type: 'comment', access: 'read' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'blood pressure follow-up',
    });
    const patientId = patient.account.accountId;
    await go(page, '/workspace/patients');
    await page.getByTestId(`patient-${patientId}`).click({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Write a note' }).click();
    await page.getByLabel('Title').fill('Blood pressure review');
    await page.getByRole('button', { name: 'Begin note' }).click();
    await page.locator('#soap-plan').fill('Stop amlodipine in April.');
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await expect(page.getByTestId('note-signed')).toContainText('Stop amlodipine in April.');

    let noteId = '';
    await expect
      .poll(
        async () => {
          const notes = await patient.records.query('MedicalNote', {});
          noteId = notes.items.find((n) => n.record.status === 'signed')?.record.id ?? '';
          return noteId !== '';
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    await patient.records.add('Comment', {
      about: noteId,
      aboutKind: 'MedicalNote',
      text: 'I stopped the tablets in March, not April.',
      writtenAt: new Date().toISOString(),
    });
    await patient.sync.awaitInSync();

    const comments = page.getByRole('region', { name: 'Comments' });
    await expect(comments.getByRole('article')).toContainText('I stopped the tablets in March, not April.', {
      timeout: 30_000,
    });
    await expect(comments.getByRole('button', { name: 'Edit' })).toHaveCount(0);
    await expect(comments.getByRole('button', { name: 'Add a comment' })).toHaveCount(0);
    await checkScreen(page, 'workspace-note-comment');
  } finally {
    await patient.close();
  }
});
