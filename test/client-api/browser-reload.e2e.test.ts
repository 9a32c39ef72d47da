// A web app on the public surface in real Chromium (test/browser/hale-app-page.ts: `openHale` over
// `webPlatform`): it creates an account, writes records with the device offline (so only the browser's
// IndexedDB holds them), the page is RELOADED (every object in memory gone), the person unlocks with the
// passphrase, and the records read back from IndexedDB, searchable. A wrong passphrase after the reload is
// refused WRONG_PASSPHRASE. Debian's Chromium (/usr/bin/chromium, or HALE_CHROMIUM) is required.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { validate } from '@hale/protocol';
import { useServer } from '../support/fixture';
import { bundleBrowserDevice, servePage, type PageServer } from '../browser/page-server';
import { PASSPHRASE, WAIT_MS, launchBrowser, requireChromium } from '../browser/harness';
import type { HaleAppPage } from '../browser/hale-app-page';

/** Calls `globalThis.haleApp[name](...args)` in the page and checks its answer against `schema`. */
const call = async <T extends TSchema>(
  page: Page,
  schema: T,
  name: keyof HaleAppPage,
  ...args: unknown[]
): Promise<Static<T>> => {
  const answer: unknown = await page.evaluate(
    `globalThis.haleApp[${JSON.stringify(name)}](...${JSON.stringify(args)})`,
  );
  const checked = validate(schema, answer);
  if (!checked.ok) throw new Error(`page answered ${name} unexpectedly: ${checked.error.message}`);
  return checked.value;
};

const loaded = async (page: Page, url: string, reload = false): Promise<void> => {
  if (reload) await page.reload();
  else await page.goto(url);
  await page.waitForFunction('typeof globalThis.haleApp === "object"', undefined, { timeout: WAIT_MS });
};

const Allergies = Type.Array(Type.Object({ id: Type.String(), substance: Type.String() }));
const Unlocked = Type.Union([
  Type.Object({ accountId: Type.String() }),
  Type.Object({ error: Type.String() }),
]);

describe('a web app on openHale and @hale/platform-web, in real Chromium', () => {
  const serverConfig: { allowedOrigins: string[] } = { allowedOrigins: [] };
  const fixture = useServer({ config: serverConfig, realClock: true });
  let origin: PageServer;
  beforeAll(async () => {
    origin = await servePage(await bundleBrowserDevice('hale-app-page.ts'));
    serverConfig.allowedOrigins = [origin.url];
  });
  afterAll(async () => {
    await origin?.close();
  });

  it('writes offline, survives a reload, unlocks with the passphrase and reads back from IndexedDB', async () => {
    requireChromium();
    const { t } = fixture;
    const browser = await launchBrowser('hale-app-');
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await loaded(page, origin.url);
      expect(await call(page, Type.Boolean(), 'hasAccount', t.url)).toBe(false);
      const created = await call(
        page,
        Type.Object({ accountId: Type.String(), saved: Type.Boolean() }),
        'createAccount',
        t.url,
        PASSPHRASE,
      );
      expect(created.saved).toBe(true);

      // Offline: what follows is held by the browser's IndexedDB alone.
      await call(page, Type.Undefined(), 'goOffline');
      const ids = [
        await call(page, Type.String(), 'addAllergy', 'Penicillin'),
        await call(page, Type.String(), 'addAllergy', 'Latex'),
      ];
      expect(
        await call(page, Type.Object({ status: Type.String(), pendingWrites: Type.Number() }), 'state'),
      ).toEqual({
        status: 'stopped',
        pendingWrites: 2,
      });
      const onServer = t.store.db
        .prepare('SELECT count(*) AS n FROM docs WHERE stream = ?')
        .get(`${created.accountId}/allergy`) as { n: number };
      expect(onServer.n).toBe(0);

      // The page reloads: the session, its keys and every object in memory are gone.
      await loaded(page, origin.url, true);
      expect(await call(page, Type.Boolean(), 'hasAccount', t.url)).toBe(true);
      expect(await call(page, Unlocked, 'unlock', t.url, `${PASSPHRASE} (not quite)`)).toEqual({
        error: 'WRONG_PASSPHRASE',
      });
      expect(await call(page, Unlocked, 'unlock', t.url, PASSPHRASE)).toEqual({
        accountId: created.accountId,
      });
      expect(await call(page, Allergies, 'allergies')).toEqual([
        { id: ids[0], substance: 'Penicillin' },
        { id: ids[1], substance: 'Latex' },
      ]);
      expect(await call(page, Type.Array(Type.String()), 'search', 'penic')).toEqual(['Allergy:substance']);
      await call(page, Type.Undefined(), 'close');
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
