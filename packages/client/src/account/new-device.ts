/**
 * A device's keys and certificate, and its registration on the server.
 *
 * - `withRootKeys`: a create or join that fails zeroes every secret derived so far (root, account keys, the
 *   device keys it tracked).
 * - `asRegisteredDevice`: a join that fails after registering its device revokes that certificate, best
 *   effort, signed by the account (the device key is never stored, so nothing stands behind it). A
 *   registration whose outcome is unknown is sent once more unchanged (the server answers a replay as done);
 *   failing again, it is revoked like a failed join.
 */
import {
  type AccountKeys,
  type Ed25519,
  type X25519,
  type DeviceKeys,
  type SignedDeviceCertificate,
  generateDeviceKeys,
  certifyDevice,
  sealDeviceName,
  deriveAccountKeys,
} from '@hale/crypto';
import { isoAt, type AccountDeps, outcomeUnknown } from './account-deps';
import { sendDeviceRevocation } from './device-revocation';

export async function newDevice(
  keys: AccountKeys,
  deviceName: string,
  ed: Ed25519,
  now: () => number,
  x25519?: X25519,
): Promise<{ device: DeviceKeys; cert: SignedDeviceCertificate }> {
  const device = generateDeviceKeys();
  const cert = await certifyDevice(
    keys.identity.secretKey,
    {
      accountId: keys.accountId,
      deviceId: device.deviceId,
      devicePublicKey: device.publicKey,
      sealedName: sealDeviceName(deviceName, keys.wrapping.publicKey, device.deviceId, x25519),
      createdAt: isoAt(now),
      identityPublicKey: keys.identity.publicKey,
    },
    ed,
  );
  return { device, cert };
}

/**
 * Registers a joining device's certificate, then finishes the join with `fn`. A join that fails after
 * the registration (a refused wrap, a lost connection, a full vault) revokes that certificate, best
 * effort and signed by the account: the device key is never stored, so the certificate would only sit in
 * the account's device list, shown to the patient and counted against its device cap, with nothing
 * behind it. A registration whose outcome is unknown (`outcomeUnknown`: the answer lost, or a success that
 * could not be read; the certificate perhaps stored) is sent once more unchanged, which the server answers
 * as done when it holds it; failing again, it is revoked like a failed join (a revocation of a certificate never stored changes nothing).
 */
export async function asRegisteredDevice<T>(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  cert: SignedDeviceCertificate,
  now: () => number,
  fn: () => Promise<T>,
): Promise<T> {
  const revoke = () =>
    sendDeviceRevocation(deps, { accountId: keys.accountId, keys }, cert.cert.deviceId, now).catch(
      () => undefined,
    );
  try {
    await deps.api.addDevice({ device: cert });
  } catch (e) {
    if (!outcomeUnknown(e)) throw e;
    try {
      await deps.api.addDevice({ device: cert });
    } catch (again) {
      await revoke();
      throw again;
    }
  }
  try {
    return await fn();
  } catch (e) {
    await revoke();
    throw e;
  }
}

/**
 * Runs `fn` with the keys of `root`. If it fails, every secret derived so far (root, account keys and
 * any device key passed to `track`) is zeroed, so an aborted create or join leaves no key material behind.
 */
export async function withRootKeys<T>(
  root: Uint8Array,
  fn: (keys: AccountKeys, track: (device: DeviceKeys) => void) => Promise<T>,
): Promise<T> {
  const keys = deriveAccountKeys(root);
  const secrets = [root, keys.identity.secretKey, keys.wrapping.secretKey, keys.localKey];
  try {
    return await fn(keys, (device) => secrets.push(device.secretKey));
  } catch (e) {
    for (const secret of secrets) secret.fill(0);
    throw e;
  }
}
