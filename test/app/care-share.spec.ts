// Sharing from the patient's screens, with a clinician on its own device (Node, the same server): find the
// clinician in the directory, compare the safety number, choose kinds and levels, review, share; the
// clinician reads the labs; the patient sees that read in Who saw my records (filters, CSV and FHIR
// exports, the log verified); the patient revokes, watches the re-keying finish, and the clinician's copy
// is gone.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, middayZone, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

// The week's summary counts night-time access as unusual: the browser lives where it is midday.
test.use({ timezoneId: middayZone() });

test('share with a clinician, see their read in the access history, revoke: their copy is gone', async ({
  page,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Lin Wei-Ting');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Chen Mei-Ling' });
    await addRecord(page, 'labs', {
      testName: 'HbA1c',
      value: '7.4',
      units: '%',
      referenceRange: '4-5.6 %',
      effectiveAt: '2026-03-02T08:15',
    });
    await addRecord(page, 'allergies', { substance: 'Penicillin', severity: { select: 'moderate' } });
    await go(page, '/care/sharing');
    await expect(page.getByText('You share your records with nobody.')).toBeVisible();
    await checkScreen(page, 'care-sharing-empty');

    await shareThroughScreens(
      page,
      'Dr Lin Wei-Ting',
      { 'lab-result': 'read', message: 'write' },
      { shots: true },
    );
    const card = page.getByTestId('grant-card').first();
    await expect(card).toContainText('Dr Lin Wei-Ting');
    await expect(card).toContainText('Purpose: Diabetes care at Harbour Clinic');
    await checkScreen(page, 'care-sharing');

    // Comparing again: the key is known now, and the screen says so.
    await page.getByRole('link', { name: 'Share with a clinician' }).first().click();
    await page.getByLabel('Name, specialty or clinic').fill('Lin');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('list', { name: 'Clinicians found' }).getByText('Dr Lin Wei-Ting').click();
    await expect(page.getByTestId('key-known')).toBeVisible();

    // The clinician's device receives the labs, not the allergies.
    const received = clinician.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    const grants = await clinicianSees(
      () => received.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'the clinician holds the grant',
    );
    const P = grants[0]!.patientId;
    expect(grants[0]!.streams.map((s) => `${s.type}:${s.access}`).sort()).toEqual([
      'lab-result:read',
      'message:write',
    ]);
    const labs = clinician.session.records.list('LabResult', { patientId: P });
    stops.push(labs.subscribe(() => undefined));
    await clinicianSees(
      () => labs.get().items.map((r) => r.record.testName),
      (names) => names.includes('HbA1c'),
      "the clinician reads the patient's HbA1c",
    );
    expect((await clinician.session.records.query('Allergy', { patientId: P })).total).toBe(0);
    // The clinician names its device: the name goes to the patient sealed, for the access story.
    await clinician.session.devices.rename(clinician.session.account.deviceId, 'Consulting room 3');

    // Who saw my records: the clinician's fetch, named, with the kind; the log verified.
    await go(page, '/care/access');
    await expect(page.getByTestId('audit-verification')).toHaveAttribute('data-result', /intact/, {
      timeout: 60_000,
    });
    const line = page.locator(`[data-testid="story-line"][data-actor="${clinician.accountId}"]`).first();
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Check again' }).click();
          return page.locator(`[data-testid="story-line"][data-actor="${clinician.accountId}"]`).count();
        },
        { timeout: 60_000, message: "the clinician's access is told" },
      )
      .toBeGreaterThan(0);
    // One line for the person and the day: who, what they did to which kinds; the signed entries one click deeper.
    await expect(line).toContainText('Dr Lin Wei-Ting');
    await expect(line.getByTestId('story-what')).toContainText('Looked at Lab results');
    await expect(line.getByTestId('story-hint-after-end')).toHaveCount(0);
    // From which of their devices: by the name the clinician gave it.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Check again' }).click();
          return line.getByTestId('story-what').textContent();
        },
        { timeout: 60_000, message: "the clinician's device named in the story" },
      )
      .toContain('from Dr Lin Wei-Ting’s ‘Consulting room 3’');
    const entries = line.getByRole('button', { name: /^Show the .*signed entr/ });
    await entries.click();
    const row = line.locator(`[data-testid="access-row"][data-actor="${clinician.accountId}"]`).first();
    await expect(row).toContainText('Dr Lin Wei-Ting');
    await expect(row.getByTestId('access-device-name')).toHaveText('‘Consulting room 3’');
    await expect(line.getByTestId('access-table')).toContainText('Lab results');
    await checkScreen(page, 'care-access');
    // On a phone the entries are a list of cards, each field named; nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect(line.getByTestId('access-cards')).toBeVisible();
    await expect(page.getByTestId('access-table')).toHaveCount(0);
    await expect(
      line.locator(`[data-testid="access-row"][data-actor="${clinician.accountId}"]`).first(),
    ).toContainText('Dr Lin Wei-Ting');
    const overflow = 'document.documentElement.scrollWidth - document.documentElement.clientWidth';
    expect(await page.evaluate(overflow)).toBeLessThanOrEqual(0);
    await page.getByRole('tab', { name: 'Disclosures' }).click();
    await expect(page.getByTestId('disclosure-cards')).toContainText('Diabetes care at Harbour Clinic');
    expect(await page.evaluate(overflow)).toBeLessThanOrEqual(0);
    await page.getByRole('tab', { name: 'Access history' }).click();
    await page.setViewportSize({ width: 1440, height: 900 });
    await expect(line).toBeVisible();

    const csv = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csvText = readFileSync(await (await csv).path(), 'utf8');
    expect(csvText.split(/\r?\n/)[0]).toBe(
      'time,source,who,account,device,action,record kind,documents,note',
    );
    expect(csvText).toContain('Dr Lin Wei-Ting');
    expect(csvText).toContain(clinician.accountId);
    const fhir = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export FHIR AuditEvent' }).click();
    const bundle = JSON.parse(readFileSync(await (await fhir).path(), 'utf8')) as {
      resourceType: string;
      entry: { resource: { resourceType: string } }[];
    };
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.entry.length).toBeGreaterThan(0);
    expect(bundle.entry.every((e) => e.resource.resourceType === 'AuditEvent')).toBe(true);

    await page.getByRole('tab', { name: 'Disclosures' }).click();
    await expect(page.getByTestId('disclosure-row').first()).toContainText('Dr Lin Wei-Ting');
    await checkScreen(page, 'care-disclosures');

    // Home's next steps sum up the week's access, and lead to the story.
    await go(page, '/');
    await expect(page.getByTestId('weekly-access')).toHaveText(
      'This week Dr Lin Wei-Ting accessed your records',
      {
        timeout: 30_000,
      },
    );
    await page.getByTestId('weekly-access').click();
    await page.waitForURL(/\/care\/access$/);

    // Revoke from the story's line: the plain statement first, then the steps; the clinician's copy leaves
    // its device.
    await page.getByRole('tab', { name: 'Access history' }).click();
    await line.getByRole('button', { name: 'Revoke access of Dr Lin Wei-Ting' }).click();
    await expect(page.getByTestId('revocation-notice')).toContainText('cannot be recalled');
    await checkScreen(page, 'care-revoke-confirm');
    await page.getByRole('button', { name: 'Revoke access', exact: true }).click();
    await expect(line.getByTestId('story-hint-after-end')).toBeVisible({ timeout: 60_000 });
    await expect(line.getByRole('button', { name: 'Revoke access of Dr Lin Wei-Ting' })).toHaveCount(0);
    await go(page, '/care/sharing');
    await expect(page.getByTestId('step-rekeyed')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
    const ended = page.getByTestId('grant-card').filter({ hasText: 'Dr Lin Wei-Ting' }).first();
    await expect(ended).toHaveAttribute('data-state', 'revoked', { timeout: 60_000 });
    await checkScreen(page, 'care-sharing-revoked');

    await clinicianSees(
      () => clinician.session.consent.grantsReceived.get(),
      (g) => g[0]?.state === 'ended',
      'the grant ended on the clinician',
    );
    await clinicianSees(
      () => labs.get().items.length,
      (n) => n === 0,
      "the patient's labs left the clinician's device",
    );
  } finally {
    for (const stop of stops) stop();
    await clinician.close();
  }
});

test("an invite: a mistyped one and one whose key the server does not hold are refused; the clinician's own link shares without comparing again", async ({
  page,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Sofia Reyes');
  try {
    const invite = clinician.session.consent.invite();
    expect(invite).toMatch(/^hale-invite:1:/);
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Lee Ji-woo' });
    await go(page, '/care/sharing/new');
    await page.getByRole('tab', { name: 'Use an invite' }).click();
    const paste = page.getByLabel('Invite or link');
    await paste.fill('hale-invite:one-two');
    await page.getByRole('button', { name: 'Use this invite' }).click();
    await expect(page.getByRole('alert')).toContainText('This is not a Hale invite');
    // The right account with another key's fingerprint: someone in between would present that key.
    const parts = invite.split(':');
    const fingerprint = parts.at(-1) ?? '';
    const forged = [
      ...parts.slice(0, -1),
      fingerprint.replace(/^./, fingerprint.startsWith('a') ? 'b' : 'a'),
    ].join(':');
    await paste.fill(forged);
    await page.getByRole('button', { name: 'Use this invite' }).click();
    await expect(page.getByRole('alert')).toContainText('is not the one you compared');
    await checkScreen(page, 'care-share-invite-refused');

    // The link the clinician sends: the key is checked by the invite, so the next step is what to share.
    await go(page, `/care/sharing/new?invite=${encodeURIComponent(invite)}`);
    await expect(page.getByText('What Dr Sofia Reyes may see')).toBeVisible();
    await expect(page.getByTestId('share-no-profile')).toHaveCount(0);
    await page.locator('#share-message').selectOption('write');
    // Without the profile, the person is told the clinician sees a short code; sharing it clears that.
    await expect(page.getByTestId('share-no-profile')).toContainText(
      'Dr Sofia Reyes sees you as a short code',
    );
    await page.locator('#share-profile').selectOption('read');
    await expect(page.getByTestId('share-no-profile')).toHaveCount(0);
    await page.locator('#share-purpose').fill('Second opinion');
    await page.getByRole('button', { name: 'Review', exact: true }).click();
    await expect(page.getByText('Key checked by their invite')).toBeVisible();
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.waitForURL(/\/care\/sharing$/);
    await expect(page.getByTestId('grant-card').first()).toContainText('Dr Sofia Reyes');
    await expect(page.getByTestId('grant-card').first()).toHaveAttribute('data-state', 'active');
  } finally {
    await clinician.close();
  }
});

test('a co-signature asked of a second clinician: the patient lets them co-sign in one screen, and they sign', async ({
  page,
  baseURL,
}) => {
  const omar = await openClinician(baseURL ?? '', 'Dr Omar Haddad');
  const sara = await openClinician(baseURL ?? '', 'Dr Sara Lindqvist');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Noor Saleh' });
    await shareThroughScreens(page, 'Dr Omar Haddad', { profile: 'read', note: 'write' });
    stops.push(omar.session.consent.grantsReceived.subscribe(() => undefined));
    const [granted] = await clinicianSees(
      () => omar.session.consent.grantsReceived.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'Dr Omar Haddad holds the grant',
    );
    const P = granted!.patientId;
    // Notes shared to write: their signatures too, so the author signs what he wrote.
    expect(granted!.streams.map((s) => `${s.type}:${s.access}`)).toContain('note-signature:write');

    // The author writes and signs a note, and asks a second clinician to co-sign it.
    const at = { patientId: P };
    const note = await omar.session.records.add(
      'MedicalNote',
      { title: 'Follow-up', noteType: 'progress', currentVersionNumber: 1, status: 'draft' },
      at,
    );
    const version = await omar.session.records.add(
      'NoteVersion',
      { noteId: note.id, versionNumber: 1, kind: 'original', assessment: 'Stable on treatment.' },
      at,
    );
    await omar.session.records.add(
      'NoteSignature',
      {
        noteId: note.id,
        noteVersionId: version.id,
        signerId: omar.accountId,
        signerRole: 'author',
        status: 'signed',
        requestedAt: new Date().toISOString(),
      },
      at,
    );
    await omar.session.records.update('MedicalNote', note.id, { status: 'signed' });
    await omar.session.care.notes.requestCosign(note.id, sara.accountId, 'supervisor');
    // Without the patient's own grant, the one asked sees nothing of the chart.
    expect((await sara.session.records.query('MedicalNote', at)).total).toBe(0);

    // The patient is asked, on Sharing, and lets her co-sign in one screen: her key, then what she gets.
    await go(page, '/care/sharing');
    const ask = page.getByTestId('cosign-ask');
    await expect(ask).toContainText(
      'Dr Omar Haddad asked Dr Sara Lindqvist to co-sign a note in your chart',
      {
        timeout: 60_000,
      },
    );
    await checkScreen(page, 'care-cosign-ask');
    // By keyboard alone: the way in, the comparison, the grant.
    await ask.getByRole('link', { name: 'Let Dr Sara Lindqvist co-sign' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('safety-number')).toBeVisible();
    await page.getByRole('button', { name: 'The numbers match' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('share-preview-sees')).toHaveText('Will see: Profile and Notes');
    await expect(page.getByTestId('share-preview-can')).toHaveText('Can: co-sign clinical notes');
    await checkScreen(page, 'care-cosign-share');
    await page.getByRole('button', { name: 'Share', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/care\/sharing$/);
    await expect(page.getByTestId('cosign-ask')).toHaveCount(0);
    await expect(page.getByTestId('grant-card').filter({ hasText: 'Dr Sara Lindqvist' })).toContainText(
      'Co-signing notes for Dr Omar Haddad',
    );

    // The second clinician receives the request and signs it; the author sees the co-signature.
    const queue = sara.session.care.notes.cosignQueue;
    stops.push(queue.subscribe(() => undefined));
    const [asked] = await clinicianSees(
      () => queue.get(),
      (q) => q.length === 1,
      'Dr Sara Lindqvist holds the co-signature request',
    );
    await sara.session.care.notes.cosign(asked!.record.id);
    await clinicianSees(
      () => omar.session.care.notes.status(note.id),
      (s) => s.signed.some((x) => x.signerId === sara.accountId),
      "Dr Omar Haddad sees Dr Sara Lindqvist's co-signature",
    );
  } finally {
    for (const stop of stops) stop();
    await omar.close();
    await sara.close();
  }
});
