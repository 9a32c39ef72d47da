/**
 * Creating an account with this device as its first device.
 *
 * - The recovery key is returned once and stored nowhere; the passphrase is never stored.
 * - Registration is sent until the server is known to hold it or to refuse it (REGISTRATION_ATTEMPTS,
 *   backing off through `wait`); still unknown → REGISTRATION_UNCONFIRMED carrying the recovery key, nothing
 *   in the vault, the root zeroed.
 * - Once the server holds the account, creation never fails: a failing vault write is tried again
 *   (VAULT_WRITE_ATTEMPTS; a write reported failed that did store counts; another writer's record is never
 *   overwritten); still failing, the account is answered with `notSaved` (ACCOUNT_NOT_SAVED) and `saveAgain`.
 * - Refusals: REGISTRATION_CLOSED, INVITE_REQUIRED, INVITE_INVALID (also before sending, for what is no
 *   code), INVITE_WRONG_ROLE, LOGIN_NAME_TAKEN; ACCOUNT_EXISTS when the vault holds an account.
 */
import type { HttpApi } from '../api/http-api';
import {
  type RegistrationMode,
  REGISTRATION_MODES,
  validate,
  AccountRole,
  normalizeInviteCode,
  type AccountRecord,
  accountSignaturePayload,
  wrappingKeySignaturePayload,
  roleSignaturePayload,
} from '@hale/protocol';
import { AccountError, isAccountError } from '../core/account-error';
import { isHaleClientError } from '../api/errors';
import {
  type AccountKeys,
  generateRootSecret,
  wrapRootWithPassphrase,
  base64urlEncode,
  encodeRecoveryKey,
} from '@hale/crypto';
import {
  type Role,
  type AccountDeps,
  sleep,
  outcomeUnknown,
  REGISTRATION_ATTEMPTS,
  settle,
  REGISTRATION_BACKOFF_MS,
  VAULT_KEY,
  VAULT_WRITE_ATTEMPTS,
  VAULT_WRITE_BACKOFF_MS,
  type UnlockedAccount,
  normalizeLoginName,
  checkDeviceName,
  checkNewPassphrase,
  wrapKdf,
  isoAt,
  signPayload,
} from './account-deps';
import { checkServerAccount } from './served-account';
import { exclusive, requireEmptyVault, unlocked, recordText } from './vault-record';
import { withRootKeys, newDevice } from './new-device';
import { signWrap } from './passphrase-change';
import { heldGenerations } from './lock-state';

/**
 * What `createAccount` registers: the role, the passphrase (at least `MIN_PASSPHRASE_LENGTH` characters),
 * an optional login name and this device's name.
 */
export interface CreateAccountInput {
  readonly role: Role;
  readonly passphrase: string;
  /**
   * Needed to join other devices with the passphrase. Taken as typed: `normalizeLoginName` folds it
   * (capitals, surrounding spaces) to the name registered.
   */
  readonly loginName?: string;
  readonly deviceName: string;
  /**
   * The invite code from the server's operator, for a server whose registration is `invite`
   * (`registrationMode`). Taken as typed or pasted: `normalizeInviteCode` folds it (blanks, hyphens, case);
   * what is still not a code is INVITE_INVALID before anything is sent. Sent only to a server that knows
   * invites (an older one has open registration and would refuse the field); an open server ignores it.
   */
  readonly invite?: string;
}

/**
 * Who may create an account on the server (`GET /v1/server` `registration`), so an app shows the sign-up
 * screen that works there: `open` (a server older than registration control is open), `invite` (ask for
 * an invite code), `closed` (no new accounts: join an existing account instead), `unknown` (a mode this
 * version does not know: let the person try, and show the refusal). Server errors stay HaleClientError.
 */
export async function registrationMode(deps: {
  readonly api: Pick<HttpApi, 'serverInfo'>;
}): Promise<RegistrationMode | 'unknown'> {
  const { registration } = await deps.api.serverInfo();
  if (registration === undefined) return 'open';
  return REGISTRATION_MODES.find((mode) => mode === registration) ?? 'unknown';
}

/** The AccountError for a server's refusal of a registration, or null for other errors. */
function registrationRefusal(e: unknown, inviteSent: boolean): AccountError | null {
  if (!isHaleClientError(e)) return null;
  if (e.code === 'REGISTRATION_CLOSED') {
    return new AccountError(
      'REGISTRATION_CLOSED',
      'this server takes no new accounts; ask its operator, or use another server',
    );
  }
  if (e.code !== 'INVITE_INVALID') return null;
  const role = validate(AccountRole, e.details?.['role']);
  if (role.ok) {
    return new AccountError(
      'INVITE_WRONG_ROLE',
      `this invite code is for a ${role.value} account: create a ${role.value} account, or ask the server's operator for another code`,
      { role: role.value },
    );
  }
  return inviteSent
    ? new AccountError(
        'INVITE_INVALID',
        "this invite code was not accepted: it may be mistyped, expired or already used; check it, or ask the server's operator for a new one",
      )
    : new AccountError(
        'INVITE_REQUIRED',
        "this server needs an invite code to create an account; ask the server's operator for one",
      );
}

/** The AccountError for a refused registration (registrationRefusal, a taken login name), else `e` itself. */
function registrationFailure(e: unknown, inviteSent: boolean): unknown {
  const refused = registrationRefusal(e, inviteSent);
  if (refused !== null) return refused;
  if (isHaleClientError(e) && e.code === 'ALREADY_EXISTS' && e.details?.['taken'] === 'loginName') {
    return new AccountError(
      'LOGIN_NAME_TAKEN',
      'another account already has this login name: choose another (or, if it is your account, join it ' +
        'with its passphrase)',
    );
  }
  return e;
}

/** Whether the server holds this registration (the account, with this device): null when it cannot be told. */
async function registrationLanded(
  api: Pick<HttpApi, 'getAccount'>,
  keys: AccountKeys,
  deviceId: string,
): Promise<boolean | null> {
  try {
    const server = await api.getAccount(keys.accountId);
    checkServerAccount(server, keys);
    return server.devices.some((d) => d.cert.deviceId === deviceId);
  } catch (e) {
    return isHaleClientError(e) && e.code === 'NOT_FOUND' ? false : null;
  }
}

/**
 * Sends the registration until the server is known to hold it, or is known to refuse it. The root exists
 * nowhere else yet, so an answer lost on the way (NETWORK, a 5xx; or a success whose body could not be
 * read, `outcomeUnknown`) must not end the creation while the account may exist: the same body is sent
 * again, up to REGISTRATION_ATTEMPTS times, backing off — a server answers a replay of the registration it holds as the first time — and between attempts the
 * account is looked up (the only confirmation from a server older than replayed registrations). From the
 * second attempt on a refusal may be of this very registration, stored by an earlier attempt (an older
 * server's ALREADY_EXISTS, its invite used up): it counts only once the lookup says the account is not there.
 * Still unknown at the end: REGISTRATION_UNCONFIRMED.
 */
async function sendRegistration(
  deps: Pick<AccountDeps, 'api' | 'wait'>,
  body: Parameters<HttpApi['register']>[0],
  keys: AccountKeys,
  deviceId: string,
): Promise<void> {
  const wait = deps.wait ?? sleep;
  const inviteSent = body.invite !== undefined;
  for (let attempt = 1; ; attempt++) {
    let failure: unknown;
    try {
      await deps.api.register(body);
      return;
    } catch (e) {
      failure = e;
    }
    const unanswered = isHaleClientError(failure) && failure.retry;
    if (!outcomeUnknown(failure) && attempt === 1) throw registrationFailure(failure, inviteSent);
    const landed = await registrationLanded(deps.api, keys, deviceId);
    if (landed === true) return;
    if (!unanswered && landed === false) throw registrationFailure(failure, inviteSent);
    // Not sent again after a success that could not be read: the answer to it would be as unreadable.
    if (!unanswered || attempt >= REGISTRATION_ATTEMPTS) {
      throw new AccountError(
        'REGISTRATION_UNCONFIRMED',
        'the account may or may not have been created: the connection failed before the server could ' +
          'confirm it. Note the recovery key given with this error now; once online, join with it (or ' +
          'with the login name and passphrase, if one was chosen): if that works the account exists; if no ' +
          'such account is found, create it again',
      );
    }
    // A failing wait must not end the creation: the account may exist, and the root would be zeroed.
    await settle(() => wait(REGISTRATION_BACKOFF_MS * 2 ** (attempt - 1)));
  }
}

/**
 * Stores a just-registered account's record. The account exists on the server already, so a storage
 * failure must not end the creation at once: the write is tried again, VAULT_WRITE_ATTEMPTS times in all
 * and backing off (a busy IndexedDB, a sync folder locked for a moment). A write reported failed is read
 * back and counts when the record is there; a record another writer put there meanwhile (a second Vault
 * object over the same storage) is never overwritten. Answers null once stored, else the last failure.
 */
async function storeNewRecord(
  deps: Pick<AccountDeps, 'vault' | 'wait'>,
  text: string,
): Promise<{ readonly failure: unknown } | null> {
  const wait = deps.wait ?? sleep;
  for (let attempt = 1; ; attempt++) {
    let failure: unknown;
    try {
      await deps.vault.set(VAULT_KEY, text);
      return null;
    } catch (e) {
      failure = e;
    }
    const held = await settle(() => deps.vault.get(VAULT_KEY));
    if (held === text) return null;
    if (typeof held === 'string' || attempt >= VAULT_WRITE_ATTEMPTS) return { failure };
    // A failing wait must not end the creation either: the root would be zeroed with the account registered.
    await settle(() => wait(VAULT_WRITE_BACKOFF_MS * 2 ** (attempt - 1)));
  }
}

/** What createAccount answers: the account, its recovery key (shown once), and whether the device kept it. */
export interface CreatedAccount {
  readonly account: UnlockedAccount;
  /** Show it to the person now: it is stored nowhere, and this is the only time it is handed out. */
  readonly recoveryKey: string;
  /**
   * Present only when the account was created on the server but this device's vault could not store it
   * (AccountError ACCOUNT_NOT_SAVED, the storage's error as `cause`): the account works until the app
   * closes or locks it, after which this device no longer knows it. Show the recovery key all the same and
   * tell the person to join again (login name and passphrase, or the recovery key) next time.
   */
  readonly notSaved?: AccountError;
  /**
   * Present with `notSaved`: tries to store the account in this device's vault again (as createAccount did,
   * VAULT_WRITE_ATTEMPTS times), e.g. after the person freed storage; resolves once stored (at once if it
   * already is). Works after the account was locked (what it writes holds no secret in clear). Rejects with
   * ACCOUNT_NOT_SAVED (the storage's error as `cause`) when storage still fails, ACCOUNT_EXISTS (nothing
   * written) when the vault meanwhile holds another account.
   */
  readonly saveAgain?: () => Promise<void>;
}

/**
 * Registers a new account with this device as its first device. The recovery key is shown ONCE. Once the
 * server holds the account it is always answered, with its recovery key — `notSaved` says when this
 * device's vault could not store it.
 */
export async function createAccount(deps: AccountDeps, input: CreateAccountInput): Promise<CreatedAccount> {
  const now = deps.now ?? Date.now;
  let normalized =
    input.loginName === undefined ? input : { ...input, loginName: normalizeLoginName(input.loginName) };
  if (input.invite !== undefined) {
    const invite = normalizeInviteCode(input.invite);
    if (invite === null) {
      throw new AccountError(
        'INVITE_INVALID',
        'that is not an invite code: check it for typos (it has 32 letters and digits, in groups of 4)',
      );
    }
    normalized = { ...normalized, invite };
  }
  checkDeviceName(input.deviceName);
  checkNewPassphrase(input.passphrase);
  wrapKdf(deps);
  return exclusive(deps.vault, () => createAccountNow(deps, normalized, now));
}

async function createAccountNow(
  deps: AccountDeps,
  input: CreateAccountInput,
  now: () => number,
): Promise<CreatedAccount> {
  await requireEmptyVault(deps.vault);
  const info = await deps.api.serverInfo().catch(() => null);
  // A server without `registration` predates invites: its registration is open and it refuses the field.
  // Unknown (no answer), the invite goes: the person was given one for a reason.
  const invite = info !== null && info.registration === undefined ? undefined : input.invite;
  const root = generateRootSecret();
  return withRootKeys(root, async (keys, track) => {
    const wrappedRoot = await wrapRootWithPassphrase(root, input.passphrase, wrapKdf(deps));
    const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now, deps.x25519);
    track(device);
    const record: AccountRecord = {
      accountId: keys.accountId,
      role: input.role,
      identityPublicKey: base64urlEncode(keys.identity.publicKey),
      wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
      wrappedRoot,
      ...(input.loginName === undefined ? {} : { loginName: input.loginName }),
      createdAt: isoAt(now),
    };
    const sig = await signPayload(deps.ed, keys.identity.secretKey, accountSignaturePayload(record));
    // Relayed to other accounts, so they wrap stream keys only to this account's own wrapping key.
    const wrappingKeySig = await signPayload(
      deps.ed,
      keys.identity.secretKey,
      wrappingKeySignaturePayload(record),
    );
    // Generation 0 is signed like every later one.
    const wrappedRootSig = await signWrap(deps.ed, keys.accountId, keys.identity.secretKey, wrappedRoot, 0);
    // Relayed with the account answer, so a joining device takes the role only as the account signed it.
    const roleSig = await signPayload(deps.ed, keys.identity.secretKey, roleSignaturePayload(record));
    await sendRegistration(
      deps,
      {
        account: record,
        device: cert,
        sig,
        wrappingKeySig,
        wrappedRootSig,
        roleSig,
        ...(invite === undefined ? {} : { invite }),
      },
      keys,
      device.deviceId,
    ).catch((e: unknown) => {
      // The account may exist, and the root (zeroed on the way out) is its only key: without a login name
      // the recovery key is the only way back into it, so the error hands it over.
      if (isAccountError(e) && e.code === 'REGISTRATION_UNCONFIRMED') {
        throw new AccountError(e.code, e.message, { recoveryKey: encodeRecoveryKey(root) });
      }
      throw e;
    });
    const account = unlocked({
      root,
      keys,
      role: input.role,
      loginName: input.loginName,
      device,
      deviceName: input.deviceName,
    });
    // The registration carried the wrapping-key and role signatures (a landed registration is this very
    // body).
    const text = recordText(account, wrappedRoot, 0, true, 'published');
    // From here on nothing may throw: the login name (and any invite) is used up on the server, and the
    // root, the only source of the recovery key, would be zeroed on the way out.
    const unstored = await storeNewRecord(deps, text);
    heldGenerations.set(account, 0);
    const recoveryKey = encodeRecoveryKey(root);
    if (unstored === null) return { account, recoveryKey };
    // The record text holds no secret in clear (the device key is sealed, the root passphrase-wrapped), so
    // saving it again needs nothing `lock` zeroes.
    const saveAgain = () => exclusive(deps.vault, () => storeCreatedRecord(deps, text));
    return { account, recoveryKey, notSaved: notSavedError(unstored.failure), saveAgain };
  });
}

const notSavedError = (cause: unknown): AccountError =>
  new AccountError(
    'ACCOUNT_NOT_SAVED',
    'the account was created, but this device could not save it (its storage failed; it may be full): ' +
      'it works until the app is closed or locked. Note the recovery key now; next time, join this ' +
      'account again with its login name and passphrase, or with the recovery key',
    { cause },
  );

/** `CreatedAccount.saveAgain`: stores the record `text` unless the vault holds it or another record. */
async function storeCreatedRecord(deps: Pick<AccountDeps, 'vault' | 'wait'>, text: string): Promise<void> {
  let held: string | null;
  try {
    held = await deps.vault.get(VAULT_KEY);
  } catch (e) {
    throw notSavedError(e);
  }
  if (held === text) return;
  if (held !== null) {
    throw new AccountError('ACCOUNT_EXISTS', 'this device already holds an account: nothing was saved');
  }
  const unstored = await storeNewRecord(deps, text);
  if (unstored !== null) throw notSavedError(unstored.failure);
}
