import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES, SESSION_TTL_MS, wrappingKeySignaturePayload } from '@hale/protocol';
import { base64urlEncode, randomBytes, sha256 } from '@hale/crypto';
import { newId } from '@hale/model';
import {
  ed,
  http,
  makeRegistration,
  registerAccount,
  revokeDevice,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from '../../../../sync-server/src/testing/harness';
import { HaleClientError, isHaleClientError } from './errors';
import { createHttpApi, type FetchLike, type FetchResponseLike, type HttpApi } from './http-api';
import { createSessionManager, openSession } from './session-manager';

let t: TestServer;
let api: HttpApi;
let patient: TestAccount;

/** Global fetch plus a log of the paths it was asked for. */
function countingFetch(): { fetch: FetchLike; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: (url, init) => {
      paths.push(new URL(url).pathname);
      return fetch(url, init);
    },
  };
}

const challenges = (paths: readonly string[]) => paths.filter((p) => p === '/v1/auth/challenge').length;

/** A fetch that answers every request with the given status and body text. */
function fakeFetch(status: number, text: string, calls: { n: number } = { n: 0 }): FetchLike {
  return async () => {
    calls.n++;
    const response: FetchResponseLike = {
      status,
      ok: status >= 200 && status < 300,
      headers: { get: () => 'application/json' },
      json: async () => JSON.parse(text) as unknown,
      text: async () => text,
      arrayBuffer: async () => new TextEncoder().encode(text).buffer,
    };
    return response;
  };
}

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  try {
    await promise;
  } catch (e) {
    if (isHaleClientError(e)) return e;
    throw e;
  }
  throw new Error('expected a HaleClientError');
}

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: `${t.url}/`, fetch });
  patient = await registerAccount(t, 'patient');
});

afterAll(async () => {
  await t.stop();
});

describe('createHttpApi against a real server', () => {
  it('reads health, server info and an account, validated', async () => {
    expect((await api.health()).status).toBe('ok');
    const info = await api.serverInfo();
    expect(info.versions).toContain(1);
    const account = await api.getAccount(patient.accountId);
    expect(account.accountId).toBe(patient.accountId);
    expect(account.identityPublicKey).toBe(base64urlEncode(patient.keys.identity.publicKey));
    expect(account.devices.map((d) => d.cert.deviceId)).toEqual([patient.device.deviceId]);
  });

  it("reads one device of an account, revoked ones with their revocation; another account's is NOT_FOUND", async () => {
    const active = await api.getAccountDevice(patient.accountId, patient.device.deviceId);
    expect(active).toEqual({ certificate: (await api.getAccount(patient.accountId)).devices[0] });
    const other = await registerAccount(t, 'patient');
    expect((await revokeDevice(t, other, other.device)).status).toBe(200);
    const revoked = await api.getAccountDevice(other.accountId, other.device.deviceId);
    expect(revoked.certificate.cert.deviceId).toBe(other.device.deviceId);
    expect(revoked.revocation?.revocation).toMatchObject({
      accountId: other.accountId,
      deviceId: other.device.deviceId,
    });
    expect(typeof revoked.revokedAt).toBe('string');
    const e = await thrown(api.getAccountDevice(patient.accountId, other.device.deviceId));
    expect([e.code, e.status]).toEqual(['NOT_FOUND', 404]);
  });

  it('turns an error body into a typed HaleClientError', async () => {
    const e = await thrown(api.getAccount('A'.repeat(22)));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.status).toBe(404);
    expect(e.retry).toBe(false);
    const bad = await thrown(api.join({ loginName: 'nobody-here' }));
    expect(bad.code).toBe('NOT_FOUND');
  });

  it('refuses an authenticated route without a token, before sending', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const e = await thrown(local.searchDirectory({}, ''));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(counted.paths).toEqual([]);
  });

  it('the server still refuses a request body with a property it does not know', async () => {
    const top = await http(t.url, 'POST', '/v1/join', { loginName: 'nobody-here', addedLater: 1 });
    expect(top.status).toBe(400);
    expect(top.body).toMatchObject({ code: 'BAD_MESSAGE' });
    const { body } = await makeRegistration('patient');
    const nested = await http(t.url, 'POST', '/v1/accounts', {
      ...body,
      account: { ...body.account, addedLater: 1 },
    });
    expect(nested.status).toBe(400);
    expect(nested.body).toMatchObject({ code: 'BAD_MESSAGE' });
    // The same registration without it is taken.
    expect((await http(t.url, 'POST', '/v1/accounts', body)).status).toBe(201);
  });

  it('refuses an invalid request body before sending it', async () => {
    const calls = { n: 0 };
    const local = createHttpApi({ baseUrl: 'http://unused', fetch: fakeFetch(200, '{}', calls) });
    const e = await thrown(local.join({ loginName: 'NOT VALID' }));
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.status).toBe(0);
    expect(calls.n).toBe(0);
  });

  it('puts and gets a blob chunk as raw bytes; a corrupted chunk is DIGEST_MISMATCH (retryable)', async () => {
    const token = (await openSession(api, patient.device.keys, ed)).token;
    const sealed = randomBytes(1000);
    const blobId = newId();
    const created = await api.createBlob(
      {
        blobId,
        stream: `${patient.accountId}/document`,
        size: 900,
        chunkSize: MIN_CHUNK_BYTES,
        chunkCount: 1,
        digests: [base64urlEncode(sha256(sealed))],
        epoch: 0,
      },
      token,
    );
    expect(created.have).toEqual([]);
    const wrong = sealed.slice();
    wrong[0]! ^= 1;
    const mismatch = await thrown(api.putChunk(blobId, 0, wrong, token));
    expect(mismatch.code).toBe('DIGEST_MISMATCH');
    expect(mismatch.retry).toBe(true);
    expect((await api.putChunk(blobId, 0, sealed, token)).have).toEqual([0]);
    const manifest = await api.getBlob(blobId, token);
    expect(manifest.complete).toBe(true);
    expect(await api.getChunk(blobId, 0, token)).toEqual(sealed);
    expect((await thrown(api.getChunk(blobId, 0, 'x'.repeat(40)))).code).toBe('UNAUTHENTICATED');
  });

  it('deletes a blob; deleting again or announcing its id again is BLOB_DELETED; an unknown id NOT_FOUND', async () => {
    const token = (await openSession(api, patient.device.keys, ed)).token;
    const sealed = randomBytes(1000);
    const manifest = {
      blobId: newId(),
      stream: `${patient.accountId}/document` as const,
      size: 900,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 1,
      digests: [base64urlEncode(sha256(sealed))],
      epoch: 0,
    };
    await api.createBlob(manifest, token);
    await api.putChunk(manifest.blobId, 0, sealed, token);
    const deleted = await api.deleteBlob(manifest.blobId, token);
    expect(deleted).toEqual({
      blobId: manifest.blobId,
      stream: manifest.stream,
      deletedAt: expect.any(String) as string,
    });
    expect((await thrown(api.getChunk(manifest.blobId, 0, token))).code).toBe('BLOB_DELETED');
    const again = await thrown(api.deleteBlob(manifest.blobId, token));
    expect(again).toMatchObject({ code: 'BLOB_DELETED', status: 410, retry: false });
    expect(again.details).toEqual({ deletedAt: deleted.deletedAt });
    expect(await thrown(api.deleteBlob(newId(), token))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const recreated = await thrown(api.createBlob(manifest, token));
    expect(recreated).toMatchObject({
      code: 'BLOB_DELETED',
      status: 410,
      retry: false,
      action: 'fix-request',
    });
    expect(recreated.details).toEqual({ deletedAt: deleted.deletedAt });
    expect((await thrown(api.deleteBlob(manifest.blobId, ''))).code).toBe('UNAUTHENTICATED');
  });
});

describe('putWrappingKey', () => {
  it("publishes an older account's wrapping-key signature in its session; the account answer relays it", async () => {
    const { body, account } = await makeRegistration('provider');
    const { wrappingKeySig, ...legacy } = body;
    expect((await http(t.url, 'POST', '/v1/accounts', legacy)).status).toBe(201);
    expect((await api.getAccount(account.accountId)).wrappingKeySig).toBeUndefined();
    const token = (await openSession(api, account.device.keys, ed)).token;

    // Over another wrapping key: refused, nothing stored.
    const forOther = await sign(
      account.keys.identity.secretKey,
      wrappingKeySignaturePayload({ ...body.account, wrappingPublicKey: base64urlEncode(randomBytes(32)) }),
    );
    const refused = await thrown(api.putWrappingKey({ sig: forOther }, token));
    expect(refused.code).toBe('BAD_SIGNATURE');
    expect((await api.getAccount(account.accountId)).wrappingKeySig).toBeUndefined();

    expect(await api.putWrappingKey({ sig: wrappingKeySig }, token)).toEqual({
      accountId: account.accountId,
    });
    expect((await api.getAccount(account.accountId)).wrappingKeySig).toBe(wrappingKeySig);
    // Idempotent: the same signature again is taken again.
    expect(await api.putWrappingKey({ sig: wrappingKeySig }, token)).toEqual({
      accountId: account.accountId,
    });
  });

  it('needs a session and a well-formed signature, refused before sending', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    expect((await thrown(local.putWrappingKey({ sig: 'A'.repeat(86) }, ''))).code).toBe('UNAUTHENTICATED');
    expect((await thrown(local.putWrappingKey({ sig: 'not base64url!' }, 'token'))).code).toBe('BAD_MESSAGE');
    expect(counted.paths).toEqual([]);
    const anonymous = await thrown(local.putWrappingKey({ sig: 'A'.repeat(86) }, 'x'.repeat(40)));
    expect(anonymous.code).toBe('UNAUTHENTICATED');
    expect(counted.paths).toEqual(['/v1/accounts/me/wrapping-key']);
  });
});

describe('createHttpApi against a misbehaving server or network', () => {
  it('a request that gets no answer is NETWORK and retryable', async () => {
    const failing: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: failing }).health());
    expect(e.code).toBe('NETWORK');
    expect(e.retry).toBe(true);
    expect(e.action).toBe('backoff');
  });

  it('an answer that breaks its schema is BAD_RESPONSE, never returned, added properties or not', async () => {
    const health = (body: unknown) =>
      thrown(createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(200, JSON.stringify(body)) }).health());
    for (const body of [
      { status: 'ok', store: 'x', version: 1 },
      { status: 'ok', store: 'x', version: 1, addedLater: true },
      { status: 'ok', store: 'x' },
      { status: 'ok', store: 'x', addedLater: '1' },
    ]) {
      const e = await health(body);
      expect(e.code).toBe('BAD_RESPONSE');
      expect(e.retry).toBe(false);
      // The issues name the broken field, never the added one.
      const issues = e.details?.['issues'] as { path: string }[];
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.every((issue) => issue.path === '/version')).toBe(true);
    }
  });

  it('takes an answer with properties a newer server added, top-level and nested, and passes none on', async () => {
    const real = await api.getAccount(patient.accountId);
    const newer = {
      ...real,
      addedLater: { any: 'thing' },
      devices: real.devices.map((d) => ({ ...d, addedLater: 1, cert: { ...d.cert, addedLater: 'x' } })),
    };
    const local = createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(200, JSON.stringify(newer)) });
    const account = await local.getAccount(patient.accountId);
    expect(account).toStrictEqual(real);
    expect(JSON.stringify(account)).not.toContain('addedLater');
  });

  it('an error answer with added properties keeps its code', async () => {
    const body = JSON.stringify({ code: 'NOT_FOUND', message: 'gone', addedLater: { x: 1 } });
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(404, body) }).health());
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toBe('gone');
  });

  it('non-JSON answers are BAD_RESPONSE; a proxy 502 page is retryable', async () => {
    const ok = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(200, '<html>') }).health());
    expect(ok.code).toBe('BAD_RESPONSE');
    const gateway = await thrown(
      createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(502, '<html>bad gateway</html>') }).health(),
    );
    expect(gateway.code).toBe('BAD_RESPONSE');
    expect(gateway.status).toBe(502);
    expect(gateway.retry).toBe(true);
  });

  it('a 2xx answer whose body is cut off while reading is NETWORK and retryable, like an error answer', async () => {
    const cut: FetchLike = async () => ({
      status: 200,
      ok: true,
      headers: { get: () => 'application/json' },
      json: async () => Promise.reject(new TypeError('terminated: other side closed')),
      text: async () => Promise.reject(new TypeError('terminated: other side closed')),
      arrayBuffer: async () => Promise.reject(new TypeError('terminated: other side closed')),
    });
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: cut }).health());
    expect(e.code).toBe('NETWORK');
    expect(e.retry).toBe(true);
    expect(e.action).toBe('backoff');
  });

  it('an unexpected 2xx status is BAD_RESPONSE', async () => {
    const body = JSON.stringify({ accountId: patient.accountId });
    const local = createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(200, body) });
    const e = await thrown(
      local.addDevice({ device: (await api.getAccount(patient.accountId)).devices[0]! }),
    );
    expect(e.code).toBe('BAD_RESPONSE');
  });

  it('an error code from a newer server maps to its HTTP class and keeps the wire code', async () => {
    const body = JSON.stringify({ code: 'SOMETHING_NEW', message: 'later' });
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(503, body) }).health());
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.wireCode).toBe('SOMETHING_NEW');
    expect(e.retry).toBe(true);
    const rate = JSON.stringify({ code: 'RATE_LIMITED', message: 'slow', details: { retryAfterMs: 50 } });
    const r = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: fakeFetch(429, rate) }).health());
    expect(r.code).toBe('RATE_LIMITED');
    expect(r.details).toEqual({ retryAfterMs: 50 });
    expect(r.wireCode).toBeUndefined();
  });
});

describe('createSessionManager', () => {
  it('gets a token that works on an authenticated route, and caches it', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const sessions = createSessionManager({ api: local, device: patient.device.keys, ed });
    const token = await sessions.token();
    expect((await local.searchDirectory({ q: 'x' }, token)).providers).toEqual([]);
    expect(await sessions.token()).toBe(token);
    const [a, b] = await Promise.all([sessions.token(), sessions.token()]);
    expect(a).toBe(token);
    expect(b).toBe(token);
    expect(challenges(counted.paths)).toBe(1);
  });

  it('a sign-in that invalidate() overtook caches nothing: the next token() signs in anew', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const sessions = createSessionManager({ api: local, device: patient.device.keys, ed });
    const overtaken = sessions.token();
    sessions.invalidate();
    await overtaken;
    expect(challenges(counted.paths)).toBe(1);
    await sessions.token();
    expect(challenges(counted.paths)).toBe(2);
  });

  it('renews shortly before the granted lifetime ends on the device clock', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    let now = 1_000_000;
    const sessions = createSessionManager({ api: local, device: patient.device.keys, ed, now: () => now });
    const first = await sessions.token();
    now += SESSION_TTL_MS - 90_000;
    expect(await sessions.token()).toBe(first);
    now += 45_000; // inside the refresh margin
    const second = await sessions.token();
    expect(second).not.toBe(first);
    expect(challenges(counted.paths)).toBe(2);
  });

  it('re-authenticates once when the server says the session expired', async () => {
    const counted = countingFetch();
    const local = createHttpApi({ baseUrl: t.url, fetch: counted.fetch });
    const sessions = createSessionManager({ api: local, device: patient.device.keys, ed });
    const stale = await sessions.token();
    t.clock.advance(SESSION_TTL_MS + 1000); // the server's clock moves; the device's does not
    expect((await thrown(local.searchDirectory({}, stale))).code).toBe('SESSION_EXPIRED');
    const tokens: string[] = [];
    const answer = await sessions.withToken((token) => {
      tokens.push(token);
      return local.searchDirectory({}, token);
    });
    expect(answer.providers).toEqual([]);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(stale);
    expect(challenges(counted.paths)).toBe(2);
  });

  it('gives up after one re-authentication', async () => {
    const sessions = createSessionManager({ api, device: patient.device.keys, ed });
    let calls = 0;
    const e = await thrown(
      sessions.withToken(async () => {
        calls++;
        throw new HaleClientError({ code: 'UNAUTHENTICATED', message: 'no', status: 401 });
      }),
    );
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(calls).toBe(2);
  });

  it('does not retry other errors', async () => {
    const sessions = createSessionManager({ api, device: patient.device.keys, ed });
    let calls = 0;
    const e = await thrown(
      sessions.withToken(async () => {
        calls++;
        throw new HaleClientError({ code: 'FORBIDDEN', message: 'no', status: 403 });
      }),
    );
    expect(e.code).toBe('FORBIDDEN');
    expect(calls).toBe(1);
  });

  it('a revoked device cannot get a session: DEVICE_REVOKED', async () => {
    const other = await registerAccount(t, 'patient');
    const sessions = createSessionManager({ api, device: other.device.keys, ed });
    await sessions.token();
    expect((await revokeDevice(t, other, other.device)).status).toBe(200);
    sessions.invalidate();
    const e = await thrown(sessions.token());
    expect(e.code).toBe('DEVICE_REVOKED');
    expect(e.action).toBe('stop');
  });

  it('a device signing with the wrong key gets BAD_SIGNATURE', async () => {
    const wrongKey = {
      deviceId: patient.device.deviceId,
      secretKey: (await registerAccount(t)).device.keys.secretKey,
    };
    const e = await thrown(createSessionManager({ api, device: wrongKey, ed }).token());
    expect(e.code).toBe('BAD_SIGNATURE');
  });
});
