/**
 * The clinician of the care journeys: a Node device of a provider account (the clinician workspace is built
 * elsewhere), kept open through a journey so that it receives live, writes delivered receipts and decides
 * slot bookings as a clinic's device does. It publishes a directory entry and, if asked, free times.
 */
import { expect, type Page } from '@playwright/test';
import { openHale, type HaleSession } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';
import { checkScreen, go, PASSPHRASE, uniqueName } from './support';

export interface Clinician {
  readonly session: HaleSession;
  readonly accountId: string;
  close(): Promise<void>;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export async function openClinician(
  server: string,
  displayName: string,
  options: { availability?: { timeZone: string; from: string; to: string } } = {},
): Promise<Clinician> {
  const hale = await openHale({ server, platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'provider',
    passphrase: PASSPHRASE,
    loginName: uniqueName('dr'),
    deviceName: 'clinic desk',
  });
  await session.directory.publishProfile({
    displayName,
    specialty: 'Family medicine',
    clinic: 'Harbour Clinic',
    identifier: '',
  });
  const a = options.availability;
  if (a !== undefined) {
    await session.care.availability.publish({
      timeZone: a.timeZone,
      slotMinutes: 30,
      weekly: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ day: d, from: a.from, to: a.to })),
      from: day(Date.now() + 86_400_000),
      until: day(Date.now() + 15 * 86_400_000),
      location: 'Harbour Clinic, room 3',
    });
  }
  return { session, accountId: session.account.accountId, close: () => session.close() };
}

/** Polls `read` until `check` holds (the clinician's side of a journey). */
export async function clinicianSees<T>(
  read: () => T | Promise<T>,
  check: (value: T) => boolean,
  message: string,
  timeout = 60_000,
): Promise<T> {
  let last: T | undefined;
  await expect
    .poll(
      async () => {
        last = await read();
        return check(last);
      },
      { message, timeout },
    )
    .toBe(true);
  return last as T;
}

/** Shares through the Sharing screens: directory search, compare, levels, purpose, review, confirm. */
export async function shareThroughScreens(
  page: Page,
  clinicianName: string,
  levels: Readonly<Record<string, 'read' | 'write'>>,
  options: { shots?: boolean } = {},
): Promise<void> {
  await go(page, '/care/sharing');
  await page.getByRole('link', { name: 'Share with a clinician' }).first().click();
  await page.getByLabel('Name, specialty or clinic').fill(clinicianName.split(' ').at(-1) ?? '');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('list', { name: 'Clinicians found' }).getByText(clinicianName).click();
  await expect(page.getByTestId('safety-number')).toBeVisible();
  if (options.shots === true) await checkScreen(page, 'care-share-compare');
  await page.getByRole('button', { name: 'The numbers match' }).click();
  for (const [kind, level] of Object.entries(levels))
    await page.locator(`#share-${kind}`).selectOption(level);
  await page.locator('#share-expiry').selectOption('30d');
  await page.getByRole('button', { name: 'Review', exact: true }).click();
  // The purpose is asked for; what was chosen stays.
  await expect(page.getByText('Say why you share.')).toBeVisible();
  await page.locator('#share-purpose').fill('Diabetes care at Harbour Clinic');
  if (options.shots === true) await checkScreen(page, 'care-share-scope');
  await page.getByRole('button', { name: 'Review', exact: true }).click();
  await expect(page.getByText(`Share with ${clinicianName}`)).toBeVisible();
  if (options.shots === true) await checkScreen(page, 'care-share-review');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await page.waitForURL(/\/care\/sharing$/);
  await expect(page.getByTestId('grant-card').first()).toHaveAttribute('data-state', 'active');
}
