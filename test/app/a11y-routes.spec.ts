// Every route of the app, for a patient and for a clinician, in English, 繁體中文 and 简体中文, at 1440×900
// and 390×844: axe with every rule (experimental included) finds no serious or critical node. A notice
// (the "Saved." toast) is checked showing, in each language and at each size. The route lists below are
// the app's routes (router.tsx, workspace/routes.tsx) with a record of each kind where a route needs one
// (a visit's card: the patient's own encounter); the start pages in a browser with no account, in the
// browser's language, and the unlock screen once locked. `/workspace` itself leads to `/workspace/today`.
// Routes of what another party made: for the patient, a clinician (a Node device) the patient shares with
// writes a plan and a message; for the clinician, a patient (a Node device) shares a chart.
import { expect, test, type Page } from '@playwright/test';
import { addRecord, go, NOTICE, seriousViolations, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

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
  // A grant that is not (or no longer) there: the "cannot be changed" alert.
  '/care/sharing/no-such-grant/change',
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
/** Each language's clinicians: specs share one server's directory, where a name must be one account's. */
const PATIENTS_CLINICIAN = {
  en: 'Dr Yip Wing-Sze',
  'zh-Hant': 'Dr Yip Wing-Kei',
  'zh-Hans': 'Dr Yip Wing-Man',
};
const WORKSPACE_CLINICIAN = {
  en: 'Dr Ines Duarte',
  'zh-Hant': 'Dr Ines Duarte-Hant',
  'zh-Hans': 'Dr Ines Duarte-Hans',
};
/** A shared chart's routes in the workspace (workspace/routes.tsx), with a record of each kind a route needs. */
const CHART_ROUTES = (patientId: string, ids: Readonly<Record<'allergy' | 'lab' | 'encounter', string>>) => {
  const chart = `/workspace/patients/${patientId}`;
  return [
    chart,
    ...['allergies', 'conditions', 'medications', 'labs', 'labs/trends', 'notes', 'encounters', 'plans'].map(
      (slug) => `${chart}/chart/${slug}`,
    ),
    `${chart}/chart/allergies/${ids.allergy}`,
    `${chart}/chart/labs/${ids.lab}`,
    `${chart}/chart/encounters/${ids.encounter}`,
    `${chart}/chart/encounters/${ids.encounter}/summary`,
    `${chart}/chart/notes/new`,
    `${chart}/chart/plans/new`,
    `${chart}/chart/encounters/new`,
  ];
};
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
    baseURL,
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
    // A clinician the patient shares with writes a plan and a message (routes of their records).
    const clinician = await openClinician(baseURL ?? '', PATIENTS_CLINICIAN[language]);
    let theirs: string[];
    try {
      await shareThroughScreens(page, PATIENTS_CLINICIAN[language], {
        allergy: 'read',
        message: 'write',
        'treatment-plan': 'write',
      });
      const grantId = (await page.getByTestId('grant-card').first().getAttribute('data-grant-id')) ?? '';
      const received = clinician.session.consent.grantsReceived;
      const stop = received.subscribe(() => undefined);
      const [chart] = await clinicianSees(
        () => received.get(),
        (g) => g.length === 1 && g[0]!.streams.length === 3,
        'the clinician holds the grant',
      ).finally(stop);
      const patientId = chart!.patientId;
      const plan = await clinician.session.records.add(
        'TreatmentPlan',
        record('TreatmentPlan', { summary: 'Asthma action plan' }),
        { patientId },
      );
      const message = await clinician.session.care.messages.send({
        to: patientId,
        body: 'Your results are in.',
      });
      await clinician.session.sync.awaitInSync();
      theirs = [
        `/care/plans/${plan.id}`,
        `/care/messages/${patientId}/${message.threadId}`,
        `/care/sharing/${grantId}/change`,
        `/care/sharing/cosign/${clinician.accountId}`,
      ];
      await go(page, theirs[1]!);
      await expect(page.getByText('Your results are in.')).toBeVisible({ timeout: 60_000 });
      await go(page, theirs[0]!);
      await expect(page.getByText('Asthma action plan').first()).toBeVisible({ timeout: 60_000 });
    } finally {
      await clinician.close();
    }
    await setLanguage(page, language);
    const found = [
      ...(await withNotice(page, language)),
      ...(await sweep(page, [...PATIENT_ROUTES(ids), ...theirs], language)),
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
    baseURL,
  }) => {
    test.setTimeout(20 * 60_000);
    await signUpClinician(page, { displayName: WORKSPACE_CLINICIAN[language] });
    // A patient shares a chart: the workspace's chart routes, with a record where a route needs one.
    const patient = await nodePatient(baseURL ?? '');
    let chartRoutes: string[];
    try {
      await patient.records.add('Profile', record('Profile', { fullName: 'Wong Ka-Yan' }));
      const allergy = await patient.records.add('Allergy', record('Allergy', { substance: 'Penicillin' }));
      await patient.records.add('Condition', record('Condition', { name: 'Asthma' }));
      await patient.records.add('Medication', record('Medication', { name: 'Salbutamol' }));
      const lab = await patient.records.add('LabResult', record('LabResult', { testName: 'HbA1c' }));
      const encounter = await patient.records.add('Encounter', record('Encounter', { reason: 'Check-up' }));
      await patient.consent.grant({
        granteeId: await findClinician(patient, WORKSPACE_CLINICIAN[language]),
        scope: [
          ...(['profile', 'allergy', 'condition', 'medication', 'lab-result'] as const).map((type) => ({
            type,
            access: 'read' as const,
          })),
          ...(['encounter', 'note', 'note-signature', 'treatment-plan'] as const).map((type) => ({
            type,
            access: 'write' as const,
          })),
        ],
        durationMs: 30 * 24 * 3_600_000,
        purpose: 'asthma review',
      });
      await patient.sync.awaitInSync();
      const patientId = patient.account.accountId;
      chartRoutes = CHART_ROUTES(patientId, { allergy: allergy.id, lab: lab.id, encounter: encounter.id });
      await go(page, '/workspace/patients');
      await expect(page.getByTestId(`patient-${patientId}`)).toContainText('Wong Ka-Yan', {
        timeout: 60_000,
      });
      await go(page, `/workspace/patients/${patientId}/chart/encounters/${encounter.id}`);
      await expect(page.getByText('Check-up').first()).toBeVisible({ timeout: 60_000 });
    } finally {
      await patient.close();
    }
    await setLanguage(page, language);
    expect(await sweep(page, [...CLINICIAN_ROUTES, ...chartRoutes], language)).toEqual([]);
  });
}
