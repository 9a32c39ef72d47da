// The app's frame and helpers, polished: the navigation's last item clear of the device footer, Sync issues
// without empty sections, the journeys' go() waiting for a lazy route to draw, one Sharing area, export
// through the desktop shell's save dialog when its preload is there, a record added and edited with
// the keyboard alone, a date field's calendar with every button named, and notices clear of every control.
import { expect, test, type Page } from '@playwright/test';
import {
  addRecord,
  checkScreen,
  expectAccessible,
  go,
  signUp,
  uniqueName,
  noNotices,
  tabTo,
} from './support';
import { findClinician, nodePatient, record, signUpClinician } from './workspace-support';

/** Whether the centre of `name`'s link in the navigation is the link itself (nothing drawn over it). */
const navItemClear = async (page: Page, name: string, scroll = true): Promise<boolean> => {
  const link = page
    .getByRole('navigation', { name: 'Main navigation' })
    .getByRole('link', { name, exact: true });
  if (scroll) await link.scrollIntoViewIfNeeded();
  const box = await link.boundingBox();
  if (box === null) return false;
  const x = box.x + box.width / 2;
  const ys = [box.y + 2, box.y + box.height / 2, box.y + box.height - 2];
  const hits = await Promise.all(
    ys.map((y) =>
      page.evaluate(
        `(() => { const at = document.elementFromPoint(${x}, ${y}); return at !== null && at.closest('a') !== null && at.closest('a').textContent.trim() === ${JSON.stringify(name)}; })()`,
      ),
    ),
  );
  return hits.every((h) => h === true);
};

test('the frame: every navigation item clear of the device footer, the closed phone menu inert; Sync issues shows no empty section', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('frame') });
  for (const viewport of [
    { width: 1440, height: 900 },
    { width: 1440, height: 700 },
  ]) {
    await page.setViewportSize(viewport);
    await expect.poll(() => navItemClear(page, 'Settings'), { message: `${viewport.height}` }).toBe(true);
  }
  // The current screen's item is shown without scrolling: it is never left behind the footer.
  await page.setViewportSize({ width: 1440, height: 900 });
  await go(page, '/problems');
  await expect.poll(() => navItemClear(page, 'Sync issues', false)).toBe(true);
  await page
    .getByRole('navigation', { name: 'Main navigation' })
    .getByRole('link', { name: 'Settings' })
    .click();
  await expect.poll(() => navItemClear(page, 'Settings', false)).toBe(true);
  await go(page, '/');
  await expect.poll(() => navItemClear(page, 'Home', false)).toBe(true);
  await go(page, '/problems');
  await expect(page.getByTestId('no-problems')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Records changed on two devices' })).toHaveCount(0);
  await checkScreen(page, 'problems-none');

  // On a phone the closed menu is inert: Tab walks the header and the screen, never its hidden links.
  await page.setViewportSize({ width: 390, height: 844 });
  await go(page, '/');
  await page.locator('body').focus();
  const walked: string[] = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    walked.push(
      await page.evaluate<string>(
        `(() => { const a = document.activeElement; return (a && a.closest('nav') ? 'NAV ' : '') + (a?.getAttribute('aria-label') || a?.textContent || '').trim(); })()`,
      ),
    );
  }
  expect(walked.filter((w) => w.startsWith('NAV '))).toEqual([]);
  await page.getByRole('button', { name: 'Open or close the menu' }).click();
  await expect(
    page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Home' }),
  ).toBeVisible();
});

test('go() returns once a lazy route has drawn, not when the address changed', async ({ page }) => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  // The lab trends screen's code arrives only when released: its route cannot draw before.
  await page.route(/\/assets\/lab-trends-[^/]*\.js$/, async (route) => {
    await held;
    await route.continue();
  });
  await signUp(page, { loginName: uniqueName('go') });
  const going = go(page, '/labs/trends');
  setTimeout(release, 1_500);
  await going;
  // Read at once, without Playwright's waiting: the screen is there when go() returns.
  expect(await page.evaluate(`document.querySelector('main h1')?.textContent ?? null`)).toBe('Lab trends');
});

test('one Sharing area: the care team and links as tabs, each route kept', async ({ page }) => {
  await signUp(page, { loginName: uniqueName('sharing') });
  const nav = page.getByRole('navigation', { name: 'Main navigation' });
  await expect(nav.getByRole('link', { name: 'Shared links', exact: true })).toHaveCount(0);
  await nav.getByRole('link', { name: 'Sharing', exact: true }).click();
  await expect(page).toHaveURL(/\/care\/sharing$/);
  const tabs = page.getByRole('navigation', { name: 'Ways to share' });
  await expect(tabs.getByRole('link', { name: 'With your care team' })).toHaveAttribute(
    'aria-current',
    'page',
  );
  await checkScreen(page, 'sharing-area-people');
  // On a phone: both on one row, with short names.
  const size = page.viewportSize() ?? { width: 1440, height: 900 };
  await page.setViewportSize({ width: 360, height: 640 });
  const people = await tabs.getByRole('link', { name: 'Care team', exact: true }).boundingBox();
  const links = await tabs.getByRole('link', { name: 'Links', exact: true }).boundingBox();
  expect(people !== null && links !== null && Math.abs(people.y - links.y) < 2).toBe(true);
  expect((links?.x ?? 0) + (links?.width ?? 0)).toBeLessThanOrEqual(360);
  await page.setViewportSize(size);
  await tabs.getByRole('link', { name: 'Links anyone can open' }).click();
  await expect(page).toHaveURL(/\/records\/share$/);
  await expect(page.getByRole('heading', { name: 'Shared links', level: 1 })).toBeVisible();
  await expect(tabs.getByRole('link', { name: 'Links anyone can open' })).toHaveAttribute(
    'aria-current',
    'page',
  );
  // The one Sharing item stays the current one on either tab.
  await expect(nav.getByRole('link', { name: 'Sharing', exact: true })).toHaveAttribute(
    'data-active',
    'true',
  );
  await checkScreen(page, 'sharing-area-links');
  await go(page, '/care/sharing');
  await expect(tabs.getByRole('link', { name: 'With your care team' })).toHaveAttribute(
    'aria-current',
    'page',
  );
  // Not on the screens inside the area.
  await go(page, '/care/sharing/new');
  await expect(page.getByTestId('sharing-tabs')).toHaveCount(0);
});

test("export on desktop goes through the preload's save dialog when there is one", async ({ page }) => {
  // A fake of desktop/src/bridge.ts's `window.hale`, as the preload exposes it: it keeps what it was given.
  // A string: this program has no DOM lib (the test runs in Node).
  await page.addInitScript(`
    window.haleSaved = [];
    window.haleCancel = false;
    window.hale = {
      saveFile: async (input) => {
        if (window.haleCancel) return { saved: false };
        window.haleSaved.push({
          suggestedName: input.suggestedName,
          text: new TextDecoder().decode(input.data),
          filterName: input.filterName,
          extensions: input.extensions,
        });
        return { saved: true, path: '/home/me/' + input.suggestedName };
      },
    };
  `);
  await signUp(page, { loginName: uniqueName('desk') });
  await go(page, '/records/export');
  let downloads = 0;
  page.on('download', () => (downloads += 1));
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await expect(page.getByTestId('export-saved')).toBeVisible({ timeout: 60_000 });
  const saved =
    await page.evaluate<{ suggestedName: string; text: string; filterName: string; extensions: string[] }[]>(
      'window.haleSaved',
    );
  expect(saved).toHaveLength(1);
  expect(saved[0]?.suggestedName).toMatch(/^hale-chart-\d{4}-\d{2}-\d{2}\.json$/);
  expect(saved[0]).toMatchObject({ filterName: 'FHIR JSON', extensions: ['json'] });
  expect(JSON.parse(saved[0]?.text ?? '')).toMatchObject({ resourceType: 'Bundle' });
  // Cancelled in the dialog: said so, nothing saved, no download either.
  await page.evaluate('window.haleCancel = true');
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await expect(page.getByTestId('export-saved')).toHaveAttribute('data-outcome', 'cancelled', {
    timeout: 60_000,
  });
  expect(downloads).toBe(0);
});

test('a record added and edited with the keyboard alone: skip link, focus shown, the dialog keeps and returns focus', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('keys') });
  await page.mouse.move(0, 0);
  await noNotices(page);
  // The first Tab reaches the skip link; it moves focus to the screen.
  // From the top of the page, as after a load: the first Tab reaches the skip link.
  await page.evaluate(
    `document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex')`,
  );
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to the screen' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.locator('#main')).toBeFocused();
  // Back from the screen, the navigation's last items; then from the top through the header to Allergies.
  await tabTo(page, /^Sync issues$/, { back: true });
  await page.evaluate(
    `document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex')`,
  );
  await tabTo(page, /^Allergies$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Allergies', level: 1 })).toBeVisible();
  await tabTo(page, /^Add allergy$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Add allergy' })).toBeVisible();
  await tabTo(page, /^field-substance$/);
  await page.keyboard.type('Penicillin');
  await tabTo(page, /^field-reaction$/);
  await page.keyboard.type('Hives');
  await tabTo(page, /^Save$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);
  await expect(page.getByRole('heading', { name: 'Penicillin' })).toBeVisible();
  await tabTo(page, /^Edit$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Edit allergy' })).toBeVisible();
  await tabTo(page, /^field-reaction$/);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('Hives and swelling');
  await tabTo(page, /^Save$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);
  await expect(page.getByText('Hives and swelling')).toBeVisible();
  // The delete dialog: focus goes in, Tab stays in, Escape closes it and focus comes back.
  await tabTo(page, /^Delete$/);
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  const focusInDialog = (): Promise<boolean> =>
    page.evaluate<boolean>(`document.querySelector('[role=dialog]').contains(document.activeElement)`);
  await expect.poll(focusInDialog).toBe(true);
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    expect(await focusInDialog()).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('button', { name: 'Delete' })).toBeFocused();
  await expect(page.getByRole('heading', { name: 'Penicillin' })).toBeVisible();
});

test("a patient ending a clinician's access is told once, as information: the badge does not count it", async ({
  page,
  baseURL,
}) => {
  const patient = await nodePatient(baseURL ?? '');
  try {
    await patient.records.add('Profile', record('Profile', { fullName: 'Mei Tanaka' }));
    await patient.sync.awaitInSync();
    await signUpClinician(page, { displayName: 'Dr Polish Revoke' });
    const clinicianId = await findClinician(patient, 'Dr Polish Revoke');
    const stored = await patient.consent.grant({
      granteeId: clinicianId,
      scope: [
        { type: 'profile', access: 'read' },
        { type: 'lab-result', access: 'read' },
        { type: 'note', access: 'write' },
        { type: 'note-signature', access: 'write' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'check-up',
    });
    const patientId = patient.account.accountId;
    await go(page, '/workspace/patients');
    await expect(page.getByTestId(`patient-${patientId}`)).toContainText('Mei Tanaka', { timeout: 30_000 });
    await patient.consent.revoke(stored.grant.grantId);
    await go(page, `/workspace/patients/${patientId}`);
    await expect(page.getByTestId('chart-state')).toHaveText('Access ended', { timeout: 30_000 });
    // Four streams ended; the badge counts no problem.
    const badge = page.getByTestId('sync-badge');
    await expect(badge).toHaveAttribute('data-tone', 'teal', { timeout: 30_000 });
    await expect(badge).not.toContainText('problem');
    await go(page, '/problems');
    await expect(page.getByTestId('no-problems')).toBeVisible();
    const told = page.getByTestId('problems-information').getByText('A patient ended your access');
    await expect(told).toHaveCount(1);
    await expect(page.getByText(/access to \d+ kinds of records ended/)).toBeVisible();
    await checkScreen(page, 'problems-access-ended');
  } finally {
    await patient.close();
  }
});

test('the app runs within its Content-Security-Policy: signing up and adding a record report no violation', async ({
  page,
}) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text()))
      violations.push(message.text());
  });
  await page.addInitScript(
    `document.addEventListener('securitypolicyviolation', (e) => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber))`,
  );
  await signUp(page, { loginName: uniqueName('csp') });
  await go(page, '/chart/allergies/new');
  await page.locator('#field-substance').fill('Latex');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);
  await expect(page.getByRole('heading', { name: 'Latex' })).toBeVisible();
  // The schema checker probes `new Function` once and falls back to interpreting (packages/protocol
  // checker.ts); no other violation, and WebAssembly (libsodium) compiles.
  expect(violations.filter((v) => !/violation: script-src eval /.test(v))).toEqual([]);
  expect(violations.length).toBeLessThanOrEqual(1);
});

test("a date field's calendar: every button named in the person's language, no faint days of other months", async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('calendar') });
  await go(page, '/chart/immunizations/new');
  const field = page.getByRole('textbox', { name: 'Next dose due' });
  await field.click();
  const calendar = page.locator('[data-dates-dropdown]');
  await expect(calendar).toBeVisible();
  for (const name of ['Previous month', 'Next month'])
    await expect(calendar.getByRole('button', { name, exact: true })).toBeVisible();
  await expect(calendar.locator('[data-outside]:visible')).toHaveCount(0);
  await expectAccessible(page, 'date picker open');
  // A level up: the year's months, then the decade's years, each pair of arrows named; the level buttons
  // read as what they show (November 2026, 2026).
  await calendar.getByRole('button', { name: /^\D+ \d{4}$/ }).click();
  await expect(calendar.getByRole('button', { name: 'Previous year', exact: true })).toBeVisible();
  await expectAccessible(page, 'date picker, months');
  await calendar.getByRole('button', { name: /^\d{4}$/ }).click();
  await expect(calendar.getByRole('button', { name: 'Next ten years', exact: true })).toBeVisible();
  await expectAccessible(page, 'date picker, years');
  await page.keyboard.press('Escape');
  await go(page, '/settings');
  await page.getByLabel('Language').selectOption('zh-Hant');
  await go(page, '/chart/immunizations/new');
  await page.getByRole('textbox', { name: '下一劑日期' }).click();
  await expect(calendar.getByRole('button', { name: '上個月', exact: true })).toBeVisible();
});

/** The controls a showing notice lies over (their names; "fixed" if it floats), or null when none shows. */
const underNotice = (page: Page): Promise<string[] | null> =>
  page.evaluate<string[] | null>(`(() => {
    const notice = document.querySelector('.mantine-Notification-root');
    if (notice === null) return null;
    for (let e = notice; e !== null; e = e.parentElement)
      if (getComputedStyle(e).position === 'fixed') return ['fixed'];
    const n = notice.getBoundingClientRect();
    const controls = document.querySelectorAll(
      'button, a[href], input, select, textarea, [role="button"], [role="tab"], [role="link"]',
    );
    return [...controls]
      .filter((c) => c.closest('.mantine-Notification-root') === null)
      .filter((c) => {
        const r = c.getBoundingClientRect();
        const overlaps = r.left < n.right && r.right > n.left && r.top < n.bottom && r.bottom > n.top;
        return r.width > 0 && r.height > 0 && overlaps;
      })
      .map((c) => c.getAttribute('aria-label') || c.textContent.trim() || c.tagName);
  })()`);

test('a notice never lies over a control: in the flow above the screen, on a phone and on a desktop', async ({
  page,
}) => {
  const notice = page.locator('.mantine-Notification-root');
  // The release's first "works offline" notice comes on the start screen (8 s): above it, not over it.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await expect(notice).toBeVisible({ timeout: 20_000 });
  expect(await underNotice(page)).toEqual([]);
  await expect(page.getByTestId('notice-band')).toContainText('Hale works offline');
  await page.getByRole('link', { name: 'Create an account' }).click();
  expect(await underNotice(page)).toEqual([]);
  await signUp(page, { loginName: uniqueName('notice') });
  // A save's notice in the chart: in the band under the header, its menu, search and lock uncovered.
  await addRecord(page, 'allergies', { substance: 'Peanuts' });
  await expect(page.locator('#main').getByTestId('notice-band')).toContainText('Saved');
  expect(await underNotice(page)).toEqual([]);
  await page.setViewportSize({ width: 1440, height: 900 });
  await addRecord(page, 'allergies', { substance: 'Latex' });
  await expect(page.locator('#main').getByTestId('notice-band')).toContainText('Saved');
  expect(await underNotice(page)).toEqual([]);
});
