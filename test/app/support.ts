/**
 * What the app's journeys share: accounts made through the screens, records added through the forms,
 * the accessibility check (axe-core, every rule: no serious or critical violation), and screenshots of
 * a screen at desktop and phone sizes into docs/screenshots/.
 */
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import axe from 'axe-core';
import { expect, type Page } from '@playwright/test';
import { openHale } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';

export const PASSPHRASE = 'copper lantern orbit meadow 1842';
const SHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');

let counter = 0;
/**
 * A fixed-offset zone where it is now about midday, for journeys whose screens read the time of day
 * (the access story marks an access between 22:00 and 06:00 as unusual).
 */
export function middayZone(now = new Date()): string {
  const offset = 12 - now.getUTCHours();
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${String(Math.abs(offset))}`;
}

export const uniqueName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** Creates an account through the start screens; answers the recovery key shown. */
export async function signUp(
  page: Page,
  options: { loginName: string; fullName?: string; passphrase?: string; shots?: boolean },
): Promise<string> {
  const passphrase = options.passphrase ?? PASSPHRASE;
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Your health record, on your devices' })).toBeVisible();
  if (options.shots === true) await checkScreen(page, 'start');
  await page.getByRole('link', { name: 'Create an account' }).click();
  if (options.fullName !== undefined) await page.getByLabel('Your full name').fill(options.fullName);
  await page.getByLabel('Sign-in name').fill(options.loginName);
  await page.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(passphrase);
  await page.getByLabel('Passphrase again').fill(passphrase);
  await expect(page.getByTestId('strength')).toHaveAttribute('data-accepted', 'true');
  if (options.shots === true) await checkScreen(page, 'create-account');
  await page.getByRole('button', { name: 'Create account' }).click();
  const keyBox = page.getByTestId('recovery-key');
  await expect(keyBox).toBeVisible({ timeout: 60_000 });
  const recoveryKey = (await keyBox.textContent()) ?? '';
  expect(recoveryKey).toMatch(/^[0-9A-Z]+(-[0-9A-Z]+)+$/);
  if (options.shots === true) await checkScreen(page, 'recovery-key');
  await page.getByLabel('I have written down or printed my recovery key').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  const group = page.getByTestId('recovery-group');
  const n = Number(await group.getAttribute('data-group'));
  await group.fill(recoveryKey.split('-')[n - 1] ?? '');
  await page.getByRole('button', { name: 'Finish' }).click();
  // Entering opens the new account's encrypted store for the first time: as slow as creating it.
  await expect(page.getByTestId('home-allergies')).toBeVisible({ timeout: 60_000 });
  return recoveryKey;
}

/**
 * Goes to `path` inside the app, as its links do: a page load (`page.goto`) starts the app anew, locked,
 * as a reload does for a person. Returns once the screen has drawn: the frame marks `#main` with the
 * path it drew once the router is idle (a lazy route's code loaded and rendered), and the screen's main
 * heading is visible. `ready: false` returns once the address changed (a route that redirects).
 */
export async function go(page: Page, to: string, options: { ready?: boolean } = {}): Promise<void> {
  // A string: this program has no DOM lib (the test runs in Node).
  // The state the router gives a visit of its own (a new key): a screen keyed by the visit opens anew.
  await page.evaluate(
    `(() => { const state = { usr: null, key: Math.random().toString(36).slice(2, 10), idx: (window.history.state?.idx ?? 0) + 1 }; window.history.pushState(state, '', ${JSON.stringify(to)}); window.dispatchEvent(new PopStateEvent('popstate', { state })); })()`,
  );
  await page.waitForURL((url) => url.pathname + url.search === to);
  if (options.ready === false) return;
  await expect(page.locator('#main')).toHaveAttribute('data-route-ready', to);
  await expect(page.locator('#main h1').first()).toBeVisible();
}

export async function unlock(page: Page, passphrase = PASSPHRASE): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Unlock Hale' })).toBeVisible();
  await page.getByLabel('Passphrase').fill(passphrase);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('heading', { name: 'Unlock Hale' })).toBeHidden({ timeout: 30_000 });
}

export type FieldValue = string | boolean | { select: string };

/** Adds the page's browser to an account as a device, by passphrase, from the start screen. */
export async function addThisDevice(page: Page, loginName: string, deviceName: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('link', { name: 'Add this device' }).click();
  await page.getByLabel('Sign-in name').fill(loginName);
  await page.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await page.getByLabel('Name of this device').fill(deviceName);
  await page.getByRole('button', { name: 'Add this device' }).click();
}

/** Fills a record form's fields by their names (`#field-<name>`). */
export async function fillFields(page: Page, fields: Readonly<Record<string, FieldValue>>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) {
    const input = page.locator(`#field-${name.replace('.', '-')}`);
    if (typeof value === 'boolean') await input.setChecked(value, { force: true });
    else if (typeof value === 'object') await input.selectOption(value.select);
    else {
      await input.fill(value);
      // A date picker takes what was typed when it loses focus (Enter would submit the form), and shows it.
      if ((await input.getAttribute('aria-haspopup')) !== null) {
        await input.press('Tab');
        await expect(input).toHaveValue(value);
      }
    }
  }
}

/** Words that read the same in every language the app speaks (names, formats, the language's own name). */
const SAME_IN_EVERY_LANGUAGE =
  /^(Hale|FHIR|FHIR R|FHIR Bundle|Bundle|R4|LOINC|SOAP|PDF|YYYY|MM|DD|NDJSON|JSON|HL|IPS|SMART Health Links?|QR|Chrome on Linux|zip|files|mg|English)$/;

/** Runs of Latin letters a screen shows, less the person's own words and what reads alike in every language. */
export const englishIn = (text: string, written: readonly string[] = []): string[] =>
  (written.reduce((rest, words) => rest.replaceAll(words, ' '), text).match(/[A-Za-z][A-Za-z' ]{2,}/g) ?? [])
    .map((s) => s.trim())
    .filter((s) => s.length > 2 && !SAME_IN_EVERY_LANGUAGE.test(s));

/**
 * Waits until no notice shows. The pointer leaves first: a notice under it (where Save was) would not
 * close on its own while hovered.
 */
export async function noNotices(page: Page): Promise<void> {
  await page.mouse.move(0, 0);
  const notices = page.locator('.mantine-Notification-root');
  try {
    await expect(notices).toHaveCount(0, { timeout: 15_000 });
  } catch (error) {
    const words = await notices.allInnerTexts().catch(() => []);
    throw new Error(`a notice still shows after 15 s: ${words.join(' | ')}`, { cause: error });
  }
}

/** Adds a record through its form; answers its id (from the detail page it opens). */
export async function addRecord(
  page: Page,
  slug: string,
  fields: Readonly<Record<string, FieldValue>>,
): Promise<string> {
  await go(page, `/chart/${slug}/new`);
  const title = await page.locator('#main h1').first().innerText();
  await fillFields(page, fields);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(new RegExp(`/chart/${slug}/[0-9A-Z]{26}$`));
  // The record's screen drawn (the URL moves before it is): a next step starts from it, not the form.
  await expect(page.locator('#main h1').first()).not.toHaveText(title);
  return page.url().split('/').at(-1) ?? '';
}

interface Violation {
  readonly id: string;
  readonly impact: string | null | undefined;
  readonly nodes: string[];
}

/** A node at fault, with the colours and ratio a contrast rule measured. */
const nodeWords = (n: axe.NodeResult): string => {
  const data: unknown = n.any[0]?.data;
  const c = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const colours =
    typeof c['contrastRatio'] === 'number'
      ? ` (${String(c['fgColor'])} on ${String(c['bgColor'])}: ${c['contrastRatio']})`
      : '';
  return n.target.join(' ') + colours;
};

/** Every rule axe-core has, the ones it marks experimental included. */
const EVERY_AXE_RULE = axe.getRules().map((r) => r.ruleId);

export const NOTICE = '.mantine-Notification-root';

/**
 * True once no notice is fading in or out: nothing in a notice band animating, and every notice and its
 * wrappers fully opaque. A string: this program has no DOM lib (the test runs in Node).
 */
const NOTICES_STILL = `(() => {
  for (const band of document.querySelectorAll('[data-testid="notice-band"]')) {
    const moving = document.getAnimations().some((a) => a.playState === 'running' &&
      a.effect && a.effect.target instanceof Element && band.contains(a.effect.target));
    if (moving) return false;
    for (const notice of band.querySelectorAll('${NOTICE}'))
      for (let e = notice; e !== null && e !== band; e = e.parentElement)
        if (getComputedStyle(e).opacity !== '1') return false;
  }
  return true;
})()`;

/**
 * Waits (5 s at most) until no notice is half faded: axe would read its text blended with the page. Polled
 * from here: a string predicate polled in the page (`waitForFunction`) is an eval the app's CSP refuses.
 */
async function noticesStill(page: Page): Promise<void> {
  const until = Date.now() + 5_000;
  while (!(await page.evaluate<boolean>(NOTICES_STILL)) && Date.now() < until) await page.waitForTimeout(50);
}

const analyze = async (page: Page): Promise<Violation[]> => {
  const result = await new AxeBuilder({ page }).withRules(EVERY_AXE_RULE).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(nodeWords) }));
};

/**
 * axe-core's serious and critical violations on the page as it is, by every rule (experimental and AAA
 * included), read once no notice is fading, the notices held open meanwhile. A notice that came during the
 * check was read half faded in: the page is read again once it is still (at most 3 more times; a lasting
 * violation stays).
 */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  // The pointer on a notice holds every notice open (Mantine pauses their timers on hover): none starts
  // fading out while axe reads the page. Moved off after, as checkScreen does, so they close again.
  const held = (await page.locator(NOTICE).count()) > 0;
  if (held)
    await page
      .locator(NOTICE)
      .last()
      .hover({ timeout: 2_000 })
      .catch(() => undefined);
  try {
    return await readStill(page);
  } finally {
    if (held) await page.mouse.move(0, 0);
  }
}

/** axe-core's serious and critical violations, read once no notice fades (see `seriousViolations`). */
async function readStill(page: Page): Promise<Violation[]> {
  await noticesStill(page);
  let violations = await analyze(page);
  // Notices may come one after another (a saved notice, then an event's): up to 3 more reads, each once still.
  for (
    let again = 0;
    again < 3 && violations.length > 0 && (await page.locator(NOTICE).count()) > 0;
    again++
  ) {
    await noticesStill(page);
    violations = await analyze(page);
  }
  return violations;
}

/** axe-core over the page as it is: no serious or critical violation. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  expect({ screen, violations: await seriousViolations(page) }).toEqual({ screen, violations: [] });
}

/** Screenshots of the page at desktop (1440x900) and phone (390x844) sizes, and the axe check at both. */
export async function checkScreen(page: Page, name: string): Promise<void> {
  const size = page.viewportSize() ?? { width: 1440, height: 900 };
  // A notice showing (saved, deleted, an event) is checked with the screen.
  if ((await page.locator(NOTICE).count()) > 0) {
    const violations = await seriousViolations(page);
    expect({ screen: `${name} (with a notice)`, violations }).toEqual({
      screen: `${name} (with a notice)`,
      violations: [],
    });
  }
  // Passing notices close by themselves; the screenshots are taken without them. A pointer resting on
  // one holds them all open (Mantine pauses their timers on hover): moved off first.
  await page.mouse.move(0, 0);
  await expect(page.locator(NOTICE)).toHaveCount(0, { timeout: 15_000 });
  for (const [suffix, viewport] of [
    ['desktop', { width: 1440, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(250);
    // A notice that came meanwhile (the release kept for offline use) is waited out too.
    await expect(page.locator(NOTICE)).toHaveCount(0, { timeout: 15_000 });
    const violations = await seriousViolations(page);
    expect({ screen: `${name} (${suffix})`, violations }).toEqual({
      screen: `${name} (${suffix})`,
      violations: [],
    });
    // Taken again when a notice came while it was taken (the shot would show it over the screen).
    for (let tries = 0; ; tries += 1) {
      await expect(page.locator(NOTICE)).toHaveCount(0, { timeout: 15_000 });
      await page.screenshot({ path: path.join(SHOTS, `${name}-${suffix}.png`) });
      if ((await page.locator(NOTICE).count()) === 0 || tries === 2) break;
    }
  }
  await page.setViewportSize(size);
}

/** A clinician account with a directory entry, made by a Node device (the app has no clinician screens yet). */
export async function createProvider(server: string, displayName: string): Promise<{ accountId: string }> {
  const hale = await openHale({ server, platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'provider',
    passphrase: PASSPHRASE,
    loginName: uniqueName('dr'),
    deviceName: 'clinic desk',
  });
  try {
    await session.directory.publishProfile({
      displayName,
      specialty: 'Family medicine',
      clinic: 'Harbour Clinic',
      identifier: '',
    });
    return { accountId: session.account.accountId };
  } finally {
    await session.close();
  }
}

/** Presses Tab (Shift+Tab with `back`) until the focused element's accessible text matches; each stop must show its focus. */
export const tabTo = async (page: Page, match: RegExp, options: { back?: boolean; max?: number } = {}) => {
  for (let i = 0; i < (options.max ?? 60); i++) {
    await page.keyboard.press(options.back === true ? 'Shift+Tab' : 'Tab');
    const focus = await page.evaluate<{
      text: string;
      shown: boolean;
      tag: string;
      id: string;
    } | null>(`(() => {
      const el = document.activeElement;
      if (el === null || el === document.body) return null;
      const style = getComputedStyle(el);
      const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
      const field = el.matches('input, textarea, select');
      const text = (el.getAttribute('aria-label') || el.textContent || (el.labels && el.labels[0] && el.labels[0].textContent) || el.id || '').trim();
      return { text, shown: ring || field, tag: el.tagName, id: el.id };
    })()`);
    expect(focus, 'focus stays on the page').not.toBeNull();
    expect(focus?.shown, `focus visible on ${focus?.tag} "${focus?.text}"`).toBe(true);
    if (match.test(focus?.text ?? '') || match.test(focus?.id ?? '')) return;
  }
  throw new Error(`Tab never reached ${match}`);
};

/** Focus back to the top of the page, as after a load: the next Tab reaches the skip link. */
export const focusTop = (page: Page): Promise<void> =>
  page.evaluate(
    `document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex')`,
  );
