/**
 * The clinician's figures of `npm run bench:app` (issue #49): a clinician following `patients` patients
 * with `perPatient` records each, in headless Chromium; the patients are Node devices of the real client
 * (`@hale/client` on `@hale/platform-node`, a cheap test KDF for their passphrases), every one connected to
 * the same server for the whole run.
 *
 * | figure | from | to |
 * |---|---|---|
 * | workspace after unlock | the key derivation's end (the first store opened after the Unlock submit) | the first frame of the clinician's day counting every patient as shared |
 * | message to inbox | a patient's `care.messages.send` called (wall clock) | the first frame of the clinician's inbox showing its words (wall clock of the page) |
 *
 * Failure modes: a patient whose grant or records are refused stops the run (nothing skipped silently).
 */
import { openHale, type HaleSession } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { exampleInput, RECORD_KINDS } from '@hale/model';
import { nodePlatform } from '@hale/platform-node';
import { expect, type Browser, type Page } from '@playwright/test';
import { go, installProbe, seen, until, watch } from './app-browser';
import { chartRecords, writeChart } from './app-chart';
import { measureUnlock, PASSPHRASE } from './app-patient';
import { profiled } from './app-profile';
import { median, p95, type Figure } from './app-report';

export interface CareShape {
  readonly patients: number;
  readonly perPatient: number;
  readonly messages: number;
}

const log = (line: string): void => console.log(`  ${line}`);
const CLINICIAN = 'Dr Bench Okafor';

/** The streams a patient's bench chart writes to, each granted read (messages write, for replies). */
const grantScope = (perPatient: number) => {
  const types = new Set<string>(['profile', 'message']);
  for (const [kind] of chartRecords(chartOf(perPatient))) {
    const stream = RECORD_KINDS[kind].streamType;
    if (stream !== null) types.add(stream);
  }
  return [...types].map((type) => ({ type, access: type === 'message' ? 'write' : 'read' }) as const);
};

/** Half labs (series of 100, or one series when fewer), half the other kinds. */
const chartOf = (perPatient: number) => {
  const points = Math.min(100, Math.max(1, Math.floor(perPatient / 2)));
  return { total: perPatient, series: Math.floor(perPatient / 2 / points), points, longPoints: 0 };
};

async function createClinician(server: string): Promise<{ loginName: string; accountId: string }> {
  const hale = await openHale({ server, platform: nodePlatform() });
  const loginName = `bench-dr-${Date.now().toString(36)}`;
  const { session } = await hale.createAccount({
    role: 'provider',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'clinic desk',
  });
  try {
    await session.directory.publishProfile({
      displayName: CLINICIAN,
      specialty: 'Family medicine',
      clinic: 'Harbour Clinic',
      identifier: '',
    });
    return { loginName, accountId: session.account.accountId };
  } finally {
    await session.close();
  }
}

/** One patient on a Node device: account, profile, grant to the clinician, chart; left open (connected). */
async function openPatient(
  server: string,
  clinicianId: string,
  i: number,
  perPatient: number,
): Promise<HaleSession> {
  const hale = await openHaleForTests({ server, platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName: `bench-p${i}-${Date.now().toString(36)}`,
    deviceName: 'phone',
  });
  await session.records.add(
    'Profile',
    exampleInput('Profile', { fullName: `Patient ${String(i).padStart(3, '0')}` }) as never,
  );
  await session.consent.verifyProvider(clinicianId);
  await session.consent.grant({
    granteeId: clinicianId,
    scope: grantScope(perPatient) as never,
    durationMs: 365 * 24 * 3_600_000,
    purpose: 'bench: ongoing care',
  });
  await writeChart(session, chartOf(perPatient - 1));
  await session.sync.awaitInSync();
  return session;
}

async function joinClinician(page: Page, loginName: string, patients: number): Promise<number> {
  const started = performance.now();
  await page.goto('/');
  await page.getByRole('link', { name: 'Add this device' }).click();
  await page.getByLabel('Sign-in name').fill(loginName);
  await page.getByRole('textbox', { name: 'Passphrase' }).fill(PASSPHRASE);
  await page.getByLabel('Name of this device').fill('Bench clinic browser');
  await page.getByRole('button', { name: 'Add this device' }).click();
  await page.waitForURL(/\/workspace\/today$/, { timeout: 120_000 });
  await expect(page.getByTestId('home-patients')).toContainText(`${patients} active`, { timeout: 600_000 });
  await expect(page.getByTestId('sync-badge')).toHaveAttribute('data-tone', 'teal', { timeout: 1_800_000 });
  return performance.now() - started;
}

const workspaceUsable = (patients: number): string => `location.pathname === '/workspace/today'
  && (document.querySelector('[data-testid=home-patients]')?.textContent ?? '').includes('${patients} active')`;

/** Patients send `n` messages one after another; answers each one's time to the clinician's inbox. */
async function measureMessages(page: Page, patients: readonly HaleSession[], clinicianId: string, n: number) {
  await go(page, '/care/messages');
  await until(page, `document.querySelector('[data-testid=inbox-unread]') !== null`);
  const origin = await page.evaluate<number>('performance.timeOrigin');
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const patient = patients[(i * 37) % patients.length];
    if (patient === undefined) break;
    const body = `Bench message ${i} ${Math.random().toString(36).slice(2, 8)}`;
    await watch(
      page,
      '__msg',
      `(document.querySelector('ul[role=list]')?.textContent ?? '').includes(${JSON.stringify(body)})`,
    );
    const sent = performance.timeOrigin + performance.now();
    await patient.care.messages.send({ to: clinicianId, body });
    const shown = origin + (await seen(page, '__msg', 30_000));
    times.push(shown - sent);
    await page.waitForTimeout(150);
  }
  log(`messages: p95 ${p95(times).toFixed(0)} ms over ${times.length}`);
  return times;
}

export async function runClinician(
  browser: Browser,
  server: string,
  shape: CareShape,
  options: { readonly rounds: number; readonly profile?: string },
): Promise<{ figures: Figure[]; extra: Record<string, number> }> {
  const clinician = await createClinician(server);
  const patients: HaleSession[] = [];
  const context = await browser.newContext({ baseURL: server, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await installProbe(page);
  try {
    const seedStart = performance.now();
    for (let i = 0; i < shape.patients; i += 10) {
      const batch = Array.from({ length: Math.min(10, shape.patients - i) }, (_, j) =>
        openPatient(server, clinician.accountId, i + j, shape.perPatient),
      );
      patients.push(...(await Promise.all(batch)));
      log(`patients ready: ${patients.length} of ${shape.patients}`);
    }
    const seedMs = performance.now() - seedStart;
    const joinMs = await joinClinician(page, clinician.loginName, shape.patients);
    log(
      `clinician browser joined and synced ${shape.patients * shape.perPatient} records in ${(joinMs / 1000).toFixed(1)} s`,
    );
    const w = await profiled(page, options.profile, 'workspace-unlock', () =>
      measureUnlock(page, options.rounds, workspaceUsable(shape.patients)),
    );
    const messages = await profiled(page, options.profile, 'messages', () =>
      measureMessages(page, patients, clinician.accountId, shape.messages),
    );
    const size = `${shape.patients} patients × ${shape.perPatient}`;
    return {
      figures: [
        {
          name: `workspace usable after unlock, less the KDF (${size}, median)`,
          value: median(w.afterKdf),
          unit: 'ms',
          bar: 2000,
        },
        {
          name: `message → clinician's inbox, p95 (${shape.patients} connected)`,
          value: p95(messages),
          unit: 'ms',
          bar: 1000,
        },
      ],
      extra: {
        seedMs,
        joinAndSyncMs: joinMs,
        workspaceUnlockWithKdfMedianMs: median(w.total),
        messageMedianMs: median(messages),
        messageMaxMs: Math.max(...messages),
        messageSamples: messages.length,
      },
    };
  } finally {
    await context.close();
    for (const p of patients) await p.close();
  }
}
