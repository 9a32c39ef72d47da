// One device of an account whatever its state (`GET /v1/accounts/:accountId/devices/:deviceId`,
// accounts.ts): an active one with its certificate alone, a revoked one with the server's time and the
// signed revocation as received, NOT_FOUND alike for an unknown device and another account's, BAD_MESSAGE
// for a malformed id.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpAccountDeviceResponse, deviceRevocationPayload, validate } from '@hale/protocol';
import { generateDeviceKeys } from '@hale/crypto';
import {
  addDevice,
  getAccountAnswer,
  http,
  registerAccount,
  revokeDevice,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from '../testing/harness';

const path = (accountId: string, deviceId: string) => `/v1/accounts/${accountId}/devices/${deviceId}`;

describe('GET /v1/accounts/:accountId/devices/:deviceId', () => {
  let t: TestServer;
  let patient: TestAccount;
  beforeEach(async () => {
    t = await startServer({ realClock: true });
    patient = await registerAccount(t);
  });
  afterEach(async () => {
    await t.stop();
  });

  const answer = async (accountId: string, deviceId: string) => {
    const res = await http(t.url, 'GET', path(accountId, deviceId));
    expect(res.status).toBe(200);
    const checked = validate(HttpAccountDeviceResponse, res.body);
    if (!checked.ok) throw new Error(checked.error.message);
    return checked.value;
  };

  it('answers an active device with its certificate only, without a session', async () => {
    const listed = await getAccountAnswer(t, patient.accountId);
    expect(await answer(patient.accountId, patient.device.deviceId)).toEqual({
      certificate: listed.devices[0],
    });
  });

  it('answers a revoked device with the time the server recorded and the revocation as signed', async () => {
    const second = await addDevice(t, patient);
    const [certificate] = (await getAccountAnswer(t, patient.accountId)).devices.filter(
      (d) => d.cert.deviceId === second.deviceId,
    );
    const revocation = {
      v: 1 as const,
      accountId: patient.accountId,
      deviceId: second.deviceId,
      revokedAt: new Date(Date.now() - 60_000).toISOString(),
    };
    const sig = await sign(patient.keys.identity.secretKey, deviceRevocationPayload(revocation));
    const revoked = await http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
    expect(revoked.status).toBe(200);
    const { revokedAt } = revoked.body as { revokedAt: string };

    expect(await answer(patient.accountId, second.deviceId)).toEqual({
      certificate,
      revokedAt,
      revocation: { revocation, sig },
    });
    // A repeated revocation changes neither the time nor the signed revocation kept.
    expect((await revokeDevice(t, patient, second)).status).toBe(200);
    expect(await answer(patient.accountId, second.deviceId)).toEqual({
      certificate,
      revokedAt,
      revocation: { revocation, sig },
    });
  });

  it('answers NOT_FOUND alike for an unknown device, another account and an unknown account', async () => {
    const other = await registerAccount(t);
    const unknown = await http(t.url, 'GET', path(patient.accountId, generateDeviceKeys().deviceId));
    const foreign = await http(t.url, 'GET', path(patient.accountId, other.device.deviceId));
    const noAccount = await http(t.url, 'GET', path(other.device.deviceId, patient.device.deviceId));
    for (const res of [unknown, foreign, noAccount]) {
      expect(res).toEqual({ status: 404, body: { code: 'NOT_FOUND', message: 'device not found' } });
    }
  });

  it('refuses malformed ids as BAD_MESSAGE', async () => {
    for (const url of [
      path(patient.accountId, 'short'),
      path('not-an-account', patient.device.deviceId),
      path(patient.accountId, `${patient.device.deviceId}x`),
    ]) {
      const res = await http(t.url, 'GET', url);
      expect([url, res.status, (res.body as { code?: unknown }).code]).toEqual([url, 400, 'BAD_MESSAGE']);
    }
  });
});
