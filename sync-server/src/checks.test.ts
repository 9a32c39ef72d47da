// Server checks beyond the authorization matrix: each test attempts the forbidden thing, sees the typed
// refusal, and sees that nothing was stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDeviceKeys, generateStreamKey } from '@hale/crypto';
import {
  MAX_BLOB_CHUNKS,
  envelopeSignaturePayload,
  type PushFrame,
  type PushedFrame,
  type ServerFrame,
} from '@hale/protocol';
import { newId } from '@hale/model';
import {
  connect,
  createBlob,
  digestOf,
  http,
  makeDeviceCert,
  makeRegistration,
  putChunk,
  sessionToken,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  registerAccount,
  rowCounts,
  sign,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';

/** The first row's result, or the frame-level refusal when the codec refused the frame as a whole. */
const firstError = (f: PushedFrame | ServerFrame) =>
  f.t === 'pushed' ? f.results[0] : f.t === 'error' ? { status: 'error', code: f.code } : f;

describe('server refuses what the protocol forbids', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const push = (c: WsClient, rows: PushFrame['rows']) =>
    c.request<PushedFrame | ServerFrame>({ t: 'push', rid: c.rid(), rows });

  /** A patient and a provider, both connected, the provider holding write consent for allergy. */
  const grantedPair = async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    await p.request({
      t: 'grant',
      rid: p.rid(),
      grant: await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }]),
    });
    const d = await connect(t, provider.device);
    return { patient, provider, p, d };
  };

  it('refuses pushes with a foreign author, a missing or bad signature, a stale epoch or a backwards revision', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    const before = rowCounts(t.store);

    // Author must be the pushing device.
    const foreign = await makeDoc(patient, provider.device, 'allergy', { x: 1 });
    expect(firstError(await push(p, [{ doc: foreign, assumedRev: null }]))).toMatchObject({
      status: 'error',
      code: 'FORBIDDEN',
    });
    // Clinical records must be signed, and the signature must verify.
    // (an unsigned clinical document is refused by the frame codec already, before any handler runs)
    const unsigned = await makeDoc(patient, patient.device, 'lab-result', { x: 1 }, { signed: false });
    expect(firstError(await push(p, [{ doc: unsigned, assumedRev: null }]))).toMatchObject({
      code: 'BAD_MESSAGE',
    });
    const forged = await makeDoc(patient, patient.device, 'lab-result', { x: 1 });
    forged.sig = await sign(generateDeviceKeys().secretKey, { label: 'hale/doc/v1' });
    expect(firstError(await push(p, [{ doc: forged, assumedRev: null }]))).toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    // A document sealed under an epoch that is not the stream's current one.
    const stale = await makeDoc(patient, patient.device, 'allergy', { x: 1 }, { epoch: 3 });
    expect(firstError(await push(p, [{ doc: stale, assumedRev: null }]))).toMatchObject({
      code: 'STALE_EPOCH',
    });
    expect(rowCounts(t.store)).toEqual(before);

    // A revision number that does not move forward.
    const v1 = await makeDoc(patient, patient.device, 'allergy', { x: 1 });
    expect(firstError(await push(p, [{ doc: v1, assumedRev: null }]))).toMatchObject({ status: 'ok' });
    const again = await makeDoc(patient, patient.device, 'allergy', { x: 2 }, { id: v1.id, rv: 1 });
    expect(firstError(await push(p, [{ doc: again, assumedRev: v1.rev }]))).toMatchObject({
      code: 'REV_MISMATCH',
    });
    expect((t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(v1.id) as { rev: string }).rev).toBe(
      v1.rev,
    );
    await p.close();
  });

  it('refuses a ciphertext that is not in the one accepted base64url form, and stores nothing', async () => {
    const patient = await registerAccount(t);
    const p = await connect(t, patient.device);
    const before = rowCounts(t.store);
    const good = await makeDoc(patient, patient.device, 'allergy', { x: 1 });
    // Impossible length; non-zero unused trailing bits ('B' leaves 0001 over); one extra character.
    for (const ct of [`${good.ct}A`.slice(0, good.ct.length - (good.ct.length % 4) + 1), 'AB', 'AAB']) {
      const doc = { ...good, ct };
      expect(firstError(await push(p, [{ doc, assumedRev: null }]))).toMatchObject({ code: 'BAD_MESSAGE' });
    }
    expect(rowCounts(t.store)).toEqual(before);
    expect(firstError(await push(p, [{ doc: good, assumedRev: null }]))).toMatchObject({ status: 'ok' });
    await p.close();
  });

  it('refuses unsigned grantee writes even with write consent', async () => {
    const { patient, provider, p, d } = await grantedPair();
    const unsigned = await makeDoc(patient, provider.device, 'allergy', { x: 1 }, { signed: false });
    expect(firstError(await push(d, [{ doc: unsigned, assumedRev: null }]))).toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    const signed = await makeDoc(patient, provider.device, 'allergy', { x: 1 });
    expect(firstError(await push(d, [{ doc: signed, assumedRev: null }]))).toMatchObject({ status: 'ok' });
    await p.close();
    await d.close();
  });

  it('lets only the patient publish envelopes, signed by the publishing device, to known recipients', async () => {
    const { patient, provider, p, d } = await grantedPair();
    const count = () => (t.store.db.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number }).n;
    const before = count();
    const refused = async (c: WsClient, env: Awaited<ReturnType<typeof makeEnvelope>>) =>
      (await c.request<ServerFrame>({ t: 'putEnvelopes', rid: c.rid(), envelopes: [env] })) as {
        t: string;
        code?: string;
      };

    // A grantee, even with write consent, cannot plant a key for the patient's stream.
    const byGrantee = await makeEnvelope(
      patient,
      provider.device,
      provider,
      'allergy',
      1,
      generateStreamKey(),
    );
    expect(await refused(d, byGrantee)).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    // The patient's envelope must be signed by the device that publishes it.
    const unsigned = await makeEnvelope(patient, patient.device, provider, 'allergy', 1, generateStreamKey());
    delete unsigned.sig;
    expect(await refused(p, unsigned)).toMatchObject({ code: 'BAD_SIGNATURE' });
    const badSig = await makeEnvelope(patient, patient.device, provider, 'allergy', 1, generateStreamKey());
    badSig.sig = await sign(generateDeviceKeys().secretKey, envelopeSignaturePayload(badSig));
    expect(await refused(p, badSig)).toMatchObject({ code: 'BAD_SIGNATURE' });
    const otherDevice = generateDeviceKeys();
    const claimsOther = await makeEnvelope(
      patient,
      { keys: otherDevice, deviceId: otherDevice.deviceId },
      provider,
      'allergy',
      1,
    );
    expect(await refused(p, claimsOther)).toMatchObject({ code: 'FORBIDDEN' });
    const nobody = { ...provider, accountId: 'N'.repeat(22) };
    const toNobody = await makeEnvelope(patient, patient.device, nobody, 'allergy', 1);
    expect(await refused(p, toNobody)).toMatchObject({ code: 'NOT_FOUND' });
    expect(count()).toBe(before);

    // A recipient fetches only its own envelopes: the patient's own (epoch 0) never reach the provider.
    const own = await makeEnvelope(patient, patient.device, patient, 'allergy', 1, generateStreamKey());
    expect((await p.request({ t: 'putEnvelopes', rid: p.rid(), envelopes: [own] })).t).toBe('ok');
    const fetched = await d.request<Extract<ServerFrame, { t: 'envelopes' }>>({
      t: 'getEnvelopes',
      rid: d.rid(),
    });
    expect(fetched.envelopes.every((e) => e.recipient === provider.accountId)).toBe(true);
    await p.close();
    await d.close();
  });

  it('lists key holders only for the patient, only of its own streams, and without key material', async () => {
    const { patient, provider, p, d } = await grantedPair();
    const allergy = streamOf(patient.accountId, 'allergy');
    const forProvider = await makeEnvelope(patient, patient.device, provider, 'allergy', 0);
    const own = await makeEnvelope(patient, patient.device, patient, 'allergy', 0);
    expect((await p.request({ t: 'putEnvelopes', rid: p.rid(), envelopes: [forProvider, own] })).t).toBe(
      'ok',
    );
    const listed = await p.request<ServerFrame>({ t: 'listKeyHolders', rid: p.rid(), streams: [allergy] });
    expect(listed.t).toBe('keyHolders');
    // Exactly these fields: no wrapped key or key id; the device that created the envelope.
    const createdBy = patient.device.deviceId;
    expect(listed).toStrictEqual({
      ...listed,
      holders: [
        { stream: allergy, epoch: 0, recipient: patient.accountId, createdBy },
        { stream: allergy, epoch: 0, recipient: provider.accountId, createdBy },
      ].sort((a, b) => (a.recipient < b.recipient ? -1 : 1)),
    });
    // A grantee (even with write consent) may not learn who else holds the patient's keys.
    expect(await d.request({ t: 'listKeyHolders', rid: d.rid(), streams: [allergy] })).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });
    // One foreign stream refuses the whole request, including the caller's own streams.
    const mixed = [streamOf(provider.accountId, 'allergy'), allergy];
    expect(await d.request({ t: 'listKeyHolders', rid: d.rid(), streams: mixed })).toMatchObject({
      code: 'FORBIDDEN',
    });
    await p.close();
    await d.close();
  });

  it("refuses a grant or revocation for someone else's records, and a revocation with a bad signature", async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const intruder = await registerAccount(t);
    const i = await connect(t, intruder.device);
    const p = await connect(t, patient.device);
    // The intruder signs a grant naming the patient with its own key: refused as not the patient.
    const stolen = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      signer: intruder.keys.identity.secretKey,
    });
    expect(await i.request({ t: 'grant', rid: i.rid(), grant: stolen })).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });
    const real = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: real })).t).toBe('ok');
    const revocation = await makeRevocation(patient, real.grant.grantId);
    expect(await i.request({ t: 'revoke', rid: i.rid(), revocation })).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });
    const badSig = {
      ...revocation,
      sig: await sign(intruder.keys.identity.secretKey, { label: 'hale/revocation/v1' }),
    };
    expect(await p.request({ t: 'revoke', rid: p.rid(), revocation: badSig })).toMatchObject({
      t: 'error',
      code: 'BAD_SIGNATURE',
    });
    expect(
      t.store.db.prepare('SELECT revoked_at AS r FROM grants WHERE grant_id = ?').get(real.grant.grantId),
    ).toEqual({ r: null });
    // A grantee never reads the patient's audit log.
    const d = await connect(t, provider.device);
    const pulled = await d.request<Extract<ServerFrame, { t: 'pulled' }>>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'audit'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.denied).toEqual([{ stream: streamOf(patient.accountId, 'audit'), code: 'FORBIDDEN' }]);
    expect(pulled.docs).toHaveLength(0);
    await Promise.all([i.close(), p.close(), d.close()]);
  });

  it('refuses a chunk index that is not plain decimal text instead of rounding it to another chunk', async () => {
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const last = new Uint8Array(100).fill(1);
    const manifest = {
      blobId: newId(),
      stream: streamOf(patient.accountId, 'document'),
      size: 65536 + 50,
      chunkSize: 65536,
      chunkCount: 2,
      digests: [digestOf(new Uint8Array(65600)), digestOf(last)],
    };
    expect((await createBlob(t, token, manifest)).status).toBe(200);
    const chunkUrl = (index: string) => `${t.url}/v1/blobs/${manifest.blobId}/chunks/${index}`;
    for (const index of ['1.9', 'true', '1.0', '01', '+1', '1e0', '0x1', '%201', '-0']) {
      const res = await fetch(chunkUrl(index), {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: last,
      });
      expect({ index, status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        index,
        status: 400,
        code: 'BAD_MESSAGE',
      });
    }
    expect(await t.store.blobs.chunkIndexes(manifest.blobId)).toEqual([]);
    expect((await putChunk(t, token, manifest.blobId, 1, last)).status).toBe(200);
    // Nor is a stored chunk served under a rounded index.
    const read = await fetch(chunkUrl('1.9'), { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(400);
    const ok = await fetch(chunkUrl('1'), { headers: { authorization: `Bearer ${token}` } });
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(last);
  });

  it('refuses a chunk index past the manifest as BAD_MESSAGE and stores nothing', async () => {
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const bytes = new Uint8Array(100).fill(2);
    const manifest = {
      blobId: newId(),
      stream: streamOf(patient.accountId, 'document'),
      size: 100,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(bytes)],
    };
    expect((await createBlob(t, token, manifest)).status).toBe(200);
    const before = rowCounts(t.store);
    // The index right after the last chunk, and the largest one the route's schema lets through.
    for (const index of [1, MAX_BLOB_CHUNKS - 1]) {
      const res = await putChunk(t, token, manifest.blobId, index, bytes);
      expect({ index, status: res.status, code: (res.body as { code?: string }).code }).toEqual({
        index,
        status: 400,
        code: 'BAD_MESSAGE',
      });
    }
    expect(rowCounts(t.store)).toEqual(before);
    expect(await t.store.blobs.chunkIndexes(manifest.blobId)).toEqual([]);
    expect((await putChunk(t, token, manifest.blobId, 0, bytes)).status).toBe(200);
  });

  it("a grantee's chunk of the wrong length is refused before its upload is logged in the patient's audit trail", async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    const granted = await p.request({
      t: 'grant',
      rid: p.rid(),
      grant: await makeGrant(patient, provider, [{ type: 'document', access: 'write' }]),
    });
    expect(granted.t).toBe('ok');
    const token = await sessionToken(t, provider.device);
    // The manifest says 100 bytes; 10 bytes whose digest is announced, so only the length is wrong.
    const short = new Uint8Array(10);
    const long = new Uint8Array(100 + 1025);
    const blobId = newId();
    const created = await createBlob(t, token, {
      blobId,
      stream: streamOf(patient.accountId, 'document'),
      size: 100,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(short)],
    });
    expect(created.status).toBe(200);
    const before = rowCounts(t.store);
    const res = await putChunk(t, token, blobId, 0, short);
    expect(res.status).toBe(400);
    expect((res.body as { code: string }).code).toBe('BAD_MESSAGE');
    expect(rowCounts(t.store)).toEqual(before);
    // Too long is refused the same way (a second manifest announcing the long chunk's digest).
    const second = newId();
    await createBlob(t, token, {
      blobId: second,
      stream: streamOf(patient.accountId, 'document'),
      size: 100,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(long)],
    });
    const afterSecond = rowCounts(t.store);
    expect((await putChunk(t, token, second, 0, long)).status).toBe(400);
    expect(rowCounts(t.store)).toEqual(afterSecond);
    await p.close();
  });

  it('a registration refused for a taken device key stores nothing, says so plainly, and can be redone', async () => {
    const a = await registerAccount(t);
    const { body, account: b } = await makeRegistration();
    const counts = rowCounts(t.store);
    // B's registration certifies A's device key.
    const stolen = { ...body, device: await makeDeviceCert(b, a.device.keys) };
    const refused = await http(t.url, 'POST', '/v1/accounts', stolen);
    expect(refused).toMatchObject({ status: 409, body: { code: 'ALREADY_EXISTS' } });
    expect((refused.body as { message: string }).message).not.toMatch(/constraint|devices\.|sqlite/i);
    expect(rowCounts(t.store)).toEqual(counts);
    expect(await t.store.accounts.get(b.accountId)).toBeNull();
    expect(await t.store.accounts.getByLogin(b.loginName)).toBeNull();
    expect((await t.store.devices.get(a.device.deviceId))?.accountId).toBe(a.accountId);

    expect(await http(t.url, 'POST', '/v1/accounts', body)).toMatchObject({ status: 201 });
    expect((await t.store.accounts.getByLogin(b.loginName))?.accountId).toBe(b.accountId);
    expect((await t.store.devices.get(b.device.deviceId))?.accountId).toBe(b.accountId);
  });
});
