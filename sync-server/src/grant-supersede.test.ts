// A patient changes a grant by signing a new one that names it (`supersedes`): the
// server stores the new grant and ends the old one in one step, as a revocation ends a grant, and lists the
// old one on both sides with its end and its successor's signed grant. A change of a grant that is not the
// patient's to the same grantee, or is ended, is refused GRANT_NOT_SUPERSEDABLE, changing nothing; a
// revocation of a replaced grant is refused GRANT_SUPERSEDED. The grantee keeps what the new grant keeps
// without a gap, live delivery included, and loses what it drops at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeServerFrame,
  grantSignaturePayload,
  type AccessChangedFrame,
  type GrantScopeEntry,
  type GrantsFrame,
  type PulledFrame,
  type PushDoc,
  type ServerFrame,
  type SignedGrant,
  type StreamsFrame,
} from '@hale/protocol';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  ed,
  frameWithin,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';
import { base64urlDecode, verifyCanonical } from '@hale/crypto';
import { standIn } from './core/hub';
import type { Grant } from './store/index';

const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';
const delivers = (id: string) => (f: ServerFrame) => f.t === 'changes' && f.docs.some((d) => d.id === id);

/** A step held until `open()`; `reached` resolves once something got to it. */
const gate = () => {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, opened, entered, reached };
};

const ALLERGY_WRITE: GrantScopeEntry = { type: 'allergy', access: 'write' };
const ALLERGY_READ: GrantScopeEntry = { type: 'allergy', access: 'read' };
const LABS: GrantScopeEntry = { type: 'lab-result', access: 'read' };
const MEDICATION: GrantScopeEntry = { type: 'medication', access: 'read' };

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let second: TestDevice;
let p: WsClient;
let p2: WsClient;
let d: WsClient;
const clients: WsClient[] = [];

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
  second = await addDevice(t, patient);
  p = await open(patient.device);
  p2 = await open(second);
  d = await open(provider.device);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await t.stop();
});

const open = async (device: TestDevice) => {
  const c = await connect(t, device);
  clients.push(c);
  return c;
};
const signGrant = (scope: GrantScopeEntry[], options: { supersedes?: string; grantee?: TestAccount } = {}) =>
  makeGrant(patient, options.grantee ?? provider, scope, {
    now: t.clock.now,
    ...(options.supersedes === undefined ? {} : { supersedes: options.supersedes }),
  });
const send = (grant: SignedGrant, c: WsClient = p) => c.request({ t: 'grant', rid: c.rid(), grant });
const give = async (scope: GrantScopeEntry[], options: Parameters<typeof signGrant>[1] = {}) => {
  const grant = await signGrant(scope, options);
  expect(await send(grant)).toMatchObject({ t: 'ok' });
  return grant;
};
const revoke = async (grantId: string) =>
  p.request({ t: 'revoke', rid: p.rid(), revocation: await makeRevocation(patient, grantId) });
const listGrants = async (c: WsClient, side: 'issued' | 'received') =>
  (await c.request<GrantsFrame>({ t: 'listGrants', rid: c.rid(), side })).grants;
const nowIso = () => new Date(t.clock.now).toISOString();
const push = async (type: string, title: string): Promise<PushDoc> => {
  const doc = await makeDoc(patient, second, type, { title });
  const r = await p2.request({ t: 'push', rid: p2.rid(), rows: [{ doc, assumedRev: null }] });
  expect(r).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
  return doc;
};
const verifiesAsPatients = async (signed: SignedGrant): Promise<boolean> => {
  const payload = grantSignaturePayload(signed.grant);
  const sig = base64urlDecode(signed.sig);
  return (
    sig.ok && (await verifyCanonical(ed, patient.keys.identity.publicKey, payload.label, payload, sig.value))
  );
};

describe('changing a grant (supersedes)', () => {
  it('stores the new grant and ends the old one; both sides list the old one with its end and its successor', async () => {
    const old = await give([ALLERGY_WRITE, LABS, MEDICATION]);
    t.clock.advance(60_000);
    const next = await give([ALLERGY_READ, MEDICATION], { supersedes: old.grant.grantId });
    const endedAt = nowIso();
    expect(await t.store.grants.get(old.grant.grantId)).toMatchObject({
      revokedAt: endedAt,
      supersededBy: next.grant.grantId,
    });
    expect((await t.store.grants.get(next.grant.grantId))?.revokedAt).toBeUndefined();

    // Each record proves itself: the successor, whole, signed by the patient, naming the old grant.
    for (const [c, side] of [
      [p, 'issued'],
      [d, 'received'],
    ] as const) {
      const records = await listGrants(c, side);
      expect(records.map((r) => r.grant.grant.grantId)).toEqual([next.grant.grantId, old.grant.grantId]);
      expect(records[0]).toStrictEqual({ grant: next });
      expect(records[1]).toStrictEqual({ grant: old, revokedAt: endedAt, supersededBy: next });
      expect(await verifiesAsPatients(records[1]!.supersededBy!)).toBe(true);
    }

    // The grantee may sync what the new grant names, on its terms, and nothing it dropped.
    const streams = await d.request<StreamsFrame>({ t: 'listStreams', rid: d.rid() });
    const named = streams.streams.filter((s) => s.patientId === patient.accountId && s.grantId !== undefined);
    expect(named.map((s) => [s.type, s.access, s.grantId])).toEqual([
      ['allergy', 'read', next.grant.grantId],
      ['medication', 'read', next.grant.grantId],
    ]);
    const pulled = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [
        { stream: streamOf(patient.accountId, 'allergy'), since: 0 },
        { stream: streamOf(patient.accountId, 'lab-result'), since: 0 },
      ],
      limit: 10,
      maxBytes: 100_000,
    });
    expect(pulled.denied).toEqual([
      { stream: streamOf(patient.accountId, 'lab-result'), code: 'CONSENT_REVOKED' },
    ]);
    // Read only now: a write to the allergies is refused.
    const doc = await makeDoc(patient, provider.device, 'allergy', { title: 'by the provider' });
    const pushed = await d.request({ t: 'push', rid: d.rid(), rows: [{ doc, assumedRev: null }] });
    expect(pushed).toMatchObject({ t: 'pushed', results: [{ status: 'error', code: 'FORBIDDEN' }] });
  });

  it('is answered as before when sent again (its answer was lost), and refuses another grant under its id', async () => {
    const old = await give([ALLERGY_READ]);
    const next = await give([ALLERGY_READ, LABS], { supersedes: old.grant.grantId });
    expect(await send(next)).toMatchObject({ t: 'ok' });
    const other = { ...next, grant: { ...next.grant, scope: [MEDICATION] } };
    expect(await send(other)).toMatchObject({ t: 'error', code: 'BAD_SIGNATURE' });
    expect((await t.store.grants.get(old.grant.grantId))?.supersededBy).toBe(next.grant.grantId);
  });

  it('refuses GRANT_NOT_SUPERSEDABLE, storing nothing, unless the grant it names is the pair’s and unended', async () => {
    const stranger = await registerAccount(t);
    const colleague = await registerAccount(t, 'provider');
    const strangers = await open(stranger.device);
    const theirs = await makeGrant(stranger, provider, [ALLERGY_READ], { now: t.clock.now });
    expect(await send(theirs, strangers)).toMatchObject({ t: 'ok' });
    const toColleague = await give([ALLERGY_READ], { grantee: colleague });
    const revoked = await give([ALLERGY_READ]);
    expect(await revoke(revoked.grant.grantId)).toMatchObject({ t: 'ok' });
    const expiring = await makeGrant(patient, provider, [ALLERGY_READ], {
      now: t.clock.now,
      expiresAt: t.clock.now + 60_000,
    });
    expect(await send(expiring)).toMatchObject({ t: 'ok' });
    const replaced = await give([ALLERGY_READ]);
    await give([LABS], { supersedes: replaced.grant.grantId });
    t.clock.advance(60_000);

    const before = await t.store.grants.listForPatient(patient.accountId);
    const cases: Array<[string, string]> = [
      ['no such grant', newId()],
      ["another patient's grant", theirs.grant.grantId],
      ['a grant to another grantee', toColleague.grant.grantId],
      ['a revoked grant', revoked.grant.grantId],
      ['an expired grant (at its expiresAt)', expiring.grant.grantId],
      ['a grant replaced already', replaced.grant.grantId],
    ];
    for (const [why, supersedes] of cases) {
      const next = await signGrant([ALLERGY_READ], { supersedes });
      expect(await send(next), why).toMatchObject({ t: 'error', code: 'GRANT_NOT_SUPERSEDABLE' });
      expect(await t.store.grants.get(next.grant.grantId), why).toBeNull();
    }
    expect(await t.store.grants.listForPatient(patient.accountId)).toStrictEqual(before);
    // A grant naming itself never reaches the service (the codec refuses it).
    const self = await signGrant([ALLERGY_READ]);
    self.grant.supersedes = self.grant.grantId;
    expect(await send(self)).toMatchObject({ t: 'error', code: 'BAD_MESSAGE' });
  });

  it('of two changes of one grant sent at once from two devices, one is stored, the other refused', async () => {
    const old = await give([ALLERGY_READ, LABS]);
    const a = await signGrant([ALLERGY_READ], { supersedes: old.grant.grantId });
    const b = await signGrant([LABS], { supersedes: old.grant.grantId });
    const replies = await Promise.all([send(a, p), send(b, p2)]);
    expect(replies.map((r) => (r.t === 'error' ? r.code : r.t)).sort()).toEqual([
      'GRANT_NOT_SUPERSEDABLE',
      'ok',
    ]);
    const [won, lost] = replies[0].t === 'ok' ? [a, b] : [b, a];
    expect((await t.store.grants.get(old.grant.grantId))?.supersededBy).toBe(won.grant.grantId);
    expect(await t.store.grants.get(lost.grant.grantId)).toBeNull();
  });

  it('refuses a revocation of the replaced grant GRANT_SUPERSEDED, changing nothing; the replacement is revoked as any grant', async () => {
    const old = await give([ALLERGY_READ]);
    const next = await give([ALLERGY_READ, LABS], { supersedes: old.grant.grantId });
    const storedOld = await t.store.grants.get(old.grant.grantId);
    expect(await revoke(old.grant.grantId)).toMatchObject({
      t: 'error',
      code: 'GRANT_SUPERSEDED',
      details: { supersededBy: next.grant.grantId },
    });
    expect(await t.store.grants.get(old.grant.grantId)).toStrictEqual(storedOld);
    expect((await t.store.grants.get(next.grant.grantId))?.revokedAt).toBeUndefined();
    // An ended grant otherwise (revoked) is revoked again as before: `ok`, the first end kept.
    expect(await revoke(next.grant.grantId)).toMatchObject({ t: 'ok' });
    expect(await revoke(next.grant.grantId)).toMatchObject({ t: 'ok' });
    expect(await revoke(old.grant.grantId)).toMatchObject({ t: 'error', code: 'GRANT_SUPERSEDED' });
  });
});

describe('live delivery across a change', () => {
  const allergy = () => streamOf(patient.accountId, 'allergy');
  const labs = () => streamOf(patient.accountId, 'lab-result');

  /**
   * Holds the provider's reads of its grants from named patients (`listUnendedFrom`: the hub's reload after
   * a change): the first such read reads the store at once and returns only once `g` opens.
   */
  const holdNextGrantRead = (g: ReturnType<typeof gate>) => {
    const grants = t.store.grants;
    const original = grants.listUnendedFrom.bind(grants);
    let held = false;
    grants.listUnendedFrom = async (granteeId, patientIds, now) => {
      const out = await original(granteeId, patientIds, now);
      if (granteeId !== provider.accountId || held) return out;
      held = true;
      g.entered();
      await g.opened;
      return out;
    };
  };

  it('goes on for a stream the change keeps, with no gap, and stops for one it drops, at once', async () => {
    const old = await give([ALLERGY_READ, LABS]);
    await d.waitFor(isAccessChanged);
    // Every frame the provider's device gets, in order (waitFor takes frames out of `unsolicited`).
    const seen: ServerFrame[] = [];
    d.ws.on('message', (data: Buffer) => {
      const decoded = decodeServerFrame(data.toString('utf8'));
      if (decoded.ok) seen.push(decoded.value);
    });
    const subscribed = await d.request({
      t: 'subscribe',
      rid: d.rid(),
      streams: [
        { stream: allergy(), since: 0 },
        { stream: labs(), since: 0 },
      ],
    });
    expect(subscribed.t).toBe('ok');
    const first = await push('allergy', 'before the change');
    expect(await frameWithin(d, delivers(first.id), 2000)).toBe(true);

    // The change commits; the hub's reload of the provider's grants is held, so the connection still holds
    // what it held just before the commit.
    const reload = gate();
    holdNextGrantRead(reload);
    const grants = t.store.grants;
    const original = grants.supersede.bind(grants);
    let signal!: () => void;
    const committed = new Promise<void>((resolve) => (signal = resolve));
    grants.supersede = async (...args) => {
      const out = await original(...args);
      signal();
      return out;
    };
    const next = await signGrant([ALLERGY_READ, MEDICATION], { supersedes: old.grant.grantId });
    const changing = send(next);
    await committed;
    await reload.reached;
    const during = await push('allergy', 'while the grantee is re-decided');
    const dropped = await push('lab-result', 'after the change dropped labs');
    // Kept: delivered now, not once the reload is done.
    expect(await frameWithin(d, delivers(during.id), 2000)).toBe(true);
    // Dropped: never delivered.
    expect(await frameWithin(d, delivers(dropped.id), 300)).toBe(false);
    reload.open();
    expect(await changing).toMatchObject({ t: 'ok' });

    // Told: the kept stream under the new grant, the dropped one removed; the kept one never removed.
    const told = await d.waitFor(
      (f): f is AccessChangedFrame => isAccessChanged(f) && f.removed.some((r) => r.stream === labs()),
    );
    expect(told.removed).toEqual([{ stream: labs(), reason: 'revoked' }]);
    expect(told.streams.map((s) => [s.stream, s.grantId])).toEqual(
      expect.arrayContaining([[allergy(), next.grant.grantId]]),
    );
    const after = await push('allergy', 'after the change');
    expect(await frameWithin(d, delivers(after.id), 2000)).toBe(true);
    expect(await frameWithin(d, delivers(dropped.id), 300)).toBe(false);
    const removedEver = seen.filter(isAccessChanged).flatMap((f) => f.removed.map((r) => r.stream));
    expect(removedEver).toEqual([labs()]);
  });
});

describe('standIn', () => {
  const grant = (scope: GrantScopeEntry[], start: number, end: number, grantId = 'g1'): Grant => ({
    grantId,
    patientId: 'pat',
    granteeId: 'doc',
    scope,
    start: new Date(start).toISOString(),
    expiresAt: new Date(end).toISOString(),
    issuedAt: new Date(0).toISOString(),
    signed: {},
  });

  it('allows only what both grants allow, under the new grant’s id', () => {
    const old = grant([ALLERGY_WRITE, LABS], 0, 2000);
    const next = grant([ALLERGY_WRITE, { ...LABS, access: 'write' }, MEDICATION], 500, 3000, 'g2');
    expect(standIn(old, next)).toStrictEqual(grant([ALLERGY_WRITE, LABS], 500, 2000, 'g2'));
    expect(standIn(old, grant([ALLERGY_READ], 0, 3000, 'g2'))).toStrictEqual(
      grant([ALLERGY_READ], 0, 2000, 'g2'),
    );
    expect(standIn(old, grant([MEDICATION], 0, 3000, 'g2'))).toBeNull();
    expect(standIn(old, grant([ALLERGY_READ], 2000, 3000, 'g2'))).toBeNull();
  });
});
