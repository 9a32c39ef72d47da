import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import {
  base64urlEncode,
  certifyDevice,
  DEVICE_CERTIFICATE_LABEL,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  signCanonical,
  tweetnaclEd25519,
  type AccountKeys,
} from '@hale/crypto';
import { wrappingKeySignaturePayload } from '@hale/protocol';
import {
  createDeviceDirectory,
  isWrappingKeyError,
  type AccountDevicesInfo,
  type WrappingKeyErrorCode,
} from './device-directory';

const ed = tweetnaclEd25519;
const MINUTE = 60_000;

/** The account's identity signature over `wrappingPublicKey` (base64url), as registration sends it. */
const signWrapping = async (keys: AccountKeys, wrappingPublicKey: string): Promise<string> => {
  const payload = wrappingKeySignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey,
  });
  return base64urlEncode(await signCanonical(ed, keys.identity.secretKey, payload.label, payload));
};

/** An account with two certified devices, a directory over it with a clock and a switchable server. */
const setup = async () => {
  const keys = deriveAccountKeys(generateRootSecret());
  const genuineWrapping = base64urlEncode(keys.wrapping.publicKey);
  const [one, two] = [generateDeviceKeys(), generateDeviceKeys()];
  const cert = (d: typeof one) =>
    certifyDevice(
      keys.identity.secretKey,
      {
        accountId: keys.accountId,
        deviceId: d.deviceId,
        devicePublicKey: d.publicKey,
        name: 'test device',
        createdAt: new Date(0).toISOString(),
        identityPublicKey: keys.identity.publicKey,
      },
      ed,
    );
  const server = {
    devices: [await cert(one), await cert(two)] as unknown[],
    failing: false,
    calls: 0,
    /** What the server presents as the account's wrapping key, and the signature it relays (if any). */
    wrappingPublicKey: genuineWrapping,
    wrappingKeySig: (await signWrapping(keys, genuineWrapping)) as string | undefined,
  };
  const clock = { now: 1_000_000 };
  /** The server's answer for this account, labelled `accountId`. */
  const answer = (accountId: string): AccountDevicesInfo => ({
    accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: server.wrappingPublicKey,
    ...(server.wrappingKeySig === undefined ? {} : { wrappingKeySig: server.wrappingKeySig }),
    role: 'patient',
    devices: server.devices,
  });
  const directory = createDeviceDirectory({
    ed,
    now: () => clock.now,
    getAccount: async (accountId): Promise<AccountDevicesInfo> => {
      server.calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (server.failing) throw new Error('network down');
      return answer(accountId);
    },
  });
  /** The server stops listing device `two` (revoked by its account). */
  const revokeTwo = async () => {
    server.devices = [await cert(one)];
  };
  return { accountId: keys.accountId, keys, one, two, server, clock, directory, revokeTwo, cert, answer };
};

describe('device directory', () => {
  it('stops trusting a revoked device once the cached list is older than its maximum age', async () => {
    const { accountId, two, server, clock, directory, revokeTwo } = await setup();
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    await revokeTwo();
    clock.now += 4 * MINUTE;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(server.calls).toBe(1);
    clock.now += 2 * MINUTE;
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(server.calls).toBe(2);
  });

  it('stops trusting a revoked device after expire() (reconnect), whatever the age', async () => {
    const { accountId, two, directory, revokeTwo } = await setup();
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    await revokeTwo();
    directory.expire();
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
  });

  it('asks once per account for a whole batch, also when the list just expired and lookups overlap', async () => {
    const { accountId, one, two, server, clock, directory } = await setup();
    const batch = () =>
      Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          directory.lookupDeviceKey(accountId, (i % 2 ? one : two).deviceId),
        ),
      );
    expect((await batch()).every((r) => r.status === 'found')).toBe(true);
    expect(server.calls).toBe(1);
    clock.now += 6 * MINUTE;
    await Promise.all([batch(), batch()]);
    expect(server.calls).toBe(2);
  });

  it('a device added just after the list was fetched is found; a flood of unknown ids costs one load', async () => {
    const { accountId, one, server, clock, directory, cert } = await setup();
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
    const added = generateDeviceKeys();
    server.devices = [...server.devices, await cert(added)];
    clock.now += 200;
    // The list is a moment old but was not fetched for this device: asked again once.
    expect((await directory.lookupDeviceKey(accountId, added.deviceId)).status).toBe('found');
    expect(server.calls).toBe(2);
    // Just re-asked: unknown ids are answered from that list.
    expect((await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId)).status).toBe(
      'unknown',
    );
    expect(server.calls).toBe(2);
    // A moment later, fifty unknown ids at once cost one load.
    clock.now += 2_000;
    const strangers = Array.from({ length: 50 }, () => generateDeviceKeys().deviceId);
    const answers = await Promise.all(strangers.map((id) => directory.lookupDeviceKey(accountId, id)));
    expect(answers.every((a) => a.status === 'unknown')).toBe(true);
    expect(server.calls).toBe(3);
  });

  it("refuses a device the server adds with a certificate the account's identity key did not sign", async () => {
    const { accountId, keys, one, server, directory } = await setup();
    const rogue = generateDeviceKeys();
    const cert = {
      accountId,
      deviceId: rogue.deviceId,
      devicePublicKey: base64urlEncode(rogue.publicKey),
      name: 'test device',
      createdAt: new Date(0).toISOString(),
      identityPublicKey: base64urlEncode(keys.identity.publicKey),
    };
    // Names the account's identity key, signed by another one (the server cannot sign with the account's).
    const other = deriveAccountKeys(generateRootSecret());
    const sig = await signCanonical(ed, other.identity.secretKey, DEVICE_CERTIFICATE_LABEL, cert);
    server.devices = [...server.devices, { v: 1, cert, sig: base64urlEncode(sig) }];
    expect(await directory.lookupDeviceKey(accountId, rogue.deviceId)).toEqual({ status: 'unknown' });
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
  });

  it('refuses devices certified by an identity key the server presents in place of the account’s', async () => {
    const victim = await setup();
    const impostor = await setup();
    // The impostor's genuine keys and certificates, and one of them re-labelled with the victim's id.
    const signed = await impostor.cert(impostor.one);
    const relabelled = { ...signed, cert: { ...signed.cert, accountId: victim.accountId } };
    impostor.server.devices = [...impostor.server.devices, relabelled];
    const directory = createDeviceDirectory({
      ed,
      now: () => 0,
      getAccount: async (accountId) => impostor.answer(accountId),
    });
    for (const device of [impostor.one, impostor.two]) {
      expect(await directory.lookupDeviceKey(victim.accountId, device.deviceId)).toEqual({
        status: 'unknown',
      });
    }
    expect(await directory.identityKey(victim.accountId)).toBeNull();
    expect(await directory.presentedIdentity(victim.accountId)).toMatchObject({ selfCertified: false });
  });

  it('refuses an answer about another account than the one asked, even one holding its keys', async () => {
    const asked = await setup();
    const other = await setup();
    // Another account's genuine answer, and the asked account's own keys and devices labelled as another's.
    for (const answer of [other.answer(other.accountId), asked.answer(other.accountId)]) {
      const directory = createDeviceDirectory({ ed, now: () => 0, getAccount: async () => answer });
      expect(await directory.lookupDeviceKey(asked.accountId, asked.one.deviceId)).toEqual({
        status: 'unknown',
      });
      expect(await directory.presentedIdentity(asked.accountId)).toBeNull();
      expect(await directory.wrappingKey(asked.accountId)).toBeNull();
    }
  });

  it('tells a failed lookup (unavailable) from a device the account does not have (unknown)', async () => {
    const { accountId, one, server, clock, directory } = await setup();
    const stranger = generateDeviceKeys().deviceId;
    server.failing = true;
    expect(await directory.lookupDeviceKey(accountId, one.deviceId)).toMatchObject({
      status: 'unavailable',
      message: 'network down',
    });
    server.failing = false;
    expect(await directory.lookupDeviceKey(accountId, stranger)).toEqual({ status: 'unknown' });
    // A device added since the list was cached, while lookups fail: not asked, so not "unknown".
    clock.now += 2_000;
    server.failing = true;
    expect((await directory.lookupDeviceKey(accountId, stranger)).status).toBe('unavailable');
    // A device the last list named stays trusted through a failed reload of an expired list.
    clock.now += 6 * MINUTE;
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
  });
});

/** The code `wrappingKey` refuses with (or 'answered' when it answers a key). */
const refusal = async (
  directory: { wrappingKey(accountId: string): Promise<Uint8Array | null> },
  accountId: string,
): Promise<WrappingKeyErrorCode | 'answered'> =>
  directory.wrappingKey(accountId).then(
    () => 'answered' as const,
    (error: unknown) => {
      if (isWrappingKeyError(error)) return error.code;
      throw error;
    },
  );

describe('device directory: wrapping keys', () => {
  it('answers the wrapping key the account signed', async () => {
    const { accountId, keys, directory } = await setup();
    expect(await directory.wrappingKey(accountId)).toEqual(keys.wrapping.publicKey);
  });

  it('refuses a wrapping key the server substituted, keeping the genuine signature or dropping it', async () => {
    const { accountId, one, server, directory } = await setup();
    server.wrappingPublicKey = base64urlEncode(nacl.box.keyPair().publicKey);
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_UNVERIFIED');
    directory.forget(accountId);
    server.wrappingKeySig = undefined;
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_UNVERIFIED');
    // Also a signature by another identity key does not vouch for it.
    directory.forget(accountId);
    const other = deriveAccountKeys(generateRootSecret());
    server.wrappingKeySig = await signWrapping({ ...other, accountId }, server.wrappingPublicKey);
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_UNVERIFIED');
    // Device lookups do not depend on it.
    expect((await directory.lookupDeviceKey(accountId, one.deviceId)).status).toBe('found');
  });

  it('refuses the genuine account answer without a signature (registered by an older client)', async () => {
    const { accountId, server, directory } = await setup();
    server.wrappingKeySig = undefined;
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_UNVERIFIED');
  });

  it('refuses a changed wrapping key for a pinned account, even one its identity key signed', async () => {
    const { accountId, keys, server, clock, directory } = await setup();
    expect(await directory.wrappingKey(accountId)).toEqual(keys.wrapping.publicKey);
    const other = base64urlEncode(nacl.box.keyPair().publicKey);
    server.wrappingPublicKey = other;
    server.wrappingKeySig = await signWrapping(keys, other);
    directory.forget(accountId);
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_CHANGED');
    // The pin outlives cache expiry and reconnects.
    clock.now += 6 * MINUTE;
    directory.expire();
    expect(await refusal(directory, accountId)).toBe('WRAPPING_KEY_CHANGED');
    // After the user verified the account again, the key it signed now is taken (and pinned).
    directory.unpinWrappingKey(accountId);
    expect(base64urlEncode((await directory.wrappingKey(accountId))!)).toBe(other);
  });
});
