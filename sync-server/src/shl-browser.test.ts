// SMART Health Links in real Chromium, from a page of another origin (a viewer site, served here on another
// port): its script opens a link (a JSON POST: the browser's preflight first, then the manifest and its
// file), which CORS on the public link routes allows (plugins/cors.ts); the same page can neither read
// the API nor show the server's viewer page in a frame (`frame-ancestors 'none'`, plugins/shl.ts), while a
// page of the server that forbids nothing does load in that frame.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type TestServer } from './testing/harness';
import { createLink, JWE } from './shl-links.test-util';

const CHROMIUM = process.env.HALE_CHROMIUM ?? '/usr/bin/chromium';
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

let hale: TestServer;
let site: Server;
let siteUrl = '';
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: this test opens links from a page in real Chromium. ` +
        'Install it with `apt-get install -y chromium` (Debian), then run the test again.',
    );
  }
  hale = await startServer({ realClock: true });
  // The viewer site: another port, so another origin than the server's.
  site = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html><head><title>A viewer</title></head><body></body></html>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const address = site.address();
  siteUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await hale?.stop();
});

const viewerPage = async (): Promise<Page> => {
  const page = await browser.newPage();
  await page.goto(`${siteUrl}/`);
  return page;
};

/** Runs `body` (an async function's body) in the page; its value comes back as JSON. */
const inPage = <T>(page: Page, body: string): Promise<T> => page.evaluate<T>(`(async () => { ${body} })()`);

/** Adds an iframe of `src` to the page; answers the URL its document ended up with once it loaded. */
const framed = async (page: Page, src: string): Promise<string> => {
  await inPage(
    page,
    `await new Promise((resolve) => {
      const frame = document.createElement('iframe');
      frame.id = 'f' + Math.random().toString(36).slice(2);
      frame.onload = () => resolve(null);
      frame.src = ${JSON.stringify(src)};
      document.body.appendChild(frame);
      globalThis.lastFrame = frame.id;
    });`,
  );
  const id = await inPage<string>(page, 'return globalThis.lastFrame;');
  const frame = await (await page.$(`#${id}`))?.contentFrame();
  return frame?.url() ?? '';
};

describe('a link opened by a page of another origin, in Chromium', () => {
  it("reads the manifest and its file through CORS, a wrong passcode's 401 too; the API stays closed", async () => {
    const link = await createLink(hale, { passcode: '4711' });
    const page = await viewerPage();
    const manifestUrl = `${hale.url}/shl/${link.token}`;
    const opened = await inPage<{
      wrong: unknown;
      manifest: { files: { location: string }[] };
      file: string;
    }>(
      page,
      `const ask = (body) => fetch(${JSON.stringify(manifestUrl)}, {
         method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
       const wrong = await (await ask({ recipient: 'Dr. Lee', passcode: '0000' })).json();
       const manifest = await (await ask({ recipient: 'Dr. Lee', passcode: '4711', embeddedLengthMax: 10 })).json();
       const file = await (await fetch(manifest.files[0].location)).text();
       return { wrong, manifest, file };`,
    );
    expect(opened.wrong).toMatchObject({ code: 'UNAUTHENTICATED', remainingAttempts: 2 });
    expect(opened.manifest.files[0]?.location).toMatch(new RegExp(`^${hale.url}/shl/file/`));
    expect(opened.file).toBe(JWE);

    // The same page may not read the API (no allowed origins): the browser keeps the answer from it.
    const api = await inPage<string>(
      page,
      `try { await (await fetch(${JSON.stringify(`${hale.url}/v1/server`)})).json(); return 'read'; }
       catch (e) { return e.name; }`,
    );
    expect(api).toBe('TypeError');
    await page.close();
  });

  it('cannot show the viewer page in a frame; a page of the server without the ban loads there', async () => {
    const page = await viewerPage();
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('frame-ancestors')) refusals.push(message.text());
    });
    // The control: the same frame, the same server, a page without `frame-ancestors`.
    expect(await framed(page, `${hale.url}/healthz`)).toBe(`${hale.url}/healthz`);
    // The viewer page: Chromium refuses to render it there and shows its error page instead.
    const viewer = await framed(page, `${hale.url}/shl/view#shlink:/eyJ4IjoxfQ`);
    expect(viewer).not.toContain(`${hale.url}/shl/view`);
    expect(viewer).toMatch(/^chrome-error:/);
    expect(refusals.join('\n')).toContain("frame-ancestors 'none'");
    // What refuses it: the CSP, and X-Frame-Options for browsers older than frame-ancestors.
    const headers = (await fetch(`${hale.url}/shl/view`)).headers;
    expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(headers.get('x-frame-options')).toBe('DENY');
    await page.close();
  });
});
