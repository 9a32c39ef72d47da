// A device revocation's signed `revokedAt` against the server's clock (`POST /v1/devices/revoke`,
// accounts.ts): devices cut a revoked device off at the earliest of the server's time and the signed one,
// so a time far back would disown what the device honestly signed since. Beyond REVOKED_AT_MAX_SKEW_MS
// either way it is refused (400 BAD_MESSAGE naming the field) and nothing is stored; within it, taken.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceRevocationPayload } from '@hale/protocol';
import {
  addDevice,
  http,
  registerAccount,
  sign,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';
import { REVOKED_AT_MAX_SKEW_MS } from './accounts';

describe('POST /v1/devices/revoke and the signed revokedAt', () => {
  let t: TestServer;
  let patient: TestAccount;
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
  });
  afterEach(async () => {
    await t.stop();
  });

  /** Revokes `device` with a revocation signed by the account and dated `offsetMs` from the server's clock. */
  const revokeAt = async (device: TestDevice, offsetMs: number) => {
    const revocation = {
      v: 1 as const,
      accountId: patient.accountId,
      deviceId: device.deviceId,
      revokedAt: new Date(t.clock.now + offsetMs).toISOString(),
    };
    const sig = await sign(patient.keys.identity.secretKey, deviceRevocationPayload(revocation));
    return http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
  };

  for (const [what, offsetMs] of [
    ['a minute more than allowed in the past', -REVOKED_AT_MAX_SKEW_MS - 60_000],
    ['a day in the past', -24 * 3_600_000],
    ['one millisecond more than allowed in the past', -REVOKED_AT_MAX_SKEW_MS - 1],
    ['a minute more than allowed in the future', REVOKED_AT_MAX_SKEW_MS + 60_000],
    ['one millisecond more than allowed in the future', REVOKED_AT_MAX_SKEW_MS + 1],
  ] as const) {
    it(`refuses a revokedAt ${what}, storing nothing`, async () => {
      const device = await addDevice(t, patient);
      const res = await revokeAt(device, offsetMs);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'BAD_MESSAGE',
        message: expect.stringContaining('revokedAt') as unknown,
        details: {
          field: 'revokedAt',
          serverTime: new Date(t.clock.now).toISOString(),
          maxSkewMs: REVOKED_AT_MAX_SKEW_MS,
        },
      });
      const stored = await t.store.devices.get(device.deviceId);
      expect([stored?.revokedAt, stored?.revocation]).toEqual([undefined, undefined]);
      // The device is not cut off: a revocation dated by the server's clock still works.
      expect((await revokeAt(device, 0)).status).toBe(200);
    });
  }

  for (const [what, offsetMs] of [
    ['on the server clock', 0],
    ['just within the bound in the past', -REVOKED_AT_MAX_SKEW_MS],
    ['just within the bound in the future', REVOKED_AT_MAX_SKEW_MS],
    ['a minute in the past', -60_000],
    ['a minute in the future', 60_000],
  ] as const) {
    it(`takes a revokedAt ${what}`, async () => {
      const device = await addDevice(t, patient);
      const res = await revokeAt(device, offsetMs);
      expect(res.status).toBe(200);
      const stored = await t.store.devices.get(device.deviceId);
      expect(stored?.revokedAt).toBe(new Date(t.clock.now).toISOString());
      expect(stored?.revocation).toMatchObject({
        revocation: { revokedAt: new Date(t.clock.now + offsetMs).toISOString() },
      });
    });
  }

  it('checks the signature first: a forged revocation out of bounds is BAD_SIGNATURE', async () => {
    const device = await addDevice(t, patient);
    const revocation = {
      v: 1 as const,
      accountId: patient.accountId,
      deviceId: device.deviceId,
      revokedAt: new Date(t.clock.now - 24 * 3_600_000).toISOString(),
    };
    const other = await registerAccount(t);
    const sig = await sign(other.keys.identity.secretKey, deviceRevocationPayload(revocation));
    const res = await http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
    expect([res.status, (res.body as { code?: unknown }).code]).toEqual([401, 'BAD_SIGNATURE']);
  });
});
