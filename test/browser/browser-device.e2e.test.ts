// The device library in real Chromium: a patient's second device joins with the passphrase in a browser
// page (test/browser/device-page.ts, bundled for the browser by esbuild) over Dexie on Chromium's own
// IndexedDB, the browser's WebSocket and fetch, WebCrypto Ed25519 where Chromium has it, and a vault in
// localStorage; a Node device of the same account syncs with it through a real server on a loopback port.
// The page is served from another origin than the server's API (test/browser/page-server.ts), which the
// server lets through because it is in `allowedOrigins`: CORS on every HTTP call, the WebSocket's `Origin`.
// Debian's Chromium (/usr/bin/chromium, or HALE_CHROMIUM) is required: without it every case fails, saying
// how to install it.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { docRow } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually } from '../support/devices';
import { bundleBrowserDevice, servePage, type PageServer } from './page-server';
import {
  Nothing,
  PASSPHRASE,
  WAIT_MS,
  call,
  launchBrowser,
  loadPage,
  nodePatientDevice,
  requireChromium,
} from './harness';

// What the page answers, checked as it crosses from the browser.
const Opened = Type.Object(
  { accountId: Type.String(), deviceId: Type.String(), dbName: Type.String() },
  { additionalProperties: false },
);
const Joined = Type.Object(
  {
    accountId: Type.String(),
    deviceId: Type.String(),
    dbName: Type.String(),
    ed: Type.String(),
    secretbox: Type.String(),
  },
  { additionalProperties: false },
);
const Shown = Type.Union([
  Type.Null(),
  Type.Object({
    kind: Type.String(),
    author: Type.String(),
    record: Type.Record(Type.String(), Type.Unknown()),
  }),
]);
const SyncShown = Type.Object({
  status: Type.String(),
  pendingWrites: Type.Number(),
  initialSync: Type.Object({ done: Type.Number(), total: Type.Number() }),
});
const Counts = Type.Record(Type.String(), Type.Number());
const Served = Type.Object({ pulled: Counts, changes: Counts });
const Dump = Type.Object({
  databases: Type.Array(
    Type.Object({
      name: Type.String(),
      stores: Type.Array(Type.Object({ name: Type.String(), rows: Type.Number() })),
    }),
  ),
  text: Type.String(),
});

/** Every file under `dir`, as one latin1 string (ASCII text stored in them reads as itself). */
const readTree = async (dir: string): Promise<string> => {
  let out = '';
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += (await readFile(path.join(e.parentPath, e.name))).toString('latin1');
  }
  return out;
};

describe('the device library in real Chromium', () => {
  // Filled in once the page has its port, before the first test's server starts (beforeEach).
  const serverConfig: { allowedOrigins: string[] } = { allowedOrigins: [] };
  const fixture = useServer({ config: serverConfig });
  let origin: PageServer;

  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    origin = await servePage(await bundleBrowserDevice());
    cleanups.push(() => origin.close());
    serverConfig.allowedOrigins = [origin.url];
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  const scenario = async (worker: boolean) => {
    requireChromium();
    const { t, sessions } = fixture;
    const marker = `plaintext-marker-${Math.random().toString(36).slice(2)}`;
    const loginName = `browser.${Date.now().toString(36)}${worker ? 'w' : 'i'}`;

    // (a) The account is created on a Node device, which opens its session.
    const { account, node } = await nodePatientDevice(t.url, loginName);
    sessions.push(node);

    // The browser, with a profile on disk: IndexedDB and localStorage persist as an installed app's do.
    // Another origin than the server's (another port): every call of the page is a cross-origin one.
    expect(new URL(origin.url).origin).not.toBe(new URL(t.url).origin);
    const browser = await launchBrowser('hale-chromium-');
    const { context } = browser;
    const pageErrors: string[] = [];
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await loadPage(page, origin.url);

      // (a) The second device joins in the browser with the passphrase.
      const joined = await call(page, Joined, 'join', {
        serverUrl: t.url,
        loginName,
        passphrase: PASSPHRASE,
        deviceName: 'Chromium',
        worker,
      });
      expect(joined.accountId).toBe(account.accountId);
      expect(joined.deviceId).not.toBe(account.device.deviceId);
      // libsodium's WebAssembly build loads in Chromium: the page seals with it (the worker entry too).
      expect(joined.secretbox).toBe('libsodium');
      expect(await call(page, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      const { deviceId: browserDevice } = joined;

      // (b) An allergy written in the browser reaches the Node device, same content, by the browser device.
      const notes = `itchy rash; ${marker}`;
      const allergyId = await call(page, Type.String(), 'addAllergy', { substance: 'Latex', notes });
      await eventually(
        async () => (await node.records.get(allergyId)) !== null,
        'Node has the allergy',
        WAIT_MS,
      );
      const onNode = await node.records.get<'Allergy'>(allergyId);
      expect(onNode?.author).toBe(browserDevice);
      expect(onNode?.record.substance).toBe('Latex');
      expect(onNode?.record.notes).toBe(notes);

      // (c) A medication written on Node reaches the browser, decrypted there.
      const medication = await node.records.add('Medication', {
        name: 'Lisinopril',
        dose: '10 mg',
        frequency: 'once daily',
        active: true,
      });
      const medInBrowser = await call(page, Shown, 'waitFor', medication.id, WAIT_MS);
      expect(medInBrowser?.kind).toBe('Medication');
      expect(medInBrowser?.author).toBe(account.device.deviceId);
      expect(medInBrowser?.record).toMatchObject({
        name: 'Lisinopril',
        dose: '10 mg',
        frequency: 'once daily',
      });

      // (d) Written offline in the browser: kept locally, not on the server, until the device is back.
      await call(page, Nothing, 'goOffline');
      const offlineId = await call(page, Type.String(), 'addAllergy', {
        substance: 'Peanut',
        notes: 'offline',
      });
      const offline = await call(page, SyncShown, 'state');
      expect(offline.status).toBe('stopped');
      expect(offline.pendingWrites).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(docRow(t.store, `${account.accountId}/allergy`, offlineId)).toBeUndefined();
      expect(await node.records.get(offlineId)).toBeNull();
      await call(page, Nothing, 'goOnline');
      await call(page, Nothing, 'waitPushed', WAIT_MS);
      await eventually(async () => (await node.records.get(offlineId)) !== null, 'Node has it', WAIT_MS);
      expect((await node.records.get<'Allergy'>(offlineId))?.record.substance).toBe('Peanut');

      // Caught up again (the catch-up after reconnecting may end after the push) before closing.
      expect(await call(page, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      // What the first page load was served: the medication came over the wire (the counting works).
      const before = await call(page, Served, 'served');
      expect(
        (before.pulled[medication.id] ?? 0) + (before.changes[medication.id] ?? 0),
      ).toBeGreaterThanOrEqual(1);

      if (worker) {
        // The first page load's cryptography went to the Web Worker: at-rest seals, wire seals and opens
        // (its records were read from RxDB's cache: the at-rest opens come after the reload).
        const jobs = await call(page, Counts, 'workerJobs');
        const ops = ['seal', 'wireSeal', 'wireOpen'];
        expect(ops.filter((op) => (jobs[op] ?? 0) === 0)).toEqual([]);
        // ... and ran there: the offload never fell back to the page's thread.
        expect(await call(page, Type.Union([Type.String(), Type.Null()]), 'workerFallback')).toBeNull();
      }

      // (e) The page reloads and the device reopens from the same IndexedDB, unlocked with the passphrase
      // from the vault: the records are there, decrypted, and none of them is served again.
      await call(page, Nothing, 'close');
      await loadPage(page, origin.url);
      const reopened = await call(page, Opened, 'reopen', {
        serverUrl: t.url,
        passphrase: PASSPHRASE,
        worker,
      });
      expect(reopened).toEqual({
        accountId: joined.accountId,
        deviceId: joined.deviceId,
        dbName: joined.dbName,
      });
      const ids = [allergyId, medication.id, offlineId];
      expect(new Set(await call(page, Type.Array(Type.String()), 'list'))).toEqual(new Set(ids));
      expect(await call(page, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      const after = await call(page, Served, 'served');
      for (const id of ids)
        expect({ id, pulled: after.pulled[id] ?? 0, live: after.changes[id] ?? 0 }).toEqual({
          id,
          pulled: 0,
          live: 0,
        });
      // Decrypted, the note holds the marker (so its absence below is the sealing, not a lost note).
      const allergyAgain = await call(page, Shown, 'get', allergyId);
      expect(allergyAgain?.record).toMatchObject({ substance: 'Latex', notes });

      // (f) At rest: no row of any IndexedDB database of the origin holds the note's marker in clear,
      // though the rows are there (the allergy's id, kept clear for indexing, is).
      const dump = await call(page, Dump, 'dumpIndexedDb');
      const recordsDb = dump.databases.find(
        (d) => d.name.startsWith(`rxdb-dexie-${joined.dbName}-`) && d.name.endsWith('-records'),
      );
      expect(recordsDb?.stores.find((s) => s.name === 'docs')?.rows).toBe(ids.length);
      expect(dump.text).toContain(allergyId);
      expect(dump.text).not.toContain(marker);

      if (worker) {
        // The reopened device read its records through the worker too.
        expect((await call(page, Counts, 'workerJobs')).open ?? 0).toBeGreaterThan(0);
      }
      expect(pageErrors).toEqual([]);
      await call(page, Nothing, 'close');
      await context.close();
      // And Chromium's files of the origin's IndexedDB on disk, read byte by byte: the id is there, the
      // marker is not.
      const onDisk = await readTree(path.join(browser.profile, 'Default', 'IndexedDB'));
      expect(onDisk).toContain(allergyId);
      expect(onDisk).not.toContain(marker);
    } finally {
      await browser.close();
    }
  };

  it('joins, syncs both ways, works offline and reopens from IndexedDB, sealed at rest (crypto in the page)', async () => {
    await scenario(false);
  }, 180_000);

  it('does the same with its cryptography on a Web Worker', async () => {
    await scenario(true);
  }, 180_000);
});
