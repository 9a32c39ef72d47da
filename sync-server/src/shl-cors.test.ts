// CORS on the public SMART Health Link routes (plugins/cors.ts, PUBLIC_LINK_ROUTES): a viewer on any
// origin asks for a manifest (a JSON POST, so a preflight first) and fetches its file, and reads every
// answer, refusals included, whether or not the server allows origins for its API; the API and the viewer
// page stay as they were. Real servers on loopback ports, requests as a browser sends them (a browser
// enforcing them: shl-browser.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { ShlManifest } from '@hale/protocol';
import type { ServerConfig } from './config';
import { CORS_MAX_AGE_SECONDS } from './plugins/cors';
import { startServer, type TestServer } from './testing/harness';
import { createLink, JWE } from './shl-links.test-util';

const VIEWER = 'https://viewer.example.org';
const APP = 'https://app.example.org';

const corsHeaders = (res: Response): Record<string, string> =>
  Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('access-control-')));

const varies = (res: Response): string[] =>
  (res.headers.get('vary') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');

/** The preflight a browser sends before a cross-origin `method` with `headers` (comma-joined). */
const preflight = (url: string, origin: string, method: string, headers = 'content-type') =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  });

const askManifest = (url: string, origin: string, body: Record<string, unknown>) =>
  fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The header a browser checks a preflight's request headers against, as a set. */
const allowedHeaders = (res: Response): Set<string> =>
  new Set(
    (res.headers.get('access-control-allow-headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  );

describe('a SMART Health Link opened from a page of another origin', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });
  const start = async (config: Partial<ServerConfig> = {}): Promise<TestServer> => {
    t = await startServer({ config });
    return t;
  };

  for (const [what, config] of [
    ['no allowed origins (the default)', {}],
    ['origins allowed for the API', { allowedOrigins: [APP] }],
  ] as const) {
    it(`with ${what}: the manifest and its file answer any origin, preflights and refusals included`, async () => {
      const s = await start(config);
      const link = await createLink(s, { passcode: '4711' });
      const manifestUrl = `${s.url}/shl/${link.token}`;
      for (const origin of [VIEWER, APP]) {
        // The manifest request's JSON body is not a simple request: the browser asks first.
        const pre = await preflight(manifestUrl, origin, 'POST', 'content-type,x-viewer-version');
        expect(pre.status).toBe(204);
        expect(await pre.text()).toBe('');
        expect(pre.headers.get('access-control-allow-origin')).toBe('*');
        expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
        // content-type named (engines before the wildcard), and any header a viewer adds (`*`).
        expect(allowedHeaders(pre)).toEqual(new Set(['content-type', '*']));
        expect(pre.headers.get('access-control-max-age')).toBe(String(CORS_MAX_AGE_SECONDS));
        expect(pre.headers.get('access-control-allow-credentials')).toBeNull();

        // A wrong passcode: the viewer reads the 401 and how many tries are left.
        const wrong = await askManifest(manifestUrl, origin, { recipient: 'Dr. Lee', passcode: '0000' });
        expect(wrong.status).toBe(401);
        expect(corsHeaders(wrong)).toEqual({ 'access-control-allow-origin': '*' });
        expect(await wrong.json()).toMatchObject({ remainingAttempts: origin === VIEWER ? 2 : 1 });

        // The manifest, with its file behind a one-time location (embeddedLengthMax below its length).
        const ok = await askManifest(manifestUrl, origin, {
          recipient: 'Dr. Lee',
          passcode: '4711',
          embeddedLengthMax: 10,
        });
        expect(ok.status).toBe(200);
        expect(corsHeaders(ok)).toEqual({ 'access-control-allow-origin': '*' });
        expect(varies(ok)).not.toContain('origin');
        const manifest = (await ok.json()) as ShlManifest;
        const location = manifest.files[0]?.location ?? '';
        expect(location).toMatch(new RegExp(`^${s.url}/shl/file/`));

        // The file: a simple GET (no preflight needed), yet a viewer may send one; both answered.
        const filePre = await preflight(location, origin, 'GET', 'accept');
        expect(filePre.status).toBe(204);
        expect(filePre.headers.get('access-control-allow-origin')).toBe('*');
        expect(filePre.headers.get('access-control-allow-methods')).toBe('GET');
        const file = await fetch(location, { headers: { origin } });
        expect(file.status).toBe(200);
        expect(corsHeaders(file)).toEqual({ 'access-control-allow-origin': '*' });
        expect(await file.text()).toBe(JWE);
        // Used once: the refusal is readable too.
        const again = await fetch(location, { headers: { origin } });
        expect(again.status).toBe(404);
        expect(again.headers.get('access-control-allow-origin')).toBe('*');
      }

      // A link that does not work, a body the schema refuses, a path refused before routing: all readable.
      const unknown = await askManifest(`${s.url}/shl/${'A'.repeat(43)}`, VIEWER, { recipient: 'x' });
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('access-control-allow-origin')).toBe('*');
      const malformed = await askManifest(manifestUrl, VIEWER, { passcode: 4711 });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('access-control-allow-origin')).toBe('*');
      const badPath = await askManifest(`${s.url}/shl/%ZZ`, VIEWER, { recipient: 'x' });
      expect(badPath.status).toBe(400);
      expect(badPath.headers.get('access-control-allow-origin')).toBe('*');
      const badPathPre = await preflight(`${s.url}/shl/%ZZ`, VIEWER, 'POST');
      expect(badPathPre.status).toBe(204);
      expect(badPathPre.headers.get('access-control-allow-origin')).toBe('*');
    });
  }

  it('leaves the API and the viewer page as they were: no `*`, an API origin only where allowed', async () => {
    const s = await start({ allowedOrigins: [APP] });
    const link = await createLink(s);
    // The API: the allowed origin echoed, a stranger (a link viewer included) nothing.
    const api = await fetch(`${s.url}/v1/server`, { headers: { origin: VIEWER } });
    expect(corsHeaders(api)).toEqual({});
    const apiPre = await preflight(`${s.url}/v1/shl`, VIEWER, 'GET', 'authorization');
    expect(apiPre.status).toBe(404);
    expect(corsHeaders(apiPre)).toEqual({});
    // The patient's own link routes are API routes, not public ones.
    const listed = await fetch(`${s.url}/v1/shl`, {
      headers: { origin: VIEWER, authorization: `Bearer ${link.patientToken}` },
    });
    expect(listed.status).toBe(200);
    expect(corsHeaders(listed)).toEqual({});
    const fromApp = await fetch(`${s.url}/v1/server`, { headers: { origin: APP } });
    expect(fromApp.headers.get('access-control-allow-origin')).toBe(APP);
    // The viewer page is this server's own page: no CORS header.
    const page = await fetch(`${s.url}/shl/view`, { headers: { origin: VIEWER } });
    expect(page.status).toBe(200);
    expect(corsHeaders(page)).toEqual({});
  });

  it('a rate-limited viewer reads its 429; preflights cost no token', async () => {
    const s = await start({ rateLimitPerAddress: { perSecond: 0.01, burst: 6 } });
    const url = `${s.url}/shl/${'A'.repeat(43)}`;
    for (let i = 0; i < 5; i++) expect((await preflight(url, VIEWER, 'POST')).status).toBe(204);
    let limited: Response | undefined;
    for (let i = 0; i < 10 && limited === undefined; i++) {
      const answer = await askManifest(url, VIEWER, { recipient: 'x' });
      if (answer.status === 429) limited = answer;
      else expect(answer.status).toBe(404);
    }
    expect(limited?.headers.get('access-control-allow-origin')).toBe('*');
    expect(await limited?.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await preflight(url, VIEWER, 'POST')).status).toBe(204);
  });
});
