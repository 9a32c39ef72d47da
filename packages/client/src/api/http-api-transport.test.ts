// What the HTTP client does when the transport misbehaves: a server that never answers (or stops mid-body),
// one that redirects, and what the device itself would put on the wire or into an error message.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@hale/model';
import { isHaleClientError, type HaleClientError } from './errors';
import { createHttpApi, type FetchInitLike, type FetchLike, type FetchResponseLike } from './http-api';
import { createSessionManager } from './session-manager';

const ID22 = 'A'.repeat(22);
const TOKEN = 'tok_SECRET_0123456789abcdef';

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  try {
    await promise;
  } catch (e) {
    if (isHaleClientError(e)) return e;
    throw e;
  }
  throw new Error('expected a HaleClientError');
}

/** Timers the test fires by hand: `fire()` runs every one still set, as if its time had come. */
function manualTimers() {
  const set = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    set,
    setTimer: (fn: () => void, ms: number): unknown => {
      const id = next++;
      set.set(id, { fn, ms });
      return id;
    },
    clearTimer: (handle: unknown): void => {
      if (typeof handle === 'number') set.delete(handle);
    },
    fire(): void {
      const due = [...set.values()];
      set.clear();
      for (const timer of due) timer.fn();
    },
  };
}

/** A fetch that records each request and never answers. */
function silentFetch() {
  const requests: { url: string; init: FetchInitLike }[] = [];
  const fetch: FetchLike = (url, init) => {
    requests.push({ url, init });
    return new Promise<FetchResponseLike>(() => undefined);
  };
  return { fetch, requests };
}

/** An answer whose headers came but whose body stream never delivers. */
function stalledAnswer(status: number) {
  const state = { cancelled: false };
  const response: FetchResponseLike = {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: () => null },
    body: {
      getReader: () => ({
        read: () => new Promise(() => undefined),
        cancel: async () => {
          state.cancelled = true;
        },
      }),
    },
    json: () => new Promise(() => undefined),
    text: () => new Promise(() => undefined),
    arrayBuffer: () => new Promise(() => undefined),
  };
  return { response, state };
}

/** Lets pending promise callbacks run (the call reaches fetch, the body read, ...). */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

interface Seen {
  readonly url: string;
  readonly method: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/** A local HTTP server logging what reached it. */
function localServer(handle: (seen: Seen, res: ServerResponse, req: IncomingMessage) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (piece: Buffer) => (body += piece.toString()));
    req.on('end', () => {
      const entry = {
        url: req.url ?? '',
        method: req.method ?? '',
        authorization: req.headers.authorization,
        body,
      };
      seen.push(entry);
      handle(entry, res, req);
    });
  });
  return {
    seen,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          resolve(`http://127.0.0.1:${port}`);
        }),
      ),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('time limits', () => {
  it('a request that gets no answer fails TIMEOUT (retryable) when its time is up, and is aborted', async () => {
    const timers = manualTimers();
    const silent = silentFetch();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch, timeoutMs: 1234, ...timers });
    const pending = thrown(api.health());
    await settle();
    expect(silent.requests).toHaveLength(1);
    const signal = silent.requests[0]!.init.signal;
    expect(signal?.aborted).toBe(false);
    expect([...timers.set.values()].map((timer) => timer.ms)).toEqual([1234]);
    timers.fire();
    const e = await pending;
    expect(e).toMatchObject({ code: 'TIMEOUT', status: 0, retry: true, action: 'backoff' });
    expect(signal?.aborted).toBe(true);
  });

  it('chunk transfers get their own, longer limit by default', async () => {
    const timers = manualTimers();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silentFetch().fetch, ...timers });
    void api.health().catch(() => undefined);
    void api.getChunk(newId(), 0, TOKEN).catch(() => undefined);
    void api.putChunk(newId(), 0, new Uint8Array(10), TOKEN).catch(() => undefined);
    await settle();
    const [health, getChunk, putChunk] = [...timers.set.values()].map((timer) => timer.ms);
    expect(health).toBeGreaterThan(0);
    expect(getChunk).toBeGreaterThan(health!);
    expect(putChunk).toBe(getChunk);
    timers.fire();
  });

  it('a body that stops arriving fails TIMEOUT with the status that came, its stream cancelled', async () => {
    for (const [status, call] of [
      [200, (api: ReturnType<typeof createHttpApi>) => api.health()],
      [500, (api: ReturnType<typeof createHttpApi>) => api.health()],
      [200, (api: ReturnType<typeof createHttpApi>) => api.getChunk(newId(), 0, TOKEN)],
    ] as const) {
      const timers = manualTimers();
      const stalled = stalledAnswer(status);
      const api = createHttpApi({ baseUrl: 'http://x', fetch: async () => stalled.response, ...timers });
      const pending = thrown(call(api));
      await settle();
      timers.fire();
      expect(await pending).toMatchObject({ code: 'TIMEOUT', status, retry: true });
      expect(stalled.state.cancelled).toBe(true);
    }
  });

  it('a call that finished leaves no timer behind', async () => {
    const timers = manualTimers();
    const answer: FetchResponseLike = {
      status: 200,
      ok: true,
      headers: { get: () => null },
      json: async () => ({}),
      text: async () => JSON.stringify({ status: 'ok', store: 'memory', version: '1' }),
      arrayBuffer: async () =>
        new TextEncoder().encode(JSON.stringify({ status: 'ok', store: 'memory', version: '1' })).buffer,
    };
    const api = createHttpApi({ baseUrl: 'http://x', fetch: async () => answer, ...timers });
    expect((await api.health()).status).toBe('ok');
    expect(timers.set.size).toBe(0);
  });

  it('against a real socket: the platform fetch is aborted and the call fails TIMEOUT', async () => {
    let closed = 0;
    const server = localServer((_seen, _res, req) => {
      req.socket.on('close', () => closed++);
    });
    const url = await server.start();
    try {
      const api = createHttpApi({ baseUrl: url, fetch, timeoutMs: 200 });
      const started = Date.now();
      const e = await thrown(api.serverInfo());
      expect(e).toMatchObject({ code: 'TIMEOUT', retry: true });
      expect(Date.now() - started).toBeLessThan(5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.seen).toHaveLength(1);
      expect(closed).toBe(1);
    } finally {
      await server.stop();
    }
  });
});

describe('a sign-in that hangs', () => {
  const device = { deviceId: ID22, secretKey: new Uint8Array(64).fill(7) };
  // Never reached: no challenge is ever answered.
  const ed = {} as never;

  it('fails every caller sharing it when its time is up; the next call signs in anew', async () => {
    const timers = manualTimers();
    const silent = silentFetch();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch, ...timers });
    const sessions = createSessionManager({ api, device, ed });
    const first = thrown(sessions.token());
    const second = thrown(sessions.withToken(async () => 1));
    await settle();
    expect(silent.requests).toHaveLength(1);
    timers.fire();
    expect((await first).code).toBe('TIMEOUT');
    expect((await second).code).toBe('TIMEOUT');
    const third = thrown(sessions.token());
    await settle();
    expect(silent.requests.map((r) => new URL(r.url).pathname)).toEqual([
      '/v1/auth/challenge',
      '/v1/auth/challenge',
    ]);
    timers.fire();
    expect((await third).code).toBe('TIMEOUT');
  });

  it('invalidate() stops handing out the sign-in in flight', async () => {
    const timers = manualTimers();
    const silent = silentFetch();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch, ...timers });
    const sessions = createSessionManager({ api, device, ed });
    const hung = thrown(sessions.token());
    await settle();
    sessions.invalidate();
    const fresh = thrown(sessions.token());
    await settle();
    expect(silent.requests).toHaveLength(2);
    timers.fire();
    expect((await hung).code).toBe('TIMEOUT');
    expect((await fresh).code).toBe('TIMEOUT');
  });
});

describe('redirects', () => {
  const other = localServer((_seen, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ serverId: ID22, publicKey: 'B'.repeat(43), versions: [1], registration: 'open' }),
    );
  });
  let otherUrl = '';
  const redirecting = localServer((seen, res) => {
    const location = seen.url.startsWith('/v1/accounts/me/') ? '/elsewhere' : otherUrl + seen.url;
    res.writeHead(307, { location });
    res.end();
  });
  let url = '';
  beforeAll(async () => {
    otherUrl = await other.start();
    url = await redirecting.start();
  });
  afterAll(async () => {
    await redirecting.stop();
    await other.stop();
  });

  it('are refused as BAD_RESPONSE (not retried), and nothing reaches their target', async () => {
    const api = createHttpApi({ baseUrl: url, fetch });
    for (const call of [
      () => api.serverInfo(),
      () => api.challenge({ deviceId: ID22 }),
      () => api.getWrappedRoot(TOKEN),
      () => api.getChunk(newId(), 0, TOKEN),
    ]) {
      expect(await thrown(call())).toMatchObject({ code: 'BAD_RESPONSE', status: 307, retry: false });
    }
    expect(redirecting.seen.map((s) => s.url)).toHaveLength(4);
    expect(other.seen).toEqual([]);
    expect(redirecting.seen.filter((s) => s.url === '/elsewhere')).toEqual([]);
  });

  it("are asked to be left to the client: fetch is told not to follow ('manual')", async () => {
    const silent = silentFetch();
    const timers = manualTimers();
    void createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch, ...timers })
      .health()
      .catch(() => undefined);
    await settle();
    expect(silent.requests[0]?.init.redirect).toBe('manual');
    timers.fire();
  });

  it("an opaque redirect (status 0, as a browser's fetch gives it) is refused too", async () => {
    let cancelled = false;
    const opaque: FetchResponseLike = {
      status: 0,
      ok: false,
      headers: { get: () => null },
      body: {
        getReader: () => ({
          read: async () => ({ done: true }),
          cancel: async () => {
            cancelled = true;
          },
        }),
      },
      json: async () => ({}),
      text: async () => '',
      arrayBuffer: async () => new ArrayBuffer(0),
    };
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: async () => opaque }).serverInfo());
    expect(e).toMatchObject({ code: 'BAD_RESPONSE', retry: false });
    expect(cancelled).toBe(true);
  });
});

describe('what goes out, and into messages', () => {
  it('a malformed token is BAD_MESSAGE before sending, and the message does not hold it', async () => {
    const silent = silentFetch();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch });
    for (const token of [`${TOKEN}\n`, `${TOKEN}\u0100`, `${TOKEN}\0`, 'short', 'x'.repeat(513)]) {
      const e = await thrown(api.getBlob(newId(), token));
      expect(e).toMatchObject({ code: 'BAD_MESSAGE', status: 0, retry: false });
      expect(e.message).not.toContain(TOKEN);
      expect(e.message).not.toContain('short');
    }
    expect(silent.requests).toEqual([]);
  });

  it("a fetch failure's message is not copied: it may hold the token or the URL's credentials", async () => {
    const leaking: FetchLike = async (url, init) => {
      throw new TypeError(`failed ${url} with ${init.headers['authorization'] ?? ''}`);
    };
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: leaking }).getBlob(newId(), TOKEN));
    expect(e).toMatchObject({ code: 'NETWORK', retry: true });
    expect(e.message).not.toContain(TOKEN);
    expect(e.message).toContain('TypeError');
    const withCredentials = createHttpApi({ baseUrl: 'http://user:s3cr3t-pw@127.0.0.1:9', fetch });
    const refused = await thrown(withCredentials.health());
    expect(refused.message).not.toContain('s3cr3t-pw');
  });

  it('path and query values are checked against the route before anything is sent', async () => {
    const silent = silentFetch();
    const api = createHttpApi({ baseUrl: 'http://x', fetch: silent.fetch });
    const blobId = newId();
    for (const call of [
      () => api.getAccount('..'),
      () => api.getAccount('\uD800'),
      () => api.getAccountDevice('..', 'revoke'),
      () => api.getChunk('..', 0, TOKEN),
      () => api.getChunk(blobId, -1, TOKEN),
      () => api.getChunk(blobId, 0.5, TOKEN),
      () => api.putChunk('.', 0, new Uint8Array(1), TOKEN),
      () => api.getBlob('', TOKEN),
      () => api.deleteBlob('.', TOKEN),
      () => api.searchDirectory({ limit: 0 }, TOKEN),
      () => api.searchDirectory({ q: 'ab\uD83D' }, TOKEN),
    ]) {
      const e = await thrown(call());
      expect(e).toMatchObject({ code: 'BAD_MESSAGE', status: 0, retry: false });
    }
    expect(silent.requests).toEqual([]);
  });
});

describe('answers given up on', () => {
  it('an unexpected 2xx has its body cancelled', async () => {
    let cancelled = false;
    const noContent: FetchResponseLike = {
      status: 204,
      ok: true,
      headers: { get: () => null },
      body: {
        getReader: () => ({
          read: async () => ({ done: false, value: new Uint8Array(10) }),
          cancel: async () => {
            cancelled = true;
          },
        }),
      },
      json: async () => ({}),
      text: async () => '',
      arrayBuffer: async () => new ArrayBuffer(0),
    };
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: async () => noContent }).health());
    expect(e).toMatchObject({ code: 'BAD_RESPONSE', status: 204 });
    expect(cancelled).toBe(true);
  });

  it('a chunk cut off while reading is NETWORK with the status that came', async () => {
    const cut: FetchResponseLike = {
      status: 200,
      ok: true,
      headers: { get: () => null },
      body: {
        getReader: () => ({
          read: () => Promise.reject(new TypeError('terminated')),
          cancel: async () => undefined,
        }),
      },
      json: async () => ({}),
      text: async () => '',
      arrayBuffer: async () => new ArrayBuffer(0),
    };
    const api = createHttpApi({ baseUrl: 'http://x', fetch: async () => cut });
    expect(await thrown(api.getChunk(newId(), 0, TOKEN))).toMatchObject({
      code: 'NETWORK',
      status: 200,
      retry: true,
    });
  });
});
