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
  type AccountKeys,
  type Ed25519,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  MAX_ACCOUNTS_PER_LOOKUP,
  deviceRevocationPayload,
  wrappingKeySignaturePayload,
} from '@hale/protocol';
import {
  authorRulesId,
  createDeviceDirectory,
  isWrappingKeyError,
  type AccountDeviceInfo,
  type AccountDevicesInfo,
  type AccountsDevicesAnswer,
  type WrappingKeyErrorCode,
} from './device-directory';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const MINUTE = 60_000;

/** The account's identity signature over `wrappingPublicKey` (base64url), as registration sends it. */
const signWrapping = async (
  keys: AccountKeys,
  wrappingPublicKey: string,
  signer: Ed25519 = ed,
): Promise<string> => {
  const payload = wrappingKeySignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey,
  });
  return base64urlEncode(await signCanonical(signer, keys.identity.secretKey, payload.label, payload));
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
        sealedName: 'c2VhbGVk',
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
    // Just re-asked: not asked again, and not decided either (that list may predate the device too).
    expect((await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId)).status).toBe(
      'unavailable',
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
      sealedName: 'c2VhbGVk',
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

  it("presentedIdentity rejects with the lookup's failure, not null (no such account), when the server cannot be asked", async () => {
    const { accountId, server, directory } = await setup();
    server.failing = true;
    await expect(directory.presentedIdentity(accountId)).rejects.toThrow('network down');
    server.failing = false;
    expect(await directory.presentedIdentity(accountId)).toMatchObject({ selfCertified: true });
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

  it("answers an audit author's key apart from a failed lookup: unknown is null, a failure to ask is not", async () => {
    const { accountId, one, server, directory } = await setup();
    server.failing = true;
    expect(await directory.authorKey(accountId, one.deviceId)).toEqual({ unavailable: 'network down' });
    server.failing = false;
    expect(await directory.authorKey(accountId, generateDeviceKeys().deviceId)).toBeNull();
    expect(await directory.authorKey(accountId, one.deviceId)).toEqual({ key: one.publicKey });
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

// Node's Ed25519 for the many accounts below (tweetnacl would take seconds to sign and check them).
const fastEd = createNodeEd25519();

/** An account with one certified device, and the server's answer for it. */
const patientAccount = async () => {
  const keys = deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const cert = await certifyDevice(
    keys.identity.secretKey,
    {
      accountId: keys.accountId,
      deviceId: device.deviceId,
      devicePublicKey: device.publicKey,
      sealedName: 'c2VhbGVk',
      createdAt: new Date(0).toISOString(),
      identityPublicKey: keys.identity.publicKey,
    },
    fastEd,
  );
  const info: AccountDevicesInfo = {
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
    wrappingKeySig: await signWrapping(keys, base64urlEncode(keys.wrapping.publicKey), fastEd),
    role: 'patient',
    devices: [cert],
  };
  return { accountId: keys.accountId, device, info };
};
/** Made once for the file (tweetnacl is slow): each directory is new, the accounts are shared. */
const generated: Array<Awaited<ReturnType<typeof patientAccount>>> = [];

/**
 * `n` accounts with one certified device each, and a directory over a server answering single lookups
 * and batched ones (`getAccounts`), counting both; `batch` says how the server takes a batched lookup.
 */
const clinic = async (n: number) => {
  while (generated.length < n) generated.push(await patientAccount());
  const accounts = generated.slice(0, n);
  const byId = new Map(accounts.map((a) => [a.accountId, a.info]));
  const server = {
    singles: [] as string[],
    batches: [] as string[][],
    /** How the next batched lookups are answered (the default: every account asked, as a server does). */
    batch: 'answer' as
      'answer' | 'no route' | 'no route (404 status)' | 'fails' | 'defers half' | 'adds others',
  };
  const clock = { now: 1_000_000 };
  const directory = createDeviceDirectory({
    ed: fastEd,
    now: () => clock.now,
    getAccount: async (accountId) => {
      server.singles.push(accountId);
      await new Promise((r) => setTimeout(r, 1));
      const info = byId.get(accountId);
      if (!info) throw Object.assign(new Error('account not found'), { code: 'NOT_FOUND' });
      return info;
    },
    getAccounts: async (ids): Promise<AccountsDevicesAnswer> => {
      server.batches.push(ids);
      await new Promise((r) => setTimeout(r, 1));
      switch (server.batch) {
        case 'no route':
          throw Object.assign(new Error('getAccounts: no such route'), { code: 'NOT_FOUND', status: 404 });
        case 'no route (404 status)':
          throw Object.assign(new Error('HTTP 404 without an error body'), {
            code: 'BAD_RESPONSE',
            status: 404,
          });
        case 'fails':
          throw Object.assign(new Error('network down'), { code: 'NETWORK', status: 0 });
        default:
      }
      const known = ids.filter((id) => byId.has(id));
      const deferred = server.batch === 'defers half' ? known.slice(Math.ceil(known.length / 2)) : [];
      const answered = known.filter((id) => !deferred.includes(id)).map((id) => byId.get(id)!);
      const others = server.batch === 'adds others' ? accounts.map((a) => a.info) : [];
      return {
        accounts: [...answered, ...others],
        unknown: ids.filter((id) => !byId.has(id)),
        deferred,
      };
    },
  });
  const lookupAll = () =>
    Promise.all(accounts.map((a) => directory.lookupDeviceKey(a.accountId, a.device.deviceId)));
  return { accounts, server, clock, directory, lookupAll };
};

describe('device directory: preloading device lists in batches', () => {
  it('loads 210 accounts in two requests, and their lookups then ask nothing more', async () => {
    const { accounts, server, directory, lookupAll } = await clinic(MAX_ACCOUNTS_PER_LOOKUP + 10);
    await directory.preload(accounts.map((a) => a.accountId));
    expect(server.batches.map((b) => b.length)).toEqual([MAX_ACCOUNTS_PER_LOOKUP, 10]);
    expect(new Set(server.batches.flat()).size).toBe(accounts.length);
    expect((await lookupAll()).every((r) => r.status === 'found')).toBe(true);
    expect(server.singles).toEqual([]);
    // Cached: preloading again asks nothing; after a reconnect (expire) it asks again.
    await directory.preload(accounts.map((a) => a.accountId));
    expect(server.batches).toHaveLength(2);
    directory.expire();
    await directory.preload(accounts.map((a) => a.accountId));
    expect(server.batches).toHaveLength(4);
  });

  it('lookups made while a preload runs wait for its batch instead of asking alone', async () => {
    const { accounts, server, directory, lookupAll } = await clinic(MAX_ACCOUNTS_PER_LOOKUP + 10);
    const preloading = directory.preload(accounts.map((a) => a.accountId));
    const answers = await lookupAll();
    await preloading;
    expect(answers.every((r) => r.status === 'found')).toBe(true);
    expect(server.singles).toEqual([]);
    expect(server.batches).toHaveLength(2);
  });

  it('asks nothing for accounts cached or loading already, and answers an unknown account unknown', async () => {
    const { accounts, server, directory } = await clinic(3);
    const [a, b, c] = accounts;
    expect((await directory.lookupDeviceKey(a!.accountId, a!.device.deviceId)).status).toBe('found');
    const loading = directory.lookupDeviceKey(b!.accountId, b!.device.deviceId);
    const nobody = deriveAccountKeys(generateRootSecret()).accountId;
    const preloading = directory.preload([a!.accountId, b!.accountId, c!.accountId, nobody, c!.accountId]);
    const unknown = directory.lookupDeviceKey(nobody, a!.device.deviceId);
    await preloading;
    expect(server.batches).toEqual([[c!.accountId, nobody]]);
    expect((await loading).status).toBe('found');
    // As the single route's NOT_FOUND, and not asked again alone.
    expect(await unknown).toEqual({ status: 'unknown' });
    expect(server.singles).toEqual([a!.accountId, b!.accountId]);
  });

  it('against a server without the route, loads one account at a time as before, until a reconnect', async () => {
    for (const missing of ['no route', 'no route (404 status)'] as const) {
      const { accounts, server, directory, lookupAll } = await clinic(5);
      server.batch = missing;
      await directory.preload(accounts.map((a) => a.accountId));
      expect(server.batches).toHaveLength(1);
      expect((await lookupAll()).every((r) => r.status === 'found')).toBe(true);
      expect(server.singles.sort()).toEqual(accounts.map((a) => a.accountId).sort());
      // Not asked again on this connection...
      directory.expire();
      server.batch = 'answer';
      // ...but after a reconnect, where the server may have been upgraded.
      await directory.preload(accounts.map((a) => a.accountId));
      expect(server.batches).toHaveLength(2);
      expect(server.singles).toHaveLength(5);
    }
  });

  it('the route missing stops preloading for the connection: nothing asked until expire()', async () => {
    const { accounts, server, directory } = await clinic(4);
    server.batch = 'no route';
    await directory.preload([accounts[0]!.accountId]);
    await directory.preload(accounts.map((a) => a.accountId));
    expect(server.batches).toHaveLength(1);
  });

  it('accounts a batch did not load (deferred, failed request) are loaded alone at their lookup', async () => {
    const deferring = await clinic(10);
    deferring.server.batch = 'defers half';
    await deferring.directory.preload(deferring.accounts.map((a) => a.accountId));
    expect((await deferring.lookupAll()).every((r) => r.status === 'found')).toBe(true);
    expect(deferring.server.singles).toHaveLength(5);

    const failing = await clinic(MAX_ACCOUNTS_PER_LOOKUP + 10);
    failing.server.batch = 'fails';
    await failing.directory.preload(failing.accounts.map((a) => a.accountId));
    // The rest of the batches are not asked after a failure.
    expect(failing.server.batches).toHaveLength(1);
    expect((await failing.lookupAll()).every((r) => r.status === 'found')).toBe(true);
    expect(failing.server.singles).toHaveLength(failing.accounts.length);
  });

  it('takes from an answer only the accounts it asked for', async () => {
    const { accounts, server, directory } = await clinic(6);
    server.batch = 'adds others';
    const [asked, ...others] = accounts;
    await directory.preload([asked!.accountId]);
    expect((await directory.lookupDeviceKey(asked!.accountId, asked!.device.deviceId)).status).toBe('found');
    expect(server.singles).toEqual([]);
    for (const other of others) {
      expect((await directory.lookupDeviceKey(other.accountId, other.device.deviceId)).status).toBe('found');
    }
    // The others were not cached from the answer that added them: each was asked for itself.
    expect(server.singles.sort()).toEqual(others.map((o) => o.accountId).sort());
  });

  it('checks preloaded certificates as a single load does: a list under another account’s key proves nothing', async () => {
    const [victim, impostor] = (await clinic(2)).accounts;
    // The server answers the victim's id with the impostor's keys and devices, by either route.
    const forged = { ...impostor!.info, accountId: victim!.accountId };
    const relabelled = createDeviceDirectory({
      ed: fastEd,
      now: () => 0,
      getAccount: async () => forged,
      getAccounts: async () => ({ accounts: [forged], unknown: [], deferred: [] }),
    });
    await relabelled.preload([victim!.accountId]);
    expect(await relabelled.lookupDeviceKey(victim!.accountId, impostor!.device.deviceId)).toEqual({
      status: 'unknown',
    });
    expect(await relabelled.identityKey(victim!.accountId)).toBeNull();
  });

  it('a preloaded list is an ordinary cached list: a device added since is found by one reload', async () => {
    const { accounts, server, clock, directory } = await clinic(1);
    const [a] = accounts;
    await directory.preload([a!.accountId]);
    const added = generateDeviceKeys();
    // Not on the preloaded list; the account is asked again once, alone.
    clock.now += 200;
    expect(await directory.lookupDeviceKey(a!.accountId, added.deviceId)).toEqual({ status: 'unknown' });
    expect(server.singles).toEqual([a!.accountId]);
  });
});

describe('device directory: devices the account revoked', () => {
  const T = (minute: number) => new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString();
  /** This device's clock in these cases: after every revocation time T they serve. */
  const NOW = Date.UTC(2025, 0, 1, 13, 0);

  /** An account whose answer lists `one` active and `two` revoked; `served` is what the device route answers. */
  const revokedSetup = async (options: { getDevice?: boolean } = {}) => {
    const keys = deriveAccountKeys(generateRootSecret());
    const [one, two] = [generateDeviceKeys(), generateDeviceKeys()];
    const cert = (d: typeof one, signer: AccountKeys = keys) =>
      certifyDevice(
        signer.identity.secretKey,
        {
          accountId: signer.accountId,
          deviceId: d.deviceId,
          devicePublicKey: d.publicKey,
          sealedName: 'c2VhbGVk',
          createdAt: T(0),
          identityPublicKey: signer.identity.publicKey,
        },
        ed,
      );
    const signRevocation = async (
      revokedAt: string,
      signer: AccountKeys = keys,
      deviceId: string = two.deviceId,
    ) => {
      const revocation = { v: 1 as const, accountId: keys.accountId, deviceId, revokedAt };
      const payload = deviceRevocationPayload(revocation);
      const sig = await signCanonical(ed, signer.identity.secretKey, payload.label, payload);
      return { revocation, sig: base64urlEncode(sig) };
    };
    const wrapping = base64urlEncode(keys.wrapping.publicKey);
    const info: AccountDevicesInfo = {
      accountId: keys.accountId,
      identityPublicKey: base64urlEncode(keys.identity.publicKey),
      wrappingPublicKey: wrapping,
      wrappingKeySig: await signWrapping(keys, wrapping),
      role: 'patient',
      devices: [await cert(one)],
      revokedDevices: [two.deviceId],
    };
    const server = {
      served: { certificate: await cert(two), revokedAt: T(30) } as AccountDeviceInfo,
      /** What the device route throws instead of answering. */
      error: null as Error | null,
      deviceCalls: [] as string[],
    };
    const directory = createDeviceDirectory({
      ed,
      now: () => NOW,
      getAccount: async () => info,
      ...(options.getDevice === false
        ? {}
        : {
            getDevice: async (accountId: string, deviceId: string): Promise<AccountDeviceInfo> => {
              server.deviceCalls.push(`${accountId}/${deviceId}`);
              if (server.error !== null) throw server.error;
              return server.served;
            },
          }),
    });
    return { keys, one, two, cert, signRevocation, server, directory, accountId: keys.accountId };
  };

  it("answers a revoked device's key with the server's revocation time; deviceKey (envelopes) still refuses it", async () => {
    const { accountId, two, directory, server } = await revokedSetup();
    const found = await directory.lookupDeviceKey(accountId, two.deviceId);
    expect(found).toEqual({ status: 'found', key: two.publicKey, revokedAt: T(30) });
    expect(await directory.authorKey(accountId, two.deviceId)).toEqual({
      key: two.publicKey,
      revokedAt: T(30),
    });
    expect(await directory.deviceKey(accountId, two.deviceId)).toBeNull();
    // Kept for the directory's lifetime: a reconnect does not ask again.
    directory.expire();
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(server.deviceCalls).toEqual([`${accountId}/${two.deviceId}`]);
  });

  it('takes the earlier of the served time and that of a signed revocation that verifies', async () => {
    const earlier = await revokedSetup();
    earlier.server.served = { ...earlier.server.served, revocation: await earlier.signRevocation(T(20)) };
    expect(await earlier.directory.authorKey(earlier.accountId, earlier.two.deviceId)).toMatchObject({
      revokedAt: T(20),
    });
    const later = await revokedSetup();
    later.server.served = { ...later.server.served, revocation: await later.signRevocation(T(40)) };
    expect(await later.directory.authorKey(later.accountId, later.two.deviceId)).toMatchObject({
      revokedAt: T(30),
    });
    // Without the server's time, the signed revocation's alone.
    const alone = await revokedSetup();
    alone.server.served = {
      certificate: alone.server.served.certificate,
      revocation: await alone.signRevocation(T(50)),
    };
    expect(await alone.directory.authorKey(alone.accountId, alone.two.deviceId)).toMatchObject({
      revokedAt: T(50),
    });
  });

  it("cuts a served time later than this device's clock to the clock: the account answer already listed the device as revoked", async () => {
    const s = await revokedSetup();
    s.server.served = { ...s.server.served, revokedAt: '9999-01-01T00:00:00.000Z' };
    expect(await s.directory.authorKey(s.accountId, s.two.deviceId)).toMatchObject({
      revokedAt: new Date(NOW).toISOString(),
    });
  });

  it("ignores a revocation signed by another key or naming another device: the server's time is used", async () => {
    const stranger = deriveAccountKeys(generateRootSecret());
    for (const forge of [
      (s: Awaited<ReturnType<typeof revokedSetup>>) => s.signRevocation(T(10), stranger),
      (s: Awaited<ReturnType<typeof revokedSetup>>) => s.signRevocation(T(10), s.keys, s.one.deviceId),
      async (s: Awaited<ReturnType<typeof revokedSetup>>) => ({
        ...(await s.signRevocation(T(10))),
        sig: 'x',
      }),
    ]) {
      const s = await revokedSetup();
      s.server.served = { ...s.server.served, revocation: await forge(s) };
      expect(await s.directory.authorKey(s.accountId, s.two.deviceId)).toMatchObject({ revokedAt: T(30) });
      // And with no time from the server, a revocation that does not verify leaves nothing to trust.
      const none = await revokedSetup();
      none.server.served = { certificate: none.server.served.certificate, revocation: await forge(none) };
      expect(await none.directory.lookupDeviceKey(none.accountId, none.two.deviceId)).toEqual({
        status: 'unknown',
      });
    }
  });

  it("refuses a served certificate the account's identity key did not sign, or of another device", async () => {
    const stranger = deriveAccountKeys(generateRootSecret());
    const other = await revokedSetup();
    other.server.served = { ...other.server.served, certificate: await other.cert(other.two, stranger) };
    expect(await other.directory.lookupDeviceKey(other.accountId, other.two.deviceId)).toEqual({
      status: 'unknown',
    });
    const swapped = await revokedSetup();
    swapped.server.served = { ...swapped.server.served, certificate: await swapped.cert(swapped.one) };
    expect(await swapped.directory.lookupDeviceKey(swapped.accountId, swapped.two.deviceId)).toEqual({
      status: 'unknown',
    });
  });

  it('is unknown as before without the route (NOT_FOUND, 404) until a reconnect, or without getDevice', async () => {
    const { accountId, two, server, directory } = await revokedSetup();
    server.error = Object.assign(new Error('not found'), { status: 404 });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(server.deviceCalls).toHaveLength(1);
    directory.expire();
    server.error = null;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(server.deviceCalls).toHaveLength(2);

    const without = await revokedSetup({ getDevice: false });
    expect(await without.directory.lookupDeviceKey(without.accountId, without.two.deviceId)).toEqual({
      status: 'unknown',
    });
  });

  it('names the author rules it judges by: revoked devices looked up, except while the route is missing', async () => {
    expect(authorRulesId(true)).not.toBe(authorRulesId(false));
    const { accountId, two, server, directory } = await revokedSetup();
    expect(directory.authorRules()).toBe(authorRulesId(true));
    server.error = Object.assign(new Error('not found'), { status: 404 });
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({ status: 'unknown' });
    expect(directory.authorRules()).toBe(authorRulesId(false));
    // A reconnect alone does not say the server has the route now; a device it answers does.
    directory.expire();
    expect(directory.authorRules()).toBe(authorRulesId(false));
    server.error = null;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(directory.authorRules()).toBe(authorRulesId(true));
    // A failure to ask says nothing of the route.
    const failing = await revokedSetup();
    failing.server.error = new Error('network down');
    expect((await failing.directory.lookupDeviceKey(failing.accountId, failing.two.deviceId)).status).toBe(
      'unavailable',
    );
    expect(failing.directory.authorRules()).toBe(authorRulesId(true));

    const without = await revokedSetup({ getDevice: false });
    expect(without.directory.authorRules()).toBe(authorRulesId(false));
  });

  it('asks nothing for a device the account does not list as revoked; a failed ask is unavailable and asked again', async () => {
    const { accountId, two, server, directory } = await revokedSetup();
    expect(await directory.lookupDeviceKey(accountId, generateDeviceKeys().deviceId)).toEqual({
      status: 'unknown',
    });
    expect(server.deviceCalls).toEqual([]);
    server.error = new Error('network down');
    expect(await directory.lookupDeviceKey(accountId, two.deviceId)).toEqual({
      status: 'unavailable',
      message: 'network down',
    });
    server.error = null;
    expect((await directory.lookupDeviceKey(accountId, two.deviceId)).status).toBe('found');
    expect(server.deviceCalls).toHaveLength(2);
  });
});
