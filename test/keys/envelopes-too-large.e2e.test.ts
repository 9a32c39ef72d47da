// A device that asks for all its key envelopes at once (a patient: its streams fit one request) when it may
// now read more than it knew of: a stranger granted it streams of many epochs while it was not told (no
// `accessChanged`). The answer is larger than a frame. The server used to send it anyway (the device's
// decoder refused it, and the server read and encoded it all again at each try); it answers TOO_LARGE, and
// the device lists its streams again and asks in slices: it still gets every envelope it may read.
//
// The stranger's grant and envelopes are written straight into the store, as many-envelopes.e2e.test.ts
// does: envelopes as long as real ones, signed by nobody (the device refuses them after decoding).
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '@hale/protocol';
import type { WebSocketLike } from '@hale/client';
import { base64urlEncode, generateRootSecret, keyId, wrapKey } from '@hale/crypto';
import { insertRawGrants, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice, waitOnline } from '../support/devices';

/** Each getEnvelopes request a device sends: the streams it named, its answer's size and error code. */
const tap = () => {
  const requests = new Map<number, { streams: number | null; bytes?: number; code?: string }>();
  const received = new Set<string>();
  const createWebSocket = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      const frame = JSON.parse(data) as { t: string; rid?: number; streams?: string[] };
      if (frame.t === 'getEnvelopes' && frame.rid !== undefined) {
        requests.set(frame.rid, { streams: frame.streams?.length ?? null });
      }
      rawSend(data);
    };
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString('utf8')) as {
        rid?: number;
        code?: string;
        envelopes?: Array<{ stream: string; epoch: number }>;
      };
      const request = reply.rid === undefined ? undefined : requests.get(reply.rid);
      if (!request) return;
      request.bytes = data.length;
      if (reply.code !== undefined) request.code = reply.code;
      for (const e of reply.envelopes ?? []) received.add(`${e.stream}|${e.epoch}`);
    });
    return ws as unknown as WebSocketLike;
  };
  return { createWebSocket, requests: () => [...requests.values()], received };
};

const SCOPE = [
  { type: 'allergy', access: 'read' },
  { type: 'medication', access: 'read' },
  { type: 'lab-result', access: 'read' },
] as const;

describe('a device whose one request for every envelope is answered TOO_LARGE', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('asks again in slices and gets every envelope it may read', { timeout: 120_000 }, async () => {
    const t = server.t;
    const victim = await registerAccount(t);
    const stranger = await registerAccount(t);
    const net = tap();
    const d = await openDevice(t, victim, { createWebSocket: net.createWebSocket });
    sessions.push(d);
    await waitOnline(d);
    // The connect's fetch knew the account's own streams only.
    await eventually(() => net.requests().some((r) => r.bytes !== undefined), 'the connect fetch answered');

    insertRawGrants(t.store, stranger, victim, 1, { now: Date.now(), scope: [...SCOPE] });
    const key = generateRootSecret();
    const e = {
      keyId: keyId(key),
      wrapped: wrapKey(key, victim.keys.wrapping.publicKey, { stream: 'any', epoch: 0 }),
      createdBy: stranger.device.deviceId,
      sig: base64urlEncode(new Uint8Array([...generateRootSecret(), ...generateRootSecret()])),
    };
    const streams = SCOPE.map((s) => `${stranger.accountId}/${s.type}`);
    // Together a quarter more than a frame; each stream alone well within one.
    const one = JSON.stringify({ stream: streams[0], epoch: 1000, recipient: victim.accountId, ...e });
    const epochs = Math.ceil((1.25 * MAX_FRAME_BYTES) / ((one.length + 1) * streams.length));
    const insert = t.store.db.prepare(
      `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const at = new Date().toISOString();
    t.store.db.transaction(() => {
      for (const stream of streams)
        for (let epoch = 0; epoch < epochs; epoch++)
          insert.run(stream, epoch, victim.accountId, e.keyId, e.wrapped, e.createdBy, e.sig, at);
    })();
    const held = streams.flatMap((stream) => Array.from({ length: epochs }, (_, e) => `${stream}|${e}`));

    const before = net.requests().length;
    // The rotation check fetches every envelope first (here with nothing to rotate).
    await d.consent.rotateExpired();
    const asked = net.requests().slice(before);
    const figures = {
      epochs,
      asked: asked.map((r) => ({ streams: r.streams, bytes: r.bytes, code: r.code })),
    };
    // The one request for all was refused as too large, never answered with more than a frame...
    expect({ figures, oversized: asked.filter((r) => (r.bytes ?? 0) > MAX_FRAME_BYTES) }).toEqual({
      figures,
      oversized: [],
    });
    expect(asked[0]).toMatchObject({ streams: null, code: 'TOO_LARGE' });
    // ...and the slices that followed brought every envelope the stranger addressed to it.
    expect(held.filter((e) => !net.received.has(e))).toEqual([]);
    expect(asked.filter((r) => r.code !== undefined)).toHaveLength(1);
  });
});
