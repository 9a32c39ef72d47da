// What the browser tests share: Debian's Chromium launched on a profile on disk, calls into the device page
// (test/browser/device-page.ts) checked against a schema as they cross from the browser, and the Node device
// of the account the browser device joins.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  createAccount,
  createHttpApi,
  memoryVault,
  openDeviceSession,
  type DeviceSession,
} from '@hale/client/advanced';
import { PRODUCTION_KDF } from '@hale/crypto';
import { validate } from '@hale/protocol';
import { createWebSocket, ed } from '../support/devices';
import type { DevicePage } from './device-page';

const CHROMIUM = process.env.HALE_CHROMIUM ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium's own connections are refused by the closed network.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const WAIT_MS = 20_000;
export const PASSPHRASE = 'river otter marmalade 1987';
export const Nothing = Type.Union([Type.Undefined(), Type.Null()]);

/**
 * Fails when Chromium is missing, saying how to install it. Called in the cases themselves, not a hook:
 * a hook's failure would report the cases as skipped.
 */
export const requireChromium = (): void => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: this test drives the browser device in real Chromium. ` +
        'Install it with `apt-get install -y chromium` (Debian), then run the test again.',
    );
  }
};

/**
 * Chromium with a new profile on disk (IndexedDB and localStorage persist as an installed app's do);
 * `close` closes it and removes the profile.
 */
export const launchBrowser = async (
  prefix: string,
  options: { profile?: string } = {},
): Promise<{ context: BrowserContext; profile: string; close: () => Promise<void> }> => {
  const profile = options.profile ?? (await mkdtemp(path.join(tmpdir(), prefix)));
  const context = await chromium
    .launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: 60_000,
    })
    .catch(async (e: unknown) => {
      await rm(profile, { recursive: true, force: true });
      throw e;
    });
  context.setDefaultTimeout(WAIT_MS);
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
};

/**
 * SIGKILLs the Chromium browser process running on `profile` (its main process, not a renderer), as a
 * crash or a phone's OS ending the app would: nothing is flushed. Answers once the process is gone.
 */
export const killBrowser = async (profile: string): Promise<void> => {
  const flag = `--user-data-dir=${profile}`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await readFile(`/proc/${entry}/cmdline`, 'utf8').then(
      (text) => text.split('\0'),
      (): string[] => [],
    );
    if (args.includes(flag) && !args.some((a) => a.startsWith('--type='))) pids.push(Number(entry));
  }
  if (pids.length !== 1)
    throw new Error(`expected one Chromium browser process on ${profile}, found ${pids.length}`);
  const pid = pids[0]!;
  process.kill(pid, 'SIGKILL');
  while (existsSync(`/proc/${pid}`)) {
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (state.split(') ')[1]?.startsWith('Z')) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** Calls `globalThis.haleDevice[name](...args)` in the page and checks its answer against `schema`. */
export const call = async <T extends TSchema>(
  page: Page,
  schema: T,
  name: keyof DevicePage,
  ...args: unknown[]
): Promise<Static<T>> => {
  const answer: unknown = await page.evaluate(
    `globalThis.haleDevice[${JSON.stringify(name)}](...${JSON.stringify(args)})`,
  );
  const checked = validate(schema, answer);
  if (!checked.ok) throw new Error(`page answered ${name} unexpectedly: ${checked.error.message}`);
  return checked.value;
};

export const loadPage = async (page: Page, url: string): Promise<void> => {
  await page.goto(url);
  await page.waitForFunction('typeof globalThis.haleDevice === "object"', undefined, { timeout: WAIT_MS });
};

/** A new patient account created on a Node device (production KDF), and that device's open session. */
export const nodePatientDevice = async (serverUrl: string, loginName: string) => {
  const nodeApi = createHttpApi({ baseUrl: serverUrl, fetch });
  const { account } = await createAccount(
    { api: nodeApi, vault: memoryVault(), ed, kdf: PRODUCTION_KDF },
    { role: 'patient', passphrase: PASSPHRASE, loginName, deviceName: 'Node laptop' },
  );
  const node: DeviceSession = await openDeviceSession({
    account,
    serverUrl,
    createWebSocket,
    storage: getRxStorageMemory(),
    getAccount: (accountId) => nodeApi.getAccount(accountId),
    getDevice: (accountId, deviceId) => nodeApi.getAccountDevice(accountId, deviceId),
    ed,
  });
  return { account, node };
};
