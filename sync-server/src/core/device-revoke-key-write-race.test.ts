// A device's revocation cuts its key and consent writes in flight, as it does its pushes
// (device-revoke-push-race.test.ts): envelopes or a grant still being checked (their signatures verified)
// when the revocation commits store nothing. docs/protocol.md: "A write of that device still in progress
// when the revocation commits … stores nothing". A lost phone's last rotation would otherwise raise the
// stream's epoch to a key the thief holds, and its last grant would open the patient's streams to someone.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { gatedEd } from '../testing/gated-ed';
import {
  addDevice,
  makeEnvelope,
  makeGrant,
  registerAccount,
  revokeDevice,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';
import { createSyncService, type AuthenticatedDevice } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let phone: TestDevice;

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
  phone = await addDevice(t, patient);
});
afterEach(async () => {
  await t.stop();
});

const onPhone = (): AuthenticatedDevice => ({
  accountId: patient.accountId,
  deviceId: phone.deviceId,
  role: 'patient',
  devicePublicKey: phone.keys.publicKey,
});

/** A sync service on the server's store whose next signature check waits for the test. */
const heldService = () => {
  const { gate, arm } = gatedEd();
  const service = createSyncService({
    store: t.store,
    now: () => t.clock.now,
    ed: gate,
    server: t.server.server,
  });
  return { service, arm };
};

it('envelopes still being checked when their device is revoked are not stored', async () => {
  const { service, arm } = heldService();
  const envelopes = [
    await makeEnvelope(patient, phone, patient, 'allergy', 1),
    await makeEnvelope(patient, phone, provider, 'allergy', 1),
  ];
  const held = arm('verify');
  const publishing = service.putEnvelopes(onPhone(), envelopes);
  await held.reached;
  expect((await revokeDevice(t, patient, phone)).status).toBe(200);
  held.release();

  await expect(publishing).rejects.toMatchObject({ code: 'DEVICE_REVOKED' });
  expect(await t.store.envelopes.currentEpoch(envelopes[0]!.stream)).toBeNull();
  expect(await t.store.envelopes.list(provider.accountId)).toEqual([]);

  // The same publish from a device that is not revoked is stored (the gate refuses nothing).
  const kept = [await makeEnvelope(patient, patient.device, patient, 'allergy', 1)];
  await service.putEnvelopes(
    { ...onPhone(), deviceId: patient.device.deviceId, devicePublicKey: patient.device.keys.publicKey },
    kept,
  );
  expect(await t.store.envelopes.currentEpoch(kept[0]!.stream)).toBe(1);
});

it('a grant still being checked when its device is revoked is not stored', async () => {
  const { service, arm } = heldService();
  const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
    now: t.clock.now,
  });
  const held = arm('verify');
  const granting = service.grant(onPhone(), signed);
  await held.reached;
  expect((await revokeDevice(t, patient, phone)).status).toBe(200);
  held.release();

  await expect(granting).rejects.toMatchObject({ code: 'DEVICE_REVOKED' });
  expect(await t.store.grants.get(signed.grant.grantId)).toBeNull();

  // The same grant sent from a device that is not revoked is stored.
  await service.grant({ ...onPhone(), deviceId: patient.device.deviceId }, signed);
  expect(await t.store.grants.get(signed.grant.grantId)).not.toBeNull();
});
