import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  certifyDevice,
  deriveAccountKeys,
  deviceIdFromPublicKey,
  generateDeviceKeys,
  generateRootSecret,
  HaleCryptoError,
  openDeviceName,
  sealDeviceName,
  tweetnaclEd25519,
  webCryptoEd25519,
  verifyDeviceCertificate,
  type SignedDeviceCertificate,
} from './index';

const account = deriveAccountKeys(generateRootSecret());
const attacker = deriveAccountKeys(generateRootSecret());
const device = generateDeviceKeys();
const otherDevice = generateDeviceKeys();
const input = {
  accountId: account.accountId,
  deviceId: device.deviceId,
  devicePublicKey: device.publicKey,
  sealedName: sealDeviceName('Ana’s laptop', account.wrapping.publicKey, device.deviceId),
  createdAt: '2025-01-02T03:04:05.000Z',
  identityPublicKey: account.identity.publicKey,
};
const codeOf = async (cert: unknown, expected = {}) => {
  const r = await verifyDeviceCertificate(cert, webCryptoEd25519, expected);
  return r.ok ? 'OK' : r.error.code;
};

describe('device keys and certificates', () => {
  it("carries the device's name sealed to the account, bound to the device: no one else opens it", () => {
    expect(input.sealedName).not.toContain('laptop');
    expect(openDeviceName(input.sealedName, account.wrapping, device.deviceId)).toEqual({
      ok: true,
      value: 'Ana’s laptop',
    });
    expect(openDeviceName(input.sealedName, attacker.wrapping, device.deviceId).ok).toBe(false);
    expect(openDeviceName(input.sealedName, account.wrapping, otherDevice.deviceId)).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
  });

  it('generates distinct Ed25519 device keys with self-certifying ids', () => {
    expect(device.secretKey).toHaveLength(64);
    expect(device.deviceId).toBe(deviceIdFromPublicKey(device.publicKey));
    expect(device.deviceId).not.toBe(otherDevice.deviceId);
  });

  it('a certificate verifies (after a JSON round trip) with either implementation', async () => {
    const signed = await certifyDevice(account.identity.secretKey, input);
    const stored = JSON.parse(JSON.stringify(signed)) as unknown;
    for (const ed of [tweetnaclEd25519, webCryptoEd25519]) {
      const r = await verifyDeviceCertificate(stored, ed, {
        accountId: account.accountId,
        deviceId: device.deviceId,
      });
      expect(r.ok, ed.name).toBe(true);
      if (r.ok) {
        expect(r.value).toMatchObject({
          accountId: account.accountId,
          deviceId: device.deviceId,
          sealedName: input.sealedName,
        });
        expect(Buffer.from(r.value.devicePublicKey).equals(Buffer.from(device.publicKey))).toBe(true);
      }
    }
    expect(signed.cert.devicePublicKey).toBe(base64urlEncode(device.publicKey));
  });

  it('refuses forged or altered certificates', async () => {
    const signed = await certifyDevice(account.identity.secretKey, input, webCryptoEd25519);
    const sig = Buffer.from(signed.sig, 'base64url');
    sig[3]! ^= 1;
    const forgedSig: SignedDeviceCertificate = { ...signed, sig: sig.toString('base64url') };
    expect(await codeOf(forgedSig)).toBe('BAD_SIGNATURE');

    // Swapped device key: the id no longer matches the key.
    const swappedKey = {
      ...signed,
      cert: { ...signed.cert, devicePublicKey: base64urlEncode(otherDevice.publicKey) },
    };
    expect(await codeOf(swappedKey)).toBe('CONTEXT_MISMATCH');
    // Swapped key and id together: consistent, but not what the identity signed.
    const swappedBoth = { ...swappedKey, cert: { ...swappedKey.cert, deviceId: otherDevice.deviceId } };
    expect(await codeOf(swappedBoth)).toBe('BAD_SIGNATURE');
    expect(
      await codeOf({
        ...signed,
        cert: {
          ...signed.cert,
          sealedName: sealDeviceName('Mallory', account.wrapping.publicKey, device.deviceId),
        },
      }),
    ).toBe('BAD_SIGNATURE');

    // The attacker signs with its own identity but claims the victim's account id.
    const claimVictim = await (async () => {
      const own = await certifyDevice(attacker.identity.secretKey, {
        ...input,
        accountId: attacker.accountId,
        identityPublicKey: attacker.identity.publicKey,
      });
      return { ...own, cert: { ...own.cert, accountId: account.accountId } };
    })();
    expect(await codeOf(claimVictim)).toBe('CONTEXT_MISMATCH');
    // ...or names the victim's identity key while signing with its own key.
    const victimKey = await (async () => {
      const own = await certifyDevice(attacker.identity.secretKey, {
        ...input,
        accountId: attacker.accountId,
        identityPublicKey: attacker.identity.publicKey,
      });
      return {
        ...own,
        cert: {
          ...own.cert,
          accountId: account.accountId,
          identityPublicKey: base64urlEncode(account.identity.publicKey),
        },
      };
    })();
    expect(await codeOf(victimKey)).toBe('BAD_SIGNATURE');
    // A valid certificate of another account is refused when the verifier expects this one.
    const attackerCert = await certifyDevice(attacker.identity.secretKey, {
      ...input,
      accountId: attacker.accountId,
      identityPublicKey: attacker.identity.publicKey,
    });
    expect(await codeOf(attackerCert)).toBe('OK');
    expect(await codeOf(attackerCert, { accountId: account.accountId })).toBe('CONTEXT_MISMATCH');
    expect(await codeOf(signed, { deviceId: otherDevice.deviceId })).toBe('CONTEXT_MISMATCH');
  });

  it('refuses, never throws for, a certificate whose name canonical JSON cannot write (a lone surrogate)', async () => {
    const signed = await certifyDevice(account.identity.secretKey, input);
    // As a server or device gets it from JSON.parse of `"name":"\ud800"`, which is valid JSON.
    const hostile = { ...signed, cert: { ...signed.cert, sealedName: '\ud800' } };
    expect(await codeOf(hostile)).toBe('BAD_SIGNATURE');
  });

  it('refuses malformed certificates', async () => {
    const signed = await certifyDevice(account.identity.secretKey, input);
    expect(await codeOf(null)).toBe('INVALID_INPUT');
    expect(await codeOf({ ...signed, v: 2 })).toBe('UNSUPPORTED_VERSION');
    expect(await codeOf({ ...signed, cert: { ...signed.cert, extra: 'x' } })).toBe('INVALID_INPUT');
    expect(await codeOf({ ...signed, cert: { ...signed.cert, sealedName: 5 } })).toBe('INVALID_INPUT');
    expect(await codeOf({ ...signed, sig: '***' })).toBe('BAD_ENCODING');
    expect(await codeOf({ ...signed, cert: { ...signed.cert, devicePublicKey: 'AAAA' } })).toBe(
      'INVALID_INPUT',
    );
  });

  it('certifyDevice refuses inconsistent input', async () => {
    await expect(certifyDevice(attacker.identity.secretKey, input)).rejects.toThrow(HaleCryptoError);
    await expect(
      certifyDevice(account.identity.secretKey, { ...input, deviceId: otherDevice.deviceId }),
    ).rejects.toThrow(HaleCryptoError);
    await expect(
      certifyDevice(account.identity.secretKey, { ...input, accountId: attacker.accountId }),
    ).rejects.toThrow(HaleCryptoError);
  });
});
