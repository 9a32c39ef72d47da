/**
 * The import figures of `npm run bench:app` (issue #63), in headless Chromium against the built app: a
 * file chosen on the Import screen, its plan, then "Import N records" until the screen says done.
 *
 * | figure | from | to |
 * |---|---|---|
 * | import of a file | the file input's change event | the first frame showing "done" (plan + the person's click + import) |
 * | longest task | (the same span, `longtask` entries) | |
 * | heap after | the page's JS heap once the import is done and garbage collected (CDP), in the log | |
 *
 * Files: one Patient and N heart rates (`observationsFile`, as `bench:import` in Node), and a Synthea
 * patient grown to N resources (import-files.ts). Each imports into a new account's browser device.
 * Times are the page's own clock; the harness's click on "Import" is counted (≈ the time of one frame).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openHale } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';
import type { Browser, Page } from '@playwright/test';
import { go, installProbe, until } from './app-browser';
import { profiled } from './app-profile';
import { PASSPHRASE, joinInBrowser } from './app-patient';
import type { Figure } from './app-report';
import { grownPatient, observationsFile } from './import-files';

const log = (line: string): void => console.log(`  ${line}`);

export interface ImportShape {
  /** Heart-rate Observations in the first file (5,000). */
  readonly observations: number;
  /** Resources of the grown Synthea patient (20,000). */
  readonly resources: number;
}

interface Imported {
  readonly ms: number;
  readonly planMs: number;
  readonly longestTaskMs: number;
  readonly records: number;
  readonly heapAfterMiB: number;
}

/** The page's JS heap (MiB) after a full garbage collection: what the import left held. */
const heapAfterGc = async (page: Page): Promise<number> => {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    return usedSize / 2 ** 20;
  } finally {
    await cdp.detach();
  }
};

/** Collects `longtask` entries from now on (the page's own observer). */
const LONG_TASKS = `(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push(e.duration);
  }).observe({ type: 'longtask' });
})()`;

/** An empty account whose only device is the browser page; answers once the page shows its home. */
const emptyAccountIn = async (page: Page, server: string): Promise<void> => {
  const hale = await openHale({ server, platform: nodePlatform() });
  const loginName = `bench-import-${Date.now().toString(36)}`;
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'seeding laptop',
  });
  await session.close();
  await joinInBrowser(page, loginName);
};

/** Chooses `text` as `name` on the Import screen, imports its plan whole; answers the page's times. */
async function importFile(page: Page, name: string, text: string): Promise<Imported> {
  await go(page, '/records/import');
  await until(page, `document.querySelector('[data-testid=import-file]')`);
  await page.evaluate(LONG_TASKS);
  await page.evaluate(`window.__bench.mark('change')`);
  // By path, as a person's file is read: the browser reads it from disk. A buffer would be sent into the
  // page as base64 and decoded there, a long task of the harness's own (3.3 s for the grown patient).
  const dir = mkdtempSync(path.join(tmpdir(), 'hale-import-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  try {
    return await chosen(page, name, file);
  } finally {
    // Read by the page when the plan is made: removed once the import is done.
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Chooses the file at `file` on the Import screen and imports its plan whole. */
async function chosen(page: Page, name: string, file: string): Promise<Imported> {
  await page.getByTestId('import-file').setInputFiles(file);
  const button = page.getByRole('button', { name: /^Import [\d,]+ records?$/ });
  const refused = page.getByTestId('import-refused');
  await button.or(refused).waitFor({ timeout: 600_000 });
  if (await refused.isVisible()) throw new Error(`${name} refused: ${await refused.innerText()}`);
  const planned = await page.evaluate<number>('performance.now()');
  await button.click();
  await until(page, `document.querySelector('[data-testid=import-done]')`, 900_000);
  const done = await page.evaluate<{ t: number; text: string; longest: number }>(`({
    t: performance.now(),
    text: document.querySelector('[data-testid=import-done]').textContent,
    longest: Math.max(0, ...window.__longTasks),
  })`);
  const t0 = await page.evaluate<number>('window.__bench.t0');
  const records = Number(/([\d,]+) records?/.exec(done.text)?.[1]?.replace(/,/g, '') ?? NaN);
  return {
    ms: done.t - t0,
    planMs: planned - t0,
    longestTaskMs: done.longest,
    records,
    heapAfterMiB: await heapAfterGc(page),
  };
}

export async function runImport(
  browser: Browser,
  server: string,
  shape: ImportShape,
  options: { readonly profile?: string } = {},
): Promise<{ figures: Figure[]; extra: Record<string, unknown> }> {
  const grown = grownPatient(shape.resources);
  const files = [
    {
      label: `${shape.observations.toLocaleString('en')} Observations`,
      name: 'heart-rates.ndjson',
      text: observationsFile(shape.observations),
      bar: 15_000,
    },
    {
      label: `a ${grown.resources.toLocaleString('en')}-resource patient`,
      name: 'grown-synthea.json',
      text: grown.json,
      bar: 60_000,
    },
  ];
  const figures: Figure[] = [];
  const extra: Record<string, unknown> = { grownByType: grown.byType };
  for (const file of files) {
    const context = await browser.newContext({ baseURL: server, viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    try {
      await installProbe(page);
      await emptyAccountIn(page, server);
      const r = await profiled(page, options.profile, `import-${file.name}`, () =>
        importFile(page, file.name, file.text),
      );
      log(
        `import of ${file.label}: ${(r.ms / 1000).toFixed(1)} s (plan ${(r.planMs / 1000).toFixed(1)} s), ` +
          `${r.records} records, longest task ${r.longestTaskMs.toFixed(0)} ms, heap after ${r.heapAfterMiB.toFixed(0)} MiB`,
      );
      figures.push(
        { name: `import of ${file.label}`, value: r.ms, unit: 'ms', bar: file.bar },
        { name: `import of ${file.label}: longest task`, value: r.longestTaskMs, unit: 'ms', bar: 200 },
      );
      extra[file.name] = r;
    } finally {
      await context.close();
    }
  }
  return { figures, extra };
}
