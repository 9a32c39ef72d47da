// Test harness (harness-ws): A real WebSocket client speaking the protocol: sign-in, requests matched by
// rid, pushes, raw upgrades.
// Re-exported by harness.ts, which tests import.
import WebSocket from 'ws';
import {
  authSignaturePayload,
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type PushDoc,
  type PushedFrame,
  type PushResult,
  type ReadyFrame,
  type ServerFrame,
} from '@hale/protocol';
import { sign, type Endpoint } from './harness-server';
import type { TestDevice } from './harness-accounts';

/** A real WebSocket client speaking the protocol; replies are matched by rid, other frames collected. */
export interface WsClient {
  ws: WebSocket;
  /** Resolves when the socket closes, with the close code and reason the server gave. */
  closed: Promise<{ code: number; reason: string }>;
  unsolicited: ServerFrame[];
  request<T extends ServerFrame = ServerFrame>(frame: ClientFrame): Promise<T>;
  sendRaw(data: string | Buffer): void;
  nextFrame(): Promise<ServerFrame>;
  waitFor<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, timeoutMs?: number): Promise<T>;
  rid(): number;
  close(): Promise<void>;
}

export const openWs = async (t: Endpoint): Promise<WsClient> => {
  const ws = new WebSocket(t.wsUrl);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
  });
  // Listeners go on before `open` is awaited: a frame sent right at connect (a refusal) must not be lost.
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const pending = new Map<number, (f: ServerFrame) => void>();
  const unsolicited: ServerFrame[] = [];
  const waiters: Array<(f: ServerFrame) => boolean> = [];
  let anyWaiter: ((f: ServerFrame) => void) | null = null;
  ws.on('message', (data: Buffer) => {
    const decoded = decodeServerFrame(data.toString('utf8'));
    if (!decoded.ok) throw new Error(`server sent an invalid frame: ${decoded.error.message}`);
    const frame = decoded.value;
    if (anyWaiter) {
      const w = anyWaiter;
      anyWaiter = null;
      w(frame);
      return;
    }
    const rid = 'rid' in frame ? frame.rid : undefined;
    if (rid !== undefined && pending.has(rid)) {
      pending.get(rid)!(frame);
      pending.delete(rid);
      return;
    }
    unsolicited.push(frame);
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i]!(frame)) {
        waiters.splice(i, 1);
        break;
      }
    }
  });
  await opened;
  let rid = 1;
  return {
    ws,
    closed,
    unsolicited,
    rid: () => rid++,
    request<T extends ServerFrame>(frame: ClientFrame): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const r = 'rid' in frame ? frame.rid : undefined;
        // A bound for a server that never answers, not a wait: a loaded 2-core CI has taken over 10 s.
        const timer = setTimeout(() => reject(new Error(`no reply to ${frame.t}`)), 30_000);
        const done = (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f as T);
        };
        if (r === undefined) anyWaiter = done;
        else pending.set(r, done);
        ws.send(encodeFrame(frame));
      });
    },
    sendRaw: (data) => ws.send(data),
    nextFrame: () => {
      const queued = unsolicited.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise<ServerFrame>((resolve) => {
        anyWaiter = resolve;
      });
    },
    waitFor<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, timeoutMs = 5_000): Promise<T> {
      const found = unsolicited.find(pred);
      if (found) {
        unsolicited.splice(unsolicited.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
        waiters.push((f) => {
          if (!pred(f)) return false;
          clearTimeout(timer);
          unsolicited.splice(unsolicited.indexOf(f), 1);
          resolve(f);
          return true;
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
};

/**
 * Opens a socket and completes hello → challenge → auth for the device, offering `versions` (default
 * [1]); the answer carries the `ready` frame.
 */
export const connect = async (
  t: Endpoint,
  device: TestDevice,
  options: { versions?: number[] } = {},
): Promise<WsClient & { ready: ReadyFrame }> => {
  const client = await openWs(t);
  const challenge = await client.request({
    t: 'hello',
    versions: options.versions ?? [1],
    deviceId: device.deviceId,
  });
  if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${JSON.stringify(challenge)}`);
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId }),
  );
  const ready = await client.request({ t: 'auth', sig });
  if (ready.t !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return Object.assign(client, { ready });
};

export const streamOf = (patientId: string, type: string) => `${patientId}/${type}` as PushDoc['stream'];

/** Pushes `docs` over `c`, each as new (no assumed revision); answers the result of each. */
export const pushNew = async (c: WsClient, docs: PushDoc[]): Promise<PushResult[]> =>
  (
    await c.request<PushedFrame>({
      t: 'push',
      rid: c.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    })
  ).results;

/** A push result as one word: `ok`, or the error's code. */
export const outcomeOf = (r: PushResult): string => (r.status === 'error' ? r.code : r.status);

/** Attempts hello → challenge → auth; a refusal answers the error code instead of throwing. */
export const tryConnect = async (
  t: Endpoint,
  device: TestDevice,
): Promise<{ ok: true; client: WsClient } | { ok: false; code: string; client: WsClient }> => {
  const client = await openWs(t);
  const challenge = await client.request({ t: 'hello', versions: [1], deviceId: device.deviceId });
  if (challenge.t === 'error') return { ok: false, code: challenge.code, client };
  if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${JSON.stringify(challenge)}`);
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId }),
  );
  const ready = await client.request({ t: 'auth', sig });
  if (ready.t === 'error') return { ok: false, code: ready.code, client };
  if (ready.t !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return { ok: true, client };
};

/** What a WebSocket upgrade attempt got: the open socket, or the HTTP refusal before it and its JSON body. */
export type UpgradeAttempt = { status: 101; ws: WebSocket } | { status: number; body: unknown };

/** Attempts a WebSocket upgrade with `options` (a local address, headers); a refusal resolves, never throws. */
export const tryUpgrade = (t: Endpoint, options: WebSocket.ClientOptions = {}): Promise<UpgradeAttempt> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, options);
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
      });
    });
    ws.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });

/** Resolves true when a frame matching `pred` arrives within `ms`, false otherwise (consumes it). */
export const frameWithin = async (client: WsClient, pred: (f: ServerFrame) => boolean, ms: number) =>
  client
    .waitFor((f: ServerFrame): f is ServerFrame => pred(f), ms)
    .then(
      () => true,
      () => false,
    );

// ---- raw store inspection (tests only; writes would bypass the store's contract) ----
