// A 5xx that is not the server's JSON error (a proxy's 502/504 page) says nothing of whether the request
// took effect: the proxy may have forwarded it and lost only the answer. The client keeps it `retry: true`
// (as NETWORK and TIMEOUT) because its callers read `retry` as "outcome unknown: check or repeat"
// (createAccount repeats the registration, changePassphrase reads the wrap back), and because every write
// route answers the very same request repeated after it landed as done. This pins that per write route,
// against a real server: the request lands, a proxy answers 502 HTML, the same request again is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES, deviceRevocationPayload } from '@hale/protocol';
import { newId } from '@hale/model';
import { generateDeviceKeys } from '@hale/crypto';
import {
  digestOf,
  makeDeviceCert,
  makeRegistration,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  streamOf,
  type TestServer,
} from '../../../../sync-server/src/testing/harness';
import { isHaleClientError, type HaleClientError } from './errors';
import { createHttpApi, type FetchLike, type HttpApi } from './http-api';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t.stop();
});

/**
 * An API whose next request reaches the server, and whose answer a proxy then replaces with a 502 page;
 * later requests pass untouched. `forwarded` counts what reached the server.
 */
const behindFlakyProxy = (): { api: HttpApi; forwarded: () => number } => {
  let calls = 0;
  const proxied: FetchLike = async (url, init) => {
    calls++;
    const res = await fetch(url, init);
    if (calls > 1) return res;
    await res.arrayBuffer();
    return new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', {
      status: 502,
      headers: { 'content-type': 'text/html' },
    });
  };
  return { api: createHttpApi({ baseUrl: t.url, fetch: proxied }), forwarded: () => calls };
};

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (!isHaleClientError(error)) throw error;
  return error;
}

/** What the lost answer must look like: outcome unknown, as NETWORK is, never a refusal to fix. */
const expectUnknownOutcome = (e: HaleClientError): void => {
  expect({ code: e.code, status: e.status, retry: e.retry, action: e.action }).toEqual({
    code: 'BAD_RESPONSE',
    status: 502,
    retry: true,
    action: 'backoff',
  });
};

describe('http-api: a write whose answer a proxy replaced with a 5xx page is done when repeated', () => {
  it('register: the same registration again is answered as the first time', async () => {
    const { body } = await makeRegistration();
    const { api } = behindFlakyProxy();
    expectUnknownOutcome(await thrown(api.register(body)));
    expect(await api.register(body)).toMatchObject({ accountId: body.account.accountId });
  });

  it('addDevice: the same certificate again is answered as before', async () => {
    const account = await registerAccount(t);
    const keys = generateDeviceKeys();
    const device = await makeDeviceCert(account, keys, 'tablet');
    const { api } = behindFlakyProxy();
    expectUnknownOutcome(await thrown(api.addDevice({ device })));
    expect(await api.addDevice({ device })).toEqual({ deviceId: keys.deviceId });
    const listed = await api.getAccount(account.accountId);
    expect(listed.devices.filter((d) => d.cert.deviceId === keys.deviceId)).toHaveLength(1);
  });

  it('revokeDevice: the same revocation again keeps the first revocation time', async () => {
    const account = await registerAccount(t);
    const revocation = {
      v: 1 as const,
      accountId: account.accountId,
      deviceId: account.device.deviceId,
      revokedAt: new Date(t.server.ctx.now()).toISOString(),
    };
    const sig = await sign(account.keys.identity.secretKey, deviceRevocationPayload(revocation));
    const { api } = behindFlakyProxy();
    expectUnknownOutcome(await thrown(api.revokeDevice({ revocation, sig })));
    const again = await api.revokeDevice({ revocation, sig });
    expect(again.deviceId).toBe(account.device.deviceId);
    const device = await api.getAccountDevice(account.accountId, account.device.deviceId);
    expect(device.revokedAt).toBe(again.revokedAt);
  });

  it('createBlob, putChunk and deleteBlob: repeated, they resume, store the same chunk, and are done', async () => {
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const chunk = new Uint8Array(MIN_CHUNK_BYTES + 40).map((_, i) => (i * 31 + 7) & 0xff);
    const manifest = {
      blobId: newId(),
      stream: streamOf(patient.accountId, 'document'),
      size: MIN_CHUNK_BYTES,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 1,
      digests: [digestOf(chunk)],
      epoch: 0,
    };
    const create = behindFlakyProxy();
    expectUnknownOutcome(await thrown(create.api.createBlob(manifest, token)));
    expect(await create.api.createBlob(manifest, token)).toEqual({ blobId: manifest.blobId, have: [] });

    const put = behindFlakyProxy();
    expectUnknownOutcome(await thrown(put.api.putChunk(manifest.blobId, 0, chunk, token)));
    await put.api.putChunk(manifest.blobId, 0, chunk, token);
    expect(await put.api.getChunk(manifest.blobId, 0, token)).toEqual(chunk);

    const del = behindFlakyProxy();
    expectUnknownOutcome(await thrown(del.api.deleteBlob(manifest.blobId, token)));
    // Documented: BLOB_DELETED after deleteBlob means done.
    expect((await thrown(del.api.deleteBlob(manifest.blobId, token))).code).toBe('BLOB_DELETED');
  });
});
