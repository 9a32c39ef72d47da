// One device opened in two tabs of one browser (test/browser/device-page.ts in real Chromium, one profile):
// the device is a single writer (one audit chain, one outbox, one pending list, one sync position), so its
// session is exclusive across tabs through the Web Lock the page injects. A second tab is refused
// SESSION_ALREADY_OPEN and opens no socket; once the first tab closes its session, or its page dies, the
// second opens and sends every write the first made, one made offline too; the audit chain cannot fork.
// Before the lock, the second tab opened beside the first: an offline write of the first was never sent,
// and alternating audit entries reused a chain position (the Node device's audit.verify() failed).
// Debian's Chromium (/usr/bin/chromium, or HALE_CHROMIUM) is required: without it every case fails.
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '@hale/protocol';
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
const Outcome = Type.Object(
  { opened: Type.Boolean(), code: Type.String(), message: Type.String() },
  { additionalProperties: false },
);
describe('one device in two tabs of a browser', () => {
  const serverConfig: { allowedOrigins: string[] } = { allowedOrigins: [] };
  const fixture = useServer({ config: serverConfig });
  let origin: PageServer;
  beforeAll(async () => {
    origin = await servePage(await bundleBrowserDevice());
    serverConfig.allowedOrigins = [origin.url];
  });
  afterAll(async () => origin?.close());

  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  /** A Node device of a new account, and the account's browser device joined and online in tab A. */
  const setup = async () => {
    requireChromium();
    const { t, sessions } = fixture;
    const loginName = `tabs.${Date.now().toString(36)}`;
    const { node } = await nodePatientDevice(t.url, loginName);
    sessions.push(node);

    // WebSocket upgrades the pages asked the server for (the Node device sends no Origin).
    let upgrades = 0;
    const countUpgrade = (req: IncomingMessage): void => {
      if (req.headers.origin === origin.url) upgrades++;
    };
    t.server.app.server.on('upgrade', countUpgrade);
    cleanups.push(async () => t.server.app.server.off('upgrade', countUpgrade));

    const { context, close } = await launchBrowser('hale-chromium-tabs-');
    cleanups.push(close);
    const pageErrors: string[] = [];
    const newTab = async (): Promise<Page> => {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await loadPage(page, origin.url);
      return page;
    };
    const A = await newTab();
    const joined = await call(A, Joined, 'join', {
      serverUrl: t.url,
      loginName,
      passphrase: PASSPHRASE,
      deviceName: 'Chromium',
      worker: false,
    });
    expect(await call(A, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
    const reopen = { serverUrl: t.url, passphrase: PASSPHRASE, worker: false };
    /** Opens the device in `page` once no other tab holds it (a dead tab's lock goes back a moment later). */
    const openWhenFree = async (page: Page): Promise<void> => {
      let last: Static<typeof Outcome> | null = null;
      await eventually(
        async () => {
          last = await call(page, Outcome, 'tryReopen', reopen);
          return last.opened || last.code !== 'SESSION_ALREADY_OPEN';
        },
        'the device opens in the other tab',
        WAIT_MS,
      );
      expect(last).toMatchObject({ opened: true });
    };
    const addAllergy = (page: Page, substance: string) =>
      call(page, Type.String(), 'addAllergy', { substance, notes: substance });
    return {
      t,
      node,
      A,
      joined,
      reopen,
      newTab,
      openWhenFree,
      addAllergy,
      pageErrors,
      upgrades: () => upgrades,
    };
  };

  it('a second tab is refused SESSION_ALREADY_OPEN, opens no socket, and the first keeps working', async () => {
    const s = await setup();
    const B = await s.newTab();
    const socketsBefore = s.upgrades();

    const outcome = await call(B, Outcome, 'tryReopen', s.reopen);
    // Time for a socket the refused open might have started to reach the server.
    await new Promise((r) => setTimeout(r, 1500));

    expect(outcome).toMatchObject({ opened: false, code: 'SESSION_ALREADY_OPEN' });
    expect(outcome.message).toContain('another tab or window');
    expect(await call(B, Type.Boolean(), 'isOpen')).toBe(false);
    expect(s.upgrades()).toBe(socketsBefore);

    const id = await s.addAllergy(s.A, 'Latex');
    await eventually(async () => (await s.node.records.get(id)) !== null, 'Node has A’s write', WAIT_MS);
    expect((await call(s.A, Type.Object({ status: Type.String() }), 'state')).status).toBe('online');
    expect(s.pageErrors).toEqual([]);
  }, 180_000);

  for (const end of ['closes its session', '’s page is closed without closing the session'] as const) {
    it(`once tab A${end === 'closes its session' ? ' ' : ''}${end}, tab B opens and sends every write A made, one made offline too`, async () => {
      const s = await setup();
      const B = await s.newTab();
      const first = await call(B, Outcome, 'tryReopen', s.reopen);

      const online = await s.addAllergy(s.A, 'written online in A');
      await call(s.A, Nothing, 'waitPushed', WAIT_MS);
      await call(s.A, Nothing, 'goOffline');
      const offline = await s.addAllergy(s.A, 'written offline in A');
      // Before the lock, B had a session here too, and its write moved the store's push position past
      // A's offline write.
      if (await call(B, Type.Boolean(), 'isOpen')) {
        await s.addAllergy(B, 'written in B');
        await call(B, Nothing, 'waitPushed', WAIT_MS);
        await call(B, Nothing, 'close');
      }
      if (end === 'closes its session') await call(s.A, Nothing, 'close');
      else await s.A.close({ runBeforeUnload: false });

      // B as the user would come back to it: reloaded, and the device opened there.
      await loadPage(B, origin.url);
      await s.openWhenFree(B);
      expect(await call(B, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      await eventually(
        async () => (await s.node.records.get(offline)) !== null,
        'Node has the write A made offline',
        WAIT_MS,
      );
      expect((await s.node.records.get(online))?.record.id).toBe(online);
      expect(first).toMatchObject({ opened: false, code: 'SESSION_ALREADY_OPEN' });
      await call(B, Nothing, 'close');
      expect(s.pageErrors).toEqual([]);
    }, 180_000);
  }

  it('audit entries made in turn from two tabs keep one chain: the Node device verifies it', async () => {
    const s = await setup();
    const B = await s.newTab();
    const { accountId, deviceId } = s.joined;

    // A, B, A, B, offline: each an export, whose audit entry waits in the tab's outbox. B gets no session
    // while A holds the device (before the lock it had one, and its entries reused A's chain positions).
    // A record written first: its audit entry is appended a moment later, as the other tab opens.
    await s.addAllergy(s.A, 'Latex');
    await call(s.A, Nothing, 'waitPushed', WAIT_MS);
    await new Promise((r) => setTimeout(r, 500));
    await call(s.A, Nothing, 'goOffline');
    await call(s.A, Nothing, 'exportFhir');
    const outcome = await call(B, Outcome, 'tryReopen', s.reopen);
    const inB = await call(B, Type.Boolean(), 'isOpen');
    if (inB) {
      await call(B, Nothing, 'goOffline');
      await call(B, Nothing, 'exportFhir');
    }
    await call(s.A, Nothing, 'exportFhir');
    if (inB) await call(B, Nothing, 'exportFhir');
    // Online again, each tab's next export sends its outbox.
    for (const tab of inB ? [s.A, B] : [s.A]) {
      await call(tab, Nothing, 'goOnline');
      expect(await call(tab, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      await call(tab, Nothing, 'exportFhir');
    }
    await call(s.A, Nothing, 'close');
    // Then B has the device, and continues its one chain.
    if (!inB) await s.openWhenFree(B);
    expect(await call(B, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
    await call(B, Nothing, 'exportFhir');
    await call(B, Nothing, 'close');

    const positions = s.t.store.db
      .prepare(
        'SELECT audit_author_seq AS pos, count(*) AS n FROM docs WHERE stream = ? AND author = ? ' +
          'GROUP BY audit_author_seq ORDER BY audit_author_seq',
      )
      .all(`${accountId}/audit`, deviceId);
    const Positions = Type.Array(Type.Object({ pos: Type.Number(), n: Type.Number() }));
    const stored = validate(Positions, positions);
    if (!stored.ok) throw new Error(`unexpected rows: ${stored.error.message}`);
    // The sign-in entry and one per export at least; each position once, none skipped.
    expect(stored.value.length).toBeGreaterThanOrEqual(4);
    expect(stored.value).toEqual(stored.value.map((_, i) => ({ pos: i + 1, n: 1 })));

    const verified = await s.node.audit.verify();
    expect({ ok: verified.ok, problems: verified.problems.map((p) => `${p.kind}: ${p.detail}`) }).toEqual({
      ok: true,
      problems: [],
    });
    expect(outcome).toMatchObject({ opened: false, code: 'SESSION_ALREADY_OPEN' });
    expect(s.pageErrors).toEqual([]);
  }, 180_000);
});
