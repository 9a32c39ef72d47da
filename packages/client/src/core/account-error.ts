/**
 * Account and device-session lifecycle failures that are not transport errors (those stay
 * HaleClientError). One code per failure, stable strings the UI switches on, only ever appended;
 * messages never contain a passphrase, key or root.
 */
import { HaleError } from './hale-error';
import type { AccountRole } from '@hale/protocol';

export const ACCOUNT_ERROR_CODES = [
  /** The passphrase does not open the wrapped root. Nothing was written. */
  'WRONG_PASSPHRASE',
  /** The recovery key is malformed or mistyped; `group` names the first bad group when known. */
  'INVALID_RECOVERY_KEY',
  /** This device's vault holds no account (create or join first). */
  'NO_ACCOUNT',
  /** The server knows no account for this login name or recovery key. */
  'ACCOUNT_NOT_FOUND',
  /** This device's vault already holds an account; remove it before creating or joining another. */
  'ACCOUNT_EXISTS',
  /** The server's account record does not belong to the keys we derived (wrong or lying server). */
  'ACCOUNT_MISMATCH',
  /** The vault record is malformed or does not belong to the root it unlocked. */
  'VAULT_CORRUPT',
  /** The wrapped root from the vault or server is malformed or has out-of-range KDF parameters. */
  'BAD_WRAPPED_ROOT',
  /** The passphrase is shorter than MIN_PASSPHRASE_LENGTH characters. */
  'WEAK_PASSPHRASE',
  /** The account was locked: its secret key bytes are gone. Unlock again. */
  'LOCKED',
  /** Only provider accounts publish directory profiles. */
  'NOT_A_PROVIDER',
  /**
   * The server offered a passphrase wrap this device will not take: not signed by the account's identity
   * key, for another account, or older than (or different from) the generation this device holds — a
   * replay of a passphrase that was changed. Nothing was written.
   */
  'WRAPPED_ROOT_REFUSED',
  /**
   * openDeviceSession: a session of this device database (same storage and database name) is already
   * open or opening in this process, or, by the injected `deviceLock`, in another tab, window or process
   * (removeDeviceDb too). Use that one, or close it first. Nothing was opened.
   */
  'SESSION_ALREADY_OPEN',
  /**
   * The vault's account record was written by a newer version of the app, in a format this version cannot
   * read (e.g. after going back to an older app version). Update the app; nothing was read or changed.
   */
  'VAULT_TOO_NEW',
  /**
   * The login name is not one an account can have, even with capitals lowered and the spaces around it
   * dropped (`normalizeLoginName`): 3–64 of a–z 0–9 . _ -, starting with a letter or digit. Nothing was sent.
   */
  'INVALID_LOGIN_NAME',
  /**
   * A join met a passphrase wrap at generation 0 without the account's signature: an account registered
   * before the server kept that signature, which has not published it yet — or a server relabelling a later
   * wrap as generation 0, to hand this device an older passphrase afterwards. Nothing was written (a
   * recovery-key join revokes the device certificate it registered to read the wrap). Open an existing device of the
   * account online with an up-to-date app (it publishes the signature) and join again; or, knowing the risk,
   * join with `acceptUnsignedLegacyWrap`.
   */
  'WRAPPED_ROOT_UNSIGNED',
  /**
   * createAccount: this server takes no new accounts (its operator closed registration). Nothing was stored
   * and nothing written to the vault. Ask the server's operator, or use another server.
   */
  'REGISTRATION_CLOSED',
  /**
   * createAccount: this server creates accounts only with an invite code, and none was given. Nothing was
   * stored. Ask the server's operator for a code and pass it as `invite`.
   */
  'INVITE_REQUIRED',
  /**
   * createAccount: the invite code is not one this server takes — mistyped, expired, used up or revoked (the
   * server does not say which), or not an invite code at all. Nothing was stored. Check it, or ask the
   * server's operator for a new one.
   */
  'INVITE_INVALID',
  /**
   * createAccount: the invite code is valid, but only for an account of another role (`e.role`). Nothing
   * was stored and the code is not used up: create the account with that role, or ask for another code.
   */
  'INVITE_WRONG_ROLE',
  /**
   * createAccount: the registration was sent but whether the server holds it could not be told, after
   * repeating it (backing off) a few times: the network failed each time. Nothing was written to the
   * vault. The account may exist on the server (an invite then used up): the error carries its recovery
   * key (`recoveryKey`, never in the message, not an enumerable property, so a log or JSON dump of the error
   * does not show it) — show it to the person as `createAccount` would, it is the only copy. Once online:
   * join with the recovery key (or the login name and passphrase, if one was given) — if that works, the
   * account exists; if it is ACCOUNT_NOT_FOUND, nothing was created: create it again.
   */
  'REGISTRATION_UNCONFIRMED',
  /**
   * createAccount: another account already has this login name. Nothing was stored. Choose another login
   * name (or, if it is the person's own account, join it with its passphrase).
   */
  'LOGIN_NAME_TAKEN',
  /**
   * changePassphrase: the passphrase was changed on another device since this device last took it, and the
   * old passphrase given does not open the account's current wrap. This device's vault now holds that newer
   * wrap (the one the server serves), so this device unlocks with the passphrase set on the other device,
   * no longer with the one it knew; nothing was sent. To change it again, give the passphrase set there.
   * joinWithRecoveryKey: another device changed the passphrase between this join's read of the account's
   * wrap and its write of the new one, so the server refused it; that other passphrase is in force, the
   * one given here was set nowhere. Nothing was written to the vault and the device certificate the join
   * registered was revoked: join again, with the passphrase set there or with the recovery key.
   */
  'PASSPHRASE_CHANGED_ELSEWHERE',
  /**
   * A key-derivation cost below production strength (`isProductionStrength`): passed as `kdf` without the
   * test-only `weakKdfForTests` (nothing sent, nothing written), or served by the server with the account's
   * wrap at a join without that flag (nothing derived, nothing written, no device registered). Such a wrap
   * can be guessed at cheaply by anyone who knows the login name: a production build never makes or opens one.
   */
  'WEAK_KDF',
  /**
   * unlockWithRecoveryKey, changePassphrase with a recovery key: the key is well-formed (no typo a group
   * check finds) but opens another account than the one this device holds. Nothing was written or sent.
   */
  'WRONG_RECOVERY_KEY',
  /**
   * createAccount, joinWithPassphrase, joinWithRecoveryKey: the device name is not one a device certificate
   * can carry (1 to 100 characters, counted as the server counts them: UTF-16 code units, so an emoji
   * counts 2). Nothing was derived or sent. Choose a shorter (or a non-empty) name.
   */
  'INVALID_DEVICE_NAME',
  /**
   * createAccount, not thrown: answered as `notSaved` beside the account and its recovery key. The account
   * exists on the server (its login name and any invite code are used up), but this device's vault could
   * not store it, even after trying again (`cause`: the storage's error; a full disk, a quota). The account
   * works until the app closes or it is locked; after that this device does not know it. Show the recovery
   * key as always, tell the person so, and have them join again with the login name and passphrase (or the
   * recovery key) the next time, once storage is freed.
   */
  'ACCOUNT_NOT_SAVED',
  /**
   * joinWithPassphrase, joinWithRecoveryKey: the server's account answer names a role (patient or provider)
   * the account did not sign — its `roleSig` does not verify for that role against the account's identity
   * key: a dishonest or broken server. Checked before this device is registered: nothing was registered,
   * sent or written to the vault. publishRoleSig, publishWrappingKey (with a vault): the answer names
   * another role than this device's vault holds, or carries a role signature that does not verify for it;
   * nothing is sent.
   */
  'ROLE_REFUSED',
  /**
   * The server's account answer carries no role signature where one must be: this device's vault records
   * that the account's role signature was published (the server dropped it, or lost it), or a join was
   * told to require it (`requireRoleSig`). At a join, checked before this device is registered: nothing
   * registered, sent or written; at a publication (`publishRoleSig`, `publishWrappingKey`), nothing sent.
   */
  'ROLE_UNSIGNED',
  /**
   * changePassphrase: the server took the new passphrase (it now joins new devices, and the account's other
   * devices take it at their next refresh), but this device's vault could not store the new wrap (`cause`:
   * the storage's error; a full disk, a quota). This device still unlocks with the old passphrase until its
   * vault takes the new wrap: once storage is freed, run `refreshWrappedRoot` (an open device session given
   * the vault does it when the server reports the change). Telling the person only "the change failed"
   * would be wrong: the new passphrase is the account's.
   */
  'PASSPHRASE_NOT_SAVED',
  /**
   * publishProviderProfile: a field of the profile is not one the directory takes (`field`: a display
   * name of 1 to 200 characters; specialty and clinic up to 200, identifier up to 100, contact up to 500,
   * all text; nothing else). Nothing was signed or sent.
   */
  'INVALID_PROFILE',
] as const;

export type AccountErrorCode = (typeof ACCOUNT_ERROR_CODES)[number];

/** The input field each code concerns (`field` of the error): a form marks it. */
const FIELD_OF: Partial<Record<AccountErrorCode, string>> = {
  WRONG_PASSPHRASE: 'passphrase',
  WEAK_PASSPHRASE: 'passphrase',
  INVALID_RECOVERY_KEY: 'recoveryKey',
  WRONG_RECOVERY_KEY: 'recoveryKey',
  INVALID_LOGIN_NAME: 'loginName',
  LOGIN_NAME_TAKEN: 'loginName',
  INVALID_DEVICE_NAME: 'deviceName',
  INVITE_REQUIRED: 'invite',
  INVITE_INVALID: 'invite',
  INVITE_WRONG_ROLE: 'invite',
};

export class AccountError extends HaleError {
  readonly code: AccountErrorCode;
  /** INVALID_RECOVERY_KEY: 1-based index of the first group that failed its check. */
  readonly group?: number;
  /** INVITE_WRONG_ROLE: the role the invite code is for. */
  readonly role?: AccountRole;
  /**
   * REGISTRATION_UNCONFIRMED: the recovery key of the account that may have been created (the only copy).
   * Not enumerable: a logger or JSON.stringify of the error leaves it out; read it only to show it.
   */
  declare readonly recoveryKey?: string;

  constructor(
    code: AccountErrorCode,
    message: string,
    extra: {
      readonly group?: number;
      readonly role?: AccountRole;
      readonly cause?: unknown;
      readonly recoveryKey?: string;
      /** The input field at fault, where the code alone does not name it (INVALID_PROFILE). */
      readonly field?: string;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'AccountError';
    this.code = code;
    const field = extra.field ?? FIELD_OF[code];
    if (field !== undefined) this.field = field;
    if (extra.group !== undefined) this.group = extra.group;
    if (extra.role !== undefined) this.role = extra.role;
    if (extra.recoveryKey !== undefined) {
      Object.defineProperty(this, 'recoveryKey', { value: extra.recoveryKey, enumerable: false });
    }
  }
}

export const isAccountError = (e: unknown): e is AccountError => e instanceof AccountError;
