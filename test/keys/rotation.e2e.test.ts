// Key rotation after a grant ends, when it is cut short or raced: a rotation interrupted after the server
// took the revocation is finished at the next connect (on this device or another of the patient's), exactly
// once; two patient devices rotating one stream at once end up writing under the key the server holds.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { deriveAccountKeys, openRecordVersion, unwrapKey, type AccountKeys } from '@hale/crypto';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { sealedContext, storedRow } from '../support/server-rows';
import { eventually, openDevice, waitOnline, allPushed, grantRead } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

type Frame = { t: string; streams?: unknown };

/**
 * A socket factory for one device whose outgoing frames a test can intercept: the next frame matching a
 * rule is held until released, dropped with its connection (as a network failure just before it), or
 * sent and followed by a dropped connection (the server takes it, the reply never arrives).
 */
const interceptor = () => {
  let rule: { match: (f: Frame) => boolean; action: 'hold' | 'drop' | 'send-then-drop' } | null = null;
  let held: (() => void) | null = null;
  let onHeld: (() => void) | null = null;
  const sent: string[] = [];
  const create = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    const send = (data: string): void => {
      const frame = JSON.parse(data) as Frame;
      sent.push(frame.t);
      rawSend(data);
    };
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      const frame = JSON.parse(data) as Frame;
      const r = rule;
      if (!r || !r.match(frame)) return send(data);
      rule = null;
      if (r.action === 'drop') return ws.close(4000, 'dropped by the test');
      if (r.action === 'send-then-drop') {
        send(data);
        return ws.close(4000, 'dropped by the test');
      }
      held = () => send(data);
      onHeld?.();
    };
    return ws as unknown as WebSocketLike;
  };
  return {
    createWebSocket: create,
    /** Types of the frames sent so far, in order. */
    sent: (): readonly string[] => sent,
    drop(match: (f: Frame) => boolean, action: 'drop' | 'send-then-drop' = 'drop'): void {
      rule = { match, action };
    },
    /** Resolves once a frame matching `match` is held. */
    hold(match: (f: Frame) => boolean): Promise<void> {
      rule = { match, action: 'hold' };
      return new Promise((resolve) => {
        onHeld = () => {
          onHeld = null;
          resolve();
        };
      });
    },
    release(): void {
      const h = held;
      held = null;
      h?.();
    },
  };
};

const isPut = (f: Frame): boolean => f.t === 'putEnvelopes';

/** The highest key epoch the server holds for a stream (what pushes must be sealed under). */
const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

const envelopeCount = (t: TestServer, stream: string, recipient: string, epoch: number): number =>
  (
    t.store.db
      .prepare('SELECT count(*) AS n FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
      .get(stream, recipient, epoch) as { n: number }
  ).n;

/** The key an account's envelope on the server opens to, for (stream, epoch). */
const serverKey = (t: TestServer, stream: string, recipient: string, keys: AccountKeys, epoch: number) => {
  const row = t.store.db
    .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
    .get(stream, recipient, epoch) as { wrapped: string } | undefined;
  if (!row) throw new Error(`no envelope for ${recipient} at epoch ${epoch}`);
  const key = unwrapKey(row.wrapped, keys.wrapping, { stream, epoch });
  if (!key.ok) throw new Error(`cannot open the envelope: ${key.error.code}`);
  return key.value;
};

/** Opens a record as stored on the server with the key the server holds for the patient at its epoch. */
const opensWithServerKey = (t: TestServer, patient: { accountId: string; keys: AccountKeys }, id: string) => {
  const row = storedRow(t, id);
  if (!row) throw new Error(`${id} is not on the server`);
  const key = serverKey(t, row.stream, patient.accountId, patient.keys, row.epoch);
  return openRecordVersion(key, new Uint8Array(row.ct), sealedContext(row, id));
};

const pushed = (s: DeviceSession, what: string) => allPushed(s, `${what} pushed`);

/** Drops a device's connection (as the network would) and waits until it is back and synced. */
const reconnect = async (s: DeviceSession): Promise<void> => {
  s.connection.drop();
  await eventually(() => s.connection.status() !== 'ready', 'connection dropped');
  await waitOnline(s);
};

const noQuarantine = (...sessions: DeviceSession[]): void => {
  for (const s of sessions) expect(s.sync.quarantine()).toEqual([]);
};

describe('rotation after a revocation that was cut short', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** A patient, a provider about to be revoked and one who stays, both reading allergies. */
  const setup = async (options: { createWebSocket?: (url: string) => WebSocketLike } = {}) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, options);
    const d = await openDevice(t, revoked);
    const o = await openDevice(t, stays);
    sessions.push(p, d, o);
    await Promise.all([waitOnline(p), waitOnline(d), waitOnline(o)]);
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const grant = await grantRead(p, revoked.accountId, 'allergy', 24 * HOUR, 'treatment');
    await grantRead(p, stays.accountId, 'allergy', 24 * HOUR, 'treatment');
    await eventually(async () => (await d.records.get(before.id)) !== null, 'revoked provider synced');
    await eventually(async () => (await o.records.get(before.id)) !== null, 'other provider synced');
    const stream = `${patient.accountId}/allergy`;
    // The epoch-0 key the revoked provider holds (and keeps: what it synced cannot be recalled).
    const held = serverKey(t, stream, revoked.accountId, deriveAccountKeys(revoked.root), 0);
    return { t, patient, revoked, stays, p, d, o, grant, stream, held };
  };

  /** A record written now: on the server under the new epoch, closed to the old key, read by `o` only. */
  const writtenAfterIsShut = async (
    s: Awaited<ReturnType<typeof setup>>,
    writer: DeviceSession,
    epoch: number,
  ): Promise<void> => {
    const after = await writer.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await pushed(writer, 'post-revocation write');
    const row = s.t.store.db.prepare('SELECT ct, epoch FROM docs WHERE id = ?').get(after.id) as {
      ct: Buffer;
      epoch: number;
    };
    expect(row.epoch).toBe(epoch);
    const attempt = openRecordVersion(s.held, new Uint8Array(row.ct), {
      stream: s.stream,
      id: after.id,
      epoch,
      rev: 1,
    });
    expect(attempt.ok).toBe(false);
    expect(envelopeCount(s.t, s.stream, s.revoked.accountId, epoch)).toBe(0);
    await eventually(
      async () => (await s.o.records.get<'Allergy'>(after.id))?.record.substance === 'Penicillin',
      'remaining provider reads the new record',
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(await s.d.records.get(after.id)).toBeNull();
    noQuarantine(writer, s.o);
  };

  it('connection lost before the new epoch was published: the next connect rotates, once', async () => {
    const net = interceptor();
    const s = await setup({ createWebSocket: net.createWebSocket });
    net.drop(isPut);
    const result = await s.p.consent.revoke(s.grant.grant.grantId);
    // The revocation stands (the server cut access); the re-keying is still owed.
    expect(result).toEqual({ rotated: [], pending: [s.stream] });
    expect((await s.p.consent.list()).find((g) => g.grant.grantId === s.grant.grant.grantId)?.status).toBe(
      'revoked',
    );
    await eventually(
      () => serverEpoch(s.t, s.stream) === 1 && envelopeCount(s.t, s.stream, s.stays.accountId, 1) === 1,
      'rotated and wrapped for the remaining provider after reconnecting',
    );
    await writtenAfterIsShut(s, s.p, 1);

    // Exactly one rotation: more reconnects, explicit checks and another device of the patient add none.
    for (let i = 0; i < 2; i++) {
      await reconnect(s.p);
      expect(await s.p.consent.rotateExpired()).toEqual([]);
    }
    const second = await openDevice(s.t, s.patient, { device: await addDevice(s.t, s.patient) });
    sessions.push(second);
    await waitOnline(second);
    expect(await second.consent.rotateExpired()).toEqual([]);
    expect(serverEpoch(s.t, s.stream)).toBe(1);
  });

  it('connection lost after the server took the new epoch: the holders are wrapped at the next connect', async () => {
    const net = interceptor();
    const s = await setup({ createWebSocket: net.createWebSocket });
    // The claim of epoch 1 reaches the server, but its reply (and the wrap for the holders) never happens.
    net.drop(isPut, 'send-then-drop');
    const result = await s.p.consent.revoke(s.grant.grant.grantId);
    expect(result.pending).toEqual([s.stream]);
    await eventually(
      () => envelopeCount(s.t, s.stream, s.stays.accountId, 1) === 1,
      'remaining provider wrapped after reconnecting',
    );
    expect(serverEpoch(s.t, s.stream)).toBe(1);
    await writtenAfterIsShut(s, s.p, 1);
    expect(await s.p.consent.rotateExpired()).toEqual([]);
    expect(serverEpoch(s.t, s.stream)).toBe(1);
  });

  it("the app closed after the revocation: another of the patient's devices rotates", async () => {
    const net = interceptor();
    const s = await setup({ createWebSocket: net.createWebSocket });
    const other = await addDevice(s.t, s.patient);
    net.drop(isPut);
    expect((await s.p.consent.revoke(s.grant.grant.grantId)).pending).toEqual([s.stream]);
    await s.p.close();
    sessions.splice(sessions.indexOf(s.p), 1);
    expect(serverEpoch(s.t, s.stream)).toBe(0);

    // The provider's copy of the patient's device list predates the new device; a copy loaded less than a
    // second ago is not reloaded for an unknown device (device-directory.ts), which this fast test would hit.
    s.o.directory.forget(s.patient.accountId);
    const b = await openDevice(s.t, s.patient, { device: other });
    sessions.push(b);
    await eventually(
      () => serverEpoch(s.t, s.stream) === 1 && envelopeCount(s.t, s.stream, s.stays.accountId, 1) === 1,
      'the other device rotates on connect',
    );
    await writtenAfterIsShut(s, b, 1);
    // The first device, back (here: signed in again), finds nothing owed.
    const again = await openDevice(s.t, s.patient);
    sessions.push(again);
    await waitOnline(again);
    expect(await again.consent.rotateExpired()).toEqual([]);
    expect(serverEpoch(s.t, s.stream)).toBe(1);
  });

  it("a device lost after the server took its new epoch, before wrapping it: another of the patient's devices wraps it", async () => {
    const net = interceptor();
    const s = await setup({ createWebSocket: net.createWebSocket });
    const other = await addDevice(s.t, s.patient);
    // The claim of epoch 1 reaches the server; the device is gone before it can wrap it for anyone.
    net.drop(isPut, 'send-then-drop');
    expect((await s.p.consent.revoke(s.grant.grant.grantId)).pending).toEqual([s.stream]);
    await s.p.close();
    sessions.splice(sessions.indexOf(s.p), 1);
    expect(serverEpoch(s.t, s.stream)).toBe(1);
    expect(envelopeCount(s.t, s.stream, s.stays.accountId, 1)).toBe(0);

    // The other device finds the stream already re-keyed (nothing to claim) and the remaining provider
    // without the new epoch's key: it wraps that key, and nothing for the revoked provider.
    s.o.directory.forget(s.patient.accountId);
    const b = await openDevice(s.t, s.patient, { device: other });
    sessions.push(b);
    await eventually(
      () => envelopeCount(s.t, s.stream, s.stays.accountId, 1) === 1,
      'the remaining provider is wrapped the orphaned epoch',
    );
    expect(serverEpoch(s.t, s.stream)).toBe(1);
    await writtenAfterIsShut(s, b, 1);
    // Wrapped once: later checks find nothing lacking and publish nothing.
    expect(await b.consent.rotateExpired()).toEqual([]);
    expect(envelopeCount(s.t, s.stream, s.stays.accountId, 1)).toBe(1);
    expect(serverEpoch(s.t, s.stream)).toBe(1);
  });
});

describe('two devices of the patient rotating one stream at once', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('the device whose claim lost adopts the key the server kept and re-keys what the winner missed', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const [x, y, z] = [
      await registerAccount(t, 'provider'),
      await registerAccount(t, 'provider'),
      await registerAccount(t, 'provider'),
    ];
    const netA = interceptor();
    const netB = interceptor();
    const a = await openDevice(t, patient, { createWebSocket: netA.createWebSocket });
    const b = await openDevice(t, patient, {
      device: await addDevice(t, patient),
      createWebSocket: netB.createWebSocket,
    });
    const dz = await openDevice(t, z);
    sessions.push(a, b, dz);
    await Promise.all([waitOnline(a), waitOnline(b), waitOnline(dz)]);
    const grantTo = (granteeId: string) =>
      a.consent.grant({
        granteeId,
        scope: [{ type: 'allergy', access: 'read' }],
        durationMs: 24 * HOUR,
        purpose: 'care',
      });
    const gx = await grantTo(x.accountId);
    const gy = await grantTo(y.accountId);
    await grantTo(z.accountId);
    const stream = `${patient.accountId}/allergy`;

    // A revokes x and claims epoch 1 (shutting out x only); the claim waits before reaching the server.
    const aClaims = netA.hold(isPut);
    const revokeA = a.consent.revoke(gx.grant.grantId);
    await aClaims;
    // B revokes y meanwhile and claims epoch 1 too, shutting out x and y, with another key.
    const bClaims = netB.hold(isPut);
    const revokeB = b.consent.revoke(gy.grant.grantId);
    await bClaims;
    // A's claim lands first; A then pauses before its next check. B's claim comes second and loses.
    const aChecksAgain = netA.hold((f) => f.t === 'listGrants');
    netA.release();
    await aChecksAgain;
    netB.release();
    const resultB = await revokeB;
    // B did not write under its own epoch-1 key: it took A's, saw that it lets y in, and rotated again.
    expect(resultB).toEqual({ rotated: [{ stream, epoch: 2 }], pending: [] });
    const fromB = await b.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await pushed(b, "B's record");
    const opened = opensWithServerKey(t, patient, fromB.id);
    expect(opened.ok).toBe(true);

    netA.release();
    const resultA = await revokeA;
    // A minted epoch 1; checking again with older keys than grants, it may claim epoch 2 as well — with
    // the same key as B, since both shut out the same grants.
    expect(resultA.pending).toEqual([]);
    expect(resultA.rotated[0]).toEqual({ stream, epoch: 1 });
    const fromA = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
    await pushed(a, "A's record");
    expect(opensWithServerKey(t, patient, fromA.id).ok).toBe(true);
    for (const [reader, id, what] of [
      [a, fromB.id, "A reads B's record"],
      [b, fromA.id, "B reads A's record"],
      [dz, fromA.id, "z reads A's record"],
      [dz, fromB.id, "z reads B's record"],
    ] as const) {
      await eventually(async () => (await reader.records.get(id)) !== null, what);
    }
    noQuarantine(a, b, dz);
    expect(serverEpoch(t, stream)).toBe(2);
    for (const revoked of [x, y]) expect(envelopeCount(t, stream, revoked.accountId, 2)).toBe(0);
    expect(envelopeCount(t, stream, z.accountId, 2)).toBe(1);
    // Both settled: nothing more on either device.
    expect(await a.consent.rotateExpired()).toEqual([]);
    expect(await b.consent.rotateExpired()).toEqual([]);
    expect(serverEpoch(t, stream)).toBe(2);
  });
});

describe('two devices of the patient rotating after the same expiry', () => {
  const server = useServer();
  const sessions = server.sessions;

  it('both mint the same epoch with the same key; each reads what the other writes; no churn', async () => {
    const t = server.t;
    const now = () => t.clock.now;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const netA = interceptor();
    const netB = interceptor();
    const a = await openDevice(t, patient, { now, createWebSocket: netA.createWebSocket });
    const b = await openDevice(t, patient, {
      now,
      device: await addDevice(t, patient),
      createWebSocket: netB.createWebSocket,
    });
    const o = await openDevice(t, stays, { now });
    sessions.push(a, b, o);
    await Promise.all([waitOnline(a), waitOnline(b), waitOnline(o)]);
    await grantRead(a, provider.accountId, 'medication', HOUR, 'review');
    await grantRead(a, stays.accountId, 'medication', 24 * HOUR, 'care');
    const stream = `${patient.accountId}/medication`;
    t.clock.advance(HOUR + 1000);
    // Both claim epoch 1 before either claim reaches the server.
    const aClaims = netA.hold(isPut);
    const bClaims = netB.hold(isPut);
    const rotA = a.consent.rotateExpired();
    const rotB = b.consent.rotateExpired();
    await Promise.all([aClaims, bClaims]);
    netA.release();
    netB.release();
    const [ra, rb] = await Promise.all([rotA, rotB]);
    expect(ra).toEqual([{ stream, epoch: 1 }]);
    expect(rb).toEqual([{ stream, epoch: 1 }]);
    expect(serverEpoch(t, stream)).toBe(1);

    const fromA = await a.records.add('Medication', input('Medication', { name: 'Metformin' }));
    const fromB = await b.records.add('Medication', input('Medication', { name: 'Lisinopril' }));
    await Promise.all([pushed(a, "A's record"), pushed(b, "B's record")]);
    for (const id of [fromA.id, fromB.id]) expect(opensWithServerKey(t, patient, id).ok).toBe(true);
    await eventually(async () => (await a.records.get(fromB.id)) !== null, "A reads B's record");
    await eventually(async () => (await b.records.get(fromA.id)) !== null, "B reads A's record");
    await eventually(async () => (await o.records.get(fromA.id)) !== null, "o reads A's record");
    await eventually(async () => (await o.records.get(fromB.id)) !== null, "o reads B's record");
    noQuarantine(a, b, o);
    expect(envelopeCount(t, stream, provider.accountId, 1)).toBe(0);

    for (const s of [a, b]) {
      await reconnect(s);
      expect(await s.consent.rotateExpired()).toEqual([]);
    }
    expect(serverEpoch(t, stream)).toBe(1);
  });

  it("a device whose clock is behind takes the other's rotation for an expiry it has not reached yet", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const gone = await registerAccount(t, 'provider');
    const expiring = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const a = await openDevice(t, patient, { now: () => t.clock.now + 60_000 });
    const b = await openDevice(t, patient, {
      now: () => t.clock.now - 60_000,
      device: await addDevice(t, patient),
    });
    sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const grantTo = (granteeId: string, durationMs: number) =>
      a.consent.grant({
        granteeId,
        scope: [{ type: 'medication', access: 'read' }],
        durationMs,
        purpose: 'care',
      });
    const revoked = await grantTo(gone.accountId, 24 * HOUR);
    await grantTo(expiring.accountId, HOUR);
    await grantTo(stays.accountId, 24 * HOUR);
    const stream = `${patient.accountId}/medication`;
    expect((await a.consent.revoke(revoked.grant.grantId)).rotated).toEqual([{ stream, epoch: 1 }]);
    expect(await b.consent.rotateExpired()).toEqual([]);
    // Between the two devices' clocks: expired for A, not yet for B.
    t.clock.advance(HOUR);
    expect(await a.consent.rotateExpired()).toEqual([{ stream, epoch: 2 }]);
    expect(await b.consent.rotateExpired()).toEqual([]);
    expect(serverEpoch(t, stream)).toBe(2);
    expect(envelopeCount(t, stream, expiring.accountId, 2)).toBe(0);
    expect(envelopeCount(t, stream, stays.accountId, 2)).toBe(1);
  });
});

describe("a provider's keyring and a patient device it does not know yet", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('takes a new epoch wrapped by a patient device added just after it loaded the patient devices', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const gone = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    // The provider's clock stands still while the test says so, so the list it loads is "a moment old"
    // when the new device's envelope arrives.
    let frozen: number | null = null;
    const p = await openDevice(t, patient);
    const o = await openDevice(t, stays, { now: () => frozen ?? Date.now() });
    sessions.push(p, o);
    await Promise.all([waitOnline(p), waitOnline(o)]);
    const grantTo = (granteeId: string) =>
      p.consent.grant({
        granteeId,
        scope: [{ type: 'allergy', access: 'read' }],
        durationMs: 24 * HOUR,
        purpose: 'care',
      });
    const revoked = await grantTo(gone.accountId);
    await grantTo(stays.accountId);
    const stream = `${patient.accountId}/allergy`;
    // The provider loads the patient's devices; then a new device of the patient rotates within the same
    // moment: the list predates that device, so the provider asks again once instead of refusing.
    frozen = Date.now();
    o.directory.forget(patient.accountId);
    await o.directory.deviceKey(patient.accountId, patient.device.deviceId);
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(b);
    await waitOnline(b);
    expect((await b.consent.revoke(revoked.grant.grantId)).rotated).toEqual([{ stream, epoch: 1 }]);
    expect(await o.keyring.keyFor(stream, 1)).not.toBeNull();
  });
});
