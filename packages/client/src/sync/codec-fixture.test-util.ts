// Shared by the record-codec tests: a patient and a provider account with one certified device each,
// keyrings over those accounts, codec dependencies and a valid allergy record.
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret, tweetnaclEd25519 } from '@hale/crypto';
import type { KeyEnvelope } from '@hale/protocol';
import { createKeyring } from './keyring';
import type { CodecDeps, PlainRecord } from './record-codec';

export const ed = tweetnaclEd25519;
export const patientRoot = generateRootSecret();
export const patient = deriveAccountKeys(patientRoot);
export const patientDevice = generateDeviceKeys();
export const providerRoot = generateRootSecret();
export const provider = deriveAccountKeys(providerRoot);
export const providerDevice = generateDeviceKeys();
const certified = new Map<string, Map<string, Uint8Array>>([
  [patient.accountId, new Map([[patientDevice.deviceId, patientDevice.publicKey]])],
  [provider.accountId, new Map([[providerDevice.deviceId, providerDevice.publicKey]])],
]);
export const deviceKey = async (account: string, device: string) =>
  certified.get(account)?.get(device) ?? null;

export const keyringFor = (
  keys: typeof patient,
  root: Uint8Array,
  device: typeof patientDevice,
  envelopes: KeyEnvelope[] = [],
) =>
  createKeyring({
    accountId: keys.accountId,
    root,
    keys,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed,
    fetchEnvelopes: async () => envelopes,
    publishEnvelopes: async () => undefined,
    deviceKey,
  });

export const depsFor = (keys: typeof patient, root: Uint8Array, device: typeof patientDevice): CodecDeps => ({
  keyring: keyringFor(keys, root, device),
  ed,
  device: { deviceId: device.deviceId, secretKey: device.secretKey },
  accountId: keys.accountId,
  deviceKey,
});

export const patientDeps = depsFor(patient, patientRoot, patientDevice);

export const record = (over: Partial<PlainRecord> = {}): PlainRecord => ({
  id: '01J00000000000000000000001',
  stream: `${patient.accountId}/allergy`,
  kind: 'Allergy',
  patientId: patient.accountId,
  updatedAt: '2026-01-01T00:00:00.000Z',
  rv: 1,
  epoch: 0,
  author: patientDevice.deviceId,
  by: patient.accountId,
  conflict: false,
  data: { substance: 'Latex' },
  conflictData: null,
  _deleted: false,
  ...over,
});
