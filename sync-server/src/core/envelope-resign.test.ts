// An envelope created by a patient device that the account revoked since is stored anew when an active
// device of the same account signs the same key (devices no longer take the revoked device's signature);
// nothing else replaces a stored envelope: not another key, not a second active device, not a grantee or
// a stranger, nor a device itself revoked after it authenticated (the service refuses it DEVICE_REVOKED;
// the store, given it anyway, keeps the stored one).
// And `listKeyHolders` names each envelope's creator when asked to.
import { generateRootSecret } from '@hale/crypto';
import type { KeyEnvelope } from '@hale/protocol';
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
let stranger: TestAccount;
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
  stranger = await registerAccount(t);
  second = await addDevice(t, patient);
});
afterEach(async () => {
  await t.stop();
});

describe('putEnvelopes in place of an envelope a revoked device created', () => {
  const stream = () => streamOf(patient.accountId, 'allergy');
  /** The phone (the account's first device) wraps epoch `epoch` for the provider, then is revoked. */
  const byRevokedPhone = async (epoch: number, key: Uint8Array): Promise<KeyEnvelope> => {
    const env = await makeEnvelope(patient, patient.device, provider, 'allergy', epoch, key);
    await t.server.service.putEnvelopes(principalOf(patient), [env]);
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);
    return env;
  };

  it('stores the same key signed by an active device of the patient in its place', async () => {
    const key = generateRootSecret();
    await byRevokedPhone(1, key);
    const anew = await makeEnvelope(patient, second, provider, 'allergy', 1, key);
    await t.server.service.putEnvelopes(principal(patient, second), [anew]);
    expect(row(stream(), 1, provider.accountId)).toEqual({
      key_id: anew.keyId,
      created_by: second.deviceId,
      sig: anew.sig,
    });
    const [stored] = await t.store.envelopes.list(provider.accountId, [stream()]);
    expect(stored).toMatchObject(anew);
  });

  it('keeps it for another key (the first claim of an epoch stays)', async () => {
    const old = await byRevokedPhone(1, generateRootSecret());
    const other = await makeEnvelope(patient, second, provider, 'allergy', 1, generateRootSecret());
    await t.server.service.putEnvelopes(principal(patient, second), [other]);
    expect(row(stream(), 1, provider.accountId)).toEqual({
      key_id: old.keyId,
      created_by: patient.device.deviceId,
      sig: old.sig,
    });
  });

  it('keeps one an active device created, whoever signs the same key anew', async () => {
    const key = generateRootSecret();
    const first = await makeEnvelope(patient, second, provider, 'allergy', 1, key);
    await t.server.service.putEnvelopes(principal(patient, second), [first]);
    const third = await addDevice(t, patient);
    await t.server.service.putEnvelopes(principal(patient, third), [
      await makeEnvelope(patient, third, provider, 'allergy', 1, key),
    ]);
    expect(row(stream(), 1, provider.accountId)?.created_by).toBe(second.deviceId);
  });

  it('refuses a grantee or a stranger signing it anew (FORBIDDEN), and the store keeps it for them too', async () => {
    const key = generateRootSecret();
    const old = await byRevokedPhone(1, key);
    const kept = { key_id: old.keyId, created_by: patient.device.deviceId, sig: old.sig };
    // Signed by their own devices for the patient's stream, as any account could try.
    const byGrantee = { ...(await makeEnvelope(patient, provider.device, provider, 'allergy', 1, key)) };
    const byStranger = await makeEnvelope(patient, stranger.device, provider, 'allergy', 1, key);
    await expect(t.server.service.putEnvelopes(principalOf(provider), [byGrantee])).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(t.server.service.putEnvelopes(principalOf(stranger), [byStranger])).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(row(stream(), 1, provider.accountId)).toEqual(kept);
    // Past the service's checks, the store itself keeps it: their devices are not the patient's.
    for (const env of [byGrantee, byStranger]) {
      const { sig, ...rest } = env;
      expect(
        await t.store.envelopes.put({
          ...rest,
          ...(sig ? { sig } : {}),
          createdAt: new Date().toISOString(),
        }),
      ).toEqual({ created: false });
    }
    expect(row(stream(), 1, provider.accountId)).toEqual(kept);
  });

  it('keeps it when the device signing anew was itself revoked after it authenticated (the store decides)', async () => {
    const stream = streamOf(patient.accountId, 'allergy');
    const key = generateRootSecret();
    const byPhone = await makeEnvelope(patient, patient.device, provider, 'allergy', 1, key);
    await t.server.service.putEnvelopes(principalOf(patient), [byPhone]);
    const kept = { key_id: byPhone.keyId, created_by: patient.device.deviceId, sig: byPhone.sig };
    // Both devices are revoked; the second one's (already authenticated) connection publishes anyway.
    expect((await revokeDevice(t, patient, second)).status).toBe(200);
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);

    const anew = await makeEnvelope(patient, second, provider, 'allergy', 1, key);
    await expect(t.server.service.putEnvelopes(principal(patient, second), [anew])).rejects.toMatchObject({
      code: 'DEVICE_REVOKED',
    });
    expect(row(stream, 1, provider.accountId)).toEqual(kept);

    const { sig, ...rest } = anew;
    expect(
      await t.store.envelopes.put({ ...rest, ...(sig ? { sig } : {}), createdAt: new Date().toISOString() }),
    ).toEqual({ created: false });
    expect(row(stream, 1, provider.accountId)).toEqual(kept);
  });
});

describe('listKeyHolders names the creators', () => {
  it("answers each row's createdBy", async () => {
    const env = await makeEnvelope(patient, patient.device, provider, 'allergy', 0);
    await t.server.service.putEnvelopes(principalOf(patient), [env]);
    const stream = streamOf(patient.accountId, 'allergy');
    expect(await t.server.service.listKeyHolders(principalOf(patient), [stream])).toStrictEqual([
      { stream, epoch: 0, recipient: provider.accountId, createdBy: patient.device.deviceId },
    ]);
  });
});
