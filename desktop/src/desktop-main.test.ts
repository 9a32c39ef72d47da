// The desktop main process with Electron stubbed (electron-stub.test-util.ts): window options, navigation
// and new-window refusals, the app:// files, IPC refusals (unknown channel, foreign page, bad input), the
// handlers, single instance, and the lock on OS suspend or screen lock.
import { describe, expect, it } from 'vitest';
import { createDesktopMain, registerAppScheme, serveAppFile } from './desktop-main';
import { IPC_CHANNELS } from './ipc-contract';
import { memoryFs, stubElectron } from './electron-stub.test-util';
import { CONTENT_SECURITY_POLICY } from './window';

const started = async (options: Parameters<typeof stubElectron>[0] = {}, dev: string | null = null) => {
  const stub = stubElectron(options);
  const fs = memoryFs();
  fs.files.set('/app/index.html', Buffer.from('<!doctype html><title>Hale</title>'));
  fs.files.set('/app/assets/app.js', Buffer.from('console.log(1)'));
  registerAppScheme(stub.electron);
  const main = createDesktopMain(stub.electron, {
    preloadPath: '/dist/preload.cjs',
    appDir: '/app',
    devServerUrl: dev,
    fs,
    platform: 'linux',
    externalHosts: ['hale.example.org'],
  });
  const ran = await main.start();
  return { stub, fs, main, ran, window: stub.windows[0] };
};

describe('the main window', () => {
  it('isolates the page: context isolation, sandbox, no Node anywhere, web security on', async () => {
    const { window } = await started();
    expect(window?.options.webPreferences).toEqual({
      preload: '/dist/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      spellcheck: false,
      navigateOnDragDrop: false,
    });
    expect(window?.loaded).toEqual(['app://hale/']);
  });

  it('stays on the app: navigation and redirects elsewhere refused, new windows refused', async () => {
    const { window, stub } = await started();
    expect(window?.navigate('will-navigate', 'app://hale/records/allergies')).toBe(true);
    expect(window?.navigate('will-navigate', 'https://evil.example.com/')).toBe(false);
    expect(window?.navigate('will-navigate', 'file:///etc/passwd')).toBe(false);
    expect(window?.navigate('will-redirect', 'http://127.0.0.1:8787/')).toBe(false);
    expect(window?.navigate('will-navigate', 'app://other/')).toBe(false);
    expect(window?.attachWebview()).toBe(false);
    expect(window?.open('https://evil.example.com/')).toEqual({ action: 'deny' });
    expect(window?.open('app://hale/popup')).toEqual({ action: 'deny' });
    // An https link to an allowed host opens in the OS browser, never in a window of the app.
    expect(window?.open('https://hale.example.org/help')).toEqual({ action: 'deny' });
    expect(window?.open('http://hale.example.org/help')).toEqual({ action: 'deny' });
    expect(stub.opened).toEqual(['https://hale.example.org/help']);
  });

  it('loads the dev server when told, and takes only its origin beside the app', async () => {
    const { window } = await started({}, 'http://localhost:5173');
    expect(window?.loaded).toEqual(['http://localhost:5173']);
    expect(window?.navigate('will-navigate', 'http://localhost:5173/settings')).toBe(true);
    expect(window?.navigate('will-navigate', 'http://localhost:5174/')).toBe(false);
  });

  it('grants only the permissions the app uses', async () => {
    const { stub } = await started();
    expect(stub.permission('notifications')).toBe(true);
    expect(stub.permission('media')).toBe(true);
    expect(stub.permission('geolocation')).toBe(false);
    expect(stub.permission('openExternal')).toBe(false);
  });

  it('serves app:// from the built app with the CSP, never a file outside it', async () => {
    const { stub, fs } = await started();
    expect(stub.privileged).toEqual([
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
    const serve = stub.protocols.get('app');
    const page = await serve?.({ url: 'app://hale/' });
    expect(page?.status).toBe(200);
    expect(page?.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await (await serve?.({ url: 'app://hale/assets/app.js' }))?.text()).toBe('console.log(1)');
    // A client-side route is the app's page; a missing asset is 404.
    expect((await serve?.({ url: 'app://hale/records/allergies' }))?.status).toBe(200);
    expect((await serve?.({ url: 'app://hale/assets/missing.js' }))?.status).toBe(404);
    fs.files.set('/secret.txt', Buffer.from('secret'));
    for (const url of [
      'app://hale/../secret.txt',
      'app://hale/%2e%2e/secret.txt',
      'app://hale/..%2fsecret.txt',
    ]) {
      expect((await serveAppFile(fs, '/app', { url })).status).toBe(404);
    }
    expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toContain("'unsafe-eval'");
  });
});

describe('IPC', () => {
  it('registers the listed channels only, and refuses an unknown channel at the dispatcher', async () => {
    const { stub, main } = await started();
    expect([...stub.handlers.keys()].sort()).toEqual(Object.keys(IPC_CHANNELS).sort());
    await expect(stub.invoke('hale:shell-exec', { cmd: 'rm -rf /' })).rejects.toThrow(/No handler/);
    expect(await main.dispatch('hale:shell-exec', { senderFrame: { url: 'app://hale/' } }, {})).toEqual({
      ok: false,
      code: 'UNKNOWN_CHANNEL',
      message: 'no such channel',
    });
    expect(await main.dispatch('__proto__', { senderFrame: { url: 'app://hale/' } }, {})).toMatchObject({
      code: 'UNKNOWN_CHANNEL',
    });
  });

  it('refuses a page that is not the app', async () => {
    const { stub } = await started();
    expect(await stub.invoke('hale:app-version', {}, 'https://evil.example.com/')).toMatchObject({
      ok: false,
      code: 'FORBIDDEN_SENDER',
    });
    expect(await stub.invoke('hale:vault-get', { key: 'hale.account' }, 'file:///tmp/x.html')).toMatchObject({
      code: 'FORBIDDEN_SENDER',
    });
  });

  it('refuses bad input before any handler runs', async () => {
    const { stub, fs } = await started({ saveTo: '/home/me/x' });
    const bad: [string, unknown][] = [
      ['hale:notify', { title: '', body: 'x' }],
      ['hale:notify', { title: 'x'.repeat(101), body: '' }],
      ['hale:notify', { title: 'x', body: 'y', extra: true }],
      ['hale:notify', 'just text'],
      ['hale:save-file', { suggestedName: '../../.bashrc', data: new Uint8Array(1) }],
      ['hale:save-file', { suggestedName: 'a.txt', data: 'not bytes' }],
      ['hale:save-file', { suggestedName: 'a.txt', data: new Uint8Array(1), extensions: ['p df'] }],
      ['hale:vault-set', { key: 'k', value: 42 }],
      ['hale:vault-get', { key: '' }],
      ['hale:app-version', { please: true }],
      ['hale:print-emergency-card', { suggestedName: 'C:\\Windows\\x.pdf' }],
    ];
    for (const [channel, request] of bad) {
      expect(await stub.invoke(channel, request), channel).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    }
    expect(stub.notifications).toEqual([]);
    expect([...fs.files.keys()].filter((p) => p.startsWith('/home'))).toEqual([]);
  });

  it('answers the bridge calls: notify, version, save, print to PDF', async () => {
    const { stub, fs } = await started({ saveTo: '/home/me/card.pdf' });
    expect(await stub.invoke('hale:notify', { title: 'Hale', body: 'Synced' })).toEqual({
      ok: true,
      value: null,
    });
    expect(stub.notifications).toEqual([{ title: 'Hale', body: 'Synced' }]);
    expect(await stub.invoke('hale:app-version', {})).toEqual({ ok: true, value: '0.1.0' });
    expect(
      await stub.invoke('hale:save-file', { suggestedName: 'chart.json', data: new Uint8Array([1, 2, 3]) }),
    ).toEqual({ ok: true, value: { saved: true, path: '/home/me/card.pdf' } });
    expect(await stub.invoke('hale:print-emergency-card', { suggestedName: 'card.pdf' })).toEqual({
      ok: true,
      value: { saved: true, path: '/home/me/card.pdf' },
    });
    expect(fs.files.get('/home/me/card.pdf')?.toString()).toContain('%PDF');
  });

  it("saves an export through the dialog: the app's file name and type offered, the exact bytes written", async () => {
    const { stub, fs } = await started({ saveTo: '/home/me/Documents/hale-chart-2026-01-01.json' });
    const bytes = new TextEncoder().encode('{"resourceType":"Bundle"}');
    expect(
      await stub.invoke('hale:save-file', {
        suggestedName: 'hale-chart-2026-01-01.json',
        data: bytes,
        filterName: 'FHIR JSON',
        extensions: ['json'],
      }),
    ).toEqual({ ok: true, value: { saved: true, path: '/home/me/Documents/hale-chart-2026-01-01.json' } });
    expect(stub.saveDialogs).toEqual([
      {
        defaultPath: 'hale-chart-2026-01-01.json',
        filters: [{ name: 'FHIR JSON', extensions: ['json'] }],
      },
    ]);
    expect(fs.files.get('/home/me/Documents/hale-chart-2026-01-01.json')).toEqual(Buffer.from(bytes));
  });

  it('saves nothing when the person cancels the dialog', async () => {
    const { stub, fs } = await started({ saveTo: null });
    expect(await stub.invoke('hale:save-file', { suggestedName: 'a.json', data: new Uint8Array(2) })).toEqual(
      {
        ok: true,
        value: { saved: false },
      },
    );
    expect(fs.files.size).toBe(2);
  });
});

describe('the app process', () => {
  it('runs once: a second start quits, and the first window comes forward', async () => {
    const second = await started({ singleInstance: false });
    expect(second.ran).toBe(false);
    expect(second.stub.quits()).toBe(1);
    expect(second.stub.windows).toEqual([]);
    const first = await started();
    first.stub.appEvents.get('second-instance')?.();
    expect((first.window as unknown as { focused: number }).focused).toBe(1);
  });

  it('tells the page to lock when the OS suspends or locks the screen', async () => {
    const { stub, window } = await started();
    stub.powerEvents.get('suspend')?.();
    stub.powerEvents.get('lock-screen')?.();
    expect(window?.sent).toEqual(['hale:lock', 'hale:lock']);
  });
});
