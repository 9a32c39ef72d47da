// A grantee's request allowed on arrival and refused where it acts (a revocation committed while it read
// the store or logged its access: the access guard's refusal) is told to the patient too: one `denied`
// entry naming the device and the stream, beside the refusal the device gets. The waits are held open by
// the seams of recheck.test-util.ts (a store read that runs a step, the server's next signature).
import { randomBytes } from 'node:crypto';
import { MIN_CHUNK_BYTES, type PulledFrame } from '@hale/protocol';
import { newId } from '@hale/model';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  connect,
  createBlob,
  digestOf,
  getChunk,
  http,
  makeDoc,
  principalOf,
  putChunk,
  sessionToken,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { accessLogged, consentSteps, startRecheck, type Recheck } from './recheck.test-util';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let patientToken: string;
let providerToken: string;
let arm: Recheck['arm'];
let armRead: Recheck['armRead'];

beforeEach(async () => {
  ({ t, patient, provider, arm, armRead } = await startRecheck());
  patientToken = await sessionToken(t, patient.device);
  providerToken = await sessionToken(t, provider.device);
});
afterEach(async () => {
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({
  t,
  patient,
  provider,
  service: t.server.service,
}));

const documents = () => streamOf(patient.accountId, 'document');

/** The patient's `denied` entries as [actor account, actor device, stream]. */
const denied = async () =>
  (await accessLogged({ t, patient }, 'denied')).map((e) => [e.actorId, e.actorDeviceId, e.stream]);
const told = (stream: string) => [[provider.accountId, provider.device.deviceId, stream]];

/** A one-chunk blob in the patient's document stream, announced with `token`: its id and sealed chunk. */
const announce = async (token: string) => {
  const chunk = new Uint8Array(randomBytes(1000 + 64));
  const blobId = newId();
  const created = await createBlob(t, token, {
    blobId,
    stream: documents(),
    size: 1000,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });
  return { blobId, chunk, created };
};

const codeOf = (answer: { status: number; body?: unknown }) => [
  answer.status,
  (answer.body as { code?: string } | undefined)?.code,
];

/** Runs `request` with the server's next signature held until `grantId`'s revocation committed. */
const revokedWhileLogged = async <T>(grantId: string, request: () => Promise<T>): Promise<T> => {
  const held = arm('sign');
  const answer = request();
  await held.reached;
  const { revoking } = await revokeCommitted(grantId);
  held.release();
  await revoking;
  return answer;
};

it('a chunk upload refused while it is logged', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, chunk } = await announce(providerToken);
  const answer = await revokedWhileLogged(grantId, () => putChunk(t, providerToken, blobId, 0, chunk));
  expect(codeOf(answer)).toEqual([403, 'CONSENT_REVOKED']);
  expect(await denied()).toEqual(told(documents()));
});

it('a deletion refused while it is logged', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, chunk } = await announce(providerToken);
  expect((await putChunk(t, providerToken, blobId, 0, chunk)).status).toBe(200);
  const answer = await revokedWhileLogged(grantId, () =>
    http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, providerToken),
  );
  expect(codeOf(answer)).toEqual([403, 'CONSENT_REVOKED']);
  expect(await denied()).toEqual(told(documents()));
});

it('a chunk download refused while it is logged', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'read' }]);
  const { blobId, chunk } = await announce(patientToken);
  expect((await putChunk(t, patientToken, blobId, 0, chunk)).status).toBe(200);
  const answer = await revokedWhileLogged(grantId, () => getChunk(t, providerToken, blobId, 0));
  expect(codeOf(answer)).toEqual([403, 'CONSENT_REVOKED']);
  expect(await denied()).toEqual(told(documents()));
});

it('an announcement refused in the transaction that stores its manifest', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  // Decided on arrival from the grants read here; the revocation commits right after that read.
  const revoked = armRead('listUnendedFrom', async () => {
    await revokeCommitted(grantId);
  });
  const { created } = await announce(providerToken);
  await revoked;
  expect(codeOf(created)).toEqual([403, 'CONSENT_REVOKED']);
  expect(await denied()).toEqual(told(documents()));
});

it('a pull refused once its pages are read', async () => {
  const allergy = streamOf(patient.accountId, 'allergy');
  const grantId = await grantTo([{ type: 'allergy', access: 'read' }]);
  const seeded = await t.server.service.push(principalOf(patient), {
    rows: [{ doc: await makeDoc(patient, patient.device, 'allergy', { n: 1 }), assumedRev: null }],
  });
  expect(seeded[0]?.status).toBe('ok');
  const c = await connect(t, provider.device);
  try {
    const revoked = armRead('readDocs', async () => {
      await revokeCommitted(grantId);
    });
    const pulled = await c.request<PulledFrame>({
      t: 'pull',
      rid: c.rid(),
      streams: [{ stream: allergy, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    await revoked;
    expect(pulled.docs).toEqual([]);
    expect(pulled.denied.map((d) => d.stream)).toEqual([allergy]);
    expect(await denied()).toEqual(told(allergy));
  } finally {
    await c.close();
  }
});
