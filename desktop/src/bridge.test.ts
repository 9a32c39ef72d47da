// The preload's bridge over a fake ipcRenderer: fixed channels only, answers checked, and its vault used
// as @hale/client's Vault through the real main-process dispatcher.
import { describe, expect, it } from 'vitest';
import type { Vault } from '@hale/client';
import { createBridge, type IpcRendererLike } from './bridge';
import { createDesktopMain } from './desktop-main';
import { memoryFs, stubElectron } from './electron-stub.test-util';

/** An ipcRenderer wired to a started main process, as the page's frame at `url`. */
const wired = async (url = 'app://hale/') => {
  const stub = stubElectron({ saveTo: '/home/me/saved' });
  await createDesktopMain(stub.electron, {
    preloadPath: '/p.cjs',
    appDir: '/app',
    devServerUrl: null,
    fs: memoryFs(),
    platform: 'linux',
  }).start();
  const invoked: string[] = [];
  const listeners = new Map<string, Set<() => void>>();
  const ipc: IpcRendererLike = {
    invoke: (channel, request) => {
      invoked.push(channel);
      return stub.invoke(channel, request, url);
    },
    on: (channel, listener) => {
      const set = listeners.get(channel) ?? new Set();
      set.add(listener);
      listeners.set(channel, set);
    },
    removeListener: (channel, listener) => listeners.get(channel)?.delete(listener),
  };
  return { bridge: createBridge(ipc), invoked, fire: (c: string) => listeners.get(c)?.forEach((l) => l()) };
};

describe('the preload bridge', () => {
  it('offers a Vault that @hale/client takes, kept by the main process', async () => {
    const { bridge } = await wired();
    const vault: Vault = bridge.vault;
    await vault.set('hale.account', 'the record');
    expect(await vault.get('hale.account')).toBe('the record');
    await vault.delete('hale.account');
    expect(await vault.get('hale.account')).toBeNull();
  });

  it('uses only its fixed channels and exposes no way to name one', async () => {
    const { bridge, invoked } = await wired();
    await bridge.appVersion();
    await bridge.notify('Hale', 'hi');
    await bridge.saveFile({ suggestedName: 'a.json', data: new Uint8Array([1]) });
    await bridge.printEmergencyCard();
    await bridge.setReminders(
      {
        title: 'Reminder',
        day: 'Tomorrow',
        hour: 'Within the hour',
        doseTitle: 'Medicine',
        dose: 'Medicine time',
      },
      [],
      [],
    );
    expect(invoked).toEqual([
      'hale:app-version',
      'hale:notify',
      'hale:save-file',
      'hale:print-emergency-card',
      'hale:reminders',
    ]);
    expect(Object.keys(bridge).sort()).toEqual(
      [
        'appVersion',
        'notify',
        'onLock',
        'platform',
        'printEmergencyCard',
        'saveFile',
        'setReminders',
        'vault',
      ].sort(),
    );
  });

  it('hands setReminders its words, start times and dose times as copies, over hale:reminders only', async () => {
    const sent: [string, unknown][] = [];
    const bridge = createBridge({
      invoke: async (channel, request) => {
        sent.push([channel, request]);
        return { ok: true, value: null };
      },
      on: () => undefined,
      removeListener: () => undefined,
    });
    const words = {
      title: 'Reminder',
      day: 'Tomorrow',
      hour: 'Within the hour',
      doseTitle: 'Medicine',
      dose: 'Medicine time',
    };
    const starts = [Date.UTC(2026, 3, 1, 9)];
    const doses = [Date.UTC(2026, 3, 1, 8), Date.UTC(2026, 3, 1, 20)];
    await bridge.setReminders(words, starts, doses);
    expect(sent).toEqual([['hale:reminders', { words, starts, doses }]]);
    const [, request] = sent[0] ?? [];
    expect(Reflect.get(Object(request), 'doses')).not.toBe(doses);

    // Main refuses a dose time that is not one; the bridge passes the refusal on.
    const { bridge: real } = await wired();
    await expect(real.setReminders(words, [], [1.5])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(real.setReminders(words, [], doses)).resolves.toBeUndefined();
  });

  it("turns a refusal into a DesktopBridgeError with the main process's code", async () => {
    const { bridge } = await wired('https://evil.example.com/');
    await expect(bridge.appVersion()).rejects.toMatchObject({ code: 'FORBIDDEN_SENDER' });
    const ok = await wired();
    await expect(ok.bridge.notify('', 'x')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('refuses an answer that is not one (a broken or hostile main side)', async () => {
    const bridge = createBridge({
      invoke: async () => ({ ok: true, value: 42 }),
      on: () => undefined,
      removeListener: () => undefined,
    });
    await expect(bridge.appVersion()).rejects.toMatchObject({ code: 'BAD_ANSWER' });
    const worse = createBridge({
      invoke: async () => 'nope',
      on: () => undefined,
      removeListener: () => undefined,
    });
    await expect(worse.vault.get('k')).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  });

  it('calls the lock listener on hale:lock until it is stopped', async () => {
    const { bridge, fire } = await wired();
    let locks = 0;
    const stop = bridge.onLock(() => (locks += 1));
    fire('hale:lock');
    stop();
    fire('hale:lock');
    expect(locks).toBe(1);
  });
});
