/**
 * The clinician's figures of `npm run bench:app` (issue #49): a clinician following `patients` patients
 * with `perPatient` records each, in headless Chromium; the patients are Node devices of the real client
 * (`@hale/client` on `@hale/platform-node`, a cheap test KDF for their passphrases), every one connected to
 * the same server for the whole run, 10 to a process (app-patients.ts).
 *
 * | figure | from | to |
 * |---|---|---|
 * | workspace after unlock | the key derivation's end (the first store opened after the Unlock submit) | the first frame of the clinician's day counting every patient as shared |
 * | message to inbox | a patient's `care.messages.send` called (wall clock) | the first frame of the clinician's inbox showing its words (wall clock of the page) |
 *
 * Failure modes: a patient whose grant or records are refused stops the run (nothing skipped silently).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { openHale } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';
import { expect, type Browser, type Page } from '@playwright/test';
import { go, installProbe, seen, until, watch } from './app-browser';
import { PER_PROCESS, type GroupAnswer, type GroupConfig, type GroupMessage } from './app-patients';
import { measureUnlock, PASSPHRASE } from './app-patient';
import { profiled } from './app-profile';
import { recordFrames, timeline } from './app-frames';
import { median, p95, type Figure } from './app-report';

export interface CareShape {
  readonly patients: number;
  readonly perPatient: number;
  readonly messages: number;
}

const log = (line: string): void => console.log(`  ${line}`);
const CLINICIAN = 'Dr Bench Okafor';

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

/** A process holding `count` patients (app-patients.ts); resolves once they are ready. */
function startGroup(config: GroupConfig): Promise<PatientGroup> {
  const child = fork(path.join(import.meta.dirname, 'app-patients.ts'), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A run that stops (an error, ^C) takes its patients with it.
  process.once('exit', () => child.kill());
  const waiting: ((a: GroupAnswer) => void)[] = [];
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => code !== 0 && reject(new Error(`a patient group exited with ${code}`)));
    child.on('message', (a: GroupAnswer) => {
      if ('ready' in a) {
        resolve({
          count: a.ready,
          send: (send, body) =>
            new Promise((done) => {
              waiting.push(done);
              child.send({ send, body } satisfies GroupMessage);
            }),
          close: () =>
            new Promise((done) => {
              child.once('exit', () => done());
              child.send({ close: true } satisfies GroupMessage);
            }),
        });
      } else if ('failed' in a) {
        reject(new Error(`a patient group: ${a.failed}`));
        waiting.shift()?.(a);
      } else waiting.shift()?.(a);
    });
  });
}

interface PatientGroup {
  readonly count: number;
  send(index: number, body: string): Promise<GroupAnswer>;
  close(): Promise<void>;
}

/** Patient `index` of `group` sends a message; answers the time until the clinician's inbox shows it. */
async function arrival(
  page: Page,
  origin: number,
  group: PatientGroup | undefined,
  index: number,
  words: string,
): Promise<number> {
  if (group === undefined) throw new Error('no patients');
  const body = `${words} ${Math.random().toString(36).slice(2, 8)}`;
  await watch(
    page,
    '__msg',
    `Array.from(document.querySelectorAll('[data-testid=thread-row]')).some((r) => (r.textContent ?? '').includes(${JSON.stringify(body)}))`,
  );
  const answer = await Promise.race([
    group.send(index, body),
    new Promise<GroupAnswer>((r) => setTimeout(() => r({ failed: 'no answer in 120 s' }), 120_000)),
  ]);
  if (!('sent' in answer)) throw new Error(`a patient could not send: ${JSON.stringify(answer)}`);
  return origin + (await seen(page, '__msg', 300_000)) - answer.at;
}

/** Patients send `n` messages one after another; answers each one's time to the clinician's inbox. */
async function measureMessages(page: Page, groups: readonly PatientGroup[], n: number, frames = false) {
  // `--frames`: the socket's frames from here to the first message's arrival, printed as a timeline.
  const stopFrames = frames ? await recordFrames(page) : null;
  const stepStart = Date.now();
  await go(page, '/care/messages');
  await until(page, `document.querySelector('[data-testid=inbox-unread]') !== null`);
  const origin = await page.evaluate<number>('performance.timeOrigin');
  // After an unlock the device checks every stream it follows again; a message is timed once it is in sync.
  const settling = performance.now();
  await until(
    page,
    `document.querySelector('[data-testid=sync-badge]')?.getAttribute('data-tone') === 'teal'`,
    900_000,
  );
  const inSyncMs = performance.now() - settling;
  log(`in sync ${inSyncMs.toFixed(0)} ms after the last unlock's workspace showed`);
  // The inbox's first arrival (its first thread, a patient's first message) is timed apart: the
  // figure is the steady state, one patient's message after another's.
  const sentAt = Date.now();
  const first = await arrival(page, origin, groups[0], 0, 'Bench message, the first');
  log(`first message: ${first.toFixed(0)} ms`);
  if (stopFrames) {
    log(`frames from the inbox's opening (0); the first message sent at ${sentAt - stepStart} ms:`);
    console.log(timeline(await stopFrames(), stepStart));
  }
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const group = groups[(i * 7) % groups.length];
    if (group === undefined) break;
    const time = await arrival(page, origin, group, (i * 3) % group.count, `Bench message ${i}`);
    times.push(time);
    log(`message ${i + 1}: ${time.toFixed(0)} ms`);
    await page.waitForTimeout(150);
  }
  log(`messages: p95 ${p95(times).toFixed(0)} ms over ${times.length}`);
  return { first, times, inSyncMs };
}

export async function runClinician(
  browser: Browser,
  server: string,
  shape: CareShape,
  options: { readonly rounds: number; readonly profile?: string; readonly frames?: boolean },
): Promise<{ figures: Figure[]; extra: Record<string, number> }> {
  const clinician = await createClinician(server);
  const groups: PatientGroup[] = [];
  const context = await browser.newContext({ baseURL: server, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await installProbe(page);
  try {
    const seedStart = performance.now();
    // A few groups at a time: each process's start (tsx) and its patients' key work share the 2 cores.
    for (let from = 0; from < shape.patients; from += PER_PROCESS * 3) {
      const starting: Promise<PatientGroup>[] = [];
      for (let g = from; g < Math.min(shape.patients, from + PER_PROCESS * 3); g += PER_PROCESS) {
        const count = Math.min(PER_PROCESS, shape.patients - g);
        starting.push(
          startGroup({
            server,
            clinicianId: clinician.accountId,
            from: g,
            count,
            perPatient: shape.perPatient,
          }),
        );
      }
      groups.push(...(await Promise.all(starting)));
      log(`patients ready: ${groups.reduce((n, g) => n + g.count, 0)} of ${shape.patients}`);
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
      measureMessages(page, groups, shape.messages, options.frames === true),
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
          value: p95(messages.times),
          unit: 'ms',
          bar: 1000,
        },
      ],
      extra: {
        seedMs,
        joinAndSyncMs: joinMs,
        workspaceUnlockWithKdfMedianMs: median(w.total),
        inSyncAfterUnlockMs: messages.inSyncMs,
        firstMessageMs: messages.first,
        messageMedianMs: median(messages.times),
        messageMaxMs: Math.max(...messages.times),
        messageSamples: messages.times.length,
      },
    };
  } finally {
    await context.close();
    await Promise.all(groups.map((g) => g.close()));
  }
}
