import {
  base64urlEncode,
  certifyDevice,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  signCanonical,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { wrappingKeySignaturePayload } from '@hale/protocol';
import type { AccountDevicesInfo } from './device-directory';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

export const directoryEd = nodeEd25519;

/**
 * A fresh account with devices `one` and `two`, `cert` certifying a device of it, and `base`: its answer as
 * the server gives it without the device lists (identity and signed wrapping key, `role`).
 */
export const twoDeviceAccount = async (role: AccountDevicesInfo['role'] = 'patient') => {
  const ed = directoryEd;
  const keys = deriveAccountKeys(generateRootSecret());
  const [one, two] = [generateDeviceKeys(), generateDeviceKeys()];
  const cert = (d: typeof one) =>
    certifyDevice(
      keys.identity.secretKey,
      {
        accountId: keys.accountId,
        deviceId: d.deviceId,
        devicePublicKey: d.publicKey,
        sealedName: 'c2VhbGVk',
        createdAt: new Date(0).toISOString(),
        identityPublicKey: keys.identity.publicKey,
      },
      ed,
    );
  const wrapping = base64urlEncode(keys.wrapping.publicKey);
  const payload = wrappingKeySignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: wrapping,
  });
  const base: Omit<AccountDevicesInfo, 'devices' | 'revokedDevices'> = {
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: wrapping,
    wrappingKeySig: base64urlEncode(await signCanonical(ed, keys.identity.secretKey, payload.label, payload)),
    role,
  };
  return { keys, one, two, cert, base, accountId: keys.accountId };
};
