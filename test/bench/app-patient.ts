/**
 * The patient's figures of `npm run bench:app` (issue #48), in headless Chromium against the built app:
 *
 * | figure | from | to |
 * |---|---|---|
 * | unlock | the key derivation's end (the first store opened after the Unlock submit) | the first frame whose home shows the newest lab result first (name, value, link) and the allergy |
 * | lab list frames | requestAnimationFrame deltas while the window scrolls `step` px a frame | (and long-animation-frame entries) |
 * | trend chart | the test select's change event | the first frame with the 1,000-point line drawn and the table beside it |
 * | search | each keystroke's input event | the first frame whose results are for the text typed so far |
 *
 * Times are the page's own clock (`performance.now()` in the page); the harness only reads them.
 */
import { openHale } from '@hale/client';
import { exampleInput } from '@hale/model';
import { nodePlatform } from '@hale/platform-node';
import { expect, type Browser, type Page } from '@playwright/test';
import { go, installProbe, seen, unlockTimed, until, watch, type UnlockTimes } from './app-browser';
import { LONG_TEST_KEY, SEARCH_WORDS, newestLab, writeChart, type ChartShape } from './app-chart';
import { profiled } from './app-profile';
import { median, p95, type Figure } from './app-report';

export const PASSPHRASE = 'copper lantern orbit meadow 1842';
const log = (line: string): void => console.log(`  ${line}`);

/** A patient account with the chart written by a Node device; answers its sign-in name. */
export async function seedPatient(
  server: string,
  shape: ChartShape,
): Promise<{ loginName: string; ms: number }> {
  const started = performance.now();
  const hale = await openHale({ server, platform: nodePlatform() });
  const loginName = `bench-${Date.now().toString(36)}`;
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'seeding laptop',
  });
  try {
    await writeChart(session, shape, (n) => log(`seeded ${n} of ${shape.total}`));
    await session.sync.awaitInSync();
  } finally {
    await session.close();
  }
  return { loginName, ms: performance.now() - started };
}

/** Adds the browser as a device (passphrase) and waits until sync says up to date. */
export async function joinInBrowser(page: Page, loginName: string): Promise<number> {
  const started = performance.now();
  await page.goto('/');
  await page.getByRole('link', { name: 'Add this device' }).click();
  await page.getByLabel('Sign-in name').fill(loginName);
  await page.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await page.getByLabel('Name of this device').fill('Bench browser');
  await page.getByRole('button', { name: 'Add this device' }).click();
  await expect(page.getByTestId('home-allergies')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('sync-badge')).toHaveAttribute('data-tone', 'teal', { timeout: 900_000 });
  return performance.now() - started;
}

const ALLERGY = String(exampleInput('Allergy')['substance']);
/**
 * The home as a person can use it: its latest labs start with the chart's newest result (name, value, a
 * link to the record) and its allergies name the seeded one (a link too).
 */
export const homeUsable = (shape: ChartShape): string => {
  const lab = newestLab(shape);
  return `(() => {
  const labs = document.querySelector('[data-testid=home-labs]');
  const first = labs?.querySelector('a[href^="/chart/labs/"]');
  const allergy = [...(document.querySelectorAll('[data-testid=home-allergies] a[href^="/chart/allergies/"]'))]
    .some((a) => a.textContent === ${JSON.stringify(ALLERGY)});
  return first?.textContent === ${JSON.stringify(lab.name)}
    && (first.closest('.mantine-Group-root')?.textContent ?? '').includes(${JSON.stringify(lab.value)})
    && allergy;
})()`;
};

/** Unlock rounds: a page load (locked), then the passphrase; answers each round's times. */
export async function measureUnlock(page: Page, rounds: number, usable: string): Promise<UnlockTimes> {
  const total: number[] = [];
  const afterKdf: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Unlock Hale' })).toBeVisible();
    // The library loads behind the screen; a person types for longer than that.
    await page.waitForLoadState('networkidle');
    const t = await unlockTimed(page, PASSPHRASE, usable);
    total.push(t.total);
    afterKdf.push(t.afterKdf);
    log(`unlock round ${i + 1}: ${t.afterKdf.toFixed(0)} ms after the KDF (${t.total.toFixed(0)} ms in all)`);
  }
  return { total, afterKdf };
}

export interface ScrollFigures {
  readonly openMs: number;
  readonly frames: number;
  readonly maxFrameMs: number;
  readonly p95FrameMs: number;
  readonly over50: number;
  readonly loafMaxMs: number | null;
  /** The longest long-animation-frame's scripts (invoker, function, file, ms). */
  readonly loafScripts: readonly string[];
  readonly scrolledPx: number;
}

/** Opens the lab list and scrolls it `frames` frames of `step` px; answers the frame figures. */
export async function measureLabScroll(page: Page, step: number, frames: number): Promise<ScrollFigures> {
  await page.evaluate(`window.__bench.t0 = performance.now()`);
  await watch(page, '__list', `document.querySelectorAll('li[data-index]').length > 5`);
  await go(page, '/chart/labs');
  const openMs = (await seen(page, '__list')) - (await page.evaluate<number>('window.__bench.t0'));
  await page.waitForTimeout(1000);
  const r = await page.evaluate<{
    deltas: number[];
    loaf: number[];
    loafSupported: boolean;
    y: number;
    longest: { duration: number; scripts: string[] } | null;
  }>(`window.__bench.scroll(${step}, ${frames})`);
  return {
    openMs,
    frames: r.deltas.length,
    maxFrameMs: Math.max(...r.deltas),
    p95FrameMs: p95(r.deltas),
    over50: r.deltas.filter((d) => d > 50).length,
    loafMaxMs: r.loafSupported ? Math.max(0, ...r.loaf) : null,
    loafScripts: r.longest?.scripts ?? [],
    scrolledPx: r.y,
  };
}

/** The chart's line drawn through `n` points (its path: one move, n - 1 lines) and the table beside it. */
const TREND_DRAWN = (n: number) =>
  `(document.querySelector('figure .recharts-line-curve')?.getAttribute('d') ?? '').split('L').length === ${n}
  && document.querySelector('[data-testid=trend-table] tbody tr') !== null`;

/** Opens the trends screen, then switches between a 100-point test and the long one `rounds` times. */
export async function measureTrend(
  page: Page,
  shape: ChartShape,
  rounds: number,
): Promise<{ openMs: number; switchMs: number[] }> {
  await page.evaluate(`window.__bench.t0 = performance.now()`);
  await watch(page, '__open', `document.querySelector('figure .recharts-line-curve') !== null`);
  await go(page, '/labs/trends');
  const openMs = (await seen(page, '__open')) - (await page.evaluate<number>('window.__bench.t0'));
  const select = page.getByLabel('Test', { exact: true });
  const switchMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await select.selectOption('code:bench-000');
    await until(page, TREND_DRAWN(shape.points));
    await page.waitForTimeout(300);
    await page.evaluate(`window.__bench.mark('change')`);
    await watch(page, '__trend', TREND_DRAWN(shape.longPoints));
    await select.selectOption(LONG_TEST_KEY);
    const t = await seen(page, '__trend');
    switchMs.push(t - (await page.evaluate<number>('window.__bench.t0')));
    log(`trend of ${shape.longPoints} points: ${switchMs.at(-1)?.toFixed(0)} ms`);
  }
  return { openMs, switchMs };
}

const TYPING_PROBE = `
window.__typing = { pending: [], lat: [] };
document.addEventListener('input', (e) => {
  window.__typing.pending.push({ v: e.target.value, t: performance.now() });
}, true);
(function tick() {
  const r = document.querySelector('[data-search-query]');
  const p = window.__typing.pending;
  if (r && r.getAttribute('data-search-ready') === 'true' && p.length > 0) {
    const shown = r.getAttribute('data-search-query');
    const at = p.map((x) => x.v).lastIndexOf(shown);
    if (at >= 0) {
      const now = performance.now();
      for (const x of p.splice(0, at + 1)) window.__typing.lat.push(now - x.t);
    }
  }
  requestAnimationFrame(tick);
})();
`;

/** Types each word into the search box as a person does; answers each keystroke's latency and the first query's. */
export async function measureSearch(
  page: Page,
  delayMs: number,
): Promise<{ firstMs: number; keys: number[] }> {
  await go(page, '/search');
  const box = page.getByRole('textbox', { name: 'Search', exact: true });
  await expect(box).toBeVisible();
  await page.evaluate(TYPING_PROBE);
  // The first query builds the index over the chart (MiniSearch, in memory).
  await box.pressSequentially('a');
  await until(page, 'window.__typing.pending.length === 0');
  const firstMs = (await page.evaluate<number>('window.__typing.lat[0]')) ?? NaN;
  await box.press('Backspace');
  const keys: number[] = [];
  for (const word of SEARCH_WORDS) {
    await page.evaluate('window.__typing.lat = []; window.__typing.pending = []');
    await box.pressSequentially(word, { delay: delayMs });
    await until(page, 'window.__typing.pending.length === 0', 30_000);
    keys.push(...(await page.evaluate<number[]>('window.__typing.lat')));
    await box.fill('');
    log(`search "${word}": p95 ${p95(keys).toFixed(1)} ms over ${keys.length} keystrokes`);
  }
  return { firstMs, keys };
}

/** The whole patient part; answers the figures for the table. */
export async function runPatient(
  browser: Browser,
  server: string,
  shape: ChartShape,
  options: {
    readonly rounds: number;
    readonly unlockBudgetKb: number;
    readonly unlockKb: number;
    readonly profile?: string;
  },
): Promise<{ figures: Figure[]; extra: Record<string, number> }> {
  log(
    `seeding ${shape.total} records (${shape.series} lab series × ${shape.points}, one of ${shape.longPoints})`,
  );
  const seed = await seedPatient(server, shape);
  const context = await browser.newContext({ baseURL: server, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await installProbe(page);
  try {
    const joinMs = await joinInBrowser(page, seed.loginName);
    log(`browser joined and synced ${shape.total} records into IndexedDB in ${(joinMs / 1000).toFixed(1)} s`);
    const u = await profiled(page, options.profile, 'unlock', () =>
      measureUnlock(page, options.rounds, homeUsable(shape)),
    );
    const scroll = await profiled(page, options.profile, 'lab-scroll', () =>
      measureLabScroll(page, 120, 300),
    );
    log(
      `lab list: ${scroll.frames} frames, max ${scroll.maxFrameMs.toFixed(1)} ms, ${scroll.over50} over 50 ms`,
    );
    if (scroll.over50 > 0)
      log(`longest animation frame's scripts: ${scroll.loafScripts.join('; ') || '(none named)'}`);
    const trend = await profiled(page, options.profile, 'trend', () =>
      measureTrend(page, shape, options.rounds),
    );
    const search = await profiled(page, options.profile, 'search', () => measureSearch(page, 120));
    const figures: Figure[] = [
      {
        name: 'unlock → usable home, less the KDF (median)',
        value: median(u.afterKdf),
        unit: 'ms',
        bar: 1000,
      },
      { name: 'lab list scroll: longest frame', value: scroll.maxFrameMs, unit: 'ms', bar: 50 },
      { name: 'trend chart of 1,000 points (median)', value: median(trend.switchMs), unit: 'ms', bar: 200 },
      { name: 'search per keystroke, p95', value: p95(search.keys), unit: 'ms', bar: 50 },
      {
        name: 'unlock screen JavaScript, gzipped',
        value: options.unlockKb,
        unit: 'KB',
        bar: options.unlockBudgetKb,
      },
    ];
    const extra = {
      seedMs: seed.ms,
      joinAndSyncMs: joinMs,
      unlockWithKdfMedianMs: median(u.total),
      kdfMedianMs: median(u.total.map((t, i) => t - (u.afterKdf[i] ?? 0))),
      labListOpenMs: scroll.openMs,
      labScrollFrames: scroll.frames,
      labScrollP95FrameMs: scroll.p95FrameMs,
      labScrollFramesOver50: scroll.over50,
      labScrollLongestLoafMs: scroll.loafMaxMs ?? -1,
      labScrolledPx: scroll.scrolledPx,
      trendScreenOpenMs: trend.openMs,
      trendMaxMs: Math.max(...trend.switchMs),
      searchFirstQueryMs: search.firstMs,
      searchKeystrokes: search.keys.length,
      searchMaxMs: Math.max(...search.keys),
    };
    return { figures, extra };
  } finally {
    await context.close();
  }
}
