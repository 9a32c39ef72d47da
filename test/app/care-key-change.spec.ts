// A clinician's key changes after the patient compared it: the patient shared once (safety number
// compared); later the server presents another key for the same account (someone placed in between —
// the account's own key cannot change, its id is made from it). The patient's next share stops at the
// review with the changed-key warning and grants nothing; starting again stops at the clinician's key;
// once the account's own key is presented again, the key reads as compared before.
import { randomBytes } from 'node:crypto';
import { expect, test, type BrowserContext } from '@playwright/test';
import { checkScreen, go, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

/** Every account answer of the server presents `key` as `accountId`'s identity key. */
async function presentAnotherKey(context: BrowserContext, accountId: string, key: string): Promise<void> {
  const swap = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(swap);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = swap(v);
    if (out['accountId'] === accountId && typeof out['identityPublicKey'] === 'string')
      out['identityPublicKey'] = key;
    return out;
  };
  await context.route('**/v1/accounts/**', async (route) => {
    const response = await route.fetch();
    const type = response.headers()['content-type'] ?? '';
    if (!type.includes('json')) return route.fulfill({ response });
    const body = swap(await response.json());
    return route.fulfill({ response, body: JSON.stringify(body) });
  });
}

test("the clinician's key changed since it was compared: the warning, and nothing is granted", async ({
  page,
  context,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Hana Sato');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Olsen Freya' });
    await shareThroughScreens(page, 'Dr Hana Sato', { 'lab-result': 'read' });
    const received = clinician.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    await clinicianSees(
      () => received.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'the clinician holds the first grant',
    );

    // A second share, to add messages: the key was compared, the review is reached.
    await page.getByRole('link', { name: 'Share with a clinician' }).first().click();
    await page.getByLabel('Name, specialty or clinic').fill('Sato');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('list', { name: 'Clinicians found' }).getByText('Dr Hana Sato').click();
    await expect(page.getByTestId('key-known')).toBeVisible();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#share-message').selectOption('write');
    await page.locator('#share-expiry').selectOption('30d');
    await page.locator('#share-purpose').fill('Messages about my results');
    await page.getByRole('button', { name: 'Review', exact: true }).click();
    await expect(page.getByText('Share with Dr Hana Sato')).toBeVisible();

    // Now the server presents another key for the account; the patient presses Share.
    await presentAnotherKey(context, clinician.accountId, randomBytes(32).toString('base64url'));
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const warning = page.getByTestId('key-changed');
    await expect(warning).toBeVisible({ timeout: 30_000 });
    await expect(warning).toContainText('The key of Dr Hana Sato has changed');
    await expect(warning).toContainText('Nothing was shared.');
    // No way on to sharing from here: no "numbers match", no review.
    await expect(page.getByRole('button', { name: 'The numbers match' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Share', exact: true })).toHaveCount(0);
    await checkScreen(page, 'care-share-key-changed');

    // Nothing was granted: one grant on the patient's list, the clinician's scope unchanged.
    await go(page, '/care/sharing');
    await expect(page.getByTestId('grant-card')).toHaveCount(1);
    await expect(page.getByTestId('grant-card').first()).not.toContainText('Messages');
    expect(received.get().map((g) => g.streams.map((s) => s.type).sort())).toEqual([['lab-result']]);

    // Back to sharing: the screen kept where the person was — at the clinician's key, still refused.
    await page.getByRole('link', { name: 'Share with a clinician' }).first().click();
    await expect(page.getByTestId('key-changed')).toBeVisible({ timeout: 30_000 });
    // Found again in the directory: the key stops it before anything can be chosen.
    await page.getByRole('button', { name: 'Choose another clinician' }).click();
    await page.getByLabel('Name, specialty or clinic').fill('Sato');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('list', { name: 'Clinicians found' }).getByText('Dr Hana Sato').click();
    await expect(page.getByTestId('key-changed')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('key-known')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Continue' })).toHaveCount(0);

    // The account's own key presented again: the key is the one compared before.
    await context.unrouteAll({ behavior: 'wait' });
    await page.getByRole('button', { name: 'Check the key again' }).click();
    await expect(page.getByTestId('key-known')).toBeVisible({ timeout: 30_000 });
  } finally {
    for (const stop of stops) stop();
    await clinician.close();
  }
});
