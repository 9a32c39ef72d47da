// Changing a grant from the patient's screens, with the clinician's device open (Node, the same server):
// add a kind, turn read into read-and-write and extend the end (the review says each in words, nothing is
// re-keyed, the clinician's device sees the new kinds and end); then take a kind away (the review says it
// is re-keyed at once; the clinician's device loses it), that one on a phone. The replaced grant is listed as changed; the
// screens checked with axe and shot at both sizes.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

test('change a grant: add a kind, write, a later end; then take a kind away', async ({ page, baseURL }) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Ho Ka-Wai');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Lam Siu-Ming' });
    await addRecord(page, 'allergies', { substance: 'Penicillin', severity: { select: 'severe' } });
    await shareThroughScreens(page, 'Dr Ho Ka-Wai', { allergy: 'read', 'lab-result': 'read' });
    const received = clinician.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    const kinds = () =>
      received
        .get()[0]
        ?.streams.map((s) => `${s.type}:${s.access}`)
        .join(' ') ?? '';
    await clinicianSees(kinds, (k) => k === 'allergy:read lab-result:read', 'the clinician holds the grant');

    // Change: conditions added, allergies read and write, 90 days.
    const card = page.getByTestId('grant-card').first();
    await card.getByRole('link', { name: 'Change what Dr Ho Ka-Wai can see and do' }).click();
    await expect(page.getByRole('heading', { name: 'Change what you share' })).toBeVisible();
    await expect(page.locator('#share-allergy')).toHaveValue('read');
    await expect(page.locator('#share-expiry')).toHaveValue('keep');
    // The review says when nothing changes, and offers nothing to confirm.
    await page.getByRole('button', { name: 'Review the change' }).click();
    await expect(page.getByTestId('change-nothing')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Change the sharing' })).toBeDisabled();
    await page.getByRole('button', { name: 'Edit the choices' }).click();
    await page.locator('#share-condition').selectOption('read');
    await page.locator('#share-allergy').selectOption('write');
    await page.locator('#share-expiry').selectOption('90d');
    await checkScreen(page, 'care-change-scope');
    await page.getByRole('button', { name: 'Review the change' }).click();
    await expect(page.getByTestId('change-added')).toHaveText('Will also see: Conditions');
    await expect(page.getByTestId('change-to-write')).toHaveText('Can now also add and change: Allergies');
    await expect(page.getByTestId('change-end')).toContainText('Until');
    await expect(page.getByTestId('change-removed')).toHaveCount(0);
    await checkScreen(page, 'care-change-review');
    await page.getByRole('button', { name: 'Change the sharing' }).click();
    await page.waitForURL(/\/care\/sharing$/);
    await expect(page.getByText('The sharing with Dr Ho Ka-Wai was changed.')).toBeVisible();
    const current = page.locator('[data-testid="grant-card"][data-state="active"]');
    await expect(current).toHaveCount(1);
    await expect(current).toContainText('Conditions · read');
    await expect(current).toContainText('Allergies · read and write');
    await expect(page.locator('[data-testid="grant-card"][data-state="replaced"]')).toContainText(
      'Replaced by a change',
    );
    await checkScreen(page, 'care-sharing-changed');
    await clinicianSees(
      kinds,
      (k) => k === 'allergy:write condition:read lab-result:read',
      'the clinician holds the changed grant',
    );
    const end = received.get()[0]?.endsAt ?? '';
    expect(Date.parse(end)).toBeGreaterThan(Date.now() + 80 * 86_400_000);

    // On a phone, take lab results away: said to be re-keyed at once; the clinician's device loses them.
    await page.setViewportSize({ width: 390, height: 844 });
    await current.getByRole('link', { name: 'Change what Dr Ho Ka-Wai can see and do' }).click();
    await page.locator('#share-lab-result').selectOption('none');
    await page.getByRole('button', { name: 'Review the change' }).click();
    await expect(page.getByTestId('change-removed')).toHaveText('Will no longer see: Lab results');
    await expect(page.getByText('The kinds no longer shared are re-keyed at once')).toBeVisible();
    await page.getByRole('button', { name: 'Change the sharing' }).click();
    await page.waitForURL(/\/care\/sharing$/);
    await expect(page.locator('[data-testid="grant-card"][data-state="replaced"]')).toHaveCount(2);
    await clinicianSees(kinds, (k) => k === 'allergy:write condition:read', 'the clinician lost lab results');
  } finally {
    for (const stop of stops) stop();
    await clinician.close();
  }
});
