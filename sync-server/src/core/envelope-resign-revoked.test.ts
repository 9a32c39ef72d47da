// An envelope a revoked device created is replaced only by the same key signed by an *active* device of
// the account. A device revoked after it authenticated (its connection still open when it publishes, so
// the service's checks pass) does not take the envelope over: the store keeps the stored one, as it does
// for a re-sign through the store directly.
import { generateRootSecret } from '@hale/crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthenticatedDevice } from './sync-service';
import {
  addDevice,
  makeEnvelope,
  principalOf,
  registerAccount,
  revokeDevice,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let second: TestDevice;

const principal = (account: TestAccount, device: TestDevice): AuthenticatedDevice => ({
  ...principalOf(account),
  deviceId: device.deviceId,
  devicePublicKey: device.keys.publicKey,
});

const row = (stream: string, epoch: number, recipient: string) =>
  t.store.db
    .prepare('SELECT key_id, created_by, sig FROM envelopes WHERE stream = ? AND epoch = ? AND recipient = ?')
    .get(stream, epoch, recipient) as { key_id: string; created_by: string; sig: string } | undefined;

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
  second = await addDevice(t, patient);
});
afterEach(async () => {
  await t.stop();
});

describe('re-signing an envelope a revoked device created', () => {
  it('by a device itself revoked since it authenticated: the stored envelope stays', async () => {
    const stream = streamOf(patient.accountId, 'allergy');
    const key = generateRootSecret();
    const byPhone = await makeEnvelope(patient, patient.device, provider, 'allergy', 1, key);
    await t.server.service.putEnvelopes(principalOf(patient), [byPhone]);
    const kept = { key_id: byPhone.keyId, created_by: patient.device.deviceId, sig: byPhone.sig };
    // Both devices are revoked; the second one's (already authenticated) connection publishes anyway.
    expect((await revokeDevice(t, patient, second)).status).toBe(200);
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);

    const anew = await makeEnvelope(patient, second, provider, 'allergy', 1, key);
    await t.server.service.putEnvelopes(principal(patient, second), [anew]);
    expect(row(stream, 1, provider.accountId)).toEqual(kept);

    const { sig, ...rest } = anew;
    expect(
      await t.store.envelopes.put({ ...rest, ...(sig ? { sig } : {}), createdAt: new Date().toISOString() }),
    ).toEqual({ created: false });
    expect(row(stream, 1, provider.accountId)).toEqual(kept);
  });
});
