/*
 * Accounts, devices, challenges, sessions and invites of the CouchDB store (types.ts).
 *
 * | document            | owner shard (log.ts) | holds                                          |
 * | ------------------- | -------------------- | ---------------------------------------------- |
 * | `A|account`          | the account's        | the account (role signature included)          |
 * | `D|device`           | the device's account | the device (revocation included)               |
 * | `Da|account|device`  | the account's        | the same device, listed under its account      |
 * | `L|login`            | `#reg`               | `{ accountId }`: the login name is taken       |
 * | `I|codeHash`         | `#reg`               | the invite (uses left, revocation)             |
 * | `C|challenge`        | none (direct)        | a challenge; taken by deleting it with its rev  |
 * | `S|token`, `Sd|device|token` | none (direct) | a session, and its entry under its device     |
 *
 * Invariants:
 * - Registration, a new account or device, and every invite change commit in `#reg` with the account's
 *   shard: ids and login names are checked and taken, and an invite's use taken, in one commit, so of
 *   racing registrations on an invite with n uses left at most n commit, and no id is taken twice.
 * - Account updates (wrapped root, signatures) and device revocations commit in the account's shard:
 *   compare-and-set on the state the commit read. A revocation is an event other nodes act on (changes.ts).
 * - A device's name record (`nameRecord`, `nameSeq` in its documents) is replaced in the account's shard
 *   only by a higher seq, never on a revoked device; a refused or repeated rename commits nothing.
 * - Challenges and sessions are single documents written directly: a take deletes the challenge by its
 *   revision (of racing takes one wins). A revoked device's sessions and challenges are answered as absent
 *   from the moment the revocation commits (its device document is read with them), and deleted then.
 * Failure modes: as types.ts; UNAVAILABLE when CouchDB cannot be reached.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  StoreError,
  type Account,
  type AccountRole,
  type Challenge,
  type Device,
  type DeviceRenameResult,
  type Invite,
  type InviteRefusal,
  type Session,
  type SyncStore,
} from '../types';
import { key, prefix, type CouchDoc } from './db';
import { Parts, type Ctx } from './context';
import { REG_SHARD } from './log';
import { gone, isGone, put } from './ops';
import {
  invalid,
  isNonNegativeInt,
  requireGeneration,
  requireNameSeq,
  requireText,
  timeMs,
} from '../store-checks';

const accountDoc = (a: Account) => put({ _id: key('A', a.accountId), account: a });
const deviceDocs = (d: Device) => [
  put({
    _id: key('D', d.deviceId),
    accountId: d.accountId,
    device: d,
    ...(d.revokedAt ? { revokedAt: d.revokedAt } : {}),
  }),
  put({ _id: key('Da', d.accountId, d.deviceId), device: d }),
];
const live = (doc: CouchDoc | null | undefined): CouchDoc | null =>
  isGone(doc) || doc === undefined ? null : doc;

const inviteRefusal = (invite: Invite | null, role: AccountRole, nowMs: number): InviteRefusal | null => {
  if (invite === null) return 'unknown';
  if (invite.revokedAt !== undefined) return 'revoked';
  if (Date.parse(invite.expiresAt) <= nowMs) return 'expired';
  if (invite.usesLeft <= 0) return 'used-up';
  if (invite.role !== undefined && invite.role !== role) return 'role';
  return null;
};

export const couchAccounts = (
  ctx: Ctx,
): Pick<SyncStore, 'accounts' | 'devices' | 'challenges' | 'sessions' | 'invites'> => {
  const { data, log } = ctx;
  const getAccount = async (accountId: string): Promise<Account | null> => {
    const doc = live(await data.get(key('A', accountId)));
    return doc === null ? null : { ...(doc.account as Account) };
  };
  const getDevice = async (deviceId: string): Promise<Device | null> => {
    const doc = live(await data.get(key('D', deviceId)));
    return doc === null ? null : { ...(doc.device as Device) };
  };
  const getInvite = async (codeHash: string): Promise<Invite | null> => {
    const doc = live(await data.get(key('I', codeHash)));
    return doc === null ? null : { ...(doc.invite as Invite) };
  };
  const taken = (what: 'accountId' | 'loginName' | 'deviceId', message: string) =>
    new StoreError('ALREADY_EXISTS', message, { details: { taken: what } });

  /** Commits a change of one account (its own shard) built from the stored account. */
  const updateAccount = async (accountId: string, change: (a: Account) => Account | null): Promise<void> => {
    await log.commit([accountId], async () => {
      const current = await getAccount(accountId);
      if (current === null) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
      const next = change(current);
      const parts = new Parts();
      if (next !== null) parts.ops(accountId, accountDoc(next));
      return { parts: parts.map, result: undefined };
    });
  };

  const register = async (
    a: Account,
    d: Device | undefined,
    invite: { codeHash: string; now: string } | undefined,
  ): Promise<void> => {
    requireText(a.accountId, 'accountId');
    requireGeneration(a.wrappedRootGen);
    if (a.role !== 'patient' && a.role !== 'provider') throw invalid('role must be patient or provider');
    if (d !== undefined) {
      requireText(d.deviceId, 'deviceId');
      if (d.accountId !== a.accountId)
        throw invalid(`device ${d.deviceId} names account ${d.accountId}, not ${a.accountId}`);
    }
    const nowMs = invite === undefined ? 0 : timeMs(invite.now, 'invite.now');
    await log.commit([REG_SHARD, a.accountId], async () => {
      const parts = new Parts();
      if (invite !== undefined) {
        const stored = await getInvite(invite.codeHash);
        const reason = inviteRefusal(stored, a.role, nowMs);
        if (reason !== null || stored === null) {
          throw new StoreError('INVITE_INVALID', `invite not usable: ${reason ?? 'unknown'}`, {
            details: reason === 'role' && stored?.role ? { reason, role: stored.role } : { reason },
          });
        }
        parts.ops(
          REG_SHARD,
          put({ _id: key('I', stored.codeHash), invite: { ...stored, usesLeft: stored.usesLeft - 1 } }),
        );
      }
      if ((await getAccount(a.accountId)) !== null) throw taken('accountId', 'account id is taken');
      if (a.loginName !== undefined && live(await data.get(key('L', a.loginName))) !== null) {
        throw taken('loginName', 'login name is taken');
      }
      if (d !== undefined && (await getDevice(d.deviceId)) !== null)
        throw taken('deviceId', 'device id is taken');
      if (a.loginName !== undefined)
        parts.ops(REG_SHARD, put({ _id: key('L', a.loginName), accountId: a.accountId }));
      parts.ops(a.accountId, accountDoc(a), ...(d === undefined ? [] : deviceDocs(d)));
      return { parts: parts.map, result: undefined };
    });
  };

  return {
    accounts: {
      put: (a) => register(a, undefined, undefined),
      register: async (a, d, options) => {
        const invite = options?.invite;
        if (invite !== undefined) requireText(invite.codeHash, 'invite.codeHash');
        await register(
          a,
          d,
          invite === undefined ? undefined : { codeHash: invite.codeHash, now: invite.now },
        );
      },
      get: getAccount,
      getByLogin: async (loginName) => {
        const doc = live(await data.get(key('L', loginName)));
        return doc === null ? null : getAccount(doc.accountId as string);
      },
      updateWrappedRoot: async (accountId, next) => {
        requireGeneration(next.gen);
        await updateAccount(accountId, (a) => {
          if (a.wrappedRootGen >= next.gen) {
            throw new StoreError(
              'CONFLICT',
              `wrapped root is at generation ${a.wrappedRootGen}, not below ${next.gen}`,
              {
                details: { gen: a.wrappedRootGen },
              },
            );
          }
          return { ...a, wrappedRoot: next.wrappedRoot, wrappedRootGen: next.gen, wrappedRootSig: next.sig };
        });
      },
      setWrappingKeySig: async (accountId, sig) => {
        requireText(sig, 'sig');
        await updateAccount(accountId, (a) => ({ ...a, wrappingKeySig: sig }));
      },
      setRoleSig: async (accountId, sig) => {
        requireText(sig, 'sig');
        await updateAccount(accountId, (a) => (a.roleSig === undefined ? { ...a, roleSig: sig } : null));
      },
      setWrappedRootSig: async (accountId, expected) => {
        requireGeneration(expected.gen);
        requireText(expected.sig, 'sig');
        await updateAccount(accountId, (a) => {
          if (a.wrappedRootGen !== expected.gen || !isDeepStrictEqual(a.wrappedRoot, expected.wrappedRoot)) {
            throw new StoreError(
              'CONFLICT',
              `wrapped root is at generation ${a.wrappedRootGen} with another wrap, not the one signed`,
              { details: { gen: a.wrappedRootGen } },
            );
          }
          return a.wrappedRootSig === null ? { ...a, wrappedRootSig: expected.sig } : null;
        });
      },
    },

    devices: {
      put: async (d) => {
        requireText(d.deviceId, 'deviceId');
        await log.commit([REG_SHARD, d.accountId], async () => {
          if ((await getAccount(d.accountId)) === null) {
            throw new StoreError('NOT_FOUND', `account ${d.accountId} does not exist`);
          }
          if ((await getDevice(d.deviceId)) !== null)
            throw new StoreError('ALREADY_EXISTS', 'device id is taken');
          const parts = new Parts();
          parts.ops(d.accountId, ...deviceDocs(d));
          parts.part(REG_SHARD);
          return { parts: parts.map, result: undefined };
        });
      },
      get: getDevice,
      listForAccount: async (accountId) =>
        (await data.range(prefix('Da', accountId)))
          .filter((doc) => !isGone(doc))
          .map((doc) => ({ ...(doc.device as Device) }))
          .sort((x, y) =>
            x.createdAt !== y.createdAt
              ? x.createdAt < y.createdAt
                ? -1
                : 1
              : x.deviceId < y.deviceId
                ? -1
                : 1,
          ),
      revoke: async (deviceId, revokedAt, revocation) => {
        requireText(revokedAt, 'revokedAt');
        const stored = live(await data.get(key('D', deviceId)));
        if (stored === null) throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
        const accountId = stored.accountId as string;
        const { result } = await log.commit<Device>([accountId], async () => {
          const device = await getDevice(deviceId);
          if (device === null) throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
          const next: Device = { ...device, revokedAt: device.revokedAt ?? revokedAt };
          if (device.revocation === undefined) next.revocation = revocation;
          const parts = new Parts();
          if (!isDeepStrictEqual(next, device)) {
            parts.ops(accountId, ...deviceDocs(next));
            parts.part(accountId).events = [{ k: 'device-revoked', device: deviceId }];
          }
          return { parts: parts.map, result: next };
        });
        // The sessions go with the revocation (already answered as absent since it committed).
        const sessions = await data.range(prefix('Sd', deviceId), { includeDocs: false });
        for (const s of sessions)
          await deleteSession(decodeURIComponent(s._id.split('|')[2] ?? ''), deviceId);
        return result;
      },
      rename: async (deviceId, record, seq) => {
        requireNameSeq(seq);
        const stored = live(await data.get(key('D', deviceId)));
        if (stored === null) throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
        const accountId = stored.accountId as string;
        const { result } = await log.commit<DeviceRenameResult>([accountId], async () => {
          const device = await getDevice(deviceId);
          if (device === null) throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
          const parts = new Parts();
          if (device.revokedAt !== undefined) return { parts: parts.map, result: { status: 'revoked' } };
          const current = device.nameSeq ?? 0;
          if (current >= seq) {
            const same = current === seq && isDeepStrictEqual(device.nameRecord, record);
            return {
              parts: parts.map,
              result: same ? { status: 'same', seq } : { status: 'conflict', seq: current },
            };
          }
          parts.ops(accountId, ...deviceDocs({ ...device, nameRecord: record, nameSeq: seq }));
          return { parts: parts.map, result: { status: 'stored', seq } };
        });
        return result;
      },
    },

    challenges: {
      put: async (c) => {
        requireText(c.challengeId, 'challengeId');
        timeMs(c.expiresAt, 'expiresAt');
        const ok = await data.create({ _id: key('C', c.challengeId), challenge: c });
        if (!ok) throw new StoreError('ALREADY_EXISTS', `challenge ${c.challengeId} exists`);
      },
      take: async (challengeId) => {
        const doc = await data.get(key('C', challengeId));
        if (doc === null || isGone(doc)) return null;
        if (!(await data.put({ _id: doc._id, _rev: doc._rev, _deleted: true }))) return null;
        const c = doc.challenge as Challenge;
        const device = live(await data.get(key('D', c.deviceId)));
        return device !== null && typeof device.revokedAt === 'string' ? null : { ...c };
      },
      deleteExpired: async (now) => {
        const nowMs = timeMs(now, 'now');
        const expired = (await data.range('C|')).filter(
          (d) => Date.parse((d.challenge as Challenge).expiresAt) <= nowMs,
        );
        const results = await data.bulk(expired.map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })));
        return results.filter((r) => r === 'ok').length;
      },
    },

    sessions: {
      put: async (session) => {
        requireText(session.tokenHash, 'tokenHash');
        timeMs(session.expiresAt, 'expiresAt');
        const device = await getDevice(session.deviceId);
        if (device === null) throw new StoreError('NOT_FOUND', `device ${session.deviceId} does not exist`);
        if (device.accountId !== session.accountId) {
          throw invalid(`device ${session.deviceId} does not belong to account ${session.accountId}`);
        }
        if (!(await data.create({ _id: key('S', session.tokenHash), session }))) {
          throw new StoreError('ALREADY_EXISTS', 'session exists');
        }
        await data.create({ _id: key('Sd', session.deviceId, session.tokenHash) });
      },
      get: async (tokenHash) => {
        const doc = live(await data.get(key('S', tokenHash)));
        if (doc === null) return null;
        const session = doc.session as Session;
        const device = live(await data.get(key('D', session.deviceId)));
        return device === null || typeof device.revokedAt === 'string' ? null : { ...session };
      },
      deleteForDevice: async (deviceId) => {
        const entries = await data.range(prefix('Sd', deviceId), { includeDocs: false });
        let n = 0;
        for (const e of entries)
          if (await deleteSession(decodeURIComponent(e._id.split('|')[2] ?? ''), deviceId)) n++;
        return n;
      },
      deleteExpired: async (now) => {
        const nowMs = timeMs(now, 'now');
        const all = await data.range('S|');
        let n = 0;
        for (const doc of all) {
          if (isGone(doc)) continue;
          const s = doc.session as Session;
          if (Date.parse(s.expiresAt) <= nowMs && (await deleteSession(s.tokenHash, s.deviceId))) n++;
        }
        return n;
      },
    },

    invites: {
      put: async (invite) => {
        if (!/^[0-9a-f]{64}$/.test(invite.codeHash)) throw invalid('codeHash must be 64 hex digits');
        if (!Number.isSafeInteger(invite.uses) || invite.uses < 1) throw invalid('uses must be at least 1');
        if (!isNonNegativeInt(invite.usesLeft) || invite.usesLeft > invite.uses) {
          throw invalid('usesLeft must be between 0 and uses');
        }
        requireText(invite.createdAt, 'createdAt');
        timeMs(invite.expiresAt, 'expiresAt');
        await log.commit([REG_SHARD], async () => {
          if ((await getInvite(invite.codeHash)) !== null)
            throw new StoreError('ALREADY_EXISTS', 'invite exists');
          const parts = new Parts();
          parts.ops(REG_SHARD, put({ _id: key('I', invite.codeHash), invite }));
          return { parts: parts.map, result: undefined };
        });
      },
      list: async () =>
        (await data.range('I|'))
          .filter((d) => !isGone(d))
          .map((d) => ({ ...(d.invite as Invite) }))
          .sort((a, b) =>
            a.createdAt !== b.createdAt
              ? a.createdAt > b.createdAt
                ? -1
                : 1
              : a.codeHash > b.codeHash
                ? -1
                : 1,
          ),
      revoke: async (codeHash, revokedAt) => {
        requireText(revokedAt, 'revokedAt');
        const { result } = await log.commit<Invite>([REG_SHARD], async () => {
          const stored = await getInvite(codeHash);
          if (stored === null) throw new StoreError('NOT_FOUND', 'no invite with this code');
          const parts = new Parts();
          if (stored.revokedAt !== undefined) return { parts: parts.map, result: stored };
          const next = { ...stored, revokedAt };
          parts.ops(REG_SHARD, put({ _id: key('I', codeHash), invite: next }));
          return { parts: parts.map, result: next };
        });
        return result;
      },
    },
  };

  async function deleteSession(tokenHash: string, deviceId: string): Promise<boolean> {
    const docs = await data.getMany([key('S', tokenHash), key('Sd', deviceId, tokenHash)]);
    const s = docs.get(key('S', tokenHash));
    const removals = [...docs.values()].map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true }));
    await data.bulk(removals);
    return s !== undefined && !isGone(s);
  }
};

export { gone };
