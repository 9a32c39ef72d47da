// Every route of the app, for a patient and for a clinician, in English, 繁體中文 and 简体中文, at 1440×900
// and 390×844: axe with every rule (experimental included) finds no serious or critical node. A notice
// (the "Saved." toast) is checked showing, in each language and at each size. The route lists below are
// the app's routes (router.tsx, workspace/routes.tsx) with a record of each kind where a route needs one
// (a visit's card: the patient's own encounter); the start pages in a browser with no account, in the
// browser's language, and the unlock screen once locked. `/workspace` itself leads to `/workspace/today`.
import { expect, test, type Page } from '@playwright/test';
import { addRecord, go, NOTICE, seriousViolations, signUp, uniqueName } from './support';
import { signUpClinician } from './workspace-support';

const LANGUAGES = ['en', 'zh-Hant', 'zh-Hans'] as const;
const SIZES = [
  { width: 1440, height: 900 },
  { width: 390, height: 844 },
] as const;
const CHART = [
  'profile',
  'contacts',
  'allergies',
  'conditions',
  'family-history',
  'medications',
  'immunizations',
  'labs',
  'documents',
  'procedures',
  'plans',
  'appointments',
  'encounters',
  'notes',
];
const PATIENT_ROUTES = (ids: Readonly<Record<string, string>>): string[] => [
  '/',
  ...CHART.map((slug) => `/chart/${slug}`),
  ...['allergies', 'medications', 'labs'].map((slug) => `/chart/${slug}/new`),
  ...Object.entries(ids).flatMap(([slug, id]) => [`/chart/${slug}/${id}`, `/chart/${slug}/${id}/edit`]),
  '/documents/upload',
  '/labs/trends',
  '/medicines/today',
  '/emergency',
  '/problems',
  '/settings',
  '/search',
  '/records/import',
  '/records/export',
  '/records/summary',
  '/records/share',
  '/care/sharing',
  '/care/sharing/new',
  '/care/access',
  '/care/messages',
  '/care/messages/new',
  '/care/appointments',
  '/care/appointments/new',
  '/care/plans',
  `/visits/${ids['encounters'] ?? ''}`,
];
/** The pages before the chart: a browser with no account on it, in its own language. */
const START_ROUTES = ['/start', '/start/create', '/start/join'];
const BROWSER_LOCALE = { en: 'en-US', 'zh-Hant': 'zh-TW', 'zh-Hans': 'zh-CN' } as const;
const UNLOCK_HEADING = { en: 'Unlock Hale', 'zh-Hant': '解鎖 Hale', 'zh-Hans': '解锁 Hale' } as const;
const CLINICIAN_ROUTES = [
  '/workspace/today',
  '/workspace/patients',
  '/workspace/cosign',
  '/workspace/schedule',
  '/workspace/schedule/availability',
  '/workspace/invite',
  '/workspace/check',
  '/workspace/profile',
  '/care/messages',
  '/settings',
];

async function setLanguage(page: Page, language: string): Promise<void> {
  await go(page, '/settings');
  // Labelled in the language shown now.
  const select = page.getByLabel(/^(Language|語言|语言)$/);
  if ((await select.inputValue()) !== language) await select.selectOption(language);
  await expect(page.locator('html')).toHaveAttribute(
    'lang',
    language === 'en' ? 'en' : new RegExp(`^${language}`),
  );
}

/** Each route at each size: the serious and critical nodes found, by route, language and size. */
async function sweep(page: Page, routes: readonly string[], language: string): Promise<string[]> {
  const found: string[] = [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    for (const route of routes) {
      await go(page, route);
      await page.mouse.move(0, 0);
      await expect(page.locator(NOTICE)).toHaveCount(0, { timeout: 15_000 });
      for (const v of await seriousViolations(page))
        found.push(
          `${language} ${size.width} ${route}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).join(' | ')}`,
        );
    }
  }
  await page.setViewportSize(SIZES[0]);
  return found;
}

/** The page as it is, at each size: the serious and critical nodes found. */
async function atBothSizes(page: Page, what: string, language: string): Promise<string[]> {
  const found: string[] = [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    for (const v of await seriousViolations(page))
      found.push(
        `${language} ${size.width} ${what}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).join(' | ')}`,
      );
  }
  await page.setViewportSize(SIZES[0]);
  return found;
}

/** A record saved: its toast checked while it shows, at each size. */
async function withNotice(page: Page, language: string): Promise<string[]> {
  const found: string[] = [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await go(page, '/chart/allergies/new');
    await page.locator('#field-substance').fill(`Latex ${language} ${size.width}`);
    await page.locator('#main form button[type=submit]').click();
    await expect(page.locator(NOTICE)).toHaveCount(1);
    await expect(page.locator(NOTICE).first()).toHaveCSS('opacity', '1');
    for (const v of await seriousViolations(page))
      found.push(
        `${language} ${size.width} notice: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).join(' | ')}`,
      );
  }
  await page.setViewportSize(SIZES[0]);
  return found;
}

for (const language of LANGUAGES) {
  test(`every patient route in ${language}, at both sizes, with a notice showing: no serious or critical node`, async ({
    page,
  }) => {
    test.setTimeout(20 * 60_000);
    await signUp(page, { loginName: uniqueName('a11y'), fullName: 'Chan Tai-Man' });
    const ids = {
      allergies: await addRecord(page, 'allergies', { substance: 'Peanuts', severity: { select: 'severe' } }),
      labs: await addRecord(page, 'labs', {
        testName: 'HbA1c',
        value: '7.4',
        units: '%',
        effectiveAt: '2026-03-02T08:15',
      }),
      encounters: await addRecord(page, 'encounters', {
        encounterNumber: 'V-1',
        reason: 'Check-up',
        startedAt: '2026-03-02T08:00',
      }),
    };
    await setLanguage(page, language);
    const found = [
      ...(await withNotice(page, language)),
      ...(await sweep(page, PATIENT_ROUTES(ids), language)),
    ];
    expect(found).toEqual([]);
  });

  test(`the start pages (no account yet) and the unlock screen in ${language}, at both sizes: no serious or critical node`, async ({
    page,
    browser,
  }) => {
    test.setTimeout(10 * 60_000);
    const fresh = await browser.newContext({ locale: BROWSER_LOCALE[language] });
    const found: string[] = [];
    try {
      const start = await fresh.newPage();
      for (const route of START_ROUTES) {
        await start.goto(route);
        await expect(start.locator('html')).toHaveAttribute(
          'lang',
          language === 'en' ? 'en' : new RegExp(`^${language}`),
        );
        await expect(start.locator('h1').first()).toBeVisible();
        await start.mouse.move(0, 0);
        found.push(...(await atBothSizes(start, route, language)));
      }
    } finally {
      await fresh.close();
    }
    await signUp(page, { loginName: uniqueName('a11y-lock') });
    await setLanguage(page, language);
    await page.getByTestId('lock-now').click();
    await expect(page.getByRole('heading', { name: UNLOCK_HEADING[language] })).toBeVisible();
    found.push(...(await atBothSizes(page, '/unlock', language)));
    expect(found).toEqual([]);
  });

  test(`every clinician route in ${language}, at both sizes: no serious or critical node`, async ({
    page,
  }) => {
    test.setTimeout(10 * 60_000);
    await signUpClinician(page, { displayName: 'Dr Ines Duarte' });
    await setLanguage(page, language);
    expect(await sweep(page, CLINICIAN_ROUTES, language)).toEqual([]);
  });
}
