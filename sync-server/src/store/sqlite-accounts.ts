/*
 * The SQLite store's accounts, devices and invites (types.ts `accounts`, `devices`, `invites`), and
 * registration, which takes all three.
 *
 * Invariants:
 * - Invites are kept as hashes only. A registration with an invite reads it, decides (`inviteRefusal`, the
 *   only place the rules are written) and takes its use inside the registration's BEGIN IMMEDIATE
 *   transaction before anything else is checked or written: of racing registrations on an invite with n
 *   uses left, at most n commit, and a refused one leaves every table as it was.
 * - An account and its role signature, and a registration's account and device, are written together or
 *   not at all.
 * - `devices.revocation` holds a device's signed revocation as the revoke route received it (checked
 *   there, not here); the first revocation's time and signature are kept. Revoking a device deletes its
 *   sessions and challenges in the same transaction.
 * - `devices.name_record` holds a device's newest signed name record as the rename route received it
 *   (checked there, not here); it is replaced only by a higher `name_seq`, and never on a revoked device.
 * - A wrapped root moves only to a higher generation; its signature is set only over the wrap it signs.
 *
 * Failure modes: taken account id, login name or device id → ALREADY_EXISTS (details.taken); an invite that
 * does not admit the registration → INVITE_INVALID (details.reason); unknown account or device →
 * NOT_FOUND; a generation or wrap that moved → CONFLICT (details.gen); `erase`: see sqlite-erase.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  StoreError,
  type Account,
  type AccountRole,
  type Device,
  type DeviceRenameResult,
  type InviteRefusal,
  type JsonObject,
  type SyncStore,
} from './types';
import { createEraseAccount } from './sqlite-erase';
import { parseJsonObject, rowToAccount, rowToDevice, rowToInvite, type InviteRow } from './sqlite-rows';
import {
  invalid,
  isNonNegativeInt,
  requireGeneration,
  requireNameSeq,
  requireText,
  timeMs,
} from './store-checks';
import type { Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

/** The invite a registration takes one use of (`accounts.register`). */
type InviteUse = { readonly codeHash: string; readonly now: string };

/**
 * Why `row` (the invite named at registration, if stored) admits no registration of `role` at `nowMs`, or
 * null when it admits one. The invite rules live here only; the first that fails is the reason given.
 */
const inviteRefusal = (
  row: InviteRow | undefined,
  role: AccountRole,
  nowMs: number,
): InviteRefusal | null => {
  if (row === undefined) return 'unknown';
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_ms <= nowMs) return 'expired';
  if (row.uses_left <= 0) return 'used-up';
  if (row.role !== null && row.role !== role) return 'role';
  return null;
};

const insertAccount = (s: Statements, a: Account): void => {
  requireText(a.accountId, 'accountId');
  s.accountInsert.run(
    a.accountId,
    a.role,
    a.identityPublicKey,
    a.wrappingPublicKey,
    JSON.stringify(a.wrappedRoot),
    requireGeneration(a.wrappedRootGen),
    a.wrappedRootSig,
    a.wrappingKeySig ?? null,
    a.loginName ?? null,
    a.createdAt,
  );
  if (a.roleSig !== undefined) s.accountRoleSigInsert.run(a.accountId, a.roleSig);
};

const insertDevice = (s: Statements, d: Device): void => {
  requireText(d.deviceId, 'deviceId');
  s.deviceInsert.run(
    d.deviceId,
    d.accountId,
    JSON.stringify(d.cert),
    d.devicePublicKey,
    d.createdAt,
    d.revokedAt ?? null,
  );
};

export const sqliteAccounts = ({
  db,
  call,
}: SqliteContext): Pick<SyncStore, 'accounts' | 'devices' | 'invites'> => {
  const revokeTx = db.transaction(
    (s: Statements, deviceId: string, revokedAt: string, revocation: JsonObject) => {
      if (s.deviceRevoke.run(revokedAt, JSON.stringify(revocation), deviceId).changes === 0) {
        throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
      }
      s.sessionsDeleteForDevice.run(deviceId);
      s.challengesDeleteForDevice.run(deviceId);
      const row = s.deviceGet.get(deviceId);
      if (row === undefined) throw new StoreError('INTERNAL', 'revoked device vanished');
      return rowToDevice(row);
    },
  );

  // Compare-and-set: the write takes only a higher seq of an active device; when it does not, the row read
  // in the same transaction says why.
  const renameTx = db.transaction(
    (s: Statements, deviceId: string, record: JsonObject, seq: number): DeviceRenameResult => {
      if (s.deviceRename.run(JSON.stringify(record), seq, deviceId, seq).changes > 0) {
        return { status: 'stored', seq };
      }
      const row = s.deviceGet.get(deviceId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
      if (row.revoked_at !== null) return { status: 'revoked' };
      const stored = row.name_seq ?? 0;
      return stored === seq &&
        row.name_record !== null &&
        // Key order does not matter (the record is compared as a value, not as text).
        isDeepStrictEqual(parseJsonObject(row.name_record), record)
        ? { status: 'same', seq }
        : { status: 'conflict', seq: stored };
    },
  );

  // Read, compare and write in one write transaction: the wrap compared is the one signed.
  const setWrappedRootSigTx = db.transaction(
    (
      s: Statements,
      accountId: string,
      expected: { readonly wrappedRoot: JsonObject; readonly gen: number; readonly sig: string },
    ) => {
      requireGeneration(expected.gen);
      requireText(expected.sig, 'sig');
      const row = s.accountGet.get(accountId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
      if (
        row.wrapped_root_gen !== expected.gen ||
        // Key order does not matter (the wrap is compared as a value, not as text).
        !isDeepStrictEqual(parseJsonObject(row.wrapped_root), expected.wrappedRoot)
      ) {
        throw new StoreError(
          'CONFLICT',
          `wrapped root is at generation ${row.wrapped_root_gen} with another wrap, not the one signed`,
          { details: { gen: row.wrapped_root_gen } },
        );
      }
      s.accountSetWrappedRootSig.run(expected.sig, accountId, expected.gen);
    },
  );

  // Run as .immediate only: the invite is read, judged and decremented under the write lock taken at BEGIN.
  const registerTx = db.transaction((s: Statements, a: Account, d: Device, invite: InviteUse | undefined) => {
    if (d.accountId !== a.accountId) {
      throw invalid(`device ${d.deviceId} names account ${d.accountId}, not ${a.accountId}`);
    }
    if (invite !== undefined) {
      const nowMs = timeMs(invite.now, 'invite.now');
      // Before the ids and the login name: without a usable invite nothing about them is revealed.
      const row = s.inviteGet.get(invite.codeHash);
      const reason = inviteRefusal(row, a.role, nowMs);
      if (reason !== null) {
        throw new StoreError('INVITE_INVALID', `invite not usable: ${reason}`, {
          details: reason === 'role' && row?.role ? { reason, role: row.role } : { reason },
        });
      }
      s.inviteTake.run(invite.codeHash);
    }
    // Checked by hand, not left to the constraints, so the caller learns which part is taken without
    // parsing SQLite's message (which would otherwise reach clients verbatim).
    const taken = (what: 'accountId' | 'loginName' | 'deviceId', message: string) =>
      new StoreError('ALREADY_EXISTS', message, { details: { taken: what } });
    if (s.accountGet.get(a.accountId) !== undefined) throw taken('accountId', 'account id is taken');
    if (a.loginName !== undefined && s.accountByLogin.get(a.loginName) !== undefined) {
      throw taken('loginName', 'login name is taken');
    }
    if (s.deviceGet.get(d.deviceId) !== undefined) throw taken('deviceId', 'device id is taken');
    insertAccount(s, a);
    insertDevice(s, d);
  });

  // Two rows when the account has a role signature: both or neither.
  const putAccountTx = db.transaction((s: Statements, a: Account) => insertAccount(s, a));

  return {
    accounts: {
      erase: (accountId) =>
        call(() => {
          requireText(accountId, 'accountId');
          return createEraseAccount(db)(accountId);
        }),
      put: (a) => call((s) => putAccountTx.immediate(s, a)),
      register: (a, d, options) =>
        call((s) => {
          const invite = options?.invite;
          if (invite !== undefined) requireText(invite.codeHash, 'invite.codeHash');
          registerTx.immediate(s, a, d, invite);
        }),
      get: (accountId) =>
        call((s) => {
          const row = s.accountGet.get(accountId);
          return row === undefined ? null : rowToAccount(row);
        }),
      getByLogin: (loginName) =>
        call((s) => {
          const row = s.accountByLogin.get(loginName);
          return row === undefined ? null : rowToAccount(row);
        }),
      updateWrappedRoot: (accountId, next) =>
        call((s) => {
          requireGeneration(next.gen);
          const { changes } = s.accountSetWrappedRoot.run(
            JSON.stringify(next.wrappedRoot),
            next.gen,
            next.sig,
            accountId,
            next.gen,
          );
          if (changes > 0) return;
          const current = s.accountGet.get(accountId);
          if (current === undefined) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
          throw new StoreError(
            'CONFLICT',
            `wrapped root is at generation ${current.wrapped_root_gen}, not below ${next.gen}`,
            { details: { gen: current.wrapped_root_gen } },
          );
        }),
      setWrappingKeySig: (accountId, sig) =>
        call((s) => {
          requireText(sig, 'sig');
          const { changes } = s.accountSetWrappingKeySig.run(sig, accountId);
          if (changes === 0) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
        }),
      setWrappedRootSig: (accountId, expected) =>
        call((s) => setWrappedRootSigTx.immediate(s, accountId, expected)),
      setRoleSig: (accountId, sig) =>
        call((s) => {
          requireText(sig, 'sig');
          const { changes } = s.accountRoleSigAdd.run(sig, accountId);
          if (changes === 0 && s.accountGet.get(accountId) === undefined) {
            throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
          }
        }),
    },

    devices: {
      put: (d) => call((s) => insertDevice(s, d)),
      get: (deviceId) =>
        call((s) => {
          const row = s.deviceGet.get(deviceId);
          return row === undefined ? null : rowToDevice(row);
        }),
      listForAccount: (accountId) => call((s) => s.devicesForAccount.all(accountId).map(rowToDevice)),
      revoke: (deviceId, revokedAt, revocation) =>
        call((s) => revokeTx.immediate(s, deviceId, revokedAt, revocation)),
      rename: (deviceId, record, seq) =>
        call((s) => {
          requireNameSeq(seq);
          return renameTx.immediate(s, deviceId, record, seq);
        }),
    },

    invites: {
      put: (invite) =>
        call((s) => {
          if (!/^[0-9a-f]{64}$/.test(invite.codeHash)) throw invalid('codeHash must be 64 hex digits');
          if (!Number.isSafeInteger(invite.uses) || invite.uses < 1) throw invalid('uses must be at least 1');
          if (!isNonNegativeInt(invite.usesLeft) || invite.usesLeft > invite.uses) {
            throw invalid('usesLeft must be between 0 and uses');
          }
          requireText(invite.createdAt, 'createdAt');
          s.inviteInsert.run(
            invite.codeHash,
            invite.role ?? null,
            invite.uses,
            invite.usesLeft,
            invite.expiresAt,
            timeMs(invite.expiresAt, 'expiresAt'),
            invite.createdAt,
            invite.note ?? null,
            invite.revokedAt ?? null,
          );
        }),
      list: () => call((s) => s.inviteList.all().map(rowToInvite)),
      revoke: (codeHash, revokedAt) =>
        call((s) => {
          requireText(revokedAt, 'revokedAt');
          s.inviteRevoke.run(revokedAt, codeHash);
          const row = s.inviteGet.get(codeHash);
          if (row === undefined) throw new StoreError('NOT_FOUND', 'no invite with this code');
          return rowToInvite(row);
        }),
    },
  };
};
