// Consent ends at its instant for live delivery too: at expiry (server clock, with or without the sweep)
// and at revocation (before the patient's device hears `ok`); and it begins at its start, not before.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AccessChangedFrame,
  ChangesFrame,
  ErrorFrame,
  PulledFrame,
  PushDoc,
  PushedFrame,
  ServerFrame,
  StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  frameWithin,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

const MINUTE = 60_000;
const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';
const delivers = (id: string) => (f: ServerFrame) => f.t === 'changes' && f.docs.some((d) => d.id === id);

describe('consent expiry and revocation cut live delivery', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let p: WsClient;
  let d: WsClient;
  let stream: PushDoc['stream'];
  let grantId: string;
  let expiresAt: number;

  const push = async (title: string): Promise<PushDoc> => {
    const doc = await makeDoc(patient, patient.device, 'allergy', { title });
    const r = await p.request<PushedFrame>({ t: 'push', rid: p.rid(), rows: [{ doc, assumedRev: null }] });
    expect(r.results[0]?.status).toBe('ok');
    return doc;
  };
  const pull = () =>
    d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream, since: 0 }],
      limit: 100,
      maxBytes: 1 << 20,
    });

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    stream = streamOf(patient.accountId, 'allergy');
    p = await connect(t, patient.device);
    d = await connect(t, provider.device);
    expiresAt = t.clock.now + 10 * MINUTE;
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt,
    });
    grantId = grant.grant.grantId;
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    await d.waitFor(isAccessChanged);
  });
  afterEach(async () => {
    await p.close();
    await d.close();
    await t.stop();
  });

  const subscribe = async () => {
    const ok = await d.request({ t: 'subscribe', rid: d.rid(), streams: [{ stream, since: 0 }] });
    expect(ok.t).toBe('ok');
  };

  it('delivers up to the last millisecond and nothing from the expiry instant on, without any sweep', async () => {
    await subscribe();
    const before = await push('penicillin');
    expect(await frameWithin(d, delivers(before.id), 2000)).toBe(true);

    t.clock.advance(expiresAt - 1 - t.clock.now);
    const lastMs = await push('latex');
    expect(await frameWithin(d, delivers(lastMs.id), 2000)).toBe(true);

    t.clock.advance(1); // now === expiresAt: the grant covers [start, expiresAt)
    const after = await push('peanuts');
    expect(await frameWithin(d, delivers(after.id), 300)).toBe(false);
    expect(t.server.hub.subscriptions()).toBe(0);

    const pulled = await pull();
    expect(pulled.docs).toEqual([]);
    expect(pulled.denied).toEqual([{ stream, code: 'CONSENT_EXPIRED' }]);
    const again = await d.request<ErrorFrame>({
      t: 'subscribe',
      rid: d.rid(),
      streams: [{ stream, since: 0 }],
    });
    expect(again).toMatchObject({ t: 'error', code: 'CONSENT_EXPIRED' });
  });

  it('tells a subscribed device on the sweep after expiry', async () => {
    await subscribe();
    t.clock.advance(10 * MINUTE + 1);
    expect(d.unsolicited.filter(isAccessChanged)).toEqual([]);
    await t.server.hub.sweep();
    const changed = await d.waitFor(isAccessChanged, 2000);
    expect(changed.removed).toEqual([{ stream, reason: 'expired' }]);
    expect(changed.streams).toEqual([]);
    expect(t.server.hub.subscriptions()).toBe(0);
    const late = await push('after expiry');
    expect(await frameWithin(d, delivers(late.id), 300)).toBe(false);
  });

  it('tells a device that only pulls (no subscription) on the sweep after expiry', async () => {
    expect((await pull()).denied).toEqual([]);
    t.clock.advance(10 * MINUTE);
    await t.server.hub.sweep();
    const changed = await d.waitFor(isAccessChanged, 2000);
    expect(changed.removed).toEqual([{ stream, reason: 'expired' }]);
    // The next sweep has nothing new to say.
    await t.server.hub.sweep();
    expect(await frameWithin(d, isAccessChanged, 200)).toBe(false);
  });

  it('revocation cuts live delivery before the patient hears ok; a later change is never delivered', async () => {
    await subscribe();
    const before = await push('before revocation');
    expect(await frameWithin(d, delivers(before.id), 2000)).toBe(true);

    // Revoke and write back to back: the write is handled after the revocation was acknowledged.
    const revocation = await makeRevocation(patient, grantId);
    const doc = await makeDoc(patient, patient.device, 'allergy', { title: 'after revocation' });
    const [revoked, pushed] = await Promise.all([
      p.request({ t: 'revoke', rid: p.rid(), revocation }),
      p.request<PushedFrame>({ t: 'push', rid: p.rid(), rows: [{ doc, assumedRev: null }] }),
    ]);
    expect(revoked.t).toBe('ok');
    expect(pushed.results[0]?.status).toBe('ok');

    const changed = await d.waitFor(isAccessChanged, 2000);
    expect(changed.removed).toEqual([{ stream, reason: 'revoked' }]);
    expect(await frameWithin(d, delivers(doc.id), 300)).toBe(false);
    const later = await push('much later');
    expect(await frameWithin(d, delivers(later.id), 300)).toBe(false);
    expect(d.unsolicited.filter((f): f is ChangesFrame => f.t === 'changes')).toEqual([]);

    const pulled = await pull();
    expect(pulled.docs).toEqual([]);
    expect(pulled.denied).toEqual([{ stream, code: 'CONSENT_REVOKED' }]);
  });

  it('refuses every access under a grant before its start instant, and allows it from then on', async () => {
    const medication = streamOf(patient.accountId, 'medication');
    const start = t.clock.now + 10 * MINUTE;
    const later = await makeGrant(patient, provider, [{ type: 'medication', access: 'write' }], {
      now: t.clock.now,
      start,
      expiresAt: start + 10 * MINUTE,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: later })).t).toBe('ok');
    const pullMedication = () =>
      d.request<PulledFrame>({
        t: 'pull',
        rid: d.rid(),
        streams: [{ stream: medication, since: 0 }],
        limit: 100,
        maxBytes: 1 << 20,
      });
    const pushMedication = async (title: string) => {
      const doc = await makeDoc(patient, provider.device, 'medication', { title });
      const r = await d.request<PushedFrame>({ t: 'push', rid: d.rid(), rows: [{ doc, assumedRev: null }] });
      return { doc, result: r.results[0] };
    };

    t.clock.advance(start - 1 - t.clock.now);
    expect((await pullMedication()).denied).toEqual([{ stream: medication, code: 'NO_CONSENT' }]);
    const early = await pushMedication('written before the start');
    expect(early.result).toMatchObject({ status: 'error', code: 'NO_CONSENT' });
    expect(await t.store.docs.getDoc(medication, early.doc.id)).toBeNull();
    expect(
      await d.request({ t: 'subscribe', rid: d.rid(), streams: [{ stream: medication, since: 0 }] }),
    ).toMatchObject({ t: 'error', code: 'NO_CONSENT' });
    const listed = await d.request<StreamsFrame>({ t: 'listStreams', rid: d.rid() });
    expect(listed.streams.map((s) => s.stream)).not.toContain(medication);

    t.clock.advance(1); // now === start: the grant covers [start, expiresAt)
    const onTime = await pushMedication('written at the start');
    expect(onTime.result).toMatchObject({ status: 'ok', id: onTime.doc.id });
    const pulled = await pullMedication();
    expect(pulled.denied).toEqual([]);
    expect(pulled.docs.map((doc) => doc.id)).toEqual([onTime.doc.id]);
  });
});
