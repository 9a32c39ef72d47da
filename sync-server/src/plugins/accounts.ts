/**
 * Accounts, devices and sessions over HTTP.
 *
 * Invariants:
 * - An account id derives from its identity key, which signs registrations, device certs and revocations.
 * - Challenges are single-use and expire after CHALLENGE_TTL_MS.
 * - Session tokens are random, kept only as hashes, expire after SESSION_TTL_MS and die with their device.
 * - Revoking a device closes its live connections at once; the signed revocation is kept with server time.
 * - A signed `revokedAt` must lie within REVOKED_AT_MAX_SKEW_MS of the server clock (else BAD_MESSAGE).
 * - `GET …/devices/:deviceId` (no session) answers active and revoked devices; another account's: NOT_FOUND.
 * - The wrap generation only grows, by a wrap signed at it, ≤ MAX_WRAPPED_ROOT_STEP at once.
 * - A stored wrap generation above 0 is announced to the account's other devices (`wrappedRootChanged`).
 * - Generation 0 is signed at registration (`wrappedRootSig`, required).
 * - `roleSig` and `wrappingKeySig` are verified before storing; a stored `roleSig` is never replaced.
 * - Registration `closed` refuses before reading the body (REGISTRATION_CLOSED); `open` ignores invites.
 * - `invite`: the code is used in the account's transaction; any bad code is INVITE_INVALID alike.
 * - Registration modes never affect existing accounts, devices, sessions or joins.
 * - A registration repeated exactly answers 201 and stores nothing; other reuse is ALREADY_EXISTS.
 * - Lookup: ≤ MAX_ACCOUNTS_PER_LOOKUP, answer within MAX_ACCOUNT_LOOKUP_ANSWER_BYTES (the rest deferred).
 * - Device caps (MAX_DEVICES_PER_ACCOUNT, MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT): TOO_MANY_DEVICES.
 * - Cap check and insert run one at a time per account; revocations are never refused.
 * - An account answer stays within the schema's caps (newest devices and revocations first).
 * - A device keeps its highest-seq name record, signed by the identity key; a lower or equal seq: CONFLICT.
 * - A rename sent again exactly answers 200 and stores nothing; the sealed name is never logged.
 * - A rename of an unknown or another account's device: NOT_FOUND alike; of a revoked one: DEVICE_REVOKED.
 * - The account answer carries the name record of each active device it lists (`deviceNames`).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  CHALLENGE_TTL_MS,
  HTTP_ROUTES,
  MAX_ACCOUNT_LOOKUP_ANSWER_BYTES,
  MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT,
  MAX_DEVICES_PER_ACCOUNT,
  SESSION_TTL_MS,
  SUPPORTED_VERSIONS,
  SignedDeviceName,
  SignedDeviceRevocation,
  accountSignaturePayload,
  authSignaturePayload,
  deviceNamePayload,
  deviceRevocationPayload,
  roleSignaturePayload,
  wrappedRootSignaturePayload,
  validate,
  wrappingKeySignaturePayload,
  type HttpChallengeRequest,
  type HttpDeviceNameRequest,
  type HttpDeviceRequest,
  type HttpDeviceRevokeRequest,
  type HttpJoinRequest,
  type HttpRegisterRequest,
  type HttpSessionRequest,
  type HttpAccountDeviceParams,
  type HttpAccountParams,
  type HttpAccountsLookupRequest,
  type HttpWrappedRootRequest,
  type HttpWrappingKeyRequest,
  type HttpAccountDeleteRequest,
} from '@hale/protocol';
import {
  accountIdFromIdentityKey,
  base64urlEncode,
  canonicalJson,
  randomBytes,
  sha256,
  utf8Encode,
  verifyDeviceCertificate,
} from '@hale/crypto';
import type { AppContext } from '../context';
import { decodeBase64url } from '../core/base64url';
import { challengeExpired } from '../core/challenge-expiry';
import { keyedLocks } from '../core/keyed-locks';
import { ServiceError, verifyPayload } from '../core/sync-service';
import { isStoreError, type Account, type Device } from '../store/index';
import { inviteCodeHash, inviteId } from '../store/invites';

export const tokenHash = (token: string): string => base64urlEncode(sha256(utf8Encode(token)));

/**
 * How far a revocation's signed `revokedAt` may lie from the server's clock, either way. The revoking
 * device signs with its own clock just before sending, so only clock error and transit separate the two;
 * what the lost device signed within this much before the revocation arrives may be disowned.
 */
export const REVOKED_AT_MAX_SKEW_MS = 5 * 60_000;

/**
 * Furthest past the stored generation a passphrase change is taken: far beyond the changes made since any
 * backup a store is restored from, far below the range of generations (2^31 - 1).
 */
export const MAX_WRAPPED_ROOT_STEP = 1024;

/** What a joining or signed-in device needs to take the account's current passphrase wrap. */
const wrappedRootState = (account: Account) => {
  // Every registration carries the signature: a row without it is damaged, never served unsigned.
  if (account.wrappedRootSig === null) {
    throw new ServiceError('INTERNAL', `account ${account.accountId} holds an unsigned wrap`);
  }
  return {
    accountId: account.accountId,
    wrappedRoot: account.wrappedRoot,
    gen: account.wrappedRootGen,
    sig: account.wrappedRootSig,
  };
};

/**
 * The refusal of a registration whose invite is missing or not usable: one code and one message for every
 * reason (none, unknown, expired, used up, revoked), so answers tell nothing about which codes exist. Only
 * a code that is valid for the other role says so (`details.role`): telling that needs the code itself.
 * The reason goes to the server's log.
 */
const inviteRefused = (request: FastifyRequest, reason: string, role?: unknown): ServiceError => {
  request.log.info({ reason }, 'registration refused: invite not usable');
  return role === 'patient' || role === 'provider'
    ? new ServiceError('INVITE_INVALID', `this invite code is for a ${role} account`, { role })
    : new ServiceError(
        'INVITE_INVALID',
        'this server needs a valid invite code to create an account; ask its operator for one',
      );
};

const registrationClosed = (): ServiceError =>
  new ServiceError(
    'REGISTRATION_CLOSED',
    'this server takes no new accounts; ask its operator, or use another server',
  );

export const accountsPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { store, ed } = ctx;
  const iso = (ms = ctx.now()): string => new Date(ms).toISOString();
  /** Device adds of one account, one at a time: each counts what the previous one stored. */
  const lockDeviceAdds = keyedLocks();

  const verifyCert = async (
    device: HttpDeviceRequest['device'],
    accountId: string,
    identityPublicKey: string,
  ) => {
    const verified = await verifyDeviceCertificate(device, ed, { accountId });
    if (!verified.ok) {
      throw new ServiceError('BAD_SIGNATURE', `device certificate: ${verified.error.message}`);
    }
    if (device.cert.identityPublicKey !== identityPublicKey) {
      throw new ServiceError(
        'BAD_SIGNATURE',
        "device certificate is not signed by the account's identity key",
      );
    }
    return verified.value;
  };

  app.post<{ Body: HttpRegisterRequest }>(
    HTTP_ROUTES.register.url,
    {
      schema: HTTP_ROUTES.register.schema,
      // Before the body is read, so its syntax and shape are not checked either (protocol.md: "before
      // anything is checked"); route hooks run after the app's, so the address rate limit still applies.
      onRequest: async () => {
        if (ctx.config.registration === 'closed') throw registrationClosed();
      },
      // Before the shape is checked: a JSON body with no code holds nothing an invite server looks at. A
      // body of another type (which a text parser turned into a string) goes on to the schema: BAD_MESSAGE.
      preValidation: async (request) => {
        if (ctx.config.registration !== 'invite') return;
        if (!(request.headers['content-type'] ?? '').toLowerCase().includes('json')) return;
        const body: unknown = request.body;
        if (typeof body !== 'object' || body === null || !('invite' in body)) {
          throw inviteRefused(request, 'none');
        }
      },
    },
    async (request, reply) => {
      const { account, device, sig, wrappingKeySig, wrappedRootSig, roleSig, invite } = request.body;
      const mode = ctx.config.registration;
      // The hooks above refuse these first; kept so the handler alone never registers on a closed server.
      if (mode === 'closed') throw registrationClosed();
      // Open mode ignores an invite: nothing to check, nothing used up.
      const inviteHash = mode === 'invite' && invite !== undefined ? inviteCodeHash(invite) : undefined;
      if (mode === 'invite' && inviteHash === undefined) throw inviteRefused(request, 'none');
      const identity = decodeBase64url(account.identityPublicKey, 'identityPublicKey');
      if (accountIdFromIdentityKey(identity) !== account.accountId) {
        throw new ServiceError('BAD_MESSAGE', 'accountId does not match the identity key');
      }
      if (!(await verifyPayload(ed, identity, accountSignaturePayload(account), sig))) {
        throw new ServiceError('BAD_SIGNATURE', 'registration is not signed by the identity key');
      }
      if (
        wrappingKeySig !== undefined &&
        !(await verifyPayload(ed, identity, wrappingKeySignaturePayload(account), wrappingKeySig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'the wrapping key is not signed by the identity key');
      }
      if (
        !(await verifyPayload(
          ed,
          identity,
          wrappedRootSignaturePayload({
            accountId: account.accountId,
            wrappedRoot: account.wrappedRoot,
            gen: 0,
          }),
          wrappedRootSig,
        ))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'the wrapped root is not signed by the identity key');
      }
      if (
        roleSig !== undefined &&
        !(await verifyPayload(ed, identity, roleSignaturePayload(account), roleSig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'the role is not signed by the identity key');
      }
      await verifyCert(device, account.accountId, account.identityPublicKey);
      // A client whose answer was lost sends the same registration again. Only the account's own keys
      // can sign one, and every field kept from it must be what is stored (the account's `createdAt` and
      // `sig` are not kept): the wrap's random salt and nonce and the signed device certificate pin it.
      const heldAsSent = async (): Promise<boolean> => {
        const held = await store.accounts.get(account.accountId);
        const heldDevice = await store.devices.get(device.cert.deviceId);
        if (!held || !heldDevice) return false;
        return (
          held.role === account.role &&
          held.identityPublicKey === account.identityPublicKey &&
          held.wrappingPublicKey === account.wrappingPublicKey &&
          held.loginName === account.loginName &&
          held.wrappingKeySig === wrappingKeySig &&
          held.roleSig === roleSig &&
          held.wrappedRootSig === wrappedRootSig &&
          held.wrappedRootGen === 0 &&
          canonicalJson(held.wrappedRoot) === canonicalJson(account.wrappedRoot) &&
          heldDevice.accountId === account.accountId &&
          heldDevice.revokedAt === undefined &&
          canonicalJson(heldDevice.cert) === canonicalJson(device)
        );
      };
      // The same answer as the first time; nothing stored again, and the invite not asked for again (this
      // very registration used it).
      const replayAnswer = () => {
        request.log.info({ accountId: account.accountId }, 'registration replayed');
        return reply.code(201).send({ accountId: account.accountId });
      };
      const row: Account = {
        accountId: account.accountId,
        role: account.role,
        identityPublicKey: account.identityPublicKey,
        wrappingPublicKey: account.wrappingPublicKey,
        wrappedRoot: account.wrappedRoot,
        wrappedRootGen: 0,
        wrappedRootSig,
        createdAt: iso(),
      };
      if (wrappingKeySig !== undefined) row.wrappingKeySig = wrappingKeySig;
      if (roleSig !== undefined) row.roleSig = roleSig;
      if (account.loginName !== undefined) row.loginName = account.loginName;
      try {
        // One step: a refused device must not leave the account (and its login name) behind.
        // The invite's use is taken in this same step: a refused registration uses nothing up, and of two
        // racing registrations on a last use one wins.
        await store.accounts.register(
          row,
          {
            deviceId: device.cert.deviceId,
            accountId: account.accountId,
            cert: device,
            devicePublicKey: device.cert.devicePublicKey,
            createdAt: iso(),
          },
          inviteHash === undefined ? undefined : { invite: { codeHash: inviteHash, now: iso() } },
        );
      } catch (error) {
        // The same registration sent again (its first answer lost, or both sent at once): the store refuses
        // it as taken (or its invite as used, by that very registration), and it is answered as a replay.
        if (
          (isStoreError(error, 'ALREADY_EXISTS') || isStoreError(error, 'INVITE_INVALID')) &&
          (await heldAsSent())
        ) {
          return replayAnswer();
        }
        if (isStoreError(error, 'INVITE_INVALID')) {
          const { reason, role } = error.details ?? {};
          throw inviteRefused(request, typeof reason === 'string' ? reason : 'unknown', role);
        }
        if (!isStoreError(error, 'ALREADY_EXISTS')) throw error;
        const taken = error.details?.taken;
        throw new ServiceError(
          'ALREADY_EXISTS',
          taken === 'deviceId'
            ? 'this device key is already registered; generate a new device key'
            : taken === 'loginName'
              ? 'this login name is taken'
              : 'account already registered',
          taken === 'deviceId' || taken === 'loginName' ? { taken } : undefined,
        );
      }
      request.log.info(
        {
          accountId: account.accountId,
          role: account.role,
          ...(inviteHash === undefined ? {} : { inviteId: inviteId(inviteHash) }),
        },
        'account registered',
      );
      return reply.code(201).send({ accountId: account.accountId });
    },
  );

  app.post<{ Body: HttpDeviceRequest }>(
    HTTP_ROUTES.addDevice.url,
    { schema: HTTP_ROUTES.addDevice.schema },
    async (request, reply) => {
      const { device } = request.body;
      const account = await store.accounts.get(device.cert.accountId);
      if (!account) throw new ServiceError('NOT_FOUND', 'account not found');
      await verifyCert(device, account.accountId, account.identityPublicKey);
      const release = await lockDeviceAdds([account.accountId]);
      try {
        const existing = await store.devices.get(device.cert.deviceId);
        if (existing) {
          // Another account's id first: whether that account revoked it is not this caller's to learn.
          if (existing.accountId !== account.accountId)
            throw new ServiceError('ALREADY_EXISTS', 'device id taken');
          if (existing.revokedAt !== undefined)
            throw new ServiceError('DEVICE_REVOKED', 'this device was revoked');
          // Already stored: answered as before, whatever the caps say now.
          return reply.code(201).send({ deviceId: existing.deviceId });
        }
        const stored = await store.devices.listForAccount(account.accountId);
        if (stored.length >= MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT) {
          throw new ServiceError(
            'TOO_MANY_DEVICES',
            `this account has registered ${MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT} devices, revoked ones included: the most it may`,
            { limit: 'total', max: MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT },
          );
        }
        if (stored.filter((d) => d.revokedAt === undefined).length >= MAX_DEVICES_PER_ACCOUNT) {
          throw new ServiceError(
            'TOO_MANY_DEVICES',
            `this account has ${MAX_DEVICES_PER_ACCOUNT} devices; revoke one it no longer uses first`,
            { limit: 'active', max: MAX_DEVICES_PER_ACCOUNT },
          );
        }
        await store.devices.put({
          deviceId: device.cert.deviceId,
          accountId: account.accountId,
          cert: device,
          devicePublicKey: device.cert.devicePublicKey,
          createdAt: iso(),
        });
        request.log.info({ accountId: account.accountId, deviceId: device.cert.deviceId }, 'device added');
        return reply.code(201).send({ deviceId: device.cert.deviceId });
      } finally {
        release();
      }
    },
  );

  app.post<{ Body: HttpDeviceRevokeRequest }>(
    HTTP_ROUTES.revokeDevice.url,
    { schema: HTTP_ROUTES.revokeDevice.schema },
    async (request) => {
      const { revocation, sig } = request.body;
      const account = await store.accounts.get(revocation.accountId);
      const device = await store.devices.get(revocation.deviceId);
      if (!account || !device || device.accountId !== account.accountId) {
        throw new ServiceError('NOT_FOUND', 'device not found');
      }
      const identity = decodeBase64url(account.identityPublicKey, 'identityPublicKey');
      if (!(await verifyPayload(ed, identity, deviceRevocationPayload(revocation), sig))) {
        throw new ServiceError('BAD_SIGNATURE', 'revocation is not signed by the identity key');
      }
      const now = ctx.now();
      const skew = Date.parse(revocation.revokedAt) - now;
      if (!(Math.abs(skew) <= REVOKED_AT_MAX_SKEW_MS)) {
        const off = Number.isNaN(skew)
          ? 'is not a time'
          : `is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'behind' : 'ahead of'} the server's clock`;
        throw new ServiceError(
          'BAD_MESSAGE',
          `revocation revokedAt ${off}, more than the ${REVOKED_AT_MAX_SKEW_MS / 1000} s allowed; ` +
            "check the revoking device's date and time, then revoke again",
          { field: 'revokedAt', serverTime: iso(now), maxSkewMs: REVOKED_AT_MAX_SKEW_MS },
        );
      }
      // Kept as signed (its ids checked against the row above), so readers can verify the time it names.
      const revoked = await store.devices.revoke(device.deviceId, iso(), {
        revocation: { ...revocation },
        sig,
      });
      const closed = ctx.hub.closeDevice(device.deviceId, 'device revoked');
      request.log.info({ deviceId: device.deviceId, closed }, 'device revoked');
      return { deviceId: device.deviceId, revokedAt: revoked.revokedAt ?? iso() };
    },
  );

  app.post<{ Body: HttpDeviceNameRequest }>(
    HTTP_ROUTES.renameDevice.url,
    { schema: HTTP_ROUTES.renameDevice.schema },
    async (request) => {
      const { name, sig } = request.body;
      const account = await store.accounts.get(name.accountId);
      const device = await store.devices.get(name.deviceId);
      // Another account's device is answered exactly as an unknown one.
      if (!account || !device || device.accountId !== account.accountId) {
        throw new ServiceError('NOT_FOUND', 'device not found');
      }
      const identity = decodeBase64url(account.identityPublicKey, 'identityPublicKey');
      if (!(await verifyPayload(ed, identity, deviceNamePayload(name), sig))) {
        throw new ServiceError('BAD_SIGNATURE', 'device name is not signed by the identity key');
      }
      if (device.revokedAt !== undefined) throw new ServiceError('DEVICE_REVOKED', 'this device was revoked');
      // Kept as signed (its ids checked against the row above): readers verify it and open the name.
      const renamed = await store.devices
        .rename(device.deviceId, { name: { ...name }, sig }, name.seq)
        .catch((error: unknown) => {
          // Erased with its account since it was read.
          if (isStoreError(error, 'NOT_FOUND')) throw new ServiceError('NOT_FOUND', 'device not found');
          throw error;
        });
      // Revoked since it was read: the store's step refuses it as the check above would have.
      if (renamed.status === 'revoked') throw new ServiceError('DEVICE_REVOKED', 'this device was revoked');
      if (renamed.status === 'conflict') {
        throw new ServiceError(
          'CONFLICT',
          `the device's name is already at seq ${renamed.seq}: name it at a higher seq`,
          { seq: renamed.seq },
        );
      }
      // The seq alone: the sealed name stays out of the log.
      request.log.info(
        { deviceId: device.deviceId, seq: renamed.seq, replayed: renamed.status === 'same' },
        'device renamed',
      );
      return { deviceId: device.deviceId, seq: renamed.seq };
    },
  );

  /**
   * What `GET /v1/accounts/:accountId` answers for an account, and each account of a lookup. Within the
   * schema's caps even for an account stored over them (the caps came later): Fastify's serializer does
   * not check `maxItems`, and a client refuses the whole answer, a whole lookup with it, for one list too
   * long. The newest are kept (the store lists by registration): the devices most likely still in use.
   */
  const accountAnswer = async (account: Account) => {
    const devices = await store.devices.listForAccount(account.accountId);
    const active = devices.filter((d) => d.revokedAt === undefined).slice(-MAX_DEVICES_PER_ACCOUNT);
    const revoked = devices.filter((d) => d.revokedAt !== undefined);
    const deviceNames = active.flatMap((d) => {
      // A stored record that does not match the schema (only a store written by other means holds one) is
      // left out, so the answer stays valid.
      const checked = d.nameRecord === undefined ? undefined : validate(SignedDeviceName, d.nameRecord);
      return checked?.ok === true ? [checked.value] : [];
    });
    return {
      accountId: account.accountId,
      role: account.role,
      identityPublicKey: account.identityPublicKey,
      wrappingPublicKey: account.wrappingPublicKey,
      ...(account.wrappingKeySig === undefined ? {} : { wrappingKeySig: account.wrappingKeySig }),
      ...(account.roleSig === undefined ? {} : { roleSig: account.roleSig }),
      devices: active.map((d) => d.cert),
      revokedDevices: revoked.slice(-MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT).map((d) => d.deviceId),
      ...(deviceNames.length === 0 ? {} : { deviceNames }),
    };
  };

  /**
   * One device as `GET /v1/accounts/:accountId/devices/:deviceId` answers it. A stored revocation that does
   * not match the route's schema (only a store written by other means holds one) is left out, so the
   * answer stays valid and the server's revocation time still reaches the reader.
   */
  const deviceAnswer = (device: Device) => {
    const revocation =
      device.revocation === undefined ? undefined : validate(SignedDeviceRevocation, device.revocation);
    return {
      certificate: device.cert,
      ...(device.revokedAt === undefined ? {} : { revokedAt: device.revokedAt }),
      ...(revocation?.ok === true ? { revocation: revocation.value } : {}),
    };
  };

  app.get<{ Params: HttpAccountParams }>(
    HTTP_ROUTES.getAccount.url,
    { schema: HTTP_ROUTES.getAccount.schema },
    async (request) => {
      const account = await store.accounts.get(request.params.accountId);
      if (!account) throw new ServiceError('NOT_FOUND', 'account not found');
      return accountAnswer(account);
    },
  );

  app.get<{ Params: HttpAccountDeviceParams }>(
    HTTP_ROUTES.getAccountDevice.url,
    { schema: HTTP_ROUTES.getAccountDevice.schema },
    async (request) => {
      const { accountId, deviceId } = request.params;
      const device = await store.devices.get(deviceId);
      // Another account's device is answered exactly as an unknown one.
      if (!device || device.accountId !== accountId) throw new ServiceError('NOT_FOUND', 'device not found');
      return deviceAnswer(device);
    },
  );

  app.post<{ Body: HttpAccountsLookupRequest }>(
    HTTP_ROUTES.lookupAccounts.url,
    { schema: HTTP_ROUTES.lookupAccounts.schema },
    async (request) => {
      await ctx.authenticate(request);
      const ids = request.body.accountIds;
      const accounts: Array<Awaited<ReturnType<typeof accountAnswer>>> = [];
      const unknown: string[] = [];
      const deferred: string[] = [];
      // Room for the object's keys and for every id asked in an id list (22 characters, quotes, comma).
      let bytes = 64 + ids.length * 25;
      for (const accountId of ids) {
        // Once one account did not fit, the rest wait for the next request too (not even read).
        if (deferred.length > 0) {
          deferred.push(accountId);
          continue;
        }
        const account = await store.accounts.get(accountId);
        if (!account) {
          unknown.push(accountId);
          continue;
        }
        const entry = await accountAnswer(account);
        const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
        // The first account is always answered (its answer keeps to the schema's caps, far below a
        // frame), so asking again for what was deferred always makes progress.
        if (accounts.length > 0 && bytes + size > MAX_ACCOUNT_LOOKUP_ANSWER_BYTES) {
          deferred.push(accountId);
          continue;
        }
        bytes += size;
        accounts.push(entry);
      }
      return { accounts, unknown, deferred };
    },
  );

  app.post<{ Body: HttpJoinRequest }>(
    HTTP_ROUTES.join.url,
    { schema: HTTP_ROUTES.join.schema },
    async (request) => {
      // Costly for an attacker by design (the root is wrapped under a memory-hard KDF); still rate limited
      // per address and answered the same way for unknown names and known ones without a blob.
      const key = `join:${ctx.clientAddress(request)}`;
      if (!ctx.addressLimiter.take(key, 10)) {
        throw new ServiceError('RATE_LIMITED', 'too many join attempts; wait and retry', {
          retryAfterMs: ctx.addressLimiter.retryAfterMs(key, 10),
        });
      }
      const account = await store.accounts.getByLogin(request.body.loginName);
      if (!account) throw new ServiceError('NOT_FOUND', 'no account with this login name');
      return wrappedRootState(account);
    },
  );

  app.get(HTTP_ROUTES.getWrappedRoot.url, { schema: HTTP_ROUTES.getWrappedRoot.schema }, async (request) => {
    const principal = await ctx.authenticate(request);
    const account = await store.accounts.get(principal.accountId);
    if (!account) throw new ServiceError('NOT_FOUND', 'account not found');
    return wrappedRootState(account);
  });

  app.put<{ Body: HttpWrappedRootRequest }>(
    HTTP_ROUTES.putWrappedRoot.url,
    { schema: HTTP_ROUTES.putWrappedRoot.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      const account = await store.accounts.get(principal.accountId);
      if (!account) throw new ServiceError('NOT_FOUND', 'account not found');
      const { wrappedRoot, gen, sig } = request.body;
      const identity = decodeBase64url(account.identityPublicKey, 'identityPublicKey');
      const payload = wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen });
      if (!(await verifyPayload(ed, identity, payload, sig))) {
        throw new ServiceError('BAD_SIGNATURE', 'the new wrapped root is not signed by the identity key');
      }
      if (gen > account.wrappedRootGen + MAX_WRAPPED_ROOT_STEP) {
        throw new ServiceError(
          'BAD_MESSAGE',
          `the wrapped root's generation ${gen} is more than ${MAX_WRAPPED_ROOT_STEP} past the stored ` +
            `one (${account.wrappedRootGen}): publish the next generation after it`,
          { gen: account.wrappedRootGen },
        );
      }
      try {
        await store.accounts.updateWrappedRoot(account.accountId, { wrappedRoot, gen, sig });
      } catch (error) {
        if (!isStoreError(error, 'CONFLICT')) throw error;
        // Another device changed the passphrase first (or this is a replay): the device reads the
        // current wrap and decides again. The store names the generation it found.
        const current = error.details?.gen;
        throw new ServiceError('CONFLICT', `the wrapped root is already at generation ${gen} or later`, {
          gen: typeof current === 'number' && Number.isSafeInteger(current) ? current : null,
        });
      }
      request.log.info({ accountId: account.accountId, gen }, 'passphrase changed');
      // After the commit, so a device that fetches on the notice finds this generation (or a newer one).
      ctx.wrappedRoots.changed(account.accountId, gen, principal.deviceId);
      return { accountId: account.accountId, gen };
    },
  );

  app.put<{ Body: HttpWrappingKeyRequest }>(
    HTTP_ROUTES.putWrappingKey.url,
    { schema: HTTP_ROUTES.putWrappingKey.schema },
    async (request) => {
      // For an account registered without the signature: checked against the keys stored at
      // registration, so it can only ever vouch for the wrapping key the account registered with.
      const principal = await ctx.authenticate(request);
      const account = await store.accounts.get(principal.accountId);
      if (!account) throw new ServiceError('NOT_FOUND', 'account not found');
      const { sig, roleSig } = request.body;
      const identity = decodeBase64url(account.identityPublicKey, 'identityPublicKey');
      if (!(await verifyPayload(ed, identity, wrappingKeySignaturePayload(account), sig))) {
        throw new ServiceError('BAD_SIGNATURE', 'the wrapping key is not signed by the identity key');
      }
      // Over the stored role, so it can only ever vouch for the role the account registered with; both
      // checked before either is stored.
      if (
        roleSig !== undefined &&
        !(await verifyPayload(ed, identity, roleSignaturePayload(account), roleSig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'the role is not signed by the identity key');
      }
      await store.accounts.setWrappingKeySig(account.accountId, sig);
      // The store keeps a signature it holds: one relayed once is relayed for good.
      if (roleSig !== undefined) await store.accounts.setRoleSig(account.accountId, roleSig);
      request.log.info(
        { accountId: account.accountId, withRole: roleSig !== undefined },
        'wrapping key signature published',
      );
      return { accountId: account.accountId };
    },
  );

  // The account deletes itself: only a session of its own, naming itself, and only a patient (a provider's
  // signatures live on in its patients' records, which need its devices to check them). Its devices'
  // connections close after the erase; grantees of its grants see the grant change.
  app.post<{ Body: HttpAccountDeleteRequest }>(
    HTTP_ROUTES.deleteAccount.url,
    { schema: HTTP_ROUTES.deleteAccount.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      if (request.body.accountId !== principal.accountId) {
        throw new ServiceError('FORBIDDEN', 'an account can delete only itself');
      }
      if (principal.role !== 'patient') {
        throw new ServiceError('FORBIDDEN', "a care team's account cannot be deleted here: ask the operator");
      }
      if (store.accounts.erase === undefined) {
        throw new ServiceError('UNAVAILABLE', "this server's store cannot delete accounts; ask the operator");
      }
      const erased = await store.accounts.erase(principal.accountId);
      for (const deviceId of erased.deviceIds) ctx.hub.closeDevice(deviceId, 'account deleted');
      request.log.info(
        { accountId: principal.accountId, docs: erased.docs, blobs: erased.blobs, grants: erased.grants },
        'account deleted',
      );
      return {
        accountId: principal.accountId,
        deletedAt: iso(),
        docs: erased.docs,
        blobs: erased.blobs,
        grants: erased.grants,
        devices: erased.deviceIds.length,
      };
    },
  );

  app.get(HTTP_ROUTES.serverInfo.url, { schema: HTTP_ROUTES.serverInfo.schema }, async () => ({
    serverId: ctx.server.serverId,
    publicKey: base64urlEncode(ctx.server.publicKey),
    versions: [...SUPPORTED_VERSIONS],
    // So an app shows the sign-up screen that works here (invite field, or "closed") before asking.
    registration: ctx.config.registration,
  }));

  app.post<{ Body: HttpChallengeRequest }>(
    HTTP_ROUTES.challenge.url,
    { schema: HTTP_ROUTES.challenge.schema },
    async (request) => {
      await ctx.loadDevice(request.body.deviceId);
      const challenge = {
        challengeId: base64urlEncode(randomBytes(16)),
        deviceId: request.body.deviceId,
        nonce: base64urlEncode(randomBytes(32)),
        expiresAt: iso(ctx.now() + CHALLENGE_TTL_MS),
      };
      await store.challenges.put(challenge);
      return {
        challengeId: challenge.challengeId,
        nonce: challenge.nonce,
        serverId: ctx.server.serverId,
        expiresAt: challenge.expiresAt,
      };
    },
  );

  app.post<{ Body: HttpSessionRequest }>(
    HTTP_ROUTES.session.url,
    { schema: HTTP_ROUTES.session.schema },
    async (request) => {
      const { challengeId, deviceId, sig } = request.body;
      // Taken (deleted) before checking, so a challenge can never be answered twice.
      const challenge = await store.challenges.take(challengeId);
      if (!challenge || challenge.deviceId !== deviceId) {
        throw new ServiceError('CHALLENGE_INVALID', 'unknown or already used challenge');
      }
      if (challengeExpired(Date.parse(challenge.expiresAt), ctx.now())) {
        throw new ServiceError('CHALLENGE_INVALID', 'challenge expired');
      }
      const device = await ctx.loadDevice(deviceId);
      const payload = authSignaturePayload({
        nonce: challenge.nonce,
        deviceId,
        serverId: ctx.server.serverId,
      });
      if (!(await verifyPayload(ed, device.devicePublicKey, payload, sig))) {
        ctx.metrics.refusals.inc({ code: 'BAD_SIGNATURE' });
        throw new ServiceError('BAD_SIGNATURE', 'challenge signature does not verify');
      }
      const token = base64urlEncode(randomBytes(32));
      const expiresAt = iso(ctx.now() + SESSION_TTL_MS);
      await store.sessions.put({
        tokenHash: tokenHash(token),
        deviceId,
        accountId: device.accountId,
        expiresAt,
      });
      return { token, expiresAt };
    },
  );
};

/** Builds the bearer-session resolver used by every authenticated route. */
export const createAuthenticator = (ctx: Pick<AppContext, 'store' | 'now' | 'loadDevice'>) => {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_.-]{16,512})$/.exec(header) : null;
    if (!match?.[1]) throw new ServiceError('UNAUTHENTICATED', 'missing or malformed bearer token');
    const session = await ctx.store.sessions.get(tokenHash(match[1]));
    if (!session) throw new ServiceError('UNAUTHENTICATED', 'unknown session');
    if (Date.parse(session.expiresAt) <= ctx.now())
      throw new ServiceError('SESSION_EXPIRED', 'session expired');
    return ctx.loadDevice(session.deviceId);
  };
};
