// A grantee device that downloads the same things over and over (pulls from 0, the same blob chunks, the
// same keys) must not grow the patient's audit stream by one server entry per request. Repeated access of
// one device to one stream, by one action under one grant, is logged as a window: the access that opens
// it is logged before it is served, the rest are counted and logged as one tally when the window ends
// (its time is up, the next access after it, a grant change of the account, shutdown). What the patient
// reads still says who accessed what and when, and the counts add up to everything served. Real server
// and store, the server's clock injected; entries are opened with the patient's key as the patient does.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES, type PulledFrame } from '@hale/protocol';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  getChunk,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
  serverAccessEntries,
} from '../testing/harness';

const WINDOW = 60_000;

describe('repeated grantee access in the audit log', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let patientWs: WsClient;
  const clients: WsClient[] = [];
  let grantId: string;

  const allergy = () => streamOf(patient.accountId, 'allergy');
  const document = () => streamOf(patient.accountId, 'document');

  const entries = () => serverAccessEntries(t, patient);
  const summary = async () =>
    (await entries()).map(
      (e) => `${e.action} ${e.stream.split('/')[1]} ${e.actorDeviceId.slice(0, 6)} ${e.count}`,
    );
  const tag = (d: TestDevice) => d.deviceId.slice(0, 6);

  const pullAll = async (ws: WsClient, stream = allergy()) => {
    const pulled = await ws.request<PulledFrame>({
      t: 'pull',
      rid: ws.rid(),
      streams: [{ stream, since: 0 }],
      limit: 1000,
      maxBytes: 1 << 22,
    });
    if (pulled.t !== 'pulled') throw new Error(`pull failed: ${JSON.stringify(pulled)}`);
    return pulled.docs.length;
  };

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    patientWs = await connect(t, patient.device);
    const docs = await Promise.all([1, 2, 3].map((n) => makeDoc(patient, patient.device, 'allergy', { n })));
    const pushed = await patientWs.request({
      t: 'push',
      rid: 1,
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    });
    expect(pushed.t).toBe('pushed');
    const grant = await makeGrant(
      patient,
      provider,
      [
        { type: 'allergy', access: 'read' },
        { type: 'document', access: 'read' },
      ],
      { now: t.clock.now },
    );
    grantId = grant.grant.grantId;
    expect((await patientWs.request({ t: 'grant', rid: 2, grant })).t).toBe('ok');
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await patientWs.close();
    await t.stop();
  });

  it('pulls from 0 in a loop: one entry before the first is served, one tally when the window ends', async () => {
    const ws = await connect(t, provider.device);
    clients.push(ws);
    const p = tag(provider.device);
    expect(await pullAll(ws)).toBe(3);
    // Logged before it was answered.
    expect(await summary()).toEqual([`pull allergy ${p} 3`]);
    for (let i = 0; i < 19; i++) expect(await pullAll(ws)).toBe(3);
    expect(await summary()).toEqual([`pull allergy ${p} 3`]);

    // After the window: the tally of the 19 repeats, then the access that opens the next window, logged
    // before it is served.
    t.clock.advance(WINDOW);
    expect(await pullAll(ws)).toBe(3);
    expect(await summary()).toEqual([`pull allergy ${p} 3`, `pull allergy ${p} 57`, `pull allergy ${p} 3`]);
    const at = (await entries()).map((e) => Date.parse(e.at));
    expect(at).toEqual([t.clock.now - WINDOW, t.clock.now, t.clock.now]);
  });

  it('another device, another stream or another action is logged at once, inside the window', async () => {
    const doc = await makeDoc(patient, patient.device, 'document', { title: 'x' });
    expect((await patientWs.request({ t: 'push', rid: 5, rows: [{ doc, assumedRev: null }] })).t).toBe(
      'pushed',
    );
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    expect((await patientWs.request({ t: 'putEnvelopes', rid: 6, envelopes: [envelope] })).t).toBe('ok');
    const ws = await connect(t, provider.device);
    clients.push(ws);
    expect(await pullAll(ws)).toBe(3);
    const second = await addDevice(t, provider);
    const ws2 = await connect(t, second);
    clients.push(ws2);
    expect(await pullAll(ws2)).toBe(3);
    expect((await ws.request({ t: 'getEnvelopes', rid: ws.rid() })).t).toBe('envelopes');
    expect(await pullAll(ws, document())).toBe(1);
    for (let i = 0; i < 3; i++) {
      expect(await pullAll(ws)).toBe(3);
      expect(await pullAll(ws2)).toBe(3);
      expect(await pullAll(ws, document())).toBe(1);
      expect((await ws.request({ t: 'getEnvelopes', rid: ws.rid() })).t).toBe('envelopes');
    }
    const [p, s2] = [tag(provider.device), tag(second)];
    expect(await summary()).toEqual([
      `pull allergy ${p} 3`,
      `pull allergy ${s2} 3`,
      `key-fetch allergy ${p} 1`,
      `pull document ${p} 1`,
    ]);
  });

  it('a grant change ends the windows of the grantee: the next access is logged at once', async () => {
    const ws = await connect(t, provider.device);
    clients.push(ws);
    const p = tag(provider.device);
    for (let i = 0; i < 3; i++) expect(await pullAll(ws)).toBe(3);
    const more = await makeGrant(patient, provider, [{ type: 'immunization', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await patientWs.request({ t: 'grant', rid: 3, grant: more })).t).toBe('ok');
    // The tally of the window that ended is written with the change (before any later access).
    expect(await summary()).toEqual([`pull allergy ${p} 3`, `pull allergy ${p} 6`]);
    expect(await pullAll(ws)).toBe(3);
    expect(await summary()).toEqual([`pull allergy ${p} 3`, `pull allergy ${p} 6`, `pull allergy ${p} 3`]);

    // A revocation ends them too (the revoked grantee is refused from then on: only the refusal is logged).
    for (let i = 0; i < 2; i++) expect(await pullAll(ws)).toBe(3);
    const revocation = await makeRevocation(patient, grantId);
    expect((await patientWs.request({ t: 'revoke', rid: 4, revocation })).t).toBe('ok');
    expect((await summary()).slice(3)).toEqual([`pull allergy ${p} 6`]);
    const refused = await ws.request({
      t: 'pull',
      rid: ws.rid(),
      streams: [{ stream: allergy(), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(refused).toMatchObject({ t: 'pulled', docs: [], denied: [{ code: 'CONSENT_REVOKED' }] });
    expect((await summary()).slice(4)).toEqual([`denied allergy ${p} 0`]);
  });

  it('blob chunks downloaded in a loop: one entry, then one tally; shutdown writes the open tallies', async () => {
    const token = await sessionToken(t, patient.device);
    const bytes = new Uint8Array(MIN_CHUNK_BYTES + 40).fill(7);
    const blobId = newId();
    const manifest = {
      blobId,
      stream: document(),
      size: MIN_CHUNK_BYTES,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 1,
      digests: [digestOf(bytes)],
    };
    expect((await createBlob(t, token, manifest)).status).toBe(200);
    expect((await putChunk(t, token, blobId, 0, bytes)).status).toBe(200);

    const providerToken = await sessionToken(t, provider.device);
    const p = tag(provider.device);
    for (let i = 0; i < 25; i++) expect((await getChunk(t, providerToken, blobId, 0)).status).toBe(200);
    expect(await summary()).toEqual([`blob-down document ${p} 1`]);

    const ws = await connect(t, provider.device);
    clients.push(ws);
    for (let i = 0; i < 5; i++) expect(await pullAll(ws)).toBe(3);
    expect(await summary()).toEqual([`blob-down document ${p} 1`, `pull allergy ${p} 3`]);

    // Shutdown ends every window and writes its tally before the store closes.
    await t.server.close();
    const after = await summary();
    expect(after.slice(0, 2)).toEqual([`blob-down document ${p} 1`, `pull allergy ${p} 3`]);
    expect(after.slice(2).sort()).toEqual([`blob-down document ${p} 24`, `pull allergy ${p} 12`]);
  });
});
