// Every path a grantee's device can take to a patient's stream, against a real server (SQLite, loopback,
// the server's clock injected): once the grant is revoked, each attempt is still refused as before, and
// the patient's log holds one `denied` entry naming the device and the stream, however often it tries
// within the hour, and a second after it. A stream the device still holds, its own streams, a read-only
// grant's refused write and a stream of an account that does not exist log nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EnvelopesFrame, ErrorFrame, PulledFrame, PushedFrame, ServerFrame } from '@hale/protocol';
import { deriveInitialStreamKey, sealBytes } from '@hale/crypto';
import { newId } from '@hale/model';
import {
  connect,
  createBlob,
  digestOf,
  getChunk,
  http,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  putChunk,
  registerAccount,
  serverAccessEntries,
  sessionToken,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';
import { DENIED_WINDOW_MS } from './denied-access';

let t: TestServer;
let patient: TestAccount;
let clinic: TestAccount;
let patientWs: WsClient;
let clinicWs: WsClient;
const blob: { id: string; pendingId: string; sealed: Uint8Array } = {
  id: '',
  pendingId: '',
  sealed: new Uint8Array(),
};

const ask = <T extends ServerFrame>(c: WsClient, frame: Record<string, unknown>): Promise<T> =>
  c.request<T>({ ...frame, rid: c.rid() } as never);

const stream = (type: string) => streamOf(patient.accountId, type);

/** The patient's `denied` entries as [actor account, actor device, stream, count]. */
const denied = async () =>
  (await serverAccessEntries(t, patient))
    .filter((e) => e.action === 'denied')
    .map((e) => [e.actorId, e.actorDeviceId, e.stream, e.count]);

const told = (...types: string[]) =>
  types.map((type) => [clinic.accountId, clinic.device.deviceId, stream(type), 0]);

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  clinic = await registerAccount(t, 'provider');
  patientWs = await connect(t, patient.device);
  const grant = await makeGrant(
    patient,
    clinic,
    [
      { type: 'allergy', access: 'write' },
      { type: 'document', access: 'write' },
    ],
    { now: t.clock.now },
  );
  expect((await ask(patientWs, { t: 'grant', grant })).t).toBe('ok');
  // What the clinician still holds: lab results, read only.
  const kept = await makeGrant(patient, clinic, [{ type: 'lab-result', access: 'read' }], {
    now: t.clock.now,
  });
  expect((await ask(patientWs, { t: 'grant', grant: kept })).t).toBe('ok');
  const envelopes = await Promise.all(
    ['allergy', 'document', 'lab-result'].map((type) => makeEnvelope(patient, patient.device, clinic, type)),
  );
  expect((await ask(patientWs, { t: 'putEnvelopes', envelopes })).t).toBe('ok');
  const seeded = await ask<PushedFrame>(patientWs, {
    t: 'push',
    rows: [
      { doc: await makeDoc(patient, patient.device, 'allergy', { n: 1 }), assumedRev: null },
      { doc: await makeDoc(patient, patient.device, 'lab-result', { n: 1 }), assumedRev: null },
    ],
  });
  expect(seeded.results.map((r) => r.status)).toEqual(['ok', 'ok']);
  // A file in the document stream, and a manifest whose chunk nobody uploaded yet.
  const patientToken = await sessionToken(t, patient.device);
  blob.id = newId();
  blob.pendingId = newId();
  const plain = new TextEncoder().encode('scan');
  blob.sealed = sealBytes(
    deriveInitialStreamKey(patient.root, stream('document')),
    { blobId: blob.id, chunkIndex: 0, epoch: 0 },
    plain,
  );
  const manifest = (blobId: string) => ({
    blobId,
    stream: stream('document'),
    size: plain.byteLength,
    chunkSize: 64 * 1024,
    chunkCount: 1,
    digests: [digestOf(blob.sealed)],
  });
  expect((await createBlob(t, patientToken, manifest(blob.id))).status).toBe(200);
  expect((await putChunk(t, patientToken, blob.id, 0, blob.sealed)).status).toBe(200);
  expect((await createBlob(t, patientToken, manifest(blob.pendingId))).status).toBe(200);

  const revocation = await makeRevocation(patient, grant.grant.grantId);
  expect((await ask(patientWs, { t: 'revoke', revocation })).t).toBe('ok');
  clinicWs = await connect(t, clinic.device);
});

afterEach(async () => {
  await clinicWs.close();
  await patientWs.close();
  await t.stop();
});

/** One attempt of a path on a stream of `type`; answers the refusal's code as the device is told it. */
type Attempt = (type: string) => Promise<string | undefined>;

/** A session token of the clinician's device (one per attempt: a token lasts less than the hour). */
const token = () => sessionToken(t, clinic.device);

const codeOfHttp = (res: { status: number; body?: unknown }): string | undefined =>
  res.status === 200 ? undefined : (res.body as { code?: string }).code;

const PATHS: Array<{ path: string; type: string; attempt: Attempt; code: string }> = [
  {
    path: 'pull',
    type: 'allergy',
    code: 'CONSENT_REVOKED',
    attempt: async (type) => {
      const r = await ask<PulledFrame>(clinicWs, {
        t: 'pull',
        streams: [{ stream: stream(type), since: 0 }],
        limit: 10,
        maxBytes: 1 << 20,
      });
      expect(r.docs).toEqual([]);
      return r.denied[0]?.code;
    },
  },
  {
    path: 'subscribe',
    type: 'allergy',
    code: 'CONSENT_REVOKED',
    attempt: async (type) =>
      (await ask<ErrorFrame>(clinicWs, { t: 'subscribe', streams: [{ stream: stream(type), since: 0 }] }))
        .code,
  },
  {
    path: 'push',
    type: 'allergy',
    code: 'CONSENT_REVOKED',
    attempt: async (type) => {
      const doc = await makeDoc(patient, clinic.device, type, { by: 'clinic' });
      const r = await ask<PushedFrame>(clinicWs, { t: 'push', rows: [{ doc, assumedRev: null }] });
      const row = r.results[0];
      return row?.status === 'error' ? row.code : row?.status;
    },
  },
  {
    path: 'key fetch',
    type: 'allergy',
    // Left out of the answer rather than refused.
    code: 'none',
    attempt: async (type) => {
      const r = await ask<EnvelopesFrame>(clinicWs, { t: 'getEnvelopes', streams: [stream(type)] });
      return r.envelopes.length === 0 ? 'none' : 'served';
    },
  },
  {
    path: 'getHead',
    type: 'allergy',
    code: 'CONSENT_REVOKED',
    attempt: async (type) => (await ask<ErrorFrame>(clinicWs, { t: 'getHead', stream: stream(type) })).code,
  },
  {
    path: 'blob manifest download',
    type: 'document',
    code: 'CONSENT_REVOKED',
    attempt: async () =>
      codeOfHttp(await http(t.url, 'GET', `/v1/blobs/${blob.id}`, undefined, await token())),
  },
  {
    path: 'blob chunk download',
    type: 'document',
    code: 'CONSENT_REVOKED',
    attempt: async () => codeOfHttp(await getChunk(t, await token(), blob.id, 0)),
  },
  {
    path: 'blob announce',
    type: 'document',
    code: 'CONSENT_REVOKED',
    attempt: async (type) =>
      codeOfHttp(
        await createBlob(t, await token(), {
          blobId: newId(),
          stream: stream(type),
          size: 4,
          chunkSize: 64 * 1024,
          chunkCount: 1,
          digests: [digestOf(blob.sealed)],
        }),
      ),
  },
  {
    path: 'blob chunk upload',
    type: 'document',
    code: 'CONSENT_REVOKED',
    attempt: async () => codeOfHttp(await putChunk(t, await token(), blob.pendingId, 0, blob.sealed)),
  },
  {
    path: 'blob delete',
    type: 'document',
    code: 'CONSENT_REVOKED',
    attempt: async () =>
      codeOfHttp(await http(t.url, 'DELETE', `/v1/blobs/${blob.id}`, undefined, await token())),
  },
];

describe('a grantee whose access ended, trying each path', () => {
  it.each(PATHS)('$path: refused as before, one `denied` entry per hour', async ({ type, attempt, code }) => {
    for (let i = 0; i < 3; i++) expect(await attempt(type)).toBe(code);
    expect(await denied()).toEqual(told(type));
    t.clock.advance(DENIED_WINDOW_MS - 1);
    expect(await attempt(type)).toBe(code);
    expect(await denied()).toEqual(told(type));
    t.clock.advance(1);
    expect(await attempt(type)).toBe(code);
    expect(await denied()).toEqual(told(type, type));
  });
});

describe('what is not logged', () => {
  it('a stream the device still holds, its own streams, a read-only refusal, a stream of no account', async () => {
    const pulled = await ask<PulledFrame>(clinicWs, {
      t: 'pull',
      streams: [
        { stream: stream('lab-result'), since: 0 },
        { stream: streamOf(clinic.accountId, 'allergy'), since: 0 },
        { stream: streamOf('Z'.repeat(22), 'allergy'), since: 0 },
      ],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.docs.map((d) => d.stream)).toEqual([stream('lab-result')]);
    expect(pulled.denied).toEqual([{ stream: streamOf('Z'.repeat(22), 'allergy'), code: 'NO_CONSENT' }]);
    expect(
      (await ask(clinicWs, { t: 'subscribe', streams: [{ stream: stream('lab-result'), since: 0 }] })).t,
    ).toBe('ok');
    const doc = await makeDoc(patient, clinic.device, 'lab-result', { by: 'clinic' });
    const pushed = await ask<PushedFrame>(clinicWs, { t: 'push', rows: [{ doc, assumedRev: null }] });
    expect(pushed.results[0]).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    const keys = await ask<EnvelopesFrame>(clinicWs, { t: 'getEnvelopes', streams: [stream('lab-result')] });
    expect(keys.envelopes).toHaveLength(1);
    expect(await denied()).toEqual([]);
    // The access it did have is logged as it always was.
    const actions = (await serverAccessEntries(t, patient)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['pull', 'key-fetch']));
  });

  it('a malformed frame naming a stream is answered BAD_MESSAGE and logs nothing', async () => {
    clinicWs.sendRaw(
      JSON.stringify({ t: 'pull', rid: 77, streams: [{ stream: '../x', since: 0 }], limit: 1 }),
    );
    const reply = await clinicWs.waitFor((f): f is ErrorFrame => f.t === 'error');
    expect(reply.code).toBe('BAD_MESSAGE');
    expect(await denied()).toEqual([]);
  });
});
