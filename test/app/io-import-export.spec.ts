// Records in and out through the app's screens: a Synthea patient (shipped by cql-exec-fhir) imported
// from a file — the plan lists what maps and what is not imported, the records appear with their origin and
// codes, the file itself is kept as a document, the same file again imports nothing; a damaged file is
// refused and writes nothing; the chart exported in each form (signed Bundle with files embedded, zip with
// a files folder, links, NDJSON), each file checked (verifyFhirExport for the signed Bundles); a file that
// names no person asks whose it is, and an import stopped midway keeps what it added (the same file again
// adds the rest).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { strFromU8, unzipSync } from 'fflate';
import { verifyFhirExport } from '@hale/client';
import { addRecord, checkScreen, go, signUp, uniqueName } from './support';

const require = createRequire(import.meta.url);
const SYNTHEA = path.join(
  path.dirname(require.resolve('cql-exec-fhir/package.json')),
  'test/fixtures/r4/Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json',
);

const chooseFile = async (page: Page, name: string, text: string): Promise<void> => {
  await page
    .getByTestId('import-file')
    .setInputFiles({ name, mimeType: 'application/fhir+json', buffer: Buffer.from(text) });
};

test('a Synthea Bundle imports from a file: plan, progress, records with origin; the same file again adds nothing', async ({
  page,
}) => {
  test.setTimeout(420_000);
  const text = readFileSync(SYNTHEA, 'utf8');
  const bundle = JSON.parse(text) as { entry: { resource: { resourceType: string } }[] };
  const conditionsInFile = bundle.entry.filter((e) => e.resource.resourceType === 'Condition').length;
  await signUp(page, { loginName: uniqueName('import') });

  // A damaged file is refused whole, in words; nothing is written.
  await go(page, '/records/import');
  await expect(page.getByRole('heading', { name: 'Import records' })).toBeVisible();
  await checkScreen(page, 'import-choose');
  await chooseFile(page, 'broken.json', '{"resourceType": "Bundle", "type": "collection", "entry": [');
  await expect(page.getByTestId('import-refused')).toBeVisible();
  await expect(page.getByText('Nothing was added to your record.')).toBeVisible();
  await checkScreen(page, 'import-refused');
  await page.getByRole('button', { name: 'Choose another file' }).click();

  // The plan: what maps, by kind; what is not imported and why; nothing written yet.
  await chooseFile(page, 'Luna60_McCullough561.json', text);
  await expect(page.getByTestId('import-kinds')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('import-count-Condition')).toHaveText(String(conditionsInFile));
  await expect(page.getByTestId('import-skipped')).toBeVisible();
  const notImported = page.getByRole('list', { name: 'Not imported' });
  await expect(notImported.getByRole('listitem').filter({ hasText: 'Claim' })).toContainText('billing');
  await checkScreen(page, 'import-plan');
  await go(page, '/chart/conditions');
  await expect(page.getByRole('heading', { name: 'Conditions', level: 1 })).toBeVisible();
  await expect(page.getByText('Otitis media')).toHaveCount(0);

  // Confirmed: the progress, then the report.
  await go(page, '/records/import');
  await chooseFile(page, 'Luna60_McCullough561.json', text);
  const importButton = page.getByRole('button', { name: /^Import \d+ records$/ });
  await expect(importButton).toBeEnabled({ timeout: 60_000 });
  const planned = Number((await importButton.textContent())?.match(/\d+/)?.[0]);
  expect(planned).toBeGreaterThan(100);
  // What Hale does not import (claims, …) stays in the file, which the person may keep whole.
  await page.getByRole('checkbox', { name: /Also keep the file itself among my documents/ }).check();
  await importButton.click();
  await expect(page.getByTestId('import-progress')).toBeVisible();
  await expect(page.getByTestId('import-done')).toBeVisible({ timeout: 300_000 });
  await expect(page.getByTestId('import-done')).toContainText(`${planned} records`);
  await expect(page.getByTestId('import-kept')).toContainText(
    'The file itself is kept among your documents.',
  );
  await checkScreen(page, 'import-done');
  await page.getByTestId('import-kept').getByRole('link', { name: 'Open it' }).click();
  await expect(page.getByText('Luna60_McCullough561.json').first()).toBeVisible();

  // The records are in the chart, each with where it came from and its codes.
  await go(page, '/chart/conditions');
  await page.getByRole('link', { name: 'Otitis media' }).first().click();
  await expect(page.getByTestId('record-origin')).toContainText('Luna60_McCullough561.json');
  await expect(page.getByTestId('record-origin')).toContainText('urn:uuid:');
  await expect(page.getByTestId('record-codes')).toContainText('65363002');
  await checkScreen(page, 'condition-imported');
  await go(page, '/chart/procedures');
  await expect(
    page.getByRole('link', { name: /Documentation of current medications/ }).first(),
  ).toBeVisible();
  await go(page, '/');
  await expect(page.getByTestId('home-conditions')).toBeVisible();

  // The same file again: everything is a duplicate; nothing to import.
  await go(page, '/records/import');
  await chooseFile(page, 'Luna60_McCullough561.json', text);
  await expect(page.getByRole('button', { name: 'Nothing to import' })).toBeDisabled({ timeout: 60_000 });
  await expect(page.getByTestId('import-duplicates')).toContainText(String(planned));
  await checkScreen(page, 'import-again');
});

test('the chart exports in each form, each file checked', async ({ page }) => {
  test.setTimeout(240_000);
  await signUp(page, { loginName: uniqueName('export'), fullName: 'Chan Wai-Man' });
  await addRecord(page, 'allergies', { substance: 'Penicillin', severity: { select: 'severe' } });
  await addRecord(page, 'conditions', { name: 'Type 2 diabetes mellitus', onsetDate: '2019-03' });
  await addRecord(page, 'procedures', { name: 'Appendectomy', performedAt: '2011-07-02' });
  await go(page, '/records/export');
  await expect(page.getByRole('heading', { name: 'Export records' })).toBeVisible();
  await checkScreen(page, 'export');

  const download = async (): Promise<{ name: string; bytes: Buffer }> => {
    const waiting = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    const file = await waiting;
    await expect(page.getByTestId('export-saved')).toContainText(file.suggestedFilename());
    return { name: file.suggestedFilename(), bytes: readFileSync(await file.path()) };
  };
  const clinical = ['Penicillin', 'Type 2 diabetes mellitus', 'Appendectomy'];

  // Signed Bundle, files inside: verifies; changed by a byte, it does not.
  const embedded = await download();
  expect(embedded.name).toMatch(/^hale-chart-\d{4}-\d{2}-\d{2}\.json$/);
  const embeddedText = embedded.bytes.toString('utf8');
  expect(await verifyFhirExport(embeddedText)).toMatchObject({ ok: true });
  for (const s of clinical) expect(embeddedText).toContain(s);
  expect(await verifyFhirExport(embeddedText.replace('Appendectomy', 'Appendectomx'))).toMatchObject({
    ok: false,
  });
  const resourceTypes = (
    JSON.parse(embeddedText) as { entry: { resource: { resourceType: string } }[] }
  ).entry.map((e) => e.resource.resourceType);
  expect(resourceTypes).toEqual(
    expect.arrayContaining(['Patient', 'AllergyIntolerance', 'Condition', 'Procedure']),
  );

  // Zip with a files folder: bundle.json inside verifies.
  await page.getByLabel('In a zip, with a files folder').check();
  const zipped = await download();
  expect(zipped.name).toMatch(/\.zip$/);
  const entries = unzipSync(new Uint8Array(zipped.bytes));
  expect(Object.keys(entries)).toContain('bundle.json');
  const inZip = strFromU8(entries['bundle.json'] ?? new Uint8Array());
  expect(await verifyFhirExport(inZip)).toMatchObject({ ok: true });
  for (const s of clinical) expect(inZip).toContain(s);

  // Files as links: still signed and verified.
  await page.getByLabel('As links only your devices open').check();
  const linked = await download();
  expect(await verifyFhirExport(linked.bytes.toString('utf8'))).toMatchObject({ ok: true });

  // NDJSON: one resource a line.
  await page.getByLabel('NDJSON (one record a line)').check();
  await expect(page.getByText('NDJSON names your files; it does not carry them.')).toBeVisible();
  await checkScreen(page, 'export-ndjson');
  const ndjson = await download();
  expect(ndjson.name).toMatch(/\.ndjson$/);
  const lines = ndjson.bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { resourceType: string });
  expect(lines.map((r) => r.resourceType)).toEqual(
    expect.arrayContaining(['Patient', 'AllergyIntolerance', 'Condition', 'Procedure']),
  );
});

/** A results file that names no person: `count` glucose results, a day apart. */
const unnamedResults = (count: number): string =>
  JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: Array.from({ length: count }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        category: [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
            ],
          },
        ],
        code: {
          coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }],
          text: 'Glucose',
        },
        effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString(),
        valueQuantity: {
          value: 90 + (i % 40),
          unit: 'mg/dL',
          system: 'http://unitsofmeasure.org',
          code: 'mg/dL',
        },
      },
    })),
  });

test('a file that names no person asks whose it is; a stopped import keeps what it added, and the same file again adds the rest', async ({
  page,
}) => {
  test.setTimeout(420_000);
  // Five chunks of 200 (IMPORT_CHUNK): the stop, clicked once the first is in, lands before the last.
  const total = 990;
  const text = unnamedResults(total);
  await signUp(page, { loginName: uniqueName('import-whose') });
  await go(page, '/records/import');
  await chooseFile(page, 'glucose-meter.json', text);

  // The question: the import waits for the answer.
  await expect(page.getByTestId('import-whose')).toContainText(
    'This file does not say whose records these are.',
    {
      timeout: 60_000,
    },
  );
  const importButton = page.getByRole('button', { name: `Import ${total} records` });
  await expect(importButton).toBeDisabled();
  await checkScreen(page, 'import-whose');
  await page.getByLabel('They are mine: add them to my record').check();
  await expect(importButton).toBeEnabled();

  // Stopped midway: what was added stays, said with its count.
  await importButton.click();
  await expect(page.getByTestId('import-progress')).toContainText(
    new RegExp(`Imported [1-9]\\d* of ${total}`),
    {
      timeout: 120_000,
    },
  );
  await page.getByTestId('import-cancel').click();
  const cancelled = page.getByTestId('import-cancelled');
  await expect(cancelled).toContainText('The import was stopped', { timeout: 120_000 });
  const kept = Number((await cancelled.textContent())?.match(/(\d+) records? (was|were) added/)?.[1]);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(total);
  await expect(page.getByTestId('import-done')).toContainText(`${kept} record`);
  await checkScreen(page, 'import-cancelled');

  // The same file again: what was added is already there; the rest imports now.
  await page.getByRole('button', { name: 'Choose another file' }).click();
  await chooseFile(page, 'glucose-meter.json', text);
  await expect(page.getByTestId('import-duplicates')).toContainText(String(kept), { timeout: 60_000 });
  await page.getByLabel('They are mine: add them to my record').check();
  await page.getByRole('button', { name: `Import ${total - kept} records` }).click();
  await expect(page.getByTestId('import-done')).toContainText(`${total - kept} records`, {
    timeout: 300_000,
  });
});
