/**
 * What the workspace journeys share: a clinician made through the start screens (the role choice) with its
 * directory profile published through the workspace's profile screen, and a patient on a Node device
 * (the library, as the patient app on another machine would), which grants and revokes.
 */
import { expect, type Page } from '@playwright/test';
import { openHale, type HaleSession } from '@hale/client';
import { exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import { nodePlatform } from '@hale/platform-node';
import { checkScreen, go, PASSPHRASE, uniqueName } from './support';

/** Creates a clinician account through the start screens and publishes its directory profile. */
export async function signUpClinician(
  page: Page,
  options: { displayName: string; shots?: boolean },
): Promise<void> {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Your health record, on your devices' })).toBeVisible();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('My work as a clinician').check();
  await expect(page.getByLabel('Your full name')).toBeHidden();
  await page.getByLabel('Sign-in name').fill(uniqueName('dr'));
  await page.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(PASSPHRASE);
  await page.getByLabel('Passphrase again').fill(PASSPHRASE);
  await expect(page.getByTestId('strength')).toHaveAttribute('data-accepted', 'true');
  if (options.shots === true) await checkScreen(page, 'workspace-create-clinician');
  await page.getByRole('button', { name: 'Create account' }).click();
  const keyBox = page.getByTestId('recovery-key');
  await expect(keyBox).toBeVisible({ timeout: 60_000 });
  const recoveryKey = (await keyBox.textContent()) ?? '';
  await page.getByLabel('I have written down or printed my recovery key').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  const group = page.getByTestId('recovery-group');
  const n = Number(await group.getAttribute('data-group'));
  await group.fill(recoveryKey.split('-')[n - 1] ?? '');
  await page.getByRole('button', { name: 'Finish' }).click();
  // A clinician's home is the workspace's day.
  await page.waitForURL(/\/workspace\/today$/);
  await expect(page.getByText('Patients cannot find you yet')).toBeVisible();

  await go(page, '/workspace/profile');
  await page.getByLabel('Name shown to patients').fill(options.displayName);
  await page.getByLabel('Specialty').fill('Family medicine');
  await page.getByLabel('Clinic').fill('Harbour Clinic');
  await page.getByLabel('Professional identifier').fill('NPI 1234567893');
  await page.getByRole('button', { name: 'Publish profile' }).click();
  await expect(page.getByText('Your profile is published in the directory.')).toBeVisible();
}

export const record = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>> = {}) =>
  exampleInput(kind, overrides) as never;

/** A patient on a Node device (in-memory store), online. Close it with `session.close()`. */
export async function nodePatient(server: string): Promise<HaleSession> {
  const hale = await openHale({ server, platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName: uniqueName('pat'),
    deviceName: 'kitchen laptop',
  });
  return session;
}

/**
 * The clinician of that name in the directory, its key compared (as the patient's share screen does).
 * Specs share one server's directory: a name two specs use is refused, not resolved to either.
 */
export async function findClinician(patient: HaleSession, displayName: string): Promise<string> {
  const page = await patient.directory.search(displayName);
  const named = page.providers.filter((p) => p.profile.displayName === displayName);
  const found = named[0];
  if (found === undefined) throw new Error(`${displayName} is not in the directory`);
  if (named.length > 1)
    throw new Error(`${named.length} clinicians are named ${displayName}: give each spec its own`);
  await patient.consent.verifyProvider(found.profile.accountId);
  return found.profile.accountId;
}
