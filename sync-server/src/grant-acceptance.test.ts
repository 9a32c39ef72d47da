// A provider accepts patients (`acceptPatient`): their grants stop counting toward its
// cap on grants from strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE), so a clinic can follow more than 1,000
// patients, while a stranger is still refused at the cap. Un-accepting makes the patient's unended grants
// count again for new grants and ends none of them. Refused acceptance requests change nothing.
//
// Grants past the caps cannot be made through `grant`, so floods are written straight into the store
// (`insertRawGrants`), as many stranger accounts together could have left them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_ACCEPTED_PAGE,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_FRAME_BYTES,
  authSignaturePayload,
  encodeFrame,
  type AcceptedPatientsFrame,
  type ClientFrame,
  type ServerFrame,
  type StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  insertRawGrants,
  makeGrant,
  openWs,
  registerAccount,
  rowCounts,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

const ALL = [1];

let t: TestServer;
const clients: WsClient[] = [];
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await t.stop();
});

const open = async (account: TestAccount) => {
  const c = await connect(t, account.device);
  clients.push(c);
  return c;
};
type Request = ClientFrame extends infer F ? (F extends { rid: number } ? Omit<F, 'rid'> : never) : never;
/** Sends `frame` with a fresh rid and answers the reply. */
const ask = (c: WsClient, frame: Request): Promise<ServerFrame> => c.request({ ...frame, rid: c.rid() });
const acceptFrame = (patientId: string, accept = true) => ({
  t: 'acceptPatient' as const,
  patientId,
  accept,
});
/** `patient` grants `grantee` read access to allergies through its own socket; answers the reply. */
const grantFrom = async (patient: TestAccount, grantee: TestAccount) => {
  const c = await open(patient);
  const signed = await makeGrant(patient, grantee, [{ type: 'allergy', access: 'read' }], {
    now: t.clock.now,
  });
  return { reply: await ask(c, { t: 'grant', grant: signed }), grantId: signed.grant.grantId };
};
const stored = async (grantId: string) => (await t.store.grants.get(grantId)) !== null;
const raw = (patient: TestAccount, grantee: TestAccount, count: number) =>
  insertRawGrants(t.store, patient, grantee, count, { now: t.clock.now });
const perGranteeRefusal = {
  t: 'error',
  code: 'TOO_MANY_GRANTS',
  details: { limit: 'per-grantee', max: MAX_ACTIVE_GRANTS_PER_GRANTEE },
};

describe('grants from accepted patients and the cap on grants from strangers', () => {
  it('a grant refused at the cap is stored once the provider accepts its patient; a stranger is still refused', async () => {
    const provider = await registerAccount(t, 'provider');
    const crowd = await registerAccount(t);
    const patient = await registerAccount(t);
    const stranger = await registerAccount(t);
    // The provider already holds the most grants strangers may give it.
    raw(crowd, provider, MAX_ACTIVE_GRANTS_PER_GRANTEE);

    const before = await grantFrom(patient, provider);
    expect(before.reply).toMatchObject(perGranteeRefusal);
    expect(await stored(before.grantId)).toBe(false);

    const p = await open(provider);
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    const after = await grantFrom(patient, provider);
    expect(after.reply.t).toBe('ok');
    expect(await stored(after.grantId)).toBe(true);
    // The provider's account now lists the accepted patient's stream beside the crowd's.
    const streams = (await ask(p, { t: 'listStreams' })) as StreamsFrame;
    expect(streams.streams.map((s) => s.stream)).toContain(`${patient.accountId}/allergy`);

    const refused = await grantFrom(stranger, provider);
    expect(refused.reply).toMatchObject(perGranteeRefusal);
    expect(await stored(refused.grantId)).toBe(false);

    // Accepting the crowd's patient takes its 1,000 grants out of the count: strangers fit again.
    expect(await ask(p, acceptFrame(crowd.accountId))).toMatchObject({ t: 'ok' });
    expect((await grantFrom(stranger, provider)).reply.t).toBe('ok');
  });

  it('keeps the per-pair cap for an accepted patient', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const p = await open(provider);
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    raw(patient, provider, MAX_ACTIVE_GRANTS_PER_PAIR);
    const refused = await grantFrom(patient, provider);
    expect(refused.reply).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
      details: { limit: 'per-pair', max: MAX_ACTIVE_GRANTS_PER_PAIR },
    });
    expect(await stored(refused.grantId)).toBe(false);
  });

  it("un-accepting counts the patient's unended grants again for new grants, and ends none of them", async () => {
    const provider = await registerAccount(t, 'provider');
    const crowd = await registerAccount(t);
    const patient = await registerAccount(t);
    const stranger = await registerAccount(t);
    const late = await registerAccount(t);
    raw(crowd, provider, MAX_ACTIVE_GRANTS_PER_GRANTEE - 2);
    const p = await open(provider);
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    const first = await grantFrom(patient, provider);
    const second = await grantFrom(patient, provider);
    expect([first.reply.t, second.reply.t]).toEqual(['ok', 'ok']);
    // 998 from strangers: room for one more stranger.
    expect((await grantFrom(stranger, provider)).reply.t).toBe('ok');

    expect(await ask(p, acceptFrame(patient.accountId, false))).toMatchObject({ t: 'ok' });
    // 999 + the patient's 2: the cap is full for strangers, and for the patient, now one of them.
    const refused = await grantFrom(late, provider);
    expect(refused.reply).toMatchObject(perGranteeRefusal);
    expect(await stored(refused.grantId)).toBe(false);
    expect((await grantFrom(patient, provider)).reply).toMatchObject(perGranteeRefusal);
    // The patient's grants stand: nothing was revoked on its behalf, and the provider still reads it.
    for (const { grantId } of [first, second]) {
      expect(await t.store.grants.get(grantId)).toMatchObject({ grantId });
      expect((await t.store.grants.get(grantId))?.revokedAt).toBeUndefined();
    }
    const streams = (await ask(p, { t: 'listStreams' })) as StreamsFrame;
    expect(streams.streams.map((s) => s.stream)).toContain(`${patient.accountId}/allergy`);

    // Accepted again, its grants are out of the count again.
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    expect((await grantFrom(late, provider)).reply.t).toBe('ok');
  });

  it('an account that accepts nobody is capped exactly as before', async () => {
    const provider = await registerAccount(t, 'provider');
    const crowd = await registerAccount(t);
    const other = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    raw(crowd, provider, MAX_ACTIVE_GRANTS_PER_GRANTEE - 1);
    // Another provider accepting the crowd changes nothing for this one.
    const o = await open(other);
    expect(await ask(o, acceptFrame(crowd.accountId))).toMatchObject({ t: 'ok' });
    expect((await grantFrom(patient, provider)).reply.t).toBe('ok');
    expect((await grantFrom(patient, provider)).reply).toMatchObject(perGranteeRefusal);
  });
});

describe('acceptance requests', () => {
  it('are refused with typed errors and change nothing when they may not be served', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const p = await open(provider);
    const before = rowCounts(t.store);
    const refusals: Array<[Record<string, unknown>, string]> = [
      // Malformed ids, of every kind the schema refuses.
      [{ t: 'acceptPatient', patientId: 'not-an-account', accept: true }, 'BAD_MESSAGE'],
      [{ t: 'acceptPatient', patientId: `${patient.accountId}A`, accept: true }, 'BAD_MESSAGE'],
      [{ t: 'acceptPatient', patientId: 'x'.repeat(100_000), accept: true }, 'BAD_MESSAGE'],
      [{ t: 'acceptPatient', patientId: patient.accountId, accept: 'yes' }, 'BAD_MESSAGE'],
      [{ t: 'acceptPatient', patientId: patient.accountId }, 'BAD_MESSAGE'],
      // Oneself.
      [{ t: 'acceptPatient', patientId: provider.accountId, accept: true }, 'BAD_MESSAGE'],
      // An account the server does not know.
      [{ t: 'acceptPatient', patientId: 'A'.repeat(22), accept: true }, 'NOT_FOUND'],
      // Oversize frame: refused before it is parsed.
      [
        { t: 'acceptPatient', patientId: patient.accountId, accept: true, pad: 'x'.repeat(MAX_FRAME_BYTES) },
        'TOO_LARGE',
      ],
      [{ t: 'listAccepted', limit: MAX_ACCEPTED_PAGE + 1 }, 'BAD_MESSAGE'],
    ];
    for (const [frame, code] of refusals) {
      const rid = p.rid();
      p.sendRaw(JSON.stringify({ ...frame, rid }));
      const reply = await p.waitFor((f): f is ServerFrame => f.t === 'error' || f.t === 'ok');
      expect(reply, JSON.stringify(frame).slice(0, 80)).toMatchObject({ t: 'error', code });
      if (code !== 'TOO_LARGE') expect(reply).toMatchObject({ rid });
    }
    // The socket is still served, and nothing was stored.
    expect((await ask(p, { t: 'ping' })).t).toBe('pong');
    expect(rowCounts(t.store)).toEqual(before);
    expect(await t.store.acceptances.count(provider.accountId)).toBe(0);

    // A patient account keeps its cap whole: it accepts nobody.
    const c = await open(patient);
    expect(await ask(c, acceptFrame(provider.accountId))).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    expect(await ask(c, acceptFrame(provider.accountId, false))).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });
    expect(rowCounts(t.store)).toEqual(before);
  });

  it('before authentication: UNAUTHENTICATED, the socket closed, nothing stored', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const before = rowCounts(t.store);
    const first = await openWs(t);
    clients.push(first);
    first.sendRaw(encodeFrame({ t: 'acceptPatient', rid: 1, patientId: patient.accountId, accept: true }));
    expect(await first.nextFrame()).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED', rid: 1 });
    expect(await first.closed).toEqual({ code: 4001, reason: 'UNAUTHENTICATED' });

    // Between the challenge and its answer, as well.
    const second = await openWs(t);
    clients.push(second);
    const challenge = await second.request({ t: 'hello', versions: ALL, deviceId: provider.device.deviceId });
    expect(challenge.t).toBe('challenge');
    second.sendRaw(encodeFrame({ t: 'acceptPatient', rid: 2, patientId: patient.accountId, accept: true }));
    expect(await second.nextFrame()).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED', rid: 2 });
    expect(await second.closed).toEqual({ code: 4001, reason: 'UNAUTHENTICATED' });
    // A valid answer on a fresh socket is still served: the refusals left nothing behind.
    const third = await openWs(t);
    clients.push(third);
    const c = await third.request({ t: 'hello', versions: ALL, deviceId: provider.device.deviceId });
    if (c.t !== 'challenge') throw new Error(c.t);
    const sig = await sign(
      provider.device.keys.secretKey,
      authSignaturePayload({ nonce: c.nonce, deviceId: provider.device.deviceId, serverId: c.serverId }),
    );
    expect((await third.request({ t: 'auth', sig })).t).toBe('ready');
    expect(rowCounts(t.store)).toEqual(before);
  });

  it(`refuses the acceptance past MAX_ACCEPTED_PATIENTS_PER_GRANTEE with TOO_MANY_ACCEPTED, storing nothing`, async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    // The provider accepted the most patients it may: accounts and acceptances written in one transaction.
    const at = new Date(t.clock.now).toISOString();
    const ids = Array.from(
      { length: MAX_ACCEPTED_PATIENTS_PER_GRANTEE },
      (_, i) => `Filler${String(i).padStart(16, '0')}`,
    );
    const addAccount = t.store.db.prepare(
      `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
       VALUES (?, 'patient', 'idk', 'wrk', '{}', ?)`,
    );
    const addAcceptance = t.store.db.prepare(
      'INSERT INTO accepted_patients (grantee_id, patient_id, accepted_at) VALUES (?, ?, ?)',
    );
    t.store.db.transaction(() => {
      for (const id of ids) {
        addAccount.run(id, at);
        addAcceptance.run(provider.accountId, id, at);
      }
    })();
    const p = await open(provider);
    const before = rowCounts(t.store);
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_ACCEPTED',
      details: { max: MAX_ACCEPTED_PATIENTS_PER_GRANTEE },
    });
    expect(rowCounts(t.store)).toEqual(before);
    expect(await t.store.acceptances.has(provider.accountId, patient.accountId)).toBe(false);
    // Accepting one already accepted is no new place; stopping one frees a place.
    expect(await ask(p, acceptFrame(ids[0]!))).toMatchObject({ t: 'ok' });
    expect(await ask(p, acceptFrame(ids[0]!, false))).toMatchObject({ t: 'ok' });
    expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    expect(await t.store.acceptances.count(provider.accountId)).toBe(MAX_ACCEPTED_PATIENTS_PER_GRANTEE);
  });
});

describe('listAccepted', () => {
  it('pages the accepted patients by id, each once, with their acceptance time', async () => {
    const provider = await registerAccount(t, 'provider');
    const patients = await Promise.all(Array.from({ length: 5 }, () => registerAccount(t)));
    const p = await open(provider);
    const empty = (await ask(p, { t: 'listAccepted' })) as AcceptedPatientsFrame;
    expect(empty).toMatchObject({ t: 'acceptedPatients', patients: [] });
    expect(empty.next).toBeUndefined();
    for (const patient of patients)
      expect(await ask(p, acceptFrame(patient.accountId))).toMatchObject({ t: 'ok' });
    // Repeating an acceptance changes nothing.
    expect(await ask(p, acceptFrame(patients[0]!.accountId))).toMatchObject({ t: 'ok' });
    // Stopping one never accepted is no error either.
    const never = await registerAccount(t);
    expect(await ask(p, acceptFrame(never.accountId, false))).toMatchObject({ t: 'ok' });

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const reply = (await ask(p, {
        t: 'listAccepted',
        limit: 2,
        ...(cursor === undefined ? {} : { cursor }),
      })) as AcceptedPatientsFrame;
      expect(reply.t).toBe('acceptedPatients');
      expect(reply.patients.length).toBeLessThanOrEqual(2);
      for (const a of reply.patients) {
        expect(a.acceptedAt).toBe(new Date(t.clock.now).toISOString());
        seen.push(a.patientId);
      }
      if (reply.next === undefined) break;
      cursor = reply.next;
    }
    expect(seen).toEqual(patients.map((x) => x.accountId).sort());

    // Another account's list is its own; a cursor of another listing is refused.
    const other = await open(await registerAccount(t, 'provider'));
    expect(await ask(other, { t: 'listAccepted' })).toMatchObject({ patients: [] });
    const grantsCursor = Buffer.from(
      JSON.stringify({ v: 1, k: 'grants', side: 'issued', issuedAt: 'a', grantId: 'b', active: false }),
    ).toString('base64url');
    expect(await ask(p, { t: 'listAccepted', cursor: grantsCursor })).toMatchObject({
      t: 'error',
      code: 'BAD_CURSOR',
    });
  });
});
