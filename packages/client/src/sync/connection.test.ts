// The connection against a scripted server: a reply of a type its request does not allow is refused.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type SyncError, type WebSocketLike } from './connection';
import { SERVER_ID as ID, handshakingSocket } from './handshaking-socket.test-util';

/**
 * Fake sockets that complete the handshake and answer each request as `answer` says; `added` goes into
 * every frame they send, handshake included (a newer server's properties).
 */
const scriptedServer =
  (
    answer: (request: { t: string; rid: number }) => ServerFrame | Record<string, unknown>,
    added: Record<string, unknown> = {},
  ) =>
  (): WebSocketLike =>
    handshakingSocket((request, socket) => socket.reply(answer(request)), added);

describe('connection replies', () => {
  it('refuses a reply whose type the request does not allow, and takes one it allows', async () => {
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: scriptedServer((request) =>
        request.t === 'listKeyHolders'
          ? { t: 'ok', rid: request.rid }
          : { t: 'streams', rid: request.rid, streams: [] },
      ),
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: () => undefined,
    });
    connection.start();
    try {
      const refused = await connection.request({ t: 'listKeyHolders', streams: [`${ID}/allergy`] }).then(
        () => null,
        (e: unknown) => e as SyncError,
      );
      expect(refused).toMatchObject({ code: 'BAD_MESSAGE', retry: false });
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({ t: 'streams', streams: [] });
    } finally {
      connection.stop();
    }
  });
});

describe('answers from a newer server', () => {
  const access = {
    stream: `${ID}/allergy`,
    patientId: ID,
    type: 'allergy',
    access: 'read',
    head: 7,
    epoch: 1,
  } as const;

  it('takes frames with properties this build does not know, handshake included, and passes none on', async () => {
    const device = generateDeviceKeys();
    const unsolicited: ServerFrame[] = [];
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: scriptedServer(
        (request) => ({ t: 'streams', rid: request.rid, streams: [{ ...access, addedLater: [1] }] }),
        { addedLater: { by: 'a newer server' } },
      ),
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: (frame) => unsolicited.push(frame),
    });
    connection.start();
    try {
      const reply = await connection.request({ t: 'listStreams' });
      expect(reply).toStrictEqual({ t: 'streams', rid: 1, streams: [access] });
      expect(connection.version()).toBe(1);
      expect(unsolicited).toEqual([]);
    } finally {
      connection.stop();
    }
  });

  it('still refuses a reply with a known field missing or of the wrong type, added properties or not', async () => {
    const device = generateDeviceKeys();
    const broken = [
      { t: 'streams', streams: [{ ...access, head: 'seven' }] },
      { t: 'streams', streams: [{ ...access, head: undefined }] },
      { t: 'streams' },
    ];
    let n = 0;
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: scriptedServer((request) => ({ ...broken[n++ % broken.length], rid: request.rid }), {
        addedLater: true,
      }),
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: () => undefined,
    });
    connection.start();
    try {
      for (let i = 0; i < broken.length; i++) {
        const refused = await connection.request({ t: 'listStreams' }).then(
          () => null,
          (e: unknown) => e as SyncError,
        );
        expect(refused).toMatchObject({ code: 'BAD_MESSAGE', retry: false });
        expect(refused?.message).not.toContain('addedLater');
      }
    } finally {
      connection.stop();
    }
  });
});

/**
 * Fake sockets, numbered from 0, that complete the handshake and answer each request as `answer` says
 * (undefined: never). A closed socket behaves as one whose close handshake never completes (a server that
 * stopped answering): readyState CLOSING, no close event, and whatever is sent on it is lost.
 */
const socketsServer = (
  answer: (socket: number, request: { t: string; rid: number }) => string | undefined,
) => {
  const sent: Array<{ socket: number; t: string }> = [];
  let count = 0;
  const create = (): WebSocketLike => {
    const n = count++;
    let readyState = 1;
    let helloDeviceId = '';
    const socket: WebSocketLike = {
      get readyState() {
        return readyState;
      },
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send(data: string) {
        if (readyState !== 1) return;
        const frame = JSON.parse(data) as { t: string; rid: number; deviceId?: string };
        // `ready` names the device that said `hello`, as the device checks.
        if (frame.t === 'hello') helloDeviceId = frame.deviceId ?? '';
        sent.push({ socket: n, t: frame.t });
        const reply =
          frame.t === 'hello'
            ? JSON.stringify({ t: 'challenge', nonce: `${'n'.repeat(42)}k`, serverId: ID, version: 1 })
            : frame.t === 'auth'
              ? JSON.stringify({
                  t: 'ready',
                  accountId: ID,
                  deviceId: helloDeviceId,
                  version: 1,
                  sessionExpiresAt: new Date().toISOString(),
                })
              : answer(n, frame);
        if (reply !== undefined) queueMicrotask(() => socket.onmessage?.({ data: reply }));
      },
      close() {
        readyState = 2;
      },
    };
    queueMicrotask(() => socket.onopen?.({}));
    return socket;
  };
  return { create, sent };
};

const openConnection = (create: () => WebSocketLike, requestTimeoutMs: number) => {
  const device = generateDeviceKeys();
  const connection = createConnection({
    url: 'ws://scripted',
    createWebSocket: create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: () => undefined,
    backoff: { initialMs: 1, maxMs: 2 },
    requestTimeoutMs,
  });
  connection.start();
  return connection;
};

/** A socket that answers nothing: open (`opens`, its open event fired) or for ever opening. */
const silentSocket = (opens: boolean): WebSocketLike => {
  const socket: WebSocketLike = {
    readyState: opens ? 1 : 0,
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    send: () => undefined,
    close: () => undefined,
  };
  if (opens) queueMicrotask(() => socket.onopen?.({}));
  return socket;
};

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SyncError,
  );

/** Fails when `promise` has not settled within `ms` (the request timeout is much longer). */
const within = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)),
  ]);

describe('connection timeouts', () => {
  it('gives a socket up when a request times out: requests after it wait for the reconnect', async () => {
    // Socket 0 answers nothing; socket 1 answers everything.
    const server = socketsServer((n, request) =>
      n === 0 ? undefined : JSON.stringify({ t: 'streams', rid: request.rid, streams: [] }),
    );
    const connection = openConnection(server.create, 200);
    try {
      const timedOut = failure(connection.request({ t: 'listStreams' }));
      await new Promise((r) => setTimeout(r, 50));
      const inFlight = failure(connection.request({ t: 'listStreams' }));
      expect(await timedOut).toMatchObject({ code: 'TIMEOUT', retry: true });
      // The other request on the dying socket fails at once, retryably, without waiting out its own timer.
      expect(await within(inFlight, 100)).toMatchObject({ code: 'NETWORK', retry: true });
      // No close event has come (and none will), yet the connection no longer counts as ready.
      expect(connection.status()).not.toBe('ready');
      const next = await within(connection.request({ t: 'listStreams' }), 1000);
      expect(next).toMatchObject({ t: 'streams', streams: [] });
      expect(server.sent.filter((f) => f.t === 'listStreams')).toEqual([
        { socket: 0, t: 'listStreams' },
        { socket: 0, t: 'listStreams' },
        { socket: 1, t: 'listStreams' },
      ]);
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('a request that must not wait (wait: false) rejects NETWORK at once on a closing socket, sending nothing', async () => {
    const server = socketsServer((_, request) =>
      JSON.stringify({ t: 'streams', rid: request.rid, streams: [] }),
    );
    const sockets: WebSocketLike[] = [];
    const connection = openConnection(() => {
      const socket = server.create();
      sockets.push(socket);
      return socket;
    }, 60_000);
    try {
      await within(connection.whenReady(), 1000);
      // Closing, its close event still to come: the status still says ready.
      sockets[0]!.close();
      expect(connection.status()).toBe('ready');
      expect(
        await within(failure(connection.request({ t: 'listStreams' }, { wait: false })), 100),
      ).toMatchObject({ code: 'NETWORK', retry: true });
      expect(server.sent.filter((f) => f.t === 'listStreams')).toEqual([]);
      // One that may wait is answered on the next connection, as ever.
      expect(await within(connection.request({ t: 'listStreams' }), 1000)).toMatchObject({ t: 'streams' });
    } finally {
      connection.stop();
    }
  });

  it('a socket never ready within requestTimeoutMs is given up and another opened (no server deadline relied on)', async () => {
    let created = 0;
    // Opens and never answers hello (a server that accepts and stays silent).
    const silent = (): WebSocketLike => {
      created++;
      return silentSocket(true);
    };
    const connection = openConnection(silent, 100);
    try {
      await new Promise((r) => setTimeout(r, 450));
      expect(created).toBeGreaterThanOrEqual(2);
      expect(connection.status()).not.toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('a reply refused unparsed for its structure fails its request at once, not at the timeout', async () => {
    const server = socketsServer(
      (_, request) => `{"t":"pong","rid":${request.rid},"x":${'['.repeat(40)}${']'.repeat(40)}}`,
    );
    const connection = openConnection(server.create, 60_000);
    try {
      const refused = await within(failure(connection.request({ t: 'ping' })), 1000);
      expect(refused).toMatchObject({ code: 'BAD_MESSAGE' });
      expect(refused?.message).toMatch(/deeper than 32/);
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('a socket that became ready is not given up by that deadline', async () => {
    const server = socketsServer((_, request) =>
      JSON.stringify({ t: 'pong', rid: request.rid, time: new Date().toISOString() }),
    );
    const connection = openConnection(server.create, 100);
    try {
      await within(connection.whenReady(), 1000);
      await new Promise((r) => setTimeout(r, 300));
      expect(connection.status()).toBe('ready');
      expect(await connection.request({ t: 'ping' })).toMatchObject({ t: 'pong' });
      expect(new Set(server.sent.map((f) => f.socket))).toEqual(new Set([0]));
    } finally {
      connection.stop();
    }
  });

  it('a request that must not wait (wait: false) rejects NETWORK at once while connecting', async () => {
    // A socket that never opens: the connection stays connecting.
    const connection = openConnection(() => silentSocket(false), 60_000);
    try {
      expect(connection.status()).toBe('connecting');
      expect(
        await within(failure(connection.request({ t: 'listStreams' }, { wait: false })), 100),
      ).toMatchObject({ code: 'NETWORK', retry: true });
      // One that may wait is still waiting.
      const waiting = connection.request({ t: 'listStreams' });
      expect(
        await Promise.race([
          waiting.then(
            () => 'answered',
            () => 'failed',
          ),
          new Promise((r) => setTimeout(() => r('waiting'), 50)),
        ]),
      ).toBe('waiting');
    } finally {
      connection.stop();
    }
  });

  it('fails a request at once with BAD_MESSAGE when its reply breaks the schema, and stays usable', async () => {
    const oversize = (rid: number) =>
      `{"t":"grants","rid":${rid},"grants":[${'{"grant":{},"x":"' + 'y'.repeat(9 * 1024 * 1024) + '"}'}]}`;
    const server = socketsServer((_, request) =>
      request.t === 'listGrants'
        ? JSON.stringify({ t: 'grants', rid: request.rid, grants: 'not a list' })
        : request.t === 'listStreams'
          ? oversize(request.rid)
          : JSON.stringify({ t: 'pong', rid: request.rid, time: new Date().toISOString() }),
    );
    const connection = openConnection(server.create, 60_000);
    try {
      const invalid = await within(failure(connection.request({ t: 'listGrants' })), 1000);
      expect(invalid).toMatchObject({ code: 'BAD_MESSAGE', retry: false });
      // Too large to parse (over MAX_FRAME_BYTES): the rid is read from the frame's first bytes.
      const tooLarge = await within(failure(connection.request({ t: 'listStreams' })), 1000);
      expect(tooLarge).toMatchObject({ code: 'BAD_MESSAGE', retry: false });
      expect(await connection.request({ t: 'ping' })).toMatchObject({ t: 'pong' });
      expect(connection.status()).toBe('ready');
      expect(new Set(server.sent.map((f) => f.socket))).toEqual(new Set([0]));
    } finally {
      connection.stop();
    }
  });
});
