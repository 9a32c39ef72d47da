// Each check of the account, device and session routes (accounts.ts), attempted over real HTTP against a
// real server and SQLite file: the forbidden request is refused with its code and leaves nothing changed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHALLENGE_TTL_MS,
  HttpChallengeResponse,
  type DeviceCertificate,
  accountSignaturePayload,
  authSignaturePayload,
  deviceRevocationPayload,
  validate,
  wrappedRootSignaturePayload,
  wrappingKeySignaturePayload,
} from '@hale/protocol';
import {
  DEVICE_CERTIFICATE_LABEL,
  base64urlEncode,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  randomBytes,
  signCanonical,
} from '@hale/crypto';
import {
  ed,
  getAccountAnswer,
  http,
  makeDeviceCert,
  makeRegistration,
  registerAccount,
  revokeDevice,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';

describe('account and device routes refuse what is not signed for', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const getAccount = (accountId: string) => getAccountAnswer(t, accountId);
  const activeDeviceIds = async (account: TestAccount) =>
    (await getAccount(account.accountId)).devices.map((d) => d.cert.deviceId);
  /** A certificate body signed as `certifyDevice` signs one, without its consistency checks. */
  const signedCert = async (identitySecretKey: Uint8Array, cert: DeviceCertificate) => ({
    v: 1 as const,
    cert,
    sig: base64urlEncode(await signCanonical(ed, identitySecretKey, DEVICE_CERTIFICATE_LABEL, cert)),
  });

  it("refuses to register an account id that is not derived from the identity key (squatting another key's id)", async () => {
    const { body, account } = await makeRegistration();
    const squatted = deriveAccountKeys(generateRootSecret()).accountId;
    // Everything the registrant can sign is signed for the squatted id; only the derivation is wrong. (The
    // certificate check would refuse it too, as BAD_SIGNATURE; the id is refused first, as malformed.)
    const claimed = { ...body.account, accountId: squatted };
    const secret = account.keys.identity.secretKey;
    const res = await http(t.url, 'POST', '/v1/accounts', {
      account: claimed,
      device: await signedCert(secret, { ...body.device.cert, accountId: squatted }),
      sig: await sign(secret, accountSignaturePayload(claimed)),
      wrappingKeySig: await sign(secret, wrappingKeySignaturePayload(claimed)),
      wrappedRootSig: await sign(
        secret,
        wrappedRootSignaturePayload({ accountId: squatted, wrappedRoot: claimed.wrappedRoot, gen: 0 }),
      ),
    });
    expect(res).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(await t.store.accounts.get(squatted)).toBeNull();
    expect(await t.store.accounts.getByLogin(claimed.loginName)).toBeNull();
  });

  it('refuses a registration whose account record was altered after signing (role raised to provider)', async () => {
    const { body, account } = await makeRegistration('patient');
    // The role is covered only by the registration signature (not by the wrapping-key or wrap ones).
    const res = await http(t.url, 'POST', '/v1/accounts', {
      ...body,
      account: { ...body.account, role: 'provider' },
    });
    expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(await t.store.accounts.get(account.accountId)).toBeNull();
    expect(await t.store.devices.get(account.device.deviceId)).toBeNull();
  });

  it("refuses a certificate for the account's identity key whose device key was swapped after signing", async () => {
    const owner = await registerAccount(t);
    const genuine = await makeDeviceCert(owner, generateDeviceKeys());
    const intruder = generateDeviceKeys();
    // Self-consistent ids, the owner's identity key named, the owner's signature kept: only it is wrong.
    const swapped = {
      ...genuine,
      cert: {
        ...genuine.cert,
        deviceId: intruder.deviceId,
        devicePublicKey: base64urlEncode(intruder.publicKey),
      },
    };
    const before = rowCounts(t.store);
    const res = await http(t.url, 'POST', '/v1/devices', { device: swapped });
    expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(rowCounts(t.store)).toEqual(before);
    expect(await activeDeviceIds(owner)).toEqual([owner.device.deviceId]);
  });

  it("refuses a certificate naming another account but signed by the caller's own identity key", async () => {
    // The route's own comparison of the certificate's identity key with the account's can never be the one
    // to refuse: the certificate check already requires the account id to be derived from the certificate's
    // identity key, as registration required it of the account's key (and both encodings are canonical).
    const victim = await registerAccount(t);
    const intruder = await registerAccount(t);
    const keys = generateDeviceKeys();
    const cert = {
      accountId: victim.accountId,
      deviceId: keys.deviceId,
      devicePublicKey: base64urlEncode(keys.publicKey),
      sealedName: 'c2VhbGVk',
      createdAt: new Date(t.clock.now).toISOString(),
      identityPublicKey: base64urlEncode(intruder.keys.identity.publicKey),
    };
    const before = rowCounts(t.store);
    const res = await http(t.url, 'POST', '/v1/devices', {
      device: await signedCert(intruder.keys.identity.secretKey, cert),
    });
    expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    // Refused by the certificate check (the id is not derived from the key), before any key comparison.
    expect(JSON.stringify(res.body)).toMatch(/accountId does not match identityPublicKey/);
    expect(rowCounts(t.store)).toEqual(before);
    expect(await activeDeviceIds(victim)).toEqual([victim.device.deviceId]);
  });

  it('refuses to add a revoked device again, and it stays revoked', async () => {
    const owner = await registerAccount(t);
    const keys = generateDeviceKeys();
    const device: TestDevice = { keys, deviceId: keys.deviceId };
    const cert = await makeDeviceCert(owner, keys);
    expect((await http(t.url, 'POST', '/v1/devices', { device: cert })).status).toBe(201);
    expect((await revokeDevice(t, owner, device)).status).toBe(200);

    const again = await http(t.url, 'POST', '/v1/devices', { device: cert });
    expect(again).toMatchObject({ status: 403, body: { code: 'DEVICE_REVOKED' } });
    const answer = await getAccount(owner.accountId);
    expect(answer.revokedDevices).toEqual([device.deviceId]);
    expect(answer.devices.map((d) => d.cert.deviceId)).toEqual([owner.device.deviceId]);
    await expect(sessionToken(t, device)).rejects.toThrow(/DEVICE_REVOKED/);
  });

  it("refuses to add another account's device key under the caller's account", async () => {
    const owner = await registerAccount(t);
    const intruder = await registerAccount(t);
    // The intruder's identity key certifies the owner's device public key: a valid certificate by itself.
    const cert = await makeDeviceCert(intruder, owner.device.keys);
    const res = await http(t.url, 'POST', '/v1/devices', { device: cert });
    expect(res).toMatchObject({ status: 409, body: { code: 'ALREADY_EXISTS' } });
    expect((await t.store.devices.get(owner.device.deviceId))?.accountId).toBe(owner.accountId);
    expect(await activeDeviceIds(intruder)).toEqual([intruder.device.deviceId]);
    expect(await activeDeviceIds(owner)).toEqual([owner.device.deviceId]);
  });

  it("answers another account's revoked device key as taken, not as revoked", async () => {
    const owner = await registerAccount(t);
    const intruder = await registerAccount(t);
    const keys = generateDeviceKeys();
    const device: TestDevice = { keys, deviceId: keys.deviceId };
    expect(
      (await http(t.url, 'POST', '/v1/devices', { device: await makeDeviceCert(owner, keys) })).status,
    ).toBe(201);
    expect((await revokeDevice(t, owner, device)).status).toBe(200);
    const before = rowCounts(t.store);
    // The intruder certifies the owner's revoked device key: the id is the owner's, whatever its state,
    // and this account is told only that (DEVICE_REVOKED would say it was revoked in another account).
    const res = await http(t.url, 'POST', '/v1/devices', { device: await makeDeviceCert(intruder, keys) });
    expect(res).toMatchObject({ status: 409, body: { code: 'ALREADY_EXISTS' } });
    expect(rowCounts(t.store)).toEqual(before);
    expect((await t.store.devices.get(device.deviceId))?.accountId).toBe(owner.accountId);
    expect(await activeDeviceIds(intruder)).toEqual([intruder.device.deviceId]);
  });

  it("refuses a revocation of another account's device signed by the caller's own identity key", async () => {
    const owner = await registerAccount(t);
    const intruder = await registerAccount(t);
    const revocation = {
      v: 1 as const,
      accountId: intruder.accountId,
      deviceId: owner.device.deviceId,
      revokedAt: new Date(t.clock.now).toISOString(),
    };
    const sig = await sign(intruder.keys.identity.secretKey, deviceRevocationPayload(revocation));
    const res = await http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
    expect(res).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect((await t.store.devices.get(owner.device.deviceId))?.revokedAt).toBeUndefined();
    expect((await getAccount(owner.accountId)).revokedDevices).toEqual([]);
    await expect(sessionToken(t, owner.device)).resolves.toEqual(expect.any(String));
  });
});

describe('HTTP sessions refuse a challenge answered out of turn', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const challengeFor = async (device: TestDevice) => {
    const res = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: device.deviceId });
    const checked = validate(HttpChallengeResponse, res.body);
    if (!checked.ok) throw new Error(`challenge: ${res.status} ${JSON.stringify(res.body)}`);
    return checked.value;
  };
  /** `device` answers `challenge` with a valid signature of its own over the challenge's nonce. */
  const answer = async (challenge: HttpChallengeResponse, device: TestDevice) =>
    http(t.url, 'POST', '/v1/auth/session', {
      challengeId: challenge.challengeId,
      deviceId: device.deviceId,
      sig: await sign(
        device.keys.secretKey,
        authSignaturePayload({
          nonce: challenge.nonce,
          deviceId: device.deviceId,
          serverId: challenge.serverId,
        }),
      ),
    });
  const sessions = () => rowCounts(t.store)['sessions'];

  it('refuses a challenge answered a second time', async () => {
    const { device } = await registerAccount(t);
    const challenge = await challengeFor(device);
    expect((await answer(challenge, device)).status).toBe(200);
    const before = sessions();
    const replayed = await answer(challenge, device);
    expect(replayed).toMatchObject({ status: 401, body: { code: 'CHALLENGE_INVALID' } });
    expect(sessions()).toBe(before);
  });

  it('refuses a challenge answered by a device other than the one it was issued to', async () => {
    const owner = await registerAccount(t);
    const other = await registerAccount(t);
    const challenge = await challengeFor(owner.device);
    const before = sessions();
    const res = await answer(challenge, other.device);
    expect(res).toMatchObject({ status: 401, body: { code: 'CHALLENGE_INVALID' } });
    expect(sessions()).toBe(before);
  });

  it('refuses a challenge answered once its lifetime is over', async () => {
    const { device } = await registerAccount(t);
    const inTime = await challengeFor(device);
    t.clock.advance(CHALLENGE_TTL_MS - 1);
    expect((await answer(inTime, device)).status).toBe(200);

    const late = await challengeFor(device);
    t.clock.advance(CHALLENGE_TTL_MS);
    const before = sessions();
    const res = await answer(late, device);
    expect(res).toMatchObject({ status: 401, body: { code: 'CHALLENGE_INVALID' } });
    expect(sessions()).toBe(before);
  });

  it('refuses a well-formed bearer token that no session was issued for', async () => {
    const account = await registerAccount(t);
    expect((await sessionToken(t, account.device)).length).toBeGreaterThan(0);
    const forged = base64urlEncode(randomBytes(32));
    const res = await http(t.url, 'GET', '/v1/accounts/me/wrapped-root', undefined, forged);
    expect(res).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
  });
});
