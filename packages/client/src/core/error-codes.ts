/**
 * The client's one error table: every code a call of `@hale/client` throws or rejects with (`HaleError`'s
 * `code`), with the words the app shows a person (English; the app's translations key off the code) and
 * what to do. The protocol's codes the client passes through are the protocol's table (`ERROR_CODES`:
 * retry and action from there), given words here; the client's own follow, by area.
 *
 * Invariants:
 * - Append-only: a code is never removed, renamed or reused with another meaning (a test pins the order).
 * - No code is both the protocol's and the client's own (a type check below and a test).
 * - Every code has words (a sentence or two for a person: what happened, what they can do) and an action.
 * - `HaleError.code` is a `HaleErrorCode`: a class throwing a code not here fails to compile.
 * - An area's code list (ACCOUNT_ERROR_CODES, …) is a subset of this table, checked where it is declared.
 * - Words never carry a key, a passphrase, record content or an id.
 */
import { ERROR_CODES, ERROR_CODE_LIST, type ClientAction, type ErrorCode } from '@hale/protocol';

/**
 * The client's own actions, beside the protocol's (ClientAction): `fix-input` the person changes what they
 * typed or chose; `unlock` unlock the account, then try again (nothing typed is lost); `reread` read the
 * current state again and decide again; `ask` only someone else can help (the patient, a record's author,
 * the server's operator, the other device); `rejoin` add this device to the account again; `report` nothing
 * to do on this device but say so (a fault, damage or tampering it will not take).
 */
export const CLIENT_ERROR_ACTIONS = ['fix-input', 'unlock', 'reread', 'ask', 'rejoin', 'report'] as const;

/** What the caller (the app, or the person through it) does about a failure. */
export type HaleErrorAction = ClientAction | (typeof CLIENT_ERROR_ACTIONS)[number];

/** One row of `HALE_ERRORS`: an error code's words for a person, whether to retry and what to do. */
export interface HaleErrorInfo {
  /** Whether the same call may succeed later, unchanged. */
  readonly retry: boolean;
  readonly action: HaleErrorAction;
  /** What the app shows a person, in English: what happened and what they can do. */
  readonly words: string;
}

/** Words for the protocol's codes (their retry and action are the protocol's): a new code fails to compile. */
const PROTOCOL_WORDS: Readonly<Record<ErrorCode, string>> = {
  GRANT_NOT_SUPERSEDABLE:
    'This sharing has ended or was changed meanwhile, perhaps on another of your devices. Look at it again.',
  GRANT_SUPERSEDED: 'This sharing was replaced by a change. Revoke the current one instead.',
  BAD_MESSAGE:
    'The server could not take what this device sent. Update the app; if it keeps happening, report it.',
  TOO_LARGE: 'This is too large to send. Make it smaller or split it.',
  UNSUPPORTED_VERSION: 'This version of Hale cannot talk to the server. Update the app.',
  UNAUTHENTICATED:
    'The server did not recognise this device. Try again; if it keeps happening, sign in again.',
  SESSION_EXPIRED: 'The connection to the server expired. Hale signs in again by itself.',
  CHALLENGE_INVALID: 'Signing in to the server did not finish. Hale tries again by itself.',
  BAD_SIGNATURE:
    'The server refused a signature of this device. Update the app; if it keeps happening, report it.',
  /** Also FileError's: the server refused this account the stream (`serverCode`: the consent code, or FORBIDDEN). */
  FORBIDDEN: 'You are not allowed to do this.',
  NO_CONSENT: 'No one has shared these records with you.',
  CONSENT_EXPIRED: 'The sharing of these records has ended.',
  CONSENT_REVOKED: 'The patient stopped sharing these records with you.',
  DEVICE_REVOKED: 'This device was removed from the account. Add it again to use it.',
  /**
   * Also the client's own: a record not held here or of another kind (records, care), a grant (consent), a
   * file never stored under the id (files, `retry`: another device may not have uploaded it yet).
   */
  NOT_FOUND: 'It is not there: not on this device, or no longer on the server.',
  /**
   * Also RecordError's: `add` with the id of a record this device already holds (use `update`), or of a
   * deleted record of another kind or patient (use a new id).
   */
  ALREADY_EXISTS: 'This already exists.',
  CONFLICT: 'This changed elsewhere meanwhile. Look at it again, then try again.',
  APPEND_ONLY: 'The access history cannot be changed.',
  STALE_EPOCH: 'The keys of these records changed meanwhile. Hale tries again by itself.',
  REV_MISMATCH: 'The server refused this version of a record. Hale tries again by itself.',
  DIGEST_MISMATCH: 'A part of a file was damaged on the way. Hale sends it again.',
  RATE_LIMITED: 'Too many tries. Wait a minute, then try again.',
  TOO_MANY_CONNECTIONS: 'This account has too many connections open. Close Hale elsewhere, or wait.',
  UNAVAILABLE: 'The server is busy or starting. Try again in a moment.',
  INTERNAL: 'The server failed. Try again later.',
  TOO_MANY_GRANTS: 'Too many shares are active. End one first, or wait for one to end.',
  BAD_CURSOR: 'The list changed while it was read. Open it again.',
  QUOTA_EXCEEDED:
    'Your account has no room left on the server. Remove files, or ask the server operator for more.',
  REGISTRATION_CLOSED: 'This server takes no new accounts.',
  INVITE_INVALID: 'That invite code is not valid, or has been used up.',
  BLOB_DELETED: 'This file was deleted.',
  TOO_MANY_ACCEPTED: 'You have accepted as many patients as you may. Stop accepting one first.',
  TOO_MANY_DEVICES:
    'This account has as many devices as it may have. Remove one in Settings on another device.',
  HEAD_NOT_CURRENT: 'These records changed on the server meanwhile. Hale tries again after syncing.',
  HEAD_MISMATCH: 'This device holds another state of these records than the server. Hale syncs them again.',
  HEAD_STALE: 'A newer state of these records is already on the server.',
  AVAILABILITY_STALE: 'Newer free times are already published. Publish again.',
  PAIRING_UNKNOWN:
    'No pairing has this code. It may be mistyped, or it ended (a code lasts 10 minutes): start again on the new device.',
  PAIRING_TAKEN:
    'Another device answered this code first. If that was not you, cancel on the new device and start again.',
  /**
   * Also RecordError's: the record is another account's to change (the model's `authorshipIssues`); nothing
   * is written.
   */
  NOT_AUTHOR: 'Only its author can change this record. Ask them for a correction.',
  /** A push row whose partner in the same action (a note's header and its text) was refused: none stored. */
  GROUP_REFUSED: 'Another part of the same change was refused, so none of it was saved to the server.',
};

/** The client's own codes, by area. Append-only: a new code goes at the end. */
const CLIENT_ERRORS = {
  // ── Server calls (api/errors.ts, the sync connection) ──
  /** No answer: offline, DNS, connection reset, or the socket dropped before the reply. */
  NETWORK: {
    retry: true,
    action: 'backoff',
    words: 'The server cannot be reached. Check your connection, then try again.',
  },
  /**
   * An answer that is not what the protocol promises: wrong status, a redirect, not JSON, fails its schema.
   * A HaleClientError's own `retry` and `action` follow its status (5xx or 429: `retry`, `backoff`).
   */
  BAD_RESPONSE: {
    retry: false,
    action: 'report',
    words:
      'The server answered with something Hale cannot read. Check the server address, or try again later.',
  },
  /** No complete answer within the call's time limit. */
  TIMEOUT: { retry: true, action: 'backoff', words: 'The server did not answer in time. Try again.' },

  // ── Account and device session (core/account-error.ts) ──
  /** The passphrase does not open the wrapped root. Nothing was written. */
  WRONG_PASSPHRASE: {
    retry: false,
    action: 'fix-input',
    words: 'That passphrase is not right. Check it and try again.',
  },
  /** The recovery key is malformed or mistyped; `group` names the first bad group when known. */
  INVALID_RECOVERY_KEY: {
    retry: false,
    action: 'fix-input',
    words: 'That recovery key is not right. Check each group against what you wrote down.',
  },
  /** This device's vault holds no account (create or join first). */
  NO_ACCOUNT: {
    retry: false,
    action: 'fix-request',
    words: 'There is no account on this device. Create one, or add this device to yours.',
  },
  /** The server knows no account for this login name or recovery key. */
  ACCOUNT_NOT_FOUND: {
    retry: false,
    action: 'fix-input',
    words: 'No account has that sign-in name on this server.',
  },
  /** This device's vault already holds an account; remove it before creating or joining another. */
  ACCOUNT_EXISTS: {
    retry: false,
    action: 'fix-request',
    words: 'This device already has an account. Sign out of it first.',
  },
  /** The server's account record does not belong to the keys we derived (wrong or lying server). */
  ACCOUNT_MISMATCH: {
    retry: false,
    action: 'report',
    words: 'The server answered for another account. Check the server address.',
  },
  /** The vault record is malformed or does not belong to the root it unlocked. */
  VAULT_CORRUPT: {
    retry: false,
    action: 'rejoin',
    words: 'The account stored on this device is damaged. Sign out of this device and add it again.',
  },
  /** The wrapped root from the vault or server is malformed or has out-of-range KDF parameters. */
  BAD_WRAPPED_ROOT: {
    retry: false,
    action: 'report',
    words: 'The locked account key is damaged, so it was not opened. Check the server address, or report it.',
  },
  /** The passphrase is shorter than MIN_PASSPHRASE_LENGTH characters. */
  WEAK_PASSPHRASE: {
    retry: false,
    action: 'fix-input',
    words: 'This passphrase is too weak. Choose a longer one.',
  },
  /**
   * The account was locked: its secret key bytes are gone. Unlock again. (Also a SyncError: the connection
   * cannot sign in once the account is locked.)
   */
  LOCKED: {
    retry: false,
    action: 'unlock',
    words: 'Hale is locked. Unlock it and try again: what you typed is kept.',
  },
  /**
   * Only a provider account may do this: publish directory profiles or availability, keep its own entries
   * (care), accept patients (consent).
   */
  NOT_A_PROVIDER: { retry: false, action: 'fix-request', words: 'Only a clinician account can do this.' },
  /**
   * The server offered a passphrase wrap this device will not take: not signed by the account's identity
   * key, for another account, or older than (or different from) the generation this device holds — a
   * replay of a passphrase that was changed. Nothing was written.
   */
  WRAPPED_ROOT_REFUSED: {
    retry: false,
    action: 'report',
    words:
      'The server offered an account key this device does not trust, so it was not taken. Use your recovery key.',
  },
  /**
   * openDeviceSession: a session of this device database (same storage and database name) is already
   * open or opening in this process, or, by the injected `deviceLock`, in another tab, window or process
   * (removeDeviceDb too). Use that one, or close it first. Nothing was opened.
   */
  SESSION_ALREADY_OPEN: {
    retry: true,
    action: 'ask',
    words: 'Hale is open in another tab or window. Close it there, then try again here.',
  },
  /**
   * The vault's account record was written by a newer version of the app, in a format this version cannot
   * read (e.g. after going back to an older app version). Update the app; nothing was read or changed.
   */
  VAULT_TOO_NEW: {
    retry: false,
    action: 'upgrade',
    words: 'A newer version of Hale stored this account. Update the app to open it.',
  },
  /**
   * The login name is not one an account can have, even with capitals lowered and the spaces around it
   * dropped (`normalizeLoginName`): 3–64 of a–z 0–9 . _ -, starting with a letter or digit. Nothing was sent.
   */
  INVALID_LOGIN_NAME: {
    retry: false,
    action: 'fix-input',
    words: 'A sign-in name has 3 to 64 characters: letters a-z, digits, dots, underscores and hyphens.',
  },
  /**
   * Not raised: every account registers with its generation-0 signature, and a served wrap without a
   * signature is refused as malformed. Kept because the table is append-only.
   */
  WRAPPED_ROOT_UNSIGNED: {
    retry: false,
    action: 'ask',
    words:
      'The account key on the server is not signed yet. Open Hale on one of your other devices, then try again.',
  },
  /**
   * createAccount: this server creates accounts only with an invite code, and none was given. Nothing was
   * stored. Ask the server's operator for a code and pass it as `invite`.
   */
  INVITE_REQUIRED: {
    retry: false,
    action: 'fix-input',
    words: 'This server needs an invite code to create an account.',
  },
  /**
   * createAccount: the invite code is valid, but only for an account of another role (`e.role`). Nothing
   * was stored and the code is not used up: create the account with that role, or ask for another code.
   */
  INVITE_WRONG_ROLE: {
    retry: false,
    action: 'fix-input',
    words: 'That invite code is for another kind of account (patient or clinician).',
  },
  /**
   * createAccount: the registration was sent but whether the server holds it could not be told, after
   * repeating it (backing off) a few times: the network failed each time. Nothing was written to the
   * vault. The account may exist on the server (an invite then used up): the error carries its recovery
   * key (`recoveryKey`, never in the message, not an enumerable property, so a log or JSON dump of the
   * error does not show it) — show it to the person as `createAccount` would, it is the only copy. Once
   * online: join with the recovery key (or the login name and passphrase, if one was given) — if that
   * works, the account exists; if it is ACCOUNT_NOT_FOUND, nothing was created: create it again.
   */
  REGISTRATION_UNCONFIRMED: {
    retry: false,
    action: 'rejoin',
    words:
      'The account may or may not have been created: the connection failed. Write down the recovery key shown, then add this device with it once online.',
  },
  /**
   * createAccount: another account already has this login name. Nothing was stored. Choose another login
   * name (or, if it is the person's own account, join it with its passphrase).
   */
  LOGIN_NAME_TAKEN: {
    retry: false,
    action: 'fix-input',
    words: 'That sign-in name is taken. Choose another.',
  },
  /**
   * changePassphrase: the passphrase was changed on another device since this device last took it, and the
   * old passphrase given does not open the account's current wrap. This device's vault now holds that newer
   * wrap, so this device unlocks with the passphrase set on the other device; nothing was sent.
   * joinWithRecoveryKey: another device changed the passphrase between this join's read of the account's
   * wrap and its write of the new one, so the server refused it; that other passphrase is in force. Nothing
   * was written to the vault and the device certificate the join registered was revoked: join again.
   */
  PASSPHRASE_CHANGED_ELSEWHERE: {
    retry: false,
    action: 'fix-input',
    words: 'Your passphrase was changed on another device. Use the new one.',
  },
  /**
   * A key-derivation cost below production strength (`isProductionStrength`): passed as `kdf` without the
   * test-only `weakKdfForTests` (nothing sent, nothing written), or served by the server with the account's
   * wrap at a join without that flag (nothing derived, nothing written, no device registered).
   */
  WEAK_KDF: {
    retry: false,
    action: 'report',
    words: 'The server offered an account key protected too weakly, so it was not used. Report it.',
  },
  /**
   * unlockWithRecoveryKey, changePassphrase with a recovery key: the key is well-formed (no typo a group
   * check finds) but opens another account than the one this device holds. Nothing was written or sent.
   */
  WRONG_RECOVERY_KEY: {
    retry: false,
    action: 'fix-input',
    words: 'That recovery key belongs to another account.',
  },
  /**
   * createAccount, joinWithPassphrase, joinWithRecoveryKey: the device name is not one a device certificate
   * can carry (1 to 100 characters, counted as UTF-16 code units, so an emoji counts 2). Nothing was sent.
   */
  INVALID_DEVICE_NAME: {
    retry: false,
    action: 'fix-input',
    words: 'A device name has 1 to 100 characters.',
  },
  /**
   * createAccount, not thrown: answered as `notSaved` beside the account and its recovery key. The account
   * exists on the server, but this device's vault could not store it (`cause`: a full disk, a quota). It
   * works until the app closes or it is locked. Show the recovery key as always, and have the person join
   * again next time, once storage is freed.
   */
  ACCOUNT_NOT_SAVED: {
    retry: false,
    action: 'rejoin',
    words:
      'Your account was created, but this device could not store it. Write down the recovery key; next time, add this device again.',
  },
  /**
   * joinWithPassphrase, joinWithRecoveryKey: the server's account answer names a role the account did not
   * sign (its `roleSig` does not verify): a dishonest or broken server; nothing registered, sent or written.
   * publishRoleSig, publishWrappingKey: the answer names another role than the vault holds; nothing sent.
   */
  ROLE_REFUSED: {
    retry: false,
    action: 'report',
    words:
      'The server named another kind of account than yours, so nothing was done. Check the server address.',
  },
  /**
   * The server's account answer carries no role signature where one must be (the vault records it was
   * published, or a join required it). Nothing registered, sent or written.
   */
  ROLE_UNSIGNED: {
    retry: false,
    action: 'report',
    words:
      'The server did not prove what kind of account this is, so nothing was done. Check the server address.',
  },
  /**
   * changePassphrase: the server took the new passphrase, but this device's vault could not store the new
   * wrap (`cause`: a full disk, a quota). This device still unlocks with the old passphrase until its vault
   * takes it: once storage is freed, run `refreshWrappedRoot`. The new passphrase is the account's.
   */
  PASSPHRASE_NOT_SAVED: {
    retry: true,
    action: 'backoff',
    words:
      'Your new passphrase is in force, but this device could not store it: here, the old one still unlocks until storage is freed.',
  },
  /**
   * publishProviderProfile: a field of the profile is not one the directory takes (`field`: a display
   * name of 1 to 200 characters; specialty and clinic up to 200, identifier up to 100, contact up to 500,
   * all text; nothing else). Nothing was signed or sent.
   */
  INVALID_PROFILE: {
    retry: false,
    action: 'fix-input',
    words: 'A field of the profile is too long or empty.',
  },

  // ── Records (records/record-errors.ts) ──
  /** The record fails the model's schema or a write rule (`issues`: every field at fault, `field` the first). */
  VALIDATION_FAILED: {
    retry: false,
    action: 'fix-input',
    words: 'Some fields need a change. They are marked.',
  },
  /** The record cannot be stored as it is (not plain data). */
  NOT_STORABLE: {
    retry: false,
    action: 'fix-request',
    words: 'This record cannot be stored as it is.',
  },
  /** This device may not write the stream (`reason`: no consent, read-only, expired, revoked). */
  NOT_WRITABLE: { retry: false, action: 'ask', words: 'You may only read this record.' },
  /** The id names a record of another kind than the call's. */
  KIND_MISMATCH: {
    retry: false,
    action: 'fix-request',
    words: 'This record is of another kind than expected.',
  },
  /**
   * `resolveConflict` named a revision (`expectedRv`) the record no longer has, or none; or `update` sent
   * back a whole record read before a later write. Nothing is written; re-read the record and decide again.
   */
  RECORD_CHANGED: {
    retry: false,
    action: 'reread',
    words: 'This record changed while you were editing. Check it, then save again.',
  },
  /**
   * The write changes what is final (`field` names it): an earlier version of a versioned record, a
   * signed NoteSignature, a signed or no longer current NoteVersion, a signed or amended MedicalNote, a
   * withdrawn acknowledgement. Nothing is written.
   */
  RECORD_FINAL: {
    retry: false,
    action: 'fix-input',
    words: 'This part of the record is final and cannot be changed.',
  },
  /**
   * A field naming who wrote, edited, signed, sent, uploaded or acknowledged (`field`) names an account
   * or device other than this session's. Leave it out: the API fills it. Nothing is written.
   */
  AUTHOR_MISMATCH: {
    retry: false,
    action: 'fix-request',
    words: 'This record names another author and cannot be changed here.',
  },

  // ── Consent (consent/consent-types.ts) ──
  /**
   * Consent: the grantee's wrapping key is not the one compared (safety number). Files: the stream was
   * re-keyed before or during each of MAX_PUT_ATTEMPTS uploads; nothing handed out, `retry`.
   */
  KEY_CHANGED: {
    retry: false,
    action: 'reread',
    words: 'The key for this person or these records changed. Compare the safety number again, or try again.',
  },
  /** The grantee's account is not known to the server. */
  UNKNOWN_ACCOUNT: {
    retry: false,
    action: 'fix-input',
    words: 'This account is not known to the server. Check the invite or search the directory.',
  },
  /** The grant's scope is empty or names what cannot be shared. */
  BAD_SCOPE: { retry: false, action: 'fix-input', words: 'Choose at least one kind of record to share.' },
  /** The grant's end is not in the future, or both an end and a duration were given. */
  BAD_EXPIRY: { retry: false, action: 'fix-input', words: 'Choose an end in the future.' },
  /** What was scanned or pasted is no Hale invite. */
  BAD_INVITE: {
    retry: false,
    action: 'fix-input',
    words: 'This is not a Hale invite. Ask for the invite QR code again, or copy the whole link.',
  },
  /** The server's wrapping key for an account cannot be verified: nothing may be wrapped to it. */
  WRAPPING_KEY_UNVERIFIED: {
    retry: true,
    action: 'report',
    words: 'The key the server gives for this account cannot be checked, so nothing was shared with it.',
  },
  /** Not an account id, or this account's own (acceptance). */
  BAD_ACCOUNT_ID: { retry: false, action: 'fix-input', words: 'That is not an account you can choose here.' },
  /** Not raised: the protocol has one version, which every call needs. Kept because the table is append-only. */
  SERVER_TOO_OLD: {
    retry: false,
    action: 'ask',
    words: 'The server is too old for this. Ask its operator to update it.',
  },
  /** A field of a grant the protocol refuses, other than those above (e.g. a purpose over 500 characters). */
  BAD_GRANT: {
    retry: false,
    action: 'fix-input',
    words: 'This share cannot be made as it is. Check the purpose (at most 500 characters).',
  },

  // ── Pairing (pairing/errors.ts) ──
  /** What was typed or scanned is no pairing code (10 letters and digits). Nothing was sent. */
  INVALID_PAIRING_CODE: {
    retry: false,
    action: 'fix-input',
    words: 'That is not a pairing code. It has ten letters and digits; check it on the new device.',
  },
  /** The pairing's 10 minutes ran out before it finished; start again on the new device. */
  PAIRING_EXPIRED: {
    retry: false,
    action: 'reread',
    words: 'The pairing took longer than 10 minutes and ended. Start again on the new device.',
  },
  /** The other device cancelled (its person refused, or saw other digits). */
  PAIRING_REFUSED: {
    retry: false,
    action: 'accept',
    words: 'The other device stopped the pairing. Nothing was sent.',
  },
  /** This device cancelled (`cancel`, `refuse`). */
  PAIRING_CANCELLED: {
    retry: false,
    action: 'accept',
    words: 'The pairing was cancelled on this device. Nothing was sent.',
  },
  /**
   * A message did not pass its check: a reveal that does not open its commitment, a box that does not
   * authenticate, a key that is no key. The server (or someone) changed what was relayed; nothing was taken.
   */
  PAIRING_TAMPERED: {
    retry: false,
    action: 'report',
    words:
      'A message between the devices was changed on the way, so the pairing stopped and nothing was sent. Try again; if it happens again, your server or network may not be safe.',
  },
  /** A call made at the wrong moment (e.g. `confirm` before the digits are shown, `approve` twice). */
  PAIRING_WRONG_STATE: {
    retry: false,
    action: 'fix-request',
    words: 'The pairing is no longer at that step. Start again.',
  },
  /** This server has no pairing relay (an older server): join with the passphrase or the recovery key. */
  PAIRING_UNSUPPORTED: {
    retry: false,
    action: 'rejoin',
    words: 'This server cannot pair devices. Add this device with your passphrase or recovery key instead.',
  },

  // ── Audit log (audit/errors.ts) ──
  /**
   * recorded: an entry whose author's device list could not be loaded may be the one looked for, so that
   * one is not answered: ask again later (`unverified`, `undecided`, `found`). Nothing appended or kept.
   */
  AUDIT_LOOKUP_UNVERIFIED: {
    retry: true,
    action: 'backoff',
    words: 'The access history cannot be checked completely yet. Try again later.',
  },
  /**
   * An entry for a patient whose wrapping key the directory does not give (unknown, or not verifiable):
   * none is made (with `appendAll`, none of the batch). Nothing appended or kept.
   */
  AUDIT_NO_WRAPPING_KEY: {
    retry: true,
    action: 'backoff',
    words: 'The access history of this patient cannot be written now. Try again later.',
  },
  /** The server refuses to serve the patient's log to this account (`reason`: its code). */
  AUDIT_NOT_READABLE: { retry: false, action: 'ask', words: 'You may not read this access history.' },

  // ── Files (files/file-errors.ts) ──
  /** A field of the input is not what the call takes (files: `field` names it; care: a time zone, …). */
  INVALID_INPUT: {
    retry: false,
    action: 'fix-input',
    words: 'Something in the form is not right. Check it and try again.',
  },
  /** The session was opened without an HTTP API that has the blob routes. Nothing was sent. */
  NO_HTTP_API: {
    retry: false,
    action: 'fix-request',
    words: 'Files cannot be sent or fetched from this app.',
  },
  /**
   * No key of the stream to seal with, or none a chunk names (files); no key yet to write some records
   * (sync, `retry`). Nothing was sent, or no bytes were returned.
   */
  NO_KEY: {
    retry: true,
    action: 'backoff',
    words: 'This device cannot open or send this yet. It will once it has synced.',
  },
  /** A chunk does not hash to its manifest digest, or its seal does not authenticate: altered bytes. */
  TAMPERED: {
    retry: false,
    action: 'report',
    words: 'The file from the server was altered. It was not opened.',
  },
  /** A chunk sealed for another blob, index or epoch, or a blob filed under another id or stream. */
  CONTEXT_MISMATCH: {
    retry: false,
    action: 'report',
    words: 'The server sent another file than the one asked for. It was not opened.',
  },
  /** The manifest's size or chunk count, or a chunk's length, differs from what the FileRef says. */
  SIZE_MISMATCH: {
    retry: false,
    action: 'report',
    words: 'The file from the server is not the size recorded. It was not opened.',
  },
  /** Every chunk opened, but the file's sha256 is not fileRef.sha256 (or a queued file's bytes changed). */
  HASH_MISMATCH: {
    retry: false,
    action: 'report',
    words: 'The file from the server is not the one recorded. It was not opened.',
  },
  /**
   * The server does not hold every chunk of the blob: get, `retry` (part uploaded, or lost); put, the server
   * did not confirm every chunk, `retry` with `resumeBlobId`.
   */
  INCOMPLETE: {
    retry: true,
    action: 'backoff',
    words: 'The file is not complete on the server yet. Try again later.',
  },
  /** No answer from the server (`serverCode` NETWORK, TIMEOUT, or STOPPED after goOffline()). `retry`. */
  OFFLINE: {
    retry: true,
    action: 'backoff',
    words: 'The server cannot be reached. Try again when online.',
  },
  /** Any other refusal (`serverCode`, e.g. QUOTA_EXCEEDED, RATE_LIMITED); `retry` as the server says. */
  REFUSED: { retry: false, action: 'report', words: 'The server refused this file.' },
  /** Fetching or reading the stream's keys failed other than by an answer (`cause`). Nothing handed out. */
  KEYRING_FAILED: {
    retry: false,
    action: 'report',
    words: 'The keys of these records could not be read on this device.',
  },
  /** The upload queue holds its most files or bytes already, or there is no store to queue in. `retry`. */
  QUEUE_FULL: {
    retry: true,
    action: 'backoff',
    words: 'Too many files are waiting to upload. Try again once they are sent.',
  },
  /** The file was deleted on the server (`serverCode` BLOB_DELETED): it will not come back. */
  DELETED: { retry: false, action: 'accept', words: 'This file was deleted.' },
  /**
   * The device store could not hand out the bytes of a queued file (`cause`: QueuedBytesError; `retry`
   * when its read failed), or the upload queue cannot be read.
   */
  STORAGE_FAILED: {
    retry: false,
    action: 'report',
    words: 'This device could not read the file it kept. Add the file again.',
  },

  // ── The upload queue's stored bytes (files/upload-queue-store.ts, QueuedBytesError) ──
  /** A chunk of a queued file is not stored (lost on this device). */
  MISSING: {
    retry: false,
    action: 'report',
    words: 'Part of a file kept on this device is lost. Add the file again.',
  },
  /** A stored chunk never reads (it fails to open at rest, or is not a chunk's text). */
  UNREADABLE: {
    retry: false,
    action: 'report',
    words: 'Part of a file kept on this device is damaged. Add the file again.',
  },
  /** The store failed to read a chunk (an I/O error: may pass). */
  READ_FAILED: {
    retry: true,
    action: 'backoff',
    words: 'This device could not read a file it kept. Try again.',
  },
  /** A chunk read fine, but is not the bytes the file's FileRef describes. */
  MISMATCH: {
    retry: false,
    action: 'report',
    words: 'A file kept on this device changed. Add the file again.',
  },

  // ── Care (care/errors.ts) ──
  /** The move is not this account's to make (only the provider confirms, only the patient accepts). */
  NOT_YOURS: { retry: false, action: 'fix-request', words: 'Only the other party can do this.' },
  /** The appointment's status does not allow the move (a cancelled one is not confirmed). */
  WRONG_STATE: { retry: false, action: 'reread', words: 'This changed meanwhile. Look at it again.' },
  /** Another booking of this provider's time was confirmed first. */
  SLOT_TAKEN: { retry: false, action: 'reread', words: 'That time was just taken. Choose another one.' },
  /** The slot is not among the provider's published free slots. */
  NOT_A_SLOT: { retry: false, action: 'reread', words: 'That time is no longer free. Choose another one.' },
  /** The patient has not given the provider write access to the record kind the flow needs. */
  NO_GRANT: {
    retry: false,
    action: 'ask',
    words: 'This needs the patient to share this kind of record with the clinician (read and write) first.',
  },
  /** The provider published no availability (or the server keeps none). */
  NO_AVAILABILITY: {
    retry: false,
    action: 'accept',
    words: 'No free times are published. Ask for a time instead.',
  },
  /** The availability served is not signed by the provider's identity key, or is not the provider's. */
  AVAILABILITY_FORGED: {
    retry: false,
    action: 'report',
    words: 'The free times the server sent are not signed by this clinician, so they are not shown.',
  },
  /** Nothing was kept of this patient (no entry of this account's while a grant stood). */
  NOTHING_KEPT: {
    retry: false,
    action: 'accept',
    words: 'This device kept none of your entries for this patient.',
  },

  // ── Records in and out (io/io-error.ts) ──
  /** The file is refused whole (`reason`: a FHIR_IMPORT_FAILURES code of @hale/model; `issues`). */
  IMPORT_REFUSED: {
    retry: false,
    action: 'fix-input',
    words: 'This file cannot be imported. Nothing was added.',
  },
  /** A write or upload failed midway; the records written by this import were removed again. */
  IMPORT_FAILED: {
    retry: true,
    action: 'backoff',
    words: 'The import failed midway, and nothing was added. Try again.',
  },
  /** The server refused a link call (`status`, its code in the message). */
  LINK_REFUSED: { retry: false, action: 'report', words: 'The server refused this link.' },
  /** A `shlink:/` text that is no SMART Health Link, or content that does not decrypt. */
  LINK_INVALID: { retry: false, action: 'fix-input', words: 'This is not a health link Hale can open.' },
  /** The link is unknown, expired, revoked or locked (the spec's 404). */
  LINK_NOT_FOUND: { retry: false, action: 'ask', words: 'This link has ended or was withdrawn.' },
  /** The passcode was wrong (`remainingAttempts` says how many tries are left). */
  LINK_PASSCODE_WRONG: { retry: false, action: 'fix-input', words: 'That passcode is not right.' },

  // ── Encryption at rest (offload/at-rest-jobs.ts) ──
  /** A stored value does not open under the at-rest key (`details.reason`). */
  AT_REST_DECRYPT_FAILED: {
    retry: false,
    action: 'report',
    words: 'Data stored on this device is damaged and cannot be opened.',
  },
  /** A value could not be sealed for storage. */
  AT_REST_ENCRYPT_FAILED: {
    retry: false,
    action: 'report',
    words: 'Hale could not store this on this device.',
  },
  /** An at-rest key that is not AT_REST_KEY_LENGTH bytes. */
  AT_REST_INVALID_KEY: {
    retry: false,
    action: 'report',
    words: 'Hale could not open its storage on this device.',
  },
  /** A collection schema the at-rest wrapper does not take. */
  AT_REST_UNSUPPORTED_SCHEMA: {
    retry: false,
    action: 'report',
    words: 'Hale could not open its storage on this device.',
  },
  /** A query on a field that is stored sealed. */
  AT_REST_QUERY_ON_ENCRYPTED_FIELD: {
    retry: false,
    action: 'report',
    words: 'Hale could not search its storage on this device.',
  },
  /** No at-rest key yet (the account is not unlocked). */
  AT_REST_NO_KEY: { retry: false, action: 'unlock', words: 'Hale is locked. Unlock it and try again.' },
  /** The store was closed. */
  AT_REST_CLOSED: { retry: false, action: 'unlock', words: 'Hale was closed. Open it again.' },

  // ── Crypto offload (offload/crypto-offload.ts) ──
  /** The worker sent a message that could not be read; the jobs it ran failed and it was replaced. */
  WORKER_MESSAGE_UNREADABLE: {
    retry: true,
    action: 'backoff',
    words: 'Hale could not finish this. Try again.',
  },
  /** The worker could not run the job, with no typed error of the job's own. */
  WORKER_JOB_FAILED: {
    retry: false,
    action: 'report',
    words: 'Hale could not finish this. Reload, then try again.',
  },
  /** No worker could start: jobs run on the calling thread (a report, never a rejection). */
  WORKER_UNAVAILABLE: { retry: false, action: 'accept', words: 'Hale runs slower on this device.' },

  // ── Device metadata and drafts (store/device-meta.ts, hale/drafts.ts) ──
  /** A stored value fails its schema (damaged, or written by another build). */
  META_INVALID: { retry: false, action: 'report', words: 'Settings stored on this device are damaged.' },
  /** A draft key that is no short text, values that are not plain, or larger than MAX_DRAFT_CHARS. */
  INVALID_DRAFT: {
    retry: false,
    action: 'fix-request',
    words: 'What you typed is too large to keep as a draft.',
  },

  // ── Keys (sync/keyring-types.ts, sync/device-directory-types.ts) ──
  /** A stream key claimed for an epoch this device holds none of. */
  CLAIM_UNCONFIRMED: {
    retry: true,
    action: 'backoff',
    words: 'This device does not have the keys of these records yet. It will once it has synced.',
  },
  /** The server's wrapping key for an account changed from the one this device pinned. */
  WRAPPING_KEY_CHANGED: {
    retry: false,
    action: 'report',
    words:
      'The key the server gives for this account changed, so nothing was shared with it. Compare the safety number again.',
  },

  // ── Sync (sync/connection.ts and the engine: SyncError) ──
  /** The connection was stopped while the request waited (offline, closed). */
  STOPPED: { retry: false, action: 'accept', words: 'Sync is stopped. Go online to send.' },
  /** The server does not know this device (restored from an older backup, removed, or another server). */
  DEVICE_UNKNOWN: {
    retry: false,
    action: 'rejoin',
    words:
      'The server does not know this device. Check the server address, or add this device again with your passphrase or recovery key.',
  },
  /** The server's handshake is not the protocol's. */
  BAD_HANDSHAKE: {
    retry: false,
    action: 'report',
    words: 'The server does not speak Hale. Check the server address.',
  },
  /** The connection gave up for good (a refusal of this device); start it again. */
  FATAL: { retry: false, action: 'stop', words: 'Sync stopped: the server refused this device.' },
  /** A dismissal of a set-aside version could not be written to the audit log; nothing was dismissed. */
  DISMISSAL_NOT_AUDITED: {
    retry: true,
    action: 'backoff',
    words: 'This could not be noted in the access history, so nothing was dismissed. Try again.',
  },
  /** Local changes wait for newer server versions that cannot be verified yet (RxDB sends again). */
  CONFLICT_WAIT: { retry: true, action: 'backoff', words: 'Some changes wait for newer versions to arrive.' },
  /** No quarantine entry for that revision. */
  NOT_QUARANTINED: { retry: false, action: 'reread', words: 'This version is no longer set aside.' },
  /** The content of a set-aside version is not kept. */
  VERSION_NOT_KEPT: { retry: false, action: 'accept', words: 'The content of this version was not kept.' },

  // ── Device vaults (platform-web, platform-node) ──
  /** The browser's storage (IndexedDB) cannot be opened (private mode, storage turned off). */
  VAULT_UNAVAILABLE: {
    retry: false,
    action: 'ask',
    words:
      'This browser does not let Hale store your account. Allow storage for this site, or use another browser.',
  },
  /** The vault could not be written (a full disk, a quota); the previous one stays. */
  VAULT_WRITE_FAILED: {
    retry: true,
    action: 'backoff',
    words: 'This device could not store your account. Free some space, then try again.',
  },
  /** The vault file is unreadable or malformed (never read as empty). */
  VAULT_UNREADABLE: {
    retry: false,
    action: 'report',
    words: 'The account stored on this device cannot be read.',
  },

  // ── Sync, continued ──
  /** The server answered with a code this build does not know (a newer server): kept as `wireCode`. */
  SERVER_CODE_UNKNOWN: {
    retry: false,
    action: 'upgrade',
    words: 'The server answered with something this version of Hale does not know. Update the app.',
  },

  // ── Consent, continued ──
  /** A change of a grant that ended, was revoked or was changed already (here or on another device). */
  GRANT_ENDED: {
    retry: false,
    action: 'reread',
    words: 'This sharing has ended or was changed meanwhile. Look at it again, or share again.',
  },
} as const satisfies Readonly<Record<string, HaleErrorInfo>>;

/** A code of the client's own (not the protocol's). */
export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

/** Every code a HaleError may carry: the protocol's and the client's own. Switch on it. */
export type HaleErrorCode = ErrorCode | ClientErrorCode;

/** A client code that retypes a protocol code fails here: the two sets are disjoint. */
const disjoint: [Extract<ClientErrorCode, ErrorCode>] extends [never] ? true : never = true;
void disjoint;

/** The one table: each code with its retry, action and words. Protocol codes first, then the client's. */
export const HALE_ERRORS: Readonly<Record<HaleErrorCode, HaleErrorInfo>> = {
  ...(Object.fromEntries(
    ERROR_CODE_LIST.map((code) => [
      code,
      { retry: ERROR_CODES[code].retry, action: ERROR_CODES[code].action, words: PROTOCOL_WORDS[code] },
    ]),
  ) as Record<ErrorCode, HaleErrorInfo>),
  ...CLIENT_ERRORS,
};

/** The client's own codes in table order (append-only). */
export const CLIENT_ERROR_CODE_LIST = Object.keys(CLIENT_ERRORS) as readonly ClientErrorCode[];

/** Every code in table order: the protocol's, then the client's. */
export const HALE_ERROR_CODE_LIST: readonly HaleErrorCode[] = [...ERROR_CODE_LIST, ...CLIENT_ERROR_CODE_LIST];

export const isHaleErrorCode = (value: unknown): value is HaleErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(HALE_ERRORS, value);
