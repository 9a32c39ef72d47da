import { expect } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import {
  addDevice,
  registerAccount,
  revokeDevice,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';
import { allPushed, eventually, grantWrite, waitOnline } from './devices';
import { input } from './records';

const HOUR = 3_600_000;

/** Opens a session of `account` (its first device, or `device`), as the calling test opens its devices. */
export type OpenAs = (
  account: TestAccount,
  device?: TestDevice,
  options?: { now?: () => number },
) => Promise<DeviceSession>;

/**
 * A patient with labs written by two of a provider's devices, both revoked since: `before`, dated before
 * the revocation, and `dated`, by a device whose clock ran an hour ahead (after it); `own`, the patient's
 * lab they both pulled first.
 */
export const labsOfRevokedDevices = async (t: TestServer, open: OpenAs) => {
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const [retiredDevice, aheadDevice] = [await addDevice(t, provider), await addDevice(t, provider)];
  const p = await open(patient);
  const own = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
  await allPushed(p);
  const retired = await open(provider, retiredDevice);
  // This one's clock runs an hour ahead: what it writes is dated after a revocation made now.
  const ahead = await open(provider, aheadDevice, { now: () => Date.now() + HOUR });
  await Promise.all([waitOnline(retired), waitOnline(ahead)]);
  await p.consent.verifyProvider(provider.accountId);
  // Longer than the clock skew: the device ahead must not see the grant ended.
  await grantWrite(p, provider.accountId, 'lab-result', 24 * HOUR);
  for (const d of [retired, ahead]) {
    await eventually(async () => (await d.records.get(own.id)) !== null, 'the provider has the lab');
  }
  const patientId = patient.accountId;
  const before = await retired.records.add('LabResult', input('LabResult', { testName: 'HbA1c' }), {
    patientId,
  });
  const dated = await ahead.records.add('LabResult', input('LabResult', { testName: 'TSH' }), {
    patientId,
  });
  await Promise.all([allPushed(retired), allPushed(ahead)]);
  for (const device of [retiredDevice, aheadDevice]) {
    expect((await revokeDevice(t, provider, device)).status).toBe(200);
  }
  return { patient, own, before, dated, stream: `${patient.accountId}/lab-result` };
};
