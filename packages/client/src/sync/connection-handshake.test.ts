// The handshake as the device checks it: the server must pick a version the device offered in `hello` and
// keep it in `ready`, and `ready` must name this device. A server that does otherwise is broken or hostile
// (it answers for another device, or speaks a version this build never agreed to), so the connection is
// refused for good (BAD_HANDSHAKE, fatal: reconnecting to the same server gets the same answer). A `challenge`
// or `ready` out of turn (a second one, a `ready` before the device sent `auth`, one after `ready`, one after
// a refusal that ended the connection) is never acted on nor handed on as a frame; nor is any other frame
// before `ready`, which is reported by its type alone and dropped.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519, type Ed25519 } from '@hale/crypto';
import { SUPPORTED_VERSIONS, type ServerFrame } from '@hale/protocol';
import { AccountError } from '../core/account-error';
import { createConnection, SyncError, type WebSocketLike } from './connection';

const ID = 'A'.repeat(22);
const OTHER_DEVICE = 'B'.repeat(22);
const OFFERED_MAX = Math.max(...SUPPORTED_VERSIONS);
const NOT_OFFERED = OFFERED_MAX + 1;

const challenge = (version: number): ServerFrame => ({
  t: 'challenge',
  nonce: `${'n'.repeat(42)}k`,
  serverId: ID,
  version,
});
const ready = (deviceId: string, version: number): ServerFrame => ({
  t: 'ready',
  accountId: ID,
  deviceId,
  version,
  sessionExpiresAt: new Date(Date.now() + 60_000).toISOString(),
});

interface Script {
  /** The answer to `hello`, from the `versions` and `deviceId` it carried. */
  hello: (offered: number[], deviceId: string) => ServerFrame[];
  /** The answer to `auth`. */
  auth: (deviceId: string) => ServerFrame[];
  /** The answer to a request; `streams` by default. */
  request?: (rid: number) => ServerFrame[];
}

/** Fake sockets that answer as `script` says, recording what the device sent and whether it closed them. */
const scriptedServer = (script: Script) => {
  const sent: string[] = [];
  let sockets = 0;
  let closed = 0;
  const create = (): WebSocketLike => {
    sockets++;
    let helloDevice = '';
    const socket: WebSocketLike = {
      readyState: 1,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send(data: string) {
        const frame = JSON.parse(data) as { t: string; rid: number; versions: number[]; deviceId: string };
        sent.push(frame.t);
        if (frame.t === 'hello') helloDevice = frame.deviceId;
        const replies =
          frame.t === 'hello'
            ? script.hello(frame.versions, frame.deviceId)
            : frame.t === 'auth'
              ? script.auth(helloDevice)
              : (script.request?.(frame.rid) ?? [{ t: 'streams', rid: frame.rid, streams: [] }]);
        for (const reply of replies)
          queueMicrotask(() => socket.onmessage?.({ data: JSON.stringify(reply) }));
      },
      close(_code?: number, reason?: string) {
        // As a browser's WebSocket and `ws` do: a reason over 123 bytes of UTF-8 is refused, nothing closed.
        if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
          throw new SyntaxError('The close reason must not be greater than 123 UTF-8 bytes');
        }
        closed++;
        (socket as { readyState: number }).readyState = 3;
        queueMicrotask(() => socket.onclose?.({ code: 1000, reason: '' }));
      },
    };
    queueMicrotask(() => socket.onopen?.({}));
    return socket;
  };
  return { create, sent, sockets: () => sockets, closed: () => closed };
};

const open = (server: ReturnType<typeof scriptedServer>, ed: Ed25519 = webCryptoEd25519) => {
  const device = generateDeviceKeys();
  const frames: ServerFrame[] = [];
  const readies: ServerFrame[] = [];
  const connection = createConnection({
    url: 'ws://scripted',
    createWebSocket: server.create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed,
    onFrame: (frame) => frames.push(frame),
    onReady: (frame) => readies.push(frame),
    backoff: { initialMs: 1, maxMs: 2 },
  });
  connection.start();
  return { connection, frames, readies, deviceId: device.deviceId, secretKey: device.secretKey };
};

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => null,
    (e: unknown) => e,
  );

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

/** An Ed25519 whose signatures wait for `release()`: until then the device is still signing its `auth`. */
const heldSigning = () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ed: Ed25519 = {
    ...webCryptoEd25519,
    sign: async (key, msg) => {
      await held;
      return webCryptoEd25519.sign(key, msg);
    },
  };
  return { ed, release: () => release() };
};

/**
 * An Ed25519 whose signatures wait for `release()` and then do as `outcome` says for each in turn (the
 * last one for the rest): sign, or reject with the error given.
 */
const heldThen = (outcomes: Array<'sign' | Error>) => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const ed: Ed25519 = {
    ...webCryptoEd25519,
    sign: async (key, msg) => {
      const outcome = outcomes[Math.min(calls++, outcomes.length - 1)];
      await held;
      if (outcome === undefined || outcome === 'sign') return webCryptoEd25519.sign(key, msg);
      throw outcome;
    },
  };
  return { ed, release: () => release(), calls: () => calls };
};

/** `promise`'s outcome, or 'pending' if it has none within `ms`. */
const within = (promise: Promise<unknown>, ms = 1_000): Promise<unknown> =>
  Promise.race([
    promise.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

/** The BAD_MESSAGE reports handed on, by what they say. */
const reports = (frames: ServerFrame[]): string[] =>
  frames.flatMap((f) => (f.t === 'error' && f.code === 'BAD_MESSAGE' ? [f.message] : []));

describe('a handshake that breaks the protocol', () => {
  it('a challenge for a version the device did not offer: fatal BAD_HANDSHAKE, nothing signed, socket closed', async () => {
    const server = scriptedServer({
      hello: () => [challenge(NOT_OFFERED)],
      auth: (deviceId) => [ready(deviceId, NOT_OFFERED)],
    });
    const { connection, readies } = open(server);
    try {
      const e = await failure(connection.whenReady());
      expect(e).toBeInstanceOf(SyncError);
      expect(e).toMatchObject({ code: 'BAD_HANDSHAKE', retry: false });
      expect((e as SyncError).message).toContain(String(NOT_OFFERED));
      expect(connection.status()).toBe('fatal');
      expect(connection.failure()).toBe(e);
      expect(connection.version()).toBeNull();
      expect(server.sent).not.toContain('auth');
      expect(readies).toEqual([]);
      await settle();
      expect(server.closed(), 'sockets the device closed').toBe(1);
      expect(server.sockets(), 'sockets opened (no reconnect)').toBe(1);
    } finally {
      connection.stop();
    }
  });

  it('a ready naming a version other than the challenge chose: fatal BAD_HANDSHAKE', async () => {
    const chosen = SUPPORTED_VERSIONS[0] ?? 1;
    for (const answered of [OFFERED_MAX === chosen ? NOT_OFFERED : OFFERED_MAX, NOT_OFFERED]) {
      const server = scriptedServer({
        hello: () => [challenge(chosen)],
        auth: (deviceId) => [ready(deviceId, answered)],
      });
      const { connection, readies } = open(server);
      try {
        const e = await failure(connection.whenReady());
        expect(e, `ready.version ${answered}`).toMatchObject({ code: 'BAD_HANDSHAKE', retry: false });
        expect(connection.status()).toBe('fatal');
        expect(connection.version()).toBeNull();
        expect(readies).toEqual([]);
        await settle();
        expect(server.closed()).toBe(1);
        expect(server.sockets()).toBe(1);
      } finally {
        connection.stop();
      }
    }
  });

  it('a ready naming another device: fatal BAD_HANDSHAKE, never ready, requests refused', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered))],
      auth: () => [ready(OTHER_DEVICE, OFFERED_MAX)],
    });
    const { connection, readies, frames } = open(server);
    try {
      const e = await failure(connection.request({ t: 'listStreams' }));
      expect(e).toMatchObject({ code: 'BAD_HANDSHAKE', retry: false });
      expect((e as SyncError).message).toContain(OTHER_DEVICE);
      expect(connection.status()).toBe('fatal');
      expect(readies).toEqual([]);
      expect(frames).toEqual([]);
      expect(server.sent).not.toContain('listStreams');
      await settle();
      expect(server.closed()).toBe(1);
      expect(server.sockets()).toBe(1);
    } finally {
      connection.stop();
    }
  });

  it('the same server answering as the protocol says: ready on the version chosen', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
    });
    const { connection, readies } = open(server);
    try {
      await connection.whenReady();
      expect(connection.version()).toBe(OFFERED_MAX);
      expect(readies).toHaveLength(1);
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({ t: 'streams' });
    } finally {
      connection.stop();
    }
  });
});

describe('handshake frames out of turn', () => {
  it('a second challenge before ready is not signed again nor handed on', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered)), challenge(Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
    });
    const { connection, frames } = open(server);
    try {
      await connection.whenReady();
      await settle();
      expect(server.sent.filter((t) => t === 'auth')).toHaveLength(1);
      expect(frames.map((f) => f.t)).not.toContain('challenge');
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('a ready or challenge after ready changes nothing and is not handed on as a frame', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
      request: (rid) => [
        ready(OTHER_DEVICE, SUPPORTED_VERSIONS[0] ?? 1),
        challenge(SUPPORTED_VERSIONS[0] ?? 1),
        { t: 'streams', rid, streams: [] },
      ],
    });
    const { connection, frames, readies } = open(server);
    try {
      await connection.whenReady();
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({ t: 'streams' });
      await settle();
      expect(frames.map((f) => f.t)).not.toContain('ready');
      expect(frames.map((f) => f.t)).not.toContain('challenge');
      expect(readies).toHaveLength(1);
      expect(connection.status()).toBe('ready');
      expect(connection.version()).toBe(OFFERED_MAX);
      expect(server.sent.filter((t) => t === 'auth')).toHaveLength(1);
    } finally {
      connection.stop();
    }
  });

  it('a ready before any challenge is not taken', async () => {
    const server = scriptedServer({
      hello: (offered) => [ready(OTHER_DEVICE, Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
    });
    const { connection, frames, readies } = open(server);
    try {
      await settle();
      expect(connection.status()).not.toBe('ready');
      expect(readies).toEqual([]);
      expect(frames.map((f) => f.t)).not.toContain('ready');
    } finally {
      connection.stop();
    }
  });

  it('a ready while the device is still signing its auth is not taken: ready only after auth', async () => {
    const signing = heldSigning();
    const server = scriptedServer({
      // Right version, right device: only its turn is wrong.
      hello: (offered, deviceId) => [challenge(Math.max(...offered)), ready(deviceId, Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
    });
    const { connection, frames, readies } = open(server, signing.ed);
    try {
      await settle();
      expect(server.sent).toEqual(['hello']);
      expect(connection.status()).toBe('connecting');
      expect(connection.version()).toBeNull();
      expect(readies).toEqual([]);
      expect(frames.map((f) => f.t)).not.toContain('ready');
      expect(reports(frames)).toEqual([expect.stringMatching(/unexpected ready .*before auth/)]);
      signing.release();
      await connection.whenReady();
      expect(server.sent).toEqual(['hello', 'auth']);
      expect(readies).toHaveLength(1);
      expect(connection.version()).toBe(OFFERED_MAX);
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({ t: 'streams' });
    } finally {
      connection.stop();
    }
  });

  it('a challenge after auth was sent is not signed nor handed on; the ready after it is taken', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered))],
      auth: (deviceId) => [challenge(OFFERED_MAX), ready(deviceId, OFFERED_MAX)],
    });
    const { connection, frames, readies } = open(server);
    try {
      await connection.whenReady();
      await settle();
      expect(server.sent.filter((t) => t === 'auth')).toHaveLength(1);
      expect(frames.map((f) => f.t)).not.toContain('challenge');
      expect(reports(frames)).toEqual([expect.stringMatching(/unexpected challenge .*awaiting ready/)]);
      expect(readies).toHaveLength(1);
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('a second ready after ready, for this device and version, is not a new session', async () => {
    const server = scriptedServer({
      hello: (offered) => [challenge(Math.max(...offered))],
      auth: (deviceId) => [ready(deviceId, OFFERED_MAX), ready(deviceId, OFFERED_MAX)],
    });
    const { connection, frames, readies } = open(server);
    try {
      await connection.whenReady();
      await settle();
      expect(readies).toHaveLength(1);
      expect(frames.map((f) => f.t)).not.toContain('ready');
      expect(reports(frames)).toEqual([expect.stringMatching(/unexpected ready .*after ready/)]);
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('after a refusal that ends the connection, nothing more on that socket is acted on', async () => {
    // A server that refuses and then goes on (the sync server closes the socket after a refusal).
    const scripts: Array<{ code: string; script: Script }> = [
      {
        code: 'DEVICE_UNKNOWN',
        script: {
          hello: (offered) => [
            { t: 'error', code: 'NOT_FOUND', message: 'unknown device' },
            challenge(Math.max(...offered)),
          ],
          auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
        },
      },
      {
        code: 'DEVICE_REVOKED',
        script: {
          hello: (offered) => [challenge(Math.max(...offered))],
          auth: (deviceId) => [
            { t: 'error', code: 'DEVICE_REVOKED', message: 'revoked' },
            ready(deviceId, OFFERED_MAX),
          ],
        },
      },
    ];
    for (const { code, script } of scripts) {
      const server = scriptedServer(script);
      const { connection, readies } = open(server);
      try {
        expect(await failure(connection.whenReady())).toMatchObject({ code, retry: false });
        await settle();
        expect(connection.status(), code).toBe('fatal');
        expect(connection.failure()).toMatchObject({ code });
        expect(connection.version()).toBeNull();
        expect(readies).toEqual([]);
        expect(
          server.sent.filter((t) => t === 'auth'),
          code,
        ).toHaveLength(code === 'DEVICE_UNKNOWN' ? 0 : 1);
        expect(server.closed(), 'sockets the device closed').toBe(1);
        expect(server.sockets(), 'sockets opened (no reconnect)').toBe(1);
      } finally {
        connection.stop();
      }
    }
  });
});

describe('frames other than the handshake before ready', () => {
  const STREAM = `${ID}/profile` as const;
  /** Valid frames a server may only send once the device is ready, none of them a handshake frame. */
  const early = (): ServerFrame[] => [
    { t: 'changes', docs: [], streams: [{ stream: STREAM, checkpoint: 3 }] },
    { t: 'accessChanged', streams: [], removed: [{ stream: STREAM, reason: 'revoked' }] },
    { t: 'wrappedRootChanged', gen: 7 },
    // The rid the device's first request will take: a reply sent ahead of it must not answer it.
    { t: 'streams', rid: 1, streams: [] },
    { t: 'pong', rid: 2, time: new Date(0).toISOString() },
  ];

  it('are reported by type alone, once each, and dropped; the handshake goes on and later frames pass', async () => {
    const server = scriptedServer({
      // Before the challenge, while the device signs, and after its auth.
      hello: (offered) => [...early().slice(0, 1), challenge(Math.max(...offered)), ...early().slice(1, 3)],
      auth: (deviceId) => [...early().slice(3), ready(deviceId, OFFERED_MAX)],
      request: (rid) => [
        { t: 'streams', rid, streams: [], next: 'after' },
        { t: 'changes', docs: [], streams: [{ stream: STREAM, checkpoint: 4 }] },
      ],
    });
    const { connection, frames, readies } = open(server);
    try {
      await connection.whenReady();
      await settle();
      expect(frames.filter((f) => f.t !== 'error')).toEqual([]);
      const said = reports(frames);
      expect(frames).toHaveLength(said.length);
      expect(said.map((m) => /unexpected (\w+) from server before ready/.exec(m)?.[1])).toEqual([
        'changes',
        'accessChanged',
        'wrappedRootChanged',
        'streams',
        'pong',
      ]);
      for (const m of said) {
        expect(m).not.toContain(ID);
        expect(m).not.toMatch(/\d/);
      }
      expect(readies).toHaveLength(1);
      expect(connection.status()).toBe('ready');
      frames.length = 0;
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({
        t: 'streams',
        rid: 1,
        next: 'after',
      });
      await settle();
      expect(frames).toEqual([{ t: 'changes', docs: [], streams: [{ stream: STREAM, checkpoint: 4 }] }]);
    } finally {
      connection.stop();
    }
  });
});

describe('signing auth that fails', () => {
  const plain: Script = {
    hello: (offered) => [challenge(Math.max(...offered))],
    auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
  };

  it('the signer refusing LOCKED: fatal LOCKED, nothing sent, the socket given up, no reconnect', async () => {
    const signing = heldThen([new AccountError('LOCKED', 'the account is locked; unlock it again')]);
    const server = scriptedServer(plain);
    const { connection, readies } = open(server, signing.ed);
    try {
      const waited = within(connection.whenReady());
      signing.release();
      const e = await waited;
      expect(e).toBeInstanceOf(SyncError);
      expect(e).toMatchObject({ code: 'LOCKED', retry: false });
      expect((e as SyncError).message).toMatch(/locked/);
      expect(connection.status()).toBe('fatal');
      expect(connection.failure()).toBe(e);
      expect(readies).toEqual([]);
      await settle();
      expect(server.sent).toEqual(['hello']);
      expect(server.closed(), 'sockets the device closed').toBe(1);
      expect(server.sockets(), 'sockets opened (no reconnect)').toBe(1);
    } finally {
      connection.stop();
    }
  });

  it('the device key zeroed while auth is signed (the account locked): fatal LOCKED, nothing sent', async () => {
    // Whether the signer then fails or signs the zeroes, nothing under them goes out.
    for (const outcome of [new Error('signer lost its key'), 'sign' as const]) {
      const label = outcome === 'sign' ? 'signed' : 'rejected';
      const signing = heldThen([outcome]);
      const server = scriptedServer(plain);
      const { connection, readies, secretKey } = open(server, signing.ed);
      try {
        await settle();
        expect(signing.calls(), label).toBe(1);
        secretKey.fill(0);
        const waited = within(connection.whenReady());
        signing.release();
        expect(await waited, label).toMatchObject({ code: 'LOCKED', retry: false });
        expect(connection.status(), label).toBe('fatal');
        expect(readies).toEqual([]);
        await settle();
        expect(server.sent, label).toEqual(['hello']);
        expect(server.closed(), label).toBe(1);
        expect(server.sockets(), label).toBe(1);
      } finally {
        connection.stop();
      }
    }
  });

  it('a key already zeroed when the challenge comes is not signed: fatal LOCKED', async () => {
    const signing = heldThen(['sign']);
    signing.release();
    const server = scriptedServer(plain);
    const { connection, secretKey } = open(server, signing.ed);
    secretKey.fill(0);
    try {
      expect(await within(connection.whenReady())).toMatchObject({ code: 'LOCKED', retry: false });
      expect(signing.calls()).toBe(0);
      expect(server.sent).toEqual(['hello']);
    } finally {
      connection.stop();
    }
  });

  it('any other signing failure gives the socket up and signs in again on a new one', async () => {
    const signing = heldThen([new Error('signer worker crashed'), 'sign']);
    const server = scriptedServer(plain);
    const statuses: string[] = [];
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: server.create,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: signing.ed,
      onFrame: () => undefined,
      onStatus: (status, reason) => statuses.push(`${status}${reason === undefined ? '' : `: ${reason}`}`),
      backoff: { initialMs: 1, maxMs: 2 },
    });
    connection.start();
    try {
      const waited = within(connection.whenReady());
      signing.release();
      expect(await waited).toBe('resolved');
      expect(connection.status()).toBe('ready');
      expect(statuses).toContainEqual(
        expect.stringMatching(/^offline: auth could not be signed: signer worker/),
      );
      expect(server.sockets(), 'sockets opened').toBe(2);
      expect(server.closed(), 'the first one given up by the device').toBe(1);
      expect(server.sent).toEqual(['hello', 'hello', 'auth']);
      expect(signing.calls()).toBe(2);
    } finally {
      connection.stop();
    }
  });

  it('a socket given up for a reason of many bytes is closed all the same: the reason is cut to what a close frame holds, whole characters only', async () => {
    // A signer's message (non-ASCII: two bytes a character) long enough to pass 123 bytes of UTF-8 within
    // the first 100 characters, as the device's own text used to be cut.
    const signing = heldThen([new Error('é'.repeat(200)), 'sign']);
    const server = scriptedServer(plain);
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: server.create,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: signing.ed,
      onFrame: () => undefined,
      backoff: { initialMs: 1, maxMs: 2 },
    });
    connection.start();
    try {
      const waited = within(connection.whenReady());
      signing.release();
      expect(await waited).toBe('resolved');
      expect(server.sockets(), 'sockets opened').toBe(2);
      expect(server.closed(), 'the first one closed by the device').toBe(1);
    } finally {
      connection.stop();
    }
  });
});

describe('a fatal refusal after ready', () => {
  const STREAM = `${ID}/profile` as const;

  it('gives the socket up: nothing after it is handed on or taken as a reply, no reconnect', async () => {
    for (const code of ['DEVICE_REVOKED', 'BAD_SIGNATURE', 'UNSUPPORTED_VERSION']) {
      const server = scriptedServer({
        hello: (offered) => [challenge(Math.max(...offered))],
        auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
        // The refusal, then a server that goes on on the same socket before closing it.
        request: (rid) => [
          { t: 'error', code, message: 'refused' },
          { t: 'changes', docs: [], streams: [{ stream: STREAM, checkpoint: 3 }] },
          { t: 'streams', rid, streams: [] },
        ],
      });
      const { connection, frames } = open(server);
      try {
        await connection.whenReady();
        const e = await within(connection.request({ t: 'listStreams' }));
        expect(e, code).toMatchObject({ code: 'NETWORK', retry: true });
        await settle();
        expect(connection.status(), code).toBe('fatal');
        expect(connection.failure(), code).toMatchObject({ code, retry: false });
        expect(
          frames.map((f) => f.t),
          code,
        ).toEqual(['error']);
        expect(server.closed(), `${code}: sockets the device closed`).toBe(1);
        expect(server.sockets(), `${code}: sockets opened (no reconnect)`).toBe(1);
        expect(await within(connection.whenReady()), code).toMatchObject({ code });
      } finally {
        connection.stop();
      }
    }
  });
});

describe('a socket the platform refuses to open', () => {
  const plain: Script = {
    hello: (offered) => [challenge(Math.max(...offered))],
    auth: (deviceId) => [ready(deviceId, OFFERED_MAX)],
  };

  it('refused LOCKED (the session, once its account was locked): fatal LOCKED, waiting requests rejected', async () => {
    const server = scriptedServer(plain);
    let locked = false;
    let attempts = 0;
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: () => {
        attempts++;
        if (locked) throw new AccountError('LOCKED', 'the account is locked; unlock it again');
        return server.create();
      },
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: () => undefined,
      backoff: { initialMs: 1, maxMs: 2 },
    });
    connection.start();
    try {
      await connection.whenReady();
      locked = true;
      connection.drop();
      await settle();
      // Made after the lock: answered at once, not held until the session closes.
      const waited = await within(connection.request({ t: 'listStreams' }));
      expect(waited).toBeInstanceOf(SyncError);
      expect(waited).toMatchObject({ code: 'LOCKED', retry: false });
      expect(connection.status()).toBe('fatal');
      expect(connection.failure()).toBe(waited);
      const before = attempts;
      await settle();
      expect(attempts, 'no attempt after the refusal').toBe(before);
    } finally {
      connection.stop();
    }
  });

  it('refused for another reason: offline and tried again with backoff', async () => {
    const server = scriptedServer(plain);
    let attempts = 0;
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: () => {
        if (++attempts < 3) throw new Error('no network interface');
        return server.create();
      },
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: () => undefined,
      backoff: { initialMs: 1, maxMs: 2 },
    });
    connection.start();
    try {
      expect(await within(connection.request({ t: 'listStreams' }))).toBe('resolved');
      expect(attempts).toBe(3);
    } finally {
      connection.stop();
    }
  });
});
