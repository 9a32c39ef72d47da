// Retries after a lost acknowledgement: a device that repeats what the server already stored must get
// the same success answer, never a refusal it would treat as final. Anything that differs from what is
// stored stays refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditSignaturePayload, type PushDoc, type PushedFrame } from '@hale/protocol';
import { base64urlEncode, hexEncode, sha256 } from '@hale/crypto';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  docRow,
  makeAuditDoc,
  putChunk,
  registerAccount,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';

describe('idempotent retries', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  const manifestFor = (patient: TestAccount, chunk: Uint8Array) => ({
    blobId: newId(),
    stream: streamOf(patient.accountId, 'document'),
    size: 10,
    chunkSize: 65536,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });

  it('a blob manifest announced again later, or by another device of the patient, resumes the upload', async () => {
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const chunk = new Uint8Array(40).fill(3);
    const manifest = manifestFor(patient, chunk);
    const firstToken = await sessionToken(t, patient.device);
    expect(await createBlob(t, firstToken, manifest)).toMatchObject({ status: 200, body: { have: [] } });
    const announced = await t.store.blobs.getManifest(manifest.blobId);
    expect((await putChunk(t, firstToken, manifest.blobId, 0, chunk)).status).toBe(200);

    // Any real retry comes later than the first announcement.
    t.clock.advance(60_000);
    expect(await createBlob(t, firstToken, manifest)).toMatchObject({
      status: 200,
      body: { blobId: manifest.blobId, have: [0] },
    });
    expect(await createBlob(t, await sessionToken(t, second), manifest)).toMatchObject({
      status: 200,
      body: { blobId: manifest.blobId, have: [0] },
    });
    // Who announced it first, and when, is kept.
    expect(await t.store.blobs.getManifest(manifest.blobId)).toStrictEqual(announced);
    expect(announced?.createdBy).toBe(patient.device.deviceId);

    // A manifest that differs in what the uploader committed to is still refused.
    const other = { ...manifest, digests: [digestOf(new Uint8Array(40).fill(4))] };
    expect(await createBlob(t, firstToken, other)).toMatchObject({
      status: 409,
      body: { code: 'ALREADY_EXISTS' },
    });
    expect(await t.store.blobs.getManifest(manifest.blobId)).toStrictEqual(announced);
  });

  const pushOne = async (c: WsClient, doc: PushDoc) => {
    const reply = await c.request<PushedFrame>({
      t: 'push',
      rid: c.rid(),
      rows: [{ doc, assumedRev: null }],
    });
    expect(reply.t).toBe('pushed');
    return reply.results[0];
  };

  /** An entry with the id of `entry` but other content, signed by `author`. */
  const rewritten = async (entry: PushDoc, author: TestDevice, ct: string): Promise<PushDoc> => {
    const doc = {
      ...entry,
      ct,
      rev: `1-${hexEncode(sha256(new TextEncoder().encode(ct))).slice(0, 24)}`,
      author: author.deviceId,
    };
    delete doc.sig;
    return {
      ...doc,
      sig: await sign(author.keys.secretKey, auditSignaturePayload({ ...doc, audit: doc.audit! })),
    };
  };

  it('an audit entry pushed again exactly as stored answers ok with its seq; any other write to it is APPEND_ONLY', async () => {
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const c = await connect(t, patient.device);
    const c2 = await connect(t, second);
    const entry = await makeAuditDoc(patient, patient.device);
    const first = await pushOne(c, entry);
    expect(first).toMatchObject({ status: 'ok', id: entry.id, rev: entry.rev });
    const stored = docRow(t.store, entry.stream, entry.id);
    const counts = rowCounts(t.store);

    // The acknowledgement was lost: the device sends the same entry again.
    expect(await pushOne(c, entry)).toEqual(first);

    const otherCt = base64urlEncode(sha256(new TextEncoder().encode('another entry')));
    const attempts: PushDoc[] = [
      await rewritten(entry, patient.device, otherCt),
      await rewritten(entry, second, entry.ct),
    ];
    for (const [i, doc] of attempts.entries()) {
      const client = doc.author === second.deviceId ? c2 : c;
      expect(await pushOne(client, doc), `attempt ${i}`).toMatchObject({
        status: 'error',
        id: entry.id,
        code: 'APPEND_ONLY',
      });
    }
    expect(docRow(t.store, entry.stream, entry.id)).toEqual(stored);
    expect(rowCounts(t.store)).toEqual(counts);
    await Promise.all([c.close(), c2.close()]);
  });
});
