// A provider following many patients holds more key envelopes than one `envelopes` frame can carry: a
// clinic's patients each grant every record type, and each stream has a few key epochs. At every connect
// its device asked for all of them in one request; the answer exceeded MAX_FRAME_BYTES, the device's
// decoder refused it (the request failed BAD_MESSAGE), and keys then came one stream at a time, on demand.
//
// The other patients' grants and envelopes are written straight into the store, as granting and wrapping
// them one by one through the protocol would make this test minutes long; so are their accounts
// (`storedPatient`: the rows a registration stores). Their envelopes are well formed
// and as long as real ones but signed by nobody (the device checks signatures after the frame is decoded,
// and refuses them); their streams are empty.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GRANTABLE_STREAM_TYPES, MAX_FRAME_BYTES } from '@hale/protocol';
import type { WebSocketLike } from '@hale/client';
import { base64urlEncode, generateRootSecret, keyId, wrapKey } from '@hale/crypto';
import {
  insertRawGrants,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { storedPatient } from '../support/stored-accounts';

const HOUR = 3600_000;
const PATIENTS = 400;

interface EnvelopeRequest {
  /** How many streams it named; null: every envelope. */
  streams: number | null;
  /** Size of its answer in bytes, once answered. */
  bytes?: number;
}

/** The getEnvelopes requests a device sends, the size of each answer and the envelopes they carried. */
const tap = () => {
  const requests = new Map<number, EnvelopeRequest>();
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
      // An answer too large to decode is matched by the rid at its start, as the device itself does.
      const reply =
        data.length > MAX_FRAME_BYTES
          ? { rid: Number(/^\{"t":"envelopes","rid":(\d+)/.exec(data.subarray(0, 64).toString('utf8'))?.[1]) }
          : (JSON.parse(data.toString('utf8')) as {
              rid?: number;
              envelopes?: Array<{ stream: string; epoch: number }>;
            });
      const request = reply.rid === undefined ? undefined : requests.get(reply.rid);
      if (!request) return;
      request.bytes = data.length;
      if ('envelopes' in reply) for (const e of reply.envelopes ?? []) received.add(`${e.stream}|${e.epoch}`);
    });
    return ws as unknown as WebSocketLike;
  };
  const list = () => [...requests.values()];
  return {
    createWebSocket,
    requests: list,
    oversized: () => list().filter((r) => r.bytes !== undefined && r.bytes > MAX_FRAME_BYTES),
    received,
  };
};

/** An envelope as the server stores it: a real wrap's length, a signature's, signed by nobody. */
const rawEnvelope = (grantee: TestAccount, createdBy: string) => {
  const key = generateRootSecret();
  return {
    keyId: keyId(key),
    wrapped: wrapKey(key, grantee.keys.wrapping.publicKey, { stream: 'any', epoch: 0 }),
    createdBy,
    sig: base64urlEncode(new Uint8Array([...generateRootSecret(), ...generateRootSecret()])),
  };
};

/** Envelopes for `grantee` of epochs 0 to `epochs - 1` of every grantable stream of each patient. */
const insertRawEnvelopes = (
  t: TestServer,
  patients: readonly TestAccount[],
  grantee: TestAccount,
  epochs: number,
): void => {
  const insert = t.store.db.prepare(
    `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const at = new Date().toISOString();
  t.store.db.transaction(() => {
    for (const patient of patients) {
      const e = rawEnvelope(grantee, patient.device.deviceId);
      for (const type of GRANTABLE_STREAM_TYPES) {
        for (let epoch = 0; epoch < epochs; epoch++) {
          insert.run(
            `${patient.accountId}/${type}`,
            epoch,
            grantee.accountId,
            e.keyId,
            e.wrapped,
            e.createdBy,
            e.sig,
            at,
          );
        }
      }
    }
  })();
};

describe('a provider holding more key envelopes than one frame can carry', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it("fetches them in answers that fit, and reads a patient's records", { timeout: 240_000 }, async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    const scope = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));
    const others: TestAccount[] = [];
    for (let i = 0; i < PATIENTS; i++) {
      const patient = await storedPatient(t);
      insertRawGrants(t.store, patient, provider, 1, { now: Date.now(), scope });
      others.push(patient);
    }
    // Enough epochs per stream that all envelopes together are a quarter more than a frame.
    const one = JSON.stringify({
      stream: `${provider.accountId}/allergy`,
      epoch: 1,
      recipient: provider.accountId,
      ...rawEnvelope(provider, provider.device.deviceId),
    });
    const streams = PATIENTS * GRANTABLE_STREAM_TYPES.length;
    const epochs = Math.ceil((1.25 * MAX_FRAME_BYTES) / ((one.length + 1) * streams));
    insertRawEnvelopes(t, others, provider, epochs);

    // One real patient whose allergy the provider must read.
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    const allergy = await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');

    const held = (
      t.store.db
        .prepare('SELECT stream, epoch FROM envelopes WHERE recipient = ?')
        .all(provider.accountId) as Array<{
        stream: string;
        epoch: number;
      }>
    ).map((e) => `${e.stream}|${e.epoch}`);
    expect(held.length * (one.length + 1)).toBeGreaterThan(MAX_FRAME_BYTES);

    const net = tap();
    const d = await openDevice(t, provider, { createWebSocket: net.createWebSocket });
    sessions.push(d);
    await waitOnline(d);
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider has the allergy');
    // The connect-time refresh goes on in the background (each envelope is checked, and refused) until
    // every envelope came in, or stops at an answer too large.
    await eventually(
      () => net.received.size >= held.length || net.oversized().length > 0,
      'every envelope fetched, or an answer too large',
      120_000,
    );

    const requests = net.requests();
    const figures = {
      envelopes: held.length,
      epochs,
      requests: requests.length,
      named: requests.map((r) => r.streams),
      answerBytes: requests.map((r) => r.bytes),
      received: net.received.size,
    };
    // Every answer fit a frame: none was refused by the device's decoder...
    expect({ oversized: net.oversized(), figures }).toEqual({ oversized: [], figures });
    // ...together they brought every envelope the server holds for the provider...
    expect(held.filter((e) => !net.received.has(e))).toEqual([]);
    // ...and not one request per stream: each asked for hundreds of streams' envelopes at once.
    expect(requests.length).toBeLessThan(streams / 100);
    expect(d.sync.state().errors).toEqual([]);
  });
});
