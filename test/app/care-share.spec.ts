// Sharing from the patient's screens, with a clinician on its own device (Node, the same server): find the
// clinician in the directory, compare the safety number, choose kinds and levels, review, share; the
// clinician reads the labs; the patient sees that read in Who saw my records (filters, CSV and FHIR
// exports, the log verified); the patient revokes, watches the re-keying finish, and the clinician's copy
// is gone.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

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

    // Who saw my records: the clinician's fetch, named, with the kind; the log verified.
    await go(page, '/care/access');
    await expect(page.getByTestId('audit-verification')).toHaveAttribute('data-result', /intact/, {
      timeout: 60_000,
    });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Check again' }).click();
          return page.locator(`[data-testid="access-row"][data-actor="${clinician.accountId}"]`).count();
        },
        { timeout: 60_000, message: "the clinician's access is listed" },
      )
      .toBeGreaterThan(0);
    const row = page.locator(`[data-testid="access-row"][data-actor="${clinician.accountId}"]`).first();
    await expect(row).toContainText('Dr Lin Wei-Ting');
    await expect(page.getByTestId('access-table')).toContainText('Lab results');
    await checkScreen(page, 'care-access');
    // On a phone the history is a list of cards, each field named; nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect(page.getByTestId('access-cards')).toBeVisible();
    await expect(page.getByTestId('access-table')).toHaveCount(0);
    await expect(
      page.locator(`[data-testid="access-row"][data-actor="${clinician.accountId}"]`).first(),
    ).toContainText('Dr Lin Wei-Ting');
    const overflow = 'document.documentElement.scrollWidth - document.documentElement.clientWidth';
    expect(await page.evaluate(overflow)).toBeLessThanOrEqual(0);
    await page.getByRole('tab', { name: 'Disclosures' }).click();
    await expect(page.getByTestId('disclosure-cards')).toContainText('Diabetes care at Harbour Clinic');
    expect(await page.evaluate(overflow)).toBeLessThanOrEqual(0);
    await page.getByRole('tab', { name: 'Access history' }).click();
    await page.setViewportSize({ width: 1440, height: 900 });
    await expect(page.getByTestId('access-table')).toBeVisible();

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

    // Revoke: the plain statement first, then the steps; the clinician's copy leaves its device.
    await go(page, '/care/sharing');
    await page.getByRole('button', { name: 'Revoke access of Dr Lin Wei-Ting' }).click();
    await expect(page.getByTestId('revocation-notice')).toContainText('cannot be recalled');
    await checkScreen(page, 'care-revoke-confirm');
    await page.getByRole('button', { name: 'Revoke access', exact: true }).click();
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
