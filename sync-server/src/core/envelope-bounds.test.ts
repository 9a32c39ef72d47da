// What a stranger can make another account's key-envelope fetch cost (security review): `putEnvelopes`
// took any epoch for any existing recipient, and `getEnvelopes` read every row addressed to the caller
// before deciding which it may have, then answered all it may have in one frame, however large. A patient
// addressing 20,000 epochs of its own stream to another account made that account's every fetch read
// 20,000 rows, and, once it granted that account the stream, answer more than MAX_FRAME_BYTES, which
// devices refuse.
//
// Rows a server before these bounds stored are written straight into the store (the service no longer
// takes them): envelopes as long as real ones, signed by nobody (the server does not check what it serves).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { STREAM_TYPES } from '@hale/model';
import {
  GRANTABLE_STREAM_TYPES,
  KeyEnvelope,
  MAX_FRAME_BYTES,
  MAX_STREAM_EPOCHS,
  encodeFrame,
  validate,
  type ServerFrame,
} from '@hale/protocol';
import { base64urlEncode, generateRootSecret, keyId, wrapKey } from '@hale/crypto';
import {
  connect,
  makeEnvelope,
  makeGrant,
  registerAccount,
  serverAccessEntries,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';
import { ENVELOPE_MIN_BYTES, ServiceError } from './sync-service';

/** An envelope's stored fields as long as a real one's, signed by nobody. */
const rawFields = (recipient: TestAccount, createdBy: string) => {
  const key = generateRootSecret();
  return {
    keyId: keyId(key),
    wrapped: wrapKey(key, recipient.keys.wrapping.publicKey, { stream: 'any', epoch: 0 }),
    createdBy,
    sig: base64urlEncode(new Uint8Array([...generateRootSecret(), ...generateRootSecret()])),
  };
};

/** Stores envelopes of `stream` for `recipient` at `epochs` directly, as an older server took them. */
const insertRaw = (
  t: TestServer,
  stream: string,
  recipient: TestAccount,
  epochs: Iterable<number>,
  fields: { keyId: string; wrapped: string; createdBy: string; sig: string },
): void => {
  const insert = t.store.db.prepare(
    `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const at = new Date().toISOString();
  t.store.db.transaction(() => {
    for (const epoch of epochs) {
      insert.run(
        stream,
        epoch,
        recipient.accountId,
        fields.keyId,
        fields.wrapped,
        fields.createdBy,
        fields.sig,
        at,
      );
    }
  })();
};

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Counts the envelope rows the store hands the service from now on. */
const countLoaded = (t: TestServer) => {
  const spy = vi.spyOn(t.store.envelopes, 'list');
  return {
    rows: (): number => {
      let n = 0;
      for (const r of spy.mock.settledResults) if (r.type === 'fulfilled') n += r.value.length;
      return n;
    },
    stop: () => spy.mockRestore(),
  };
};

const storedEpochs = (t: TestServer, stream: string, recipient: TestAccount): number[] =>
  (
    t.store.db
      .prepare('SELECT epoch FROM envelopes WHERE stream = ? AND recipient = ? ORDER BY epoch')
      .all(stream, recipient.accountId) as Array<{ epoch: number }>
  ).map((r) => r.epoch);

const put = (c: WsClient, envelopes: KeyEnvelope[]): Promise<ServerFrame> =>
  c.request({ t: 'putEnvelopes', rid: c.rid(), envelopes });

const refusal = (f: ServerFrame) =>
  f.t === 'error' ? { code: f.code, details: f.details } : { t: f.t, unexpected: true };

describe('key envelope bounds', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => t.stop());

  it('reads none of the envelopes a stranger addressed to an account when it fetches its own', async () => {
    const stranger = await registerAccount(t);
    const victim = await registerAccount(t);
    const friend = await registerAccount(t);
    const junk = streamOf(stranger.accountId, 'document');
    insertRaw(t, junk, victim, range(0, 20_000), rawFields(victim, stranger.device.deviceId));

    // What the victim may read: a rotated epoch of its own stream, and a friend's allergy it was granted.
    const v = await connect(t, victim.device);
    const f = await connect(t, friend.device);
    const own = await makeEnvelope(victim, victim.device, victim, 'allergy', 1, generateRootSecret());
    expect((await put(v, [own])).t).toBe('ok');
    const shared = await makeEnvelope(friend, friend.device, victim, 'allergy', 0);
    expect((await put(f, [shared])).t).toBe('ok');
    const g = await makeGrant(friend, victim, [{ type: 'allergy', access: 'read' }], { now: t.clock.now });
    expect((await f.request({ t: 'grant', rid: f.rid(), grant: g })).t).toBe('ok');

    const loaded = countLoaded(t);
    try {
      const all = await v.request({ t: 'getEnvelopes', rid: v.rid() });
      expect(all.t === 'envelopes' ? all.envelopes.map((e) => `${e.stream}|${e.epoch}`).sort() : all).toEqual(
        [`${friend.accountId}/allergy|0`, `${victim.accountId}/allergy|1`].sort(),
      );
      // Asked for by name, a stream the caller may not read is left out without reading its rows.
      const named = await v.request({
        t: 'getEnvelopes',
        rid: v.rid(),
        streams: [junk, streamOf(friend.accountId, 'allergy')],
      });
      expect(named.t === 'envelopes' ? named.envelopes.map((e) => e.stream) : named).toEqual([
        `${friend.accountId}/allergy`,
      ]);
      expect(loaded.rows()).toBe(3);
    } finally {
      loaded.stop();
    }
    await v.close();
    await f.close();
  });

  it('takes envelopes of any epoch below the cap, whatever the stream holds (a device may hold epochs the store lost)', async () => {
    // A device never claims below its floor (the highest epoch it held) and grants with every epoch it
    // holds: when the store lost epochs (a restore onto an empty disk), both are above the stored epoch.
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = streamOf(patient.accountId, 'medication');
    const c = await connect(t, patient.device);
    const key = generateRootSecret();
    const claim = await makeEnvelope(patient, patient.device, patient, 'medication', 6, key);
    expect((await put(c, [claim])).t).toBe('ok');
    const wraps = await Promise.all(
      [0, 6, 8].map((epoch) => makeEnvelope(patient, patient.device, provider, 'medication', epoch, key)),
    );
    expect((await put(c, wraps)).t).toBe('ok');
    expect(storedEpochs(t, stream, provider)).toEqual([0, 6, 8]);
    await c.close();
  });

  it(`refuses epoch ${MAX_STREAM_EPOCHS} and above (TOO_LARGE), storing nothing of the frame`, async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = streamOf(patient.accountId, 'immunization');
    const last = MAX_STREAM_EPOCHS - 1;
    insertRaw(t, stream, patient, [last], rawFields(patient, patient.device.deviceId));
    const c = await connect(t, patient.device);
    const env = (to: TestAccount, epoch: number) =>
      makeEnvelope(patient, patient.device, to, 'immunization', epoch);

    expect(refusal(await put(c, [await env(provider, last), await env(patient, last + 1)]))).toEqual({
      code: 'TOO_LARGE',
      details: { stream, epoch: last + 1, max: MAX_STREAM_EPOCHS },
    });
    expect(refusal(await put(c, [await env(patient, Number.MAX_SAFE_INTEGER)]))).toMatchObject({
      code: 'TOO_LARGE',
    });
    expect(storedEpochs(t, stream, provider)).toEqual([]);
    expect(storedEpochs(t, stream, patient)).toEqual([last]);
    expect((await put(c, [await env(provider, last)])).t).toBe('ok');
    expect(storedEpochs(t, stream, provider)).toEqual([last]);
    await c.close();
  });

  it('answers TOO_LARGE, logging nothing, rather than an answer over a frame; each stream alone fits', async () => {
    // A stranger grants the victim read access to every type, each stream with 8,000 epochs addressed to
    // it: more than a frame together, and more rows than any answer within a frame can hold.
    const stranger = await registerAccount(t);
    const victim = await registerAccount(t);
    const s = await connect(t, stranger.device);
    const scope = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));
    const g = await makeGrant(stranger, victim, scope, { now: t.clock.now });
    expect((await s.request({ t: 'grant', rid: s.rid(), grant: g })).t).toBe('ok');
    const streams = GRANTABLE_STREAM_TYPES.map((type) => streamOf(stranger.accountId, type));
    const EPOCHS = 8_000;
    const fields = rawFields(victim, stranger.device.deviceId);
    for (const stream of streams) insertRaw(t, stream, victim, range(0, EPOCHS), fields);

    const p = await t.server.ctx.loadDevice(victim.device.deviceId);
    const logged = (await serverAccessEntries(t, stranger)).length;
    const loaded = countLoaded(t);
    try {
      for (const asked of [undefined, streams, streams.slice(0, 3)]) {
        const answer = await t.server.service.getEnvelopes(p, asked).then(
          (envelopes) => ({ bytes: encodeFrame({ t: 'envelopes', rid: 1, envelopes }).length }),
          (error: unknown) => (error instanceof ServiceError ? { code: error.code } : { error }),
        );
        expect({ asked: asked?.length, answer }).toEqual({
          asked: asked?.length,
          answer: { code: 'TOO_LARGE' },
        });
      }
      // Each read stops once its rows cannot fit a frame, even were every envelope the smallest possible.
      expect(loaded.rows()).toBeLessThanOrEqual(3 * (Math.floor(MAX_FRAME_BYTES / ENVELOPE_MIN_BYTES) + 1));
    } finally {
      loaded.stop();
    }
    expect((await serverAccessEntries(t, stranger)).length).toBe(logged);

    // What the device does next (it splits): each stream alone is answered, within a frame, whole.
    const v = await connect(t, victim.device);
    let served = 0;
    for (const stream of streams.slice(0, 2)) {
      const reply = await v.request({ t: 'getEnvelopes', rid: v.rid(), streams: [stream] });
      if (reply.t !== 'envelopes') throw new Error(`expected envelopes, got ${JSON.stringify(reply)}`);
      expect(encodeFrame(reply).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(new Set(reply.envelopes.map((e) => e.epoch)).size).toBe(EPOCHS);
      served += reply.envelopes.length;
    }
    expect(served).toBe(2 * EPOCHS);
    // Served answers are logged (the refused ones above were not).
    expect((await serverAccessEntries(t, stranger)).length).toBeGreaterThan(logged);
    await v.close();
    await s.close();
  }, 120_000);

  it(`answers one recipient's ${MAX_STREAM_EPOCHS} epochs of one stream in one frame, at the largest envelope`, async () => {
    const patient = await registerAccount(t);
    const longest = [...STREAM_TYPES].sort((a, b) => b.length - a.length)[0]!;
    const stream = streamOf(patient.accountId, longest);
    const widest = {
      keyId: 'A'.repeat(KeyEnvelope.properties.keyId.maxLength ?? 0),
      wrapped: 'A'.repeat(KeyEnvelope.properties.wrapped.maxLength ?? 0),
      createdBy: patient.device.deviceId,
      sig: 'A'.repeat(86),
    };
    const asServed = { stream, epoch: MAX_STREAM_EPOCHS - 1, recipient: patient.accountId, ...widest };
    expect(validate(KeyEnvelope, asServed).ok).toBe(true);
    insertRaw(t, stream, patient, range(0, MAX_STREAM_EPOCHS), widest);

    const c = await connect(t, patient.device);
    const reply = await c.request({ t: 'getEnvelopes', rid: c.rid(), streams: [stream] });
    if (reply.t !== 'envelopes') throw new Error(`expected envelopes, got ${JSON.stringify(reply)}`);
    expect(reply.envelopes).toHaveLength(MAX_STREAM_EPOCHS);
    const bytes = encodeFrame(reply).length;
    // A real envelope, as a device wraps it, for the same arithmetic at the size that is actually sent.
    const real = await makeEnvelope(patient, patient.device, patient, longest, MAX_STREAM_EPOCHS - 1);
    const realBytes = MAX_STREAM_EPOCHS * (JSON.stringify(real).length + 1);
    console.log(
      `${MAX_STREAM_EPOCHS} envelopes of one stream: ${bytes} bytes at the largest, ≈${realBytes} at a real ` +
        `envelope's size; MAX_FRAME_BYTES ${MAX_FRAME_BYTES}`,
    );
    expect(bytes).toBeLessThan(0.8 * MAX_FRAME_BYTES);
    expect(realBytes).toBeLessThan(0.7 * MAX_FRAME_BYTES);
    await c.close();
  }, 60_000);

  it('counts no envelope as smaller than ENVELOPE_MIN_BYTES (the bound the read stops by)', () => {
    const shortest = [...STREAM_TYPES].sort((a, b) => a.length - b.length)[0]!;
    const id = 'A'.repeat(22);
    const narrowest = {
      stream: `${id}/${shortest}`,
      epoch: 0,
      recipient: id,
      keyId: '',
      wrapped: '',
      createdBy: id,
    };
    expect(validate(KeyEnvelope, narrowest).ok).toBe(true);
    expect(JSON.stringify(narrowest).length + 1).toBeGreaterThanOrEqual(ENVELOPE_MIN_BYTES);
  });
});
