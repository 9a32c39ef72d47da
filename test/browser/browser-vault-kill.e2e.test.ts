// The browser device's vault is on disk when a join reports success: Chromium SIGKILLed right after the
// join, then started again on the same profile, reopens the device with the passphrase (offline unlock
// from the vault) and syncs. Before the vault moved to IndexedDB with strict durability it lived in
// localStorage, which Chromium writes to disk seconds later: a kill then left NO_ACCOUNT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { useServer } from '../support/fixture';
import {
  Nothing,
  PASSPHRASE,
  WAIT_MS,
  call,
  killBrowser,
  launchBrowser,
  loadPage,
  nodePatientDevice,
  requireChromium,
} from './harness';
import { bundleBrowserDevice, servePage, type PageServer } from './page-server';

const Joined = Type.Object(
  { accountId: Type.String(), deviceId: Type.String() },
  { additionalProperties: true },
);
const Reopened = Type.Object({ opened: Type.Boolean(), code: Type.String(), message: Type.String() });

describe('a browser device killed right after it joined', () => {
  const serverConfig: { allowedOrigins: string[] } = { allowedOrigins: [] };
  const fixture = useServer({ config: serverConfig });
  let origin: PageServer | null = null;
  beforeAll(async () => {
    origin = await servePage(await bundleBrowserDevice());
    serverConfig.allowedOrigins = [origin.url];
  });
  afterAll(async () => {
    await origin?.close();
  });

  it('reopens with its passphrase after Chromium restarts on the same profile, and syncs', async () => {
    requireChromium();
    const { t, sessions } = fixture;
    const pageUrl = origin!.url;
    const loginName = `kill.${Date.now().toString(36)}`;
    const { account, node } = await nodePatientDevice(t.url, loginName);
    sessions.push(node);

    const first = await launchBrowser('hale-chromium-kill-');
    let second: Awaited<ReturnType<typeof launchBrowser>> | null = null;
    try {
      const page = first.context.pages()[0] ?? (await first.context.newPage());
      await loadPage(page, pageUrl);
      const joined = await call(page, Joined, 'join', {
        serverUrl: t.url,
        loginName,
        passphrase: PASSPHRASE,
        deviceName: 'Chromium',
        worker: false,
      });
      expect(joined.accountId).toBe(account.accountId);
      // At once: no close, no flush, no time for the browser to write anything it holds back.
      await killBrowser(first.profile);
      await first.context.close().catch(() => undefined);

      second = await launchBrowser('', { profile: first.profile });
      const again = second.context.pages()[0] ?? (await second.context.newPage());
      await loadPage(again, pageUrl);
      const reopened = await call(again, Reopened, 'tryReopen', {
        serverUrl: t.url,
        passphrase: PASSPHRASE,
        worker: false,
      });
      expect(reopened).toEqual({ opened: true, code: '', message: '' });
      expect(await call(again, Type.String(), 'waitOnline', WAIT_MS)).toBe('online');
      // The reopened device is the one that joined, and it still writes and syncs.
      const medication = await node.records.add('Medication', {
        name: 'Metformin',
        dose: '500 mg',
        frequency: 'twice daily',
        active: true,
      });
      const seen = await call(
        again,
        Type.Union([Type.Object({ kind: Type.String() }, { additionalProperties: true }), Nothing]),
        'waitFor',
        medication.id,
        WAIT_MS,
      );
      expect(seen?.kind).toBe('Medication');
      await call(again, Nothing, 'close');
    } finally {
      if (second) await second.close();
      else await first.close().catch(() => undefined);
    }
  });
});
