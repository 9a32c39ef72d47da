/**
 * Account lifecycle on a device: create, join (passphrase or recovery key), unlock/lock, change the
 * passphrase, revoke devices, provider directory.
 *
 * Invariants:
 * - The root secret never leaves the device in clear and is never persisted in clear: the vault holds
 *   it only passphrase-wrapped (KDF parameters inside), the server the same wrap. The recovery key is
 *   returned once by `createAccount` and stored nowhere. The passphrase is never stored.
 * - The device's Ed25519 secret key is persisted only sealed (secretbox) under `keys.localKey`, which is
 *   derived from the root, so it is unreadable until the passphrase unwraps the root.
 * - Everything read back is checked against what it must belong to: the unwrapped root must derive the
 *   vault's account id, the unsealed device key must match the vault's device id and public key, and an
 *   account record from the server must carry the identity and wrapping keys derived from the root
 *   (ids are self-certifying, so a server cannot substitute another account).
 * - A passphrase change re-wraps the same root (new salt, new nonce): nothing else is re-encrypted.
 * - The operations that write the vault (create, both joins, changePassphrase, refreshWrappedRoot,
 *   publishWrappingKey, publishRoleSig, removeLocalAccount) run one at a time per Vault object, each re-reading the vault
 *   once it runs: a second create or join on a vault that meanwhile got an account is ACCOUNT_EXISTS
 *   before anything is sent. Two Vault objects over the same storage are not serialised with each other.
 * - The vault holds the wrap the server took: once `changePassphrase` has sent the new wrap, it writes
 *   it to the vault even if the account is locked meanwhile; locked before sending, it is LOCKED and
 *   nothing changes. The wrap and its signature are made from copies of the keys, never from bytes
 *   `lock` may be zeroing.
 * - Signed objects are built by the @hale/protocol payload helpers and signed with the label both as
 *   the signing prefix and inside the payload, exactly as the server verifies them.
 * - A device revocation the server took is handed to the listeners of the revoking account, by account id
 *   (`onDeviceRevoked`; the directory of each device session open on it in this app, whichever account
 *   object opened it) before `revokeDevice` resolves, so this device stops trusting the revoked one at
 *   once, not once its cached device list is reloaded.
 *
 * Failure modes: wrong passphrase → AccountError WRONG_PASSPHRASE with nothing written (vault or
 * server), except at `changePassphrase` after it took a newer wrap (the passphrase was changed on another
 * device): PASSPHRASE_CHANGED_ELSEWHERE, the vault then holding that newer wrap, nothing sent; a KDF cost
 * below production strength, asked for (`kdf`) or served at a passphrase join, without the test-only
 * `weakKdfForTests` → WEAK_KDF before anything is sent or derived; a registration answer lost on the way →
 * the same registration sent again (REGISTRATION_ATTEMPTS in all, backing off through `wait`; a server
 * answers the replay of a registration it holds as the first time), and still unknown after that →
 * REGISTRATION_UNCONFIRMED with nothing in the vault and the root zeroed, the error carrying the recovery
 * key (the account may exist, and without a login name that key is the only way back into it: see
 * errors.ts); a login name another account holds → LOGIN_NAME_TAKEN; a login name that is not one even
 * once folded (`normalizeLoginName`: NFKC, trimmed, lower case) → INVALID_LOGIN_NAME before anything is
 * sent; mistyped recovery key → INVALID_RECOVERY_KEY naming the group; unknown login name or
 * recovery key → ACCOUNT_NOT_FOUND; a vault that already holds an account → ACCOUNT_EXISTS; a broken
 * or foreign vault record → VAULT_CORRUPT; one written by a newer app version in a format this one cannot
 * read → VAULT_TOO_NEW (fields a newer version added to a record it can read are kept, see vault.ts);
 * a served passphrase wrap not signed by the account at its generation → WRAPPED_ROOT_REFUSED, an unsigned
 * generation 0 at a join → WRAPPED_ROOT_UNSIGNED (nothing written to the vault either way); a server that
 * takes no new accounts → REGISTRATION_CLOSED, one that needs an invite code → INVITE_REQUIRED (none given),
 * INVITE_INVALID (not taken, or not a code at all: then nothing is sent) or INVITE_WRONG_ROLE (nothing
 * stored on the server or in the vault, the invite not used up); a device name a certificate cannot carry
 * → INVALID_DEVICE_NAME at create and both joins, before anything is derived or sent;
 * server answers → HaleClientError (e.g. DEVICE_REVOKED).
 * Partial failures: a join registers the device before writing the vault, so a failed vault write
 * leaves an orphan device certificate on the server whose secret key no one holds (harmless; it can be
 * revoked). `createAccount` registers before writing the vault too, and once the server holds the account
 * it never fails: the login name (and any invite) is used up there and the recovery key exists only in
 * the root, which a failure would zero. A failing vault write is tried again (VAULT_WRITE_ATTEMPTS,
 * backing off through `wait`; a write reported failed that did store the record counts, another writer's
 * record is never overwritten); still failing, the account is answered with its recovery key and
 * `notSaved` (AccountError ACCOUNT_NOT_SAVED, the storage error as `cause`, never the key in a message):
 * its keys stay in memory, usable until locked, the vault holds nothing; `saveAgain` stores it once storage
 * is freed, else the person joins again (login name and passphrase, or the recovery key) after a restart; the first device's certificate then stays
 * registered with no key behind it (revocable from the new device). A new passphrase wrap
 * (`changePassphrase`, a recovery-key join) whose answer is lost (NETWORK, TIMEOUT, 5xx) is read back from the server: held there, the operation completes as if answered; not
 * held, or unreadable too, the error stands (then the server may hold it: this device takes it at its next
 * refresh, and a later `changePassphrase` with the old passphrase reads PASSPHRASE_CHANGED_ELSEWHERE).
 * `changePassphrase` updates the server before the vault; if the vault write then fails (read back: a write
 * reported failed that did store it counts), it is PASSPHRASE_NOT_SAVED (the storage error as `cause`), never
 * the storage's bare error, which a failure before sending throws: the new passphrase is the one that joins
 * new devices while this device still unlocks with the old one until `refreshWrappedRoot` runs. A
 * recovery-key join whose new wrap the server refuses CONFLICT because another device changed the
 * passphrase since the join read the wrap (the server serves a newer one, signed by the account) is
 * PASSPHRASE_CHANGED_ELSEWHERE, its device certificate revoked like any join failing after registration,
 * nothing in the vault. Other devices of the account take the new wrap with
 * `refreshWrappedRoot` (their open session does it when the server reports the change, if it was given
 * the vault and the API; else the app calls it); until then they unlock with the old passphrase — a
 * device that stays offline cannot learn of the change.
 *
 * Passphrase generations: each wrap has a generation (0 at registration, compare-and-set on the server)
 * signed with it by the identity key — generation 0 too (`wrappedRootSig` at registration) — and the vault
 * remembers the generation it holds. A device takes only a newer, signed wrap, and a join only a wrap
 * signed at the generation it is served with, so a server cannot roll a device back to a passphrase that
 * was changed, not even by first handing a joining device the current wrap relabelled as generation 0 and
 * then an older, genuinely signed generation 1. A recovery-key join checks the served wrap's signature the
 * same way before it writes the next generation (the server's + 1).
 * Invariant, also across a server restored from an older backup (which then serves an older generation
 * than its devices hold): the generation a device holds only grows, and only by a wrap it made itself or
 * one the account signed at that generation. `changePassphrase` publishes the generation after the one
 * this device holds once it took any newer signed wrap — so above the server's too — and the server takes
 * any signed generation above its own (not only the next: a server behind its devices would refuse every
 * change). A served wrap older than this device's, or another one at its generation, is never taken:
 * `refreshWrappedRoot` refuses it (WRAPPED_ROOT_REFUSED), `changePassphrase` keeps this device's wrap
 * (`oldPassphrase` is then the one this device opens with) and publishes past both. A device publishes
 * past only the generations it knows: after such a restore, a device that holds a newer generation than
 * the one that changed the passphrase refuses that change as older and keeps its own passphrase, until a
 * change made on it (or on a device at its generation) goes past both.
 * An open device session runs `refreshWrappedRoot` itself when the server reports a newer generation and
 * it was given the vault and the API (session/passphrase-watch.ts); the account object also remembers
 * the generation it was unlocked with or last took, so a session without the vault can still compare.
 *
 * Wrapping-key signature: other accounts wrap keys to this account only when the server's account answer
 * carries the identity key's signature over its wrapping key (`wrappingKeySig`). A new account sends it at
 * registration; an account registered before that (or a join that could not publish it) publishes it with
 * `publishWrappingKey`, which a join runs itself and `unlock` runs in the background when given `api` and
 * `ed`. Best effort, never in the way of opening: a failure is retried at the next unlock. The vault
 * remembers once the server relays a valid signature (`wrappingKeyPublished`), so an unlock then sends
 * nothing.
 *
 * Role signature: the account's role (patient or provider) is written to a joining device's vault from the
 * server's account answer, so that answer carries the identity key's signature over {accountId,
 * identityPublicKey, role} (`roleSig`, sent at registration to a server of ROLE_SIG_VERSION). Both joins
 * refuse an answer whose `roleSig` does not verify for the role answered (ROLE_REFUSED, before the device is
 * registered: nothing registered, sent or written). An account registered without it (an older app or
 * server) publishes it with `publishRoleSig` — `unlock` runs it in the background, like
 * `publishWrappingKey`, beside whose signature it is sent — signing the role of this device's vault, and
 * only when the account answer names that role. The vault records once the server relays a valid one
 * (`roleSig: 'published'`), and from then on this device refuses an answer of its account without it
 * (ROLE_UNSIGNED). A join whose answer has none takes the role as the server's word (vault `roleSig:
 * 'unverified'`: it never signs that role itself, or the server's word would become the account's), since a
 * new device cannot tell an account that never published from a server that dropped the field; a join
 * given `requireRoleSig` refuses it (ROLE_UNSIGNED). So a server can still flip the role of a join not told
 * to require it, of an account whose devices have not published yet; a device whose vault predates the
 * marker and that joined unsigned signs the role it was given (like generation 0's absent `gen0Sig`).
 *
 * Generation-0 signature: an account registered before the server kept it (or against a server older than
 * WRAPPED_ROOT_SIG_VERSION) has an unsigned generation 0, and joins refuse it (WRAPPED_ROOT_UNSIGNED): its
 * label cannot be told from a server's relabelling. A device of such an account that holds generation 0
 * publishes the signature with `publishWrappedRootSig` — `unlock` runs it in the background when given `api`
 * and `ed`, like `publishWrappingKey` — over its own vault's wrap, and only when the server's generation-0
 * wrap is exactly that one. A device that itself joined on an unsigned generation 0 (only with
 * `acceptUnsignedLegacyWrap`) never signs it (vault `gen0Sig: 'unverified'`): the server's word would become
 * the account's. Such a device takes later signed generations as any other (refusing them would keep it on
 * a passphrase the person changed, the very harm generations prevent), so for it, and for devices that
 * joined before this check existed, a dishonest server can still roll back as before; the vault's
 * `gen0Sig: 'published'` stops the unlock checks once the server holds a valid signature.
 */
import nacl from 'tweetnacl';
import type { Static } from '@sinclair/typebox';
import {
  LOGIN_NAME_PATTERN,
  PAGING_VERSION,
  REGISTRATION_MODES,
  ROLE_SIG_VERSION,
  WRAPPED_ROOT_SIG_VERSION,
  accountSignaturePayload,
  roleSignaturePayload,
  wrappingKeySignaturePayload,
  deviceRevocationPayload,
  directoryProfilePayload,
  normalizeInviteCode,
  validate,
  wrappedRootSignaturePayload,
  type AccountRecord,
  AccountRole,
  MAX_DEVICE_NAME_CHARS,
  type HttpWrappedRootState,
  type DirectoryEntry,
  type HttpAccountResponse,
  type HttpDeviceRevokeResponse,
  type HttpWrappingKeyResponse,
  type SignedDeviceRevocation,
  ProviderProfile,
  type RegistrationMode,
  type SignedProviderProfile,
  type WrappedRoot,
} from '@hale/protocol';
import {
  PRODUCTION_KDF,
  accountIdFromIdentityKey,
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  certifyDevice,
  sealDeviceName,
  constantTimeEqual,
  decodeRecoveryKey,
  deriveAccountKeys,
  deviceIdFromPublicKey,
  encodeRecoveryKey,
  forgetCachedKeys,
  generateDeviceKeys,
  generateRootSecret,
  isProductionStrength,
  keyFingerprint,
  randomBytes,
  safetyNumber,
  signCanonical,
  unwrapResult,
  unwrapRootWithPassphrase,
  verifyCanonical,
  wrapRootWithPassphrase,
  type AccountKeys,
  type DeviceKeys,
  type Ed25519,
  type X25519,
  type KdfSettings,
  type PassphraseWrappedRoot,
  type SignedDeviceCertificate,
  signingKeyPairFromSeed,
} from '@hale/crypto';
import { isHaleClientError } from '../api/errors';
import type { HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import { AccountError, isAccountError } from './errors';
import { serverInfoOf, serverSpeaks } from './server-versions';
import { parseVaultRecord, type Vault, type VaultRecord } from './vault';

export { keyFingerprint };

/** Vault key of the account record. */
export const VAULT_KEY = 'hale.account';

/** Minimum passphrase length (Unicode code points after NFKC) for new passphrases. */
export const MIN_PASSPHRASE_LENGTH = 8;

export type Role = Static<typeof AccountRole>;

export interface UnlockedAccount {
  readonly accountId: string;
  readonly role: Role;
  readonly loginName?: string;
  readonly root: Uint8Array;
  readonly keys: AccountKeys;
  readonly device: DeviceKeys;
  readonly deviceName: string;
}

export interface AccountDeps {
  readonly api: HttpApi;
  readonly vault: Vault;
  readonly ed: Ed25519;
  /** The host's X25519 for sealing a new device's name (tweetnacl by default). */
  readonly x25519?: X25519;
  /** Clock for certificate and revocation timestamps (ms since the epoch). */
  readonly now?: () => number;
  /**
   * KDF cost for new wraps; PRODUCTION_KDF by default. Weaker settings (TEST_KDF) only with
   * `weakKdfForTests`: without it they are refused (WEAK_KDF).
   */
  readonly kdf?: KdfSettings;
  /**
   * Test only: allows a KDF cost below production strength, both for `kdf` and for the wrap a server serves
   * at a join. A production build never sets it: such a wrap is cheap to guess at for anyone who has it.
   */
  readonly weakKdfForTests?: boolean;
  /**
   * Waits `ms` before createAccount repeats a registration whose answer was lost, or a vault write that
   * failed after the registration; a timer by default. Tests pass one that does not sleep.
   */
  readonly wait?: (ms: number) => Promise<void>;
}

/** How many times createAccount tries to store a registered account in the vault before giving up. */
export const VAULT_WRITE_ATTEMPTS = 3;
/** Wait before createAccount's second vault write attempt; doubled before each later one. */
export const VAULT_WRITE_BACKOFF_MS = 250;

/** How many times createAccount sends its registration while the network fails before giving up. */
export const REGISTRATION_ATTEMPTS = 4;
/** Wait before createAccount's second registration attempt; doubled before each later one. */
export const REGISTRATION_BACKOFF_MS = 500;

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

const weakKdf = (what: string): AccountError =>
  new AccountError(
    'WEAK_KDF',
    `${what} a key derivation (KDF) cost below production strength, which anyone holding the wrap can ` +
      'guess passphrases against cheaply; only tests may use it (weakKdfForTests)',
  );

/** The KDF settings for a new wrap: PRODUCTION_KDF, or weaker ones only as the named test-only choice. */
function wrapKdf(deps: Pick<AccountDeps, 'kdf' | 'weakKdfForTests'>): KdfSettings {
  const kdf = deps.kdf ?? PRODUCTION_KDF;
  if (!isProductionStrength(kdf) && deps.weakKdfForTests !== true) throw weakKdf('this app asked for');
  return kdf;
}

export type { VaultRecord };

// Locking zeroes key bytes in place; this remembers which account objects are dead. The key objects are
// remembered too, so an object built from a locked account's keys (a session's DeviceAccount) is refused.
const lockedAccounts = new WeakSet<object>();
// The wrap generation this device held when each account object was unlocked, created or joined, kept up
// to date by changePassphrase and refreshWrappedRoot: a device session given the account but not the vault
// compares the server's generation with it. A number, not key material.
const heldGenerations = new WeakMap<object, number>();

/** The wrap generation this account object was opened with or last took on this device, if it is known. */
export const knownWrappedRootGen = (account: object): number | undefined => heldGenerations.get(account);

/** The parts of an unlocked account that taking a newer wrap needs (an open session's account will do). */
export type WrapHolder = Pick<UnlockedAccount, 'accountId' | 'keys' | 'device'>;

const isoAt = (now: () => number): string => new Date(now()).toISOString();

async function signPayload(ed: Ed25519, secretKey: Uint8Array, payload: { readonly label: string }) {
  return base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));
}

/**
 * The login name as the server knows it, from the name as a person typed it: compatibility forms folded
 * (NFKC: the full-width letters of an East Asian keyboard, a ligature), the spaces around it dropped
 * (phone keyboards add one after a word) and capitals lowered. A login name is ASCII only, so NFKC can
 * only turn a character into the letter or digit it stands for; any other character stays and is refused.
 * Throws AccountError INVALID_LOGIN_NAME when what is left is still not a login name. Every entry point
 * taking a login name runs it, before anything is sent or written.
 */
export function normalizeLoginName(typed: string): string {
  const name = typeof typed === 'string' ? typed.normalize('NFKC').trim().toLowerCase() : '';
  if (!LOGIN_NAME.test(name)) {
    throw new AccountError(
      'INVALID_LOGIN_NAME',
      'a login name has 3 to 64 characters: lower-case letters a-z, digits 0-9, dots, underscores and ' +
        'hyphens, and starts with a letter or digit (no spaces inside)',
    );
  }
  return name;
}

const LOGIN_NAME = new RegExp(LOGIN_NAME_PATTERN);

/**
 * Refuses a device name the device certificate cannot carry (the server and the vault check the same
 * schema), before any key work or request: a person-facing code instead of the request check's BAD_MESSAGE.
 */
function checkDeviceName(deviceName: string): void {
  if (typeof deviceName !== 'string' || deviceName.length < 1 || deviceName.length > MAX_DEVICE_NAME_CHARS) {
    throw new AccountError(
      'INVALID_DEVICE_NAME',
      'a device name has 1 to 100 characters (an emoji counts as 2): choose a shorter one',
    );
  }
}

function checkNewPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || [...passphrase.normalize('NFKC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new AccountError(
      'WEAK_PASSPHRASE',
      `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  }
}

/** The parts of an account object `lock` zeroes; any object holding one of them is as locked as it. */
export interface LockableAccount {
  readonly root?: Uint8Array;
  readonly keys?: AccountKeys;
  readonly device?: DeviceKeys;
}

/**
 * Throws AccountError LOCKED when `account`, or a key object it shares with an account object, was
 * locked: its key bytes are zeroes. For everything that is handed an account, e.g. openDeviceSession.
 */
export function assertUnlocked(account: LockableAccount): void {
  if (isLocked(account)) throw new AccountError('LOCKED', 'the account is locked; unlock it again');
}

// Who wants to know at once that an account was locked (an open device session: an idle one would else
// notice only when it next used a key, its socket authenticated meanwhile). Keyed by every key object, as
// `isLocked` checks them.
const lockListeners = new WeakMap<object, Set<() => void>>();
const partsOf = (account: LockableAccount): object[] =>
  [account, account.root, account.keys, account.device].filter(
    (part): part is object => typeof part === 'object' && part !== null,
  );

/** Adds `listener` under every part of `account`; returns the call that removes it again. */
function listenOn<L>(listeners: WeakMap<object, Set<L>>, account: LockableAccount, listener: L): () => void {
  const parts = partsOf(account);
  for (const part of parts) {
    const set = listeners.get(part) ?? new Set();
    set.add(listener);
    listeners.set(part, set);
  }
  return () => {
    for (const part of parts) listeners.get(part)?.delete(listener);
  };
}

/** The listeners under any part of `account`, each once. */
const listenersOf = <L>(listeners: WeakMap<object, Set<L>>, account: LockableAccount): Set<L> =>
  new Set(partsOf(account).flatMap((part) => [...(listeners.get(part) ?? [])]));

/**
 * Calls `listener` once `account`, or an account object sharing a key object with it, is locked, in the
 * `lock` call, after its bytes are zeroed. Returns the call that stops listening.
 */
export function onLock(account: LockableAccount, listener: () => void): () => void {
  return listenOn(lockListeners, account, listener);
}

/** A device revocation this device signed and the server took, with the server's time of it. */
export interface DeviceRevoked {
  readonly signed: SignedDeviceRevocation;
  readonly revokedAt: string;
}

// Who wants to know at once of a revocation this device made (an open device session: its device
// directory would otherwise trust the revoked device until its cached list is reloaded, up to 5 minutes).
// Keyed by account id, not by key object as lock listeners are: a session opened with one account object
// hears of a revocation sent with another of the same account (a second unlock in the same app). The
// account id names the identity key that signed the revocation, which the directory verifies.
type RevocationListener = (revoked: DeviceRevoked) => Promise<unknown>;
const revocationListeners = new Map<string, Set<RevocationListener>>();

/**
 * Calls `listener` when `revokeDevice` with any account object of `account`'s account (same account id)
 * was answered by the server; `revokeDevice` waits for it. Returns the call that stops listening.
 */
export function onDeviceRevoked(
  account: { readonly accountId: string },
  listener: RevocationListener,
): () => void {
  const { accountId } = account;
  const set = revocationListeners.get(accountId) ?? new Set<RevocationListener>();
  set.add(listener);
  revocationListeners.set(accountId, set);
  return () => {
    set.delete(listener);
    if (set.size === 0 && revocationListeners.get(accountId) === set) revocationListeners.delete(accountId);
  };
}

/** Whether `account`, or a key object it shares with an account object, was locked (`assertUnlocked`). */
export function isLocked(account: LockableAccount): boolean {
  return partsOf(account).some((part) => lockedAccounts.has(part));
}

// Tail of the queue of vault-writing operations, per vault.
const vaultQueues = new WeakMap<Vault, Promise<void>>();

/**
 * Runs `fn` once every vault-writing operation started earlier on `vault` has ended (however it ended).
 * Without it a check-then-write (empty vault? then register and write) interleaves with another.
 */
async function exclusive<T>(vault: Vault, fn: () => Promise<T>): Promise<T> {
  const before = vaultQueues.get(vault) ?? Promise.resolve();
  let release = (): void => undefined;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = before.then(() => mine);
  vaultQueues.set(vault, tail);
  try {
    await before;
    return await fn();
  } finally {
    release();
    if (vaultQueues.get(vault) === tail) vaultQueues.delete(vault);
  }
}

async function unwrapRoot(wrappedRoot: unknown, passphrase: string): Promise<Uint8Array> {
  const root = await unwrapRootWithPassphrase(wrappedRoot, passphrase);
  if (root.ok) return root.value;
  if (root.error.code === 'WRONG_KEY')
    throw new AccountError(
      'WRONG_PASSPHRASE',
      'this passphrase does not open the account; check it and try again',
    );
  throw new AccountError('BAD_WRAPPED_ROOT', `the wrapped root cannot be used: ${root.error.message}`);
}

function sealDeviceSecret(localKey: Uint8Array, secretKey: Uint8Array): string {
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const box = nacl.secretbox(secretKey, nonce, localKey);
  const out = new Uint8Array(nonce.length + box.length);
  out.set(nonce, 0);
  out.set(box, nonce.length);
  return base64urlEncode(out);
}

function openDeviceSecret(localKey: Uint8Array, record: VaultRecord): DeviceKeys {
  const sealed = base64urlDecode(record.deviceSecret);
  const publicKey = base64urlDecode(record.devicePublicKey);
  const corrupt = (why: string) => new AccountError('VAULT_CORRUPT', `vault: ${why}`);
  if (!sealed.ok || !publicKey.ok) throw corrupt('bad encoding');
  const n = nacl.secretbox.nonceLength;
  // tweetnacl throws (not null) for a nonce cut short: a record shorter than a sealed box is refused first.
  if (sealed.value.length < n + nacl.secretbox.overheadLength) throw corrupt('the device key does not open');
  const secretKey = nacl.secretbox.open(sealed.value.subarray(n), sealed.value.subarray(0, n), localKey);
  if (secretKey === null) throw corrupt('the device key does not open');
  // Refused from here on, the opened bytes are zeroed first: they are the device's real secret key (only
  // the root's localKey seals them), and an unlock that fails returns nothing lock() could zero.
  const refuse = (why: string): never => {
    secretKey.fill(0);
    throw corrupt(why);
  };
  if (secretKey.length !== 64) refuse('the device key does not open');
  // The public half is recomputed from the seed: a key that only claims to match is refused. The pair made
  // for that is a second copy of the secret key, which lock() would never reach: zeroed at once.
  const check = signingKeyPairFromSeed(secretKey.subarray(0, 32));
  const derived = check.publicKey;
  check.secretKey.fill(0);
  if (
    !constantTimeEqual(derived, publicKey.value) ||
    !constantTimeEqual(secretKey.subarray(32), publicKey.value) ||
    deviceIdFromPublicKey(publicKey.value) !== record.deviceId
  ) {
    refuse('the device key does not match its id');
  }
  return { deviceId: record.deviceId, publicKey: publicKey.value, secretKey };
}

async function readRecord(vault: Vault): Promise<VaultRecord | null> {
  const text = await vault.get(VAULT_KEY);
  return text === null ? null : parseVaultRecord(text);
}

async function requireRecord(vault: Vault): Promise<VaultRecord> {
  const record = await readRecord(vault);
  if (record === null) throw new AccountError('NO_ACCOUNT', 'this device holds no account');
  return record;
}

async function requireEmptyVault(vault: Vault): Promise<void> {
  if ((await vault.get(VAULT_KEY)) !== null) {
    throw new AccountError('ACCOUNT_EXISTS', 'this device already holds an account');
  }
}

async function writeRecord(
  vault: Vault,
  account: UnlockedAccount,
  wrappedRoot: PassphraseWrappedRoot | VaultRecord['wrappedRoot'],
  gen: number,
  wrappingKeyPublished: boolean,
  gen0Sig?: VaultRecord['gen0Sig'],
  roleSig?: VaultRecord['roleSig'],
): Promise<void> {
  await vault.set(VAULT_KEY, recordText(account, wrappedRoot, gen, wrappingKeyPublished, gen0Sig, roleSig));
}

/** The vault's account record for `account`, as stored (the device key sealed under a fresh nonce). */
function recordText(
  account: UnlockedAccount,
  wrappedRoot: PassphraseWrappedRoot | VaultRecord['wrappedRoot'],
  gen: number,
  wrappingKeyPublished: boolean,
  gen0Sig?: VaultRecord['gen0Sig'],
  roleSig?: VaultRecord['roleSig'],
): string {
  const record: VaultRecord = {
    v: 1,
    accountId: account.accountId,
    role: account.role,
    loginName: account.loginName ?? null,
    wrappedRoot,
    gen,
    deviceId: account.device.deviceId,
    devicePublicKey: base64urlEncode(account.device.publicKey),
    deviceSecret: sealDeviceSecret(account.keys.localKey, account.device.secretKey),
    deviceName: account.deviceName,
    ...(wrappingKeyPublished ? { wrappingKeyPublished: true as const } : {}),
    ...(gen === 0 && gen0Sig !== undefined ? { gen0Sig } : {}),
    ...(roleSig === undefined ? {} : { roleSig }),
  };
  return JSON.stringify(record);
}

async function newDevice(
  keys: AccountKeys,
  deviceName: string,
  ed: Ed25519,
  now: () => number,
  x25519?: X25519,
): Promise<{ device: DeviceKeys; cert: SignedDeviceCertificate }> {
  const device = generateDeviceKeys();
  const cert = await certifyDevice(
    keys.identity.secretKey,
    {
      accountId: keys.accountId,
      deviceId: device.deviceId,
      devicePublicKey: device.publicKey,
      sealedName: sealDeviceName(deviceName, keys.wrapping.publicKey, device.deviceId, x25519),
      createdAt: isoAt(now),
      identityPublicKey: keys.identity.publicKey,
    },
    ed,
  );
  return { device, cert };
}

/**
 * Registers a joining device's certificate, then finishes the join with `fn`. A join that fails after
 * the registration (a refused wrap, a lost connection, a full vault) revokes that certificate, best
 * effort and signed by the account: the device key is never stored, so the certificate would only sit in
 * the account's device list, shown to the patient and counted against its device cap, with nothing
 * behind it. A registration whose outcome is unknown (`outcomeUnknown`: the answer lost, or a success that
 * could not be read; the certificate perhaps stored) is sent once more unchanged, which the server answers
 * as done when it holds it; failing again, it is revoked like a failed join (a revocation of a certificate never stored changes nothing).
 */
async function asRegisteredDevice<T>(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  cert: SignedDeviceCertificate,
  now: () => number,
  fn: () => Promise<T>,
): Promise<T> {
  const revoke = () =>
    sendDeviceRevocation(deps, { accountId: keys.accountId, keys }, cert.cert.deviceId, now).catch(
      () => undefined,
    );
  try {
    await deps.api.addDevice({ device: cert });
  } catch (e) {
    if (!outcomeUnknown(e)) throw e;
    try {
      await deps.api.addDevice({ device: cert });
    } catch (again) {
      await revoke();
      throw again;
    }
  }
  try {
    return await fn();
  } catch (e) {
    await revoke();
    throw e;
  }
}

function checkServerAccount(server: HttpAccountResponse, keys: AccountKeys): void {
  if (
    server.accountId !== keys.accountId ||
    server.identityPublicKey !== base64urlEncode(keys.identity.publicKey) ||
    server.wrappingPublicKey !== base64urlEncode(keys.wrapping.publicKey)
  ) {
    throw new AccountError('ACCOUNT_MISMATCH', 'the server account record does not match our keys');
  }
}

async function fetchAccount(
  api: Pick<HttpApi, 'getAccount'>,
  keys: AccountKeys,
): Promise<HttpAccountResponse> {
  try {
    const server = await api.getAccount(keys.accountId);
    checkServerAccount(server, keys);
    return server;
  } catch (e) {
    if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
      throw new AccountError('ACCOUNT_NOT_FOUND', 'the server knows no such account');
    }
    throw e;
  }
}

/** Whether `roleSig` is the identity key's signature over this account's id, identity key and `role`. */
async function roleSigned(ed: Ed25519, keys: AccountKeys, role: Role, roleSig: string): Promise<boolean> {
  const sig = base64urlDecode(roleSig);
  const payload = roleSignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    role,
  });
  return sig.ok && verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/** Why a join must be answered with the role signature (`requireRoleSig`), or null. */
const requiredAtJoin = (input: { readonly requireRoleSig?: boolean }): string | null =>
  input.requireRoleSig === true ? 'which this join was told to require' : null;

const roleUnsigned = (why: string): AccountError =>
  new AccountError(
    'ROLE_UNSIGNED',
    `the server answered this account without its role signature, ${why}: nothing was done; try again ` +
      'later or on another network, and tell the server operator if it persists',
  );

/**
 * The check of an account answer's role. Refuses (ROLE_REFUSED) an answer whose role the account did not
 * sign: `roleSig` present but not the identity key's signature over this account's id, identity key and
 * the role answered. An answer without `roleSig` (an account registered before ROLE_SIG_VERSION that has
 * not published it, an older server, or one dropping it) is ROLE_UNSIGNED when `required` says why it must
 * carry one, else taken as it stands (see the module header). Returns the vault's `roleSig`.
 */
async function checkServedRole(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
  required: string | null,
): Promise<NonNullable<VaultRecord['roleSig']>> {
  if (server.roleSig === undefined) {
    if (required !== null) throw roleUnsigned(required);
    return 'unverified';
  }
  if (await roleSigned(ed, keys, server.role, server.roleSig)) return 'published';
  throw new AccountError(
    'ROLE_REFUSED',
    `the server answered this account as a ${server.role} account, which the account did not sign: ` +
      'nothing was done; try again later or on another network, and tell the server operator if it persists',
  );
}

/**
 * The check a device makes of its own account's answer against its vault `record`: the role answered must
 * be the vault's (ROLE_REFUSED otherwise), then as `checkServedRole`, an answer without the signature
 * refused once the vault records it as published. True when it carries a valid one.
 */
async function checkOwnRole(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
  record: VaultRecord,
): Promise<boolean> {
  if (server.role !== record.role) {
    throw new AccountError(
      'ROLE_REFUSED',
      `the server answered this account as a ${server.role} account, but this device holds it as a ` +
        `${record.role} account: nothing was sent; tell the server operator if it persists`,
    );
  }
  const required = record.roleSig === 'published' ? 'which this device saw it publish' : null;
  return (await checkServedRole(ed, keys, server, required)) === 'published';
}

function unlocked(fields: {
  root: Uint8Array;
  keys: AccountKeys;
  role: Role;
  loginName: string | null | undefined;
  device: DeviceKeys;
  deviceName: string;
}): UnlockedAccount {
  return {
    accountId: fields.keys.accountId,
    role: fields.role,
    ...(fields.loginName === null || fields.loginName === undefined ? {} : { loginName: fields.loginName }),
    root: fields.root,
    keys: fields.keys,
    device: fields.device,
    deviceName: fields.deviceName,
  };
}

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

/**
 * Runs `fn` with the keys of `root`. If it fails, every secret derived so far (root, account keys and
 * any device key passed to `track`) is zeroed, so an aborted create or join leaves no key material behind.
 */
async function withRootKeys<T>(
  root: Uint8Array,
  fn: (keys: AccountKeys, track: (device: DeviceKeys) => void) => Promise<T>,
): Promise<T> {
  const keys = deriveAccountKeys(root);
  const secrets = [root, keys.identity.secretKey, keys.wrapping.secretKey, keys.localKey];
  try {
    return await fn(keys, (device) => secrets.push(device.secretKey));
  } catch (e) {
    for (const secret of secrets) secret.fill(0);
    throw e;
  }
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

/**
 * Whether a failed request may still have taken effect on the server: no answer came (`retry`: NETWORK,
 * TIMEOUT, a 5xx), or a success status came with a body that could not be read (a proxy rewrote it:
 * BAD_RESPONSE with a 2xx status). Anything else is the server's refusal, and nothing was stored.
 */
const outcomeUnknown = (e: unknown): boolean =>
  isHaleClientError(e) && (e.retry || (e.code === 'BAD_RESPONSE' && e.status >= 200 && e.status < 300));

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
 * What `fn` resolves to, or undefined when it fails: thrown at the call (an injected platform function that
 * throws instead of rejecting) or rejected. For steps after the server holds a new account, where nothing
 * may end the creation.
 */
const settle = <T>(fn: () => Promise<T>): Promise<T | undefined> =>
  Promise.resolve()
    .then(fn)
    .catch(() => undefined);

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
  // Generation 0 is signed like every later one where the server keeps the signature; an older server
  // refuses the field. Without it (older server, or its versions could not be read) the account publishes
  // it later (publishWrappedRootSig, at an unlock).
  const info = await serverInfoOf(deps.api).catch(() => null);
  const sigKept = info?.versions.includes(WRAPPED_ROOT_SIG_VERSION) ?? false;
  const roleSigKept = info?.versions.includes(ROLE_SIG_VERSION) ?? false;
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
    const wrappedRootSig = sigKept
      ? await signWrap(deps.ed, keys.accountId, keys.identity.secretKey, wrappedRoot, 0)
      : undefined;
    // Relayed with the account answer, so a joining device takes the role only as the account signed it.
    const roleSig = roleSigKept
      ? await signPayload(deps.ed, keys.identity.secretKey, roleSignaturePayload(record))
      : undefined;
    await sendRegistration(
      deps,
      {
        account: record,
        device: cert,
        sig,
        wrappingKeySig,
        ...(wrappedRootSig === undefined ? {} : { wrappedRootSig }),
        ...(roleSig === undefined ? {} : { roleSig }),
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
    // The registration carried the wrapping-key signature, and the wrap's where the server keeps it (a
    // landed registration is this very body).
    const text = recordText(
      account,
      wrappedRoot,
      0,
      true,
      sigKept ? 'published' : undefined,
      roleSig === undefined ? undefined : 'published',
    );
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

export interface JoinWithPassphraseInput {
  /** As typed: `normalizeLoginName` folds capitals and surrounding spaces before it is looked up. */
  readonly loginName: string;
  readonly passphrase: string;
  readonly deviceName: string;
  /**
   * Take the account's wrap even when it is an unsigned generation 0 (an account registered by an older
   * app that no up-to-date device has opened online since). Without it such a join is refused
   * (WRAPPED_ROOT_UNSIGNED). Only after telling the person: this device then cannot tell that wrap from
   * one a dishonest server relabelled, which lets the server later give it an older passphrase back.
   */
  readonly acceptUnsignedLegacyWrap?: boolean;
  /**
   * Refuse an account answer without the account's role signature (ROLE_UNSIGNED, nothing registered)
   * instead of taking its role as the server's word. A new device cannot know whether the account has
   * published one; set it once the account is known to have (e.g. the app saw `roleSig: 'published'` on
   * another of its devices, or the account was created by an app of ROLE_SIG_VERSION), so a server dropping
   * the signature cannot flip patient and provider for this join.
   */
  readonly requireRoleSig?: boolean;
}

/**
 * Joins this device to an existing account: the server hands out the wrapped root, the passphrase opens it.
 * The wrap must be signed by the account at the generation it is served with (WRAPPED_ROOT_REFUSED
 * otherwise; WRAPPED_ROOT_UNSIGNED for an unsigned generation 0, see `acceptUnsignedLegacyWrap`), checked
 * before this device is registered.
 */
export async function joinWithPassphrase(
  deps: AccountDeps,
  input: JoinWithPassphraseInput,
): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  const normalized = { ...input, loginName: normalizeLoginName(input.loginName) };
  checkDeviceName(input.deviceName);
  return exclusive(deps.vault, () => joinWithPassphraseNow(deps, normalized, now));
}

async function joinWithPassphraseNow(
  deps: AccountDeps,
  input: JoinWithPassphraseInput,
  now: () => number,
): Promise<UnlockedAccount> {
  await requireEmptyVault(deps.vault);
  let joined;
  try {
    joined = await deps.api.join({ loginName: input.loginName });
  } catch (e) {
    if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
      throw new AccountError('ACCOUNT_NOT_FOUND', 'no account with this login name');
    }
    throw e;
  }
  const { accountId, wrappedRoot } = joined;
  // Before deriving: anyone who knows the login name gets this wrap, so a weak one is the account's weak spot.
  if (!isProductionStrength(wrappedRoot.kdf) && deps.weakKdfForTests !== true) {
    throw weakKdf("the account's passphrase wrap uses");
  }
  const root = await unwrapRoot(wrappedRoot, input.passphrase);
  return withRootKeys(root, async (keys, track) => {
    if (keys.accountId !== accountId) {
      throw new AccountError('ACCOUNT_MISMATCH', 'the wrapped root belongs to another account');
    }
    const gen0Sig = await checkServedWrap(deps.ed, keys, joined, input.acceptUnsignedLegacyWrap === true);
    const server = await fetchAccount(deps.api, keys);
    const roleSig = await checkServedRole(deps.ed, keys, server, requiredAtJoin(input));
    const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now, deps.x25519);
    track(device);
    return asRegisteredDevice(deps, keys, cert, now, async () => {
      const published = await publishAtJoin(deps, keys, device, server);
      const account = unlocked({
        root,
        keys,
        role: server.role,
        loginName: input.loginName,
        device,
        deviceName: input.deviceName,
      });
      await writeRecord(deps.vault, account, wrappedRoot, joined.gen, published, gen0Sig, roleSig);
      heldGenerations.set(account, joined.gen);
      return account;
    });
  });
}

export interface JoinWithRecoveryKeyInput {
  readonly recoveryKey: string;
  /** The recovery key path assumes the passphrase is lost: the root is re-wrapped under this one. */
  readonly newPassphrase: string;
  readonly deviceName: string;
  /** As for `joinWithPassphrase`: continue over an unsigned generation 0 (WRAPPED_ROOT_UNSIGNED otherwise). */
  readonly acceptUnsignedLegacyWrap?: boolean;
  /** As for `joinWithPassphrase`: refuse an answer without the role signature (ROLE_UNSIGNED). */
  readonly requireRoleSig?: boolean;
}

/**
 * Joins with the recovery key and sets a new passphrase for the account (this device and the server), as
 * the generation after the server's current one — which must be signed by the account at its generation
 * (WRAPPED_ROOT_REFUSED / WRAPPED_ROOT_UNSIGNED otherwise, before the new wrap is sent; the device
 * certificate, registered to read it, is revoked again). A passphrase change on another device landing
 * between that read and the write is PASSPHRASE_CHANGED_ELSEWHERE, the certificate revoked the same way.
 */
export async function joinWithRecoveryKey(
  deps: AccountDeps,
  input: JoinWithRecoveryKeyInput,
): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  checkDeviceName(input.deviceName);
  checkNewPassphrase(input.newPassphrase);
  wrapKdf(deps);
  return exclusive(deps.vault, () => joinWithRecoveryKeyNow(deps, input, now));
}

async function joinWithRecoveryKeyNow(
  deps: AccountDeps,
  input: JoinWithRecoveryKeyInput,
  now: () => number,
): Promise<UnlockedAccount> {
  await requireEmptyVault(deps.vault);
  const root = rootOfRecoveryKey(input.recoveryKey);
  return withRootKeys(root, async (keys, track) => {
    const server = await fetchAccount(deps.api, keys);
    const roleSig = await checkServedRole(deps.ed, keys, server, requiredAtJoin(input));
    const wrappedRoot = await wrapRootWithPassphrase(root, input.newPassphrase, wrapKdf(deps));
    const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now, deps.x25519);
    track(device);
    return asRegisteredDevice(deps, keys, cert, now, async () => {
      const session = await openSession(deps.api, device, deps.ed);
      // Without this check a server reporting a lower generation than the account's (e.g. the current wrap
      // relabelled as an unsigned 0) would get a signed wrap it can keep while handing this device the
      // account's real, older-passphrase generations afterwards, as "newer".
      const current = await deps.api.getWrappedRoot(session.token);
      await checkServedWrap(deps.ed, keys, current, input.acceptUnsignedLegacyWrap === true);
      const gen = current.gen + 1;
      const sig = await signWrap(deps.ed, keys.accountId, keys.identity.secretKey, wrappedRoot, gen);
      try {
        await sendWrap(deps.api, { wrappedRoot, gen, sig }, session.token);
      } catch (e) {
        // The person must learn which passphrase is in force: the other device's, not the one given here.
        // Thrown inside asRegisteredDevice, so the certificate registered above is revoked as for any failure.
        if (!(await lostToAnotherChange(deps, keys, e, gen, session.token))) throw e;
        throw new AccountError(
          'PASSPHRASE_CHANGED_ELSEWHERE',
          'the passphrase was changed on another device while this device joined: the passphrase set there ' +
            'is in force, not the new one; nothing was saved on this device. Join again, with that ' +
            'passphrase or with the recovery key',
        );
      }
      const published = await publishAtJoin(deps, keys, device, server, session.token);
      const account = unlocked({
        root,
        keys,
        role: server.role,
        loginName: null,
        device,
        deviceName: input.deviceName,
      });
      await writeRecord(deps.vault, account, wrappedRoot, gen, published, undefined, roleSig);
      heldGenerations.set(account, gen);
      return account;
    });
  });
}

/**
 * Opens the account stored on this device; works offline and never waits for the server. Given `api`
 * and `ed`, while the vault does not yet record the account's wrapping-key signature as published, it
 * also runs `publishWrappingKey` in the background (and `publishWrappedRootSig` while generation 0 is not
 * recorded as signed, `publishRoleSig` while the vault records nothing about the role signature), all in
 * one session opened when the first of them needs it: best effort, a
 * failure (offline, lock, server refusal) is ignored and the next unlock tries again. Without them: no
 * server call at all.
 */
export async function unlock(
  deps: UnlockDeps,
  input: { readonly passphrase: string },
): Promise<UnlockedAccount> {
  const record = await requireRecord(deps.vault);
  const root = await unwrapRoot(record.wrappedRoot, input.passphrase);
  return unlockWithRoot(deps, record, root, () => {
    throw new AccountError('VAULT_CORRUPT', 'vault: the wrapped root belongs to another account');
  });
}

/**
 * Opens the account stored on this device with its recovery key instead of the passphrase (which the
 * person forgot): offline, like `unlock`, and nothing is written. The passphrase stays what it was; once
 * online, set a new one with `changePassphrase({ account, recoveryKey, newPassphrase, token })`.
 * INVALID_RECOVERY_KEY for a mistyped key, WRONG_RECOVERY_KEY for a well-formed key of another account.
 */
export async function unlockWithRecoveryKey(
  deps: UnlockDeps,
  input: { readonly recoveryKey: string },
): Promise<UnlockedAccount> {
  const record = await requireRecord(deps.vault);
  const root = rootOfRecoveryKey(input.recoveryKey);
  return unlockWithRoot(deps, record, root, wrongRecoveryKey);
}

const wrongRecoveryKey = (): never => {
  throw new AccountError('WRONG_RECOVERY_KEY', "the recovery key is not this device's account's");
};

/** Refuses a recovery key that is mistyped (INVALID_RECOVERY_KEY) or not `account`'s (WRONG_RECOVERY_KEY). */
function requireRecoveryKeyOf(account: UnlockedAccount, recoveryKey: string): void {
  const root = rootOfRecoveryKey(recoveryKey);
  try {
    if (!constantTimeEqual(root, account.root)) wrongRecoveryKey();
  } finally {
    root.fill(0);
  }
}

type UnlockDeps = Pick<AccountDeps, 'vault'> & { readonly api?: UnlockApi; readonly ed?: Ed25519 };

function rootOfRecoveryKey(recoveryKey: string): Uint8Array {
  const decoded = decodeRecoveryKey(recoveryKey);
  if (decoded.ok) return decoded.value;
  const { group, message } = decoded.error;
  throw new AccountError('INVALID_RECOVERY_KEY', message, group === undefined ? {} : { group });
}

/** `unlock` from a root already opened; `otherAccount` throws when the root is not the vault's account's. */
async function unlockWithRoot(
  deps: UnlockDeps,
  record: VaultRecord,
  root: Uint8Array,
  otherAccount: () => never,
): Promise<UnlockedAccount> {
  const account = await withRootKeys(root, async (keys) => {
    if (keys.accountId !== record.accountId) otherAccount();
    const device = openDeviceSecret(keys.localKey, record);
    const account = unlocked({
      root,
      keys,
      role: record.role,
      loginName: record.loginName,
      device,
      deviceName: record.deviceName,
    });
    heldGenerations.set(account, record.gen ?? 0);
    return account;
  });
  const { api, ed, vault } = deps;
  const keyDue = record.wrappingKeyPublished !== true;
  const gen0Due = (record.gen ?? 0) === 0 && record.gen0Sig !== 'published';
  // Not for `unverified`: nothing this device would sign, and asking at every unlock costs a request each.
  const roleDue = record.roleSig === undefined;
  if (api !== undefined && ed !== undefined && (keyDue || gen0Due || roleDue)) {
    // One handshake for all publications, opened only when the first of them has something to send.
    const bearer = sharedBearer(() => openHolderSession(api, ed, account));
    void (async () => {
      if (keyDue) await publishWrappingKeyWith({ api, ed, vault }, account, bearer).catch(() => undefined);
      if (gen0Due)
        await publishWrappedRootSigWith({ api, ed, vault }, account, bearer).catch(() => undefined);
      if (roleDue) await publishRoleSigWith({ api, ed, vault }, account, bearer).catch(() => undefined);
    })();
  }
  return account;
}

/** A bearer token when first needed: the caller's, or a session opened then. */
type Bearer = () => Promise<string>;

const bearerOf = (token: string | undefined, open: () => Promise<{ token: string }>): Bearer =>
  token !== undefined ? () => Promise.resolve(token) : async () => (await open()).token;

/**
 * A session of `account`'s device, signed with a copy of its key (like the publications' own signatures:
 * a lock meanwhile zeroes the account's); LOCKED once the account is locked.
 */
const openHolderSession = async (
  api: Pick<HttpApi, 'challenge' | 'session'>,
  ed: Ed25519,
  account: WrapHolder,
) => {
  assertUnlocked(account);
  const secretKey = account.device.secretKey.slice();
  try {
    return await openSession(api, { deviceId: account.device.deviceId, secretKey }, ed);
  } finally {
    secretKey.fill(0);
  }
};

/** Opens at most one session, at the first call; later calls share it (or its failure). */
const sharedBearer = (open: () => Promise<{ token: string }>): Bearer => {
  let session: Promise<string> | undefined;
  return () => (session ??= open().then((s) => s.token));
};

/** The HTTP routes `publishWrappingKey` uses: the account answer, a bearer session, the publication. */
export type WrappingKeyApi = Pick<HttpApi, 'getAccount' | 'challenge' | 'session' | 'putWrappingKey'>;

/**
 * The HTTP routes `publishWrappedRootSig` uses: the server's versions, a bearer session, the wrap and
 * the publication.
 */
export type WrappedRootSigApi = Pick<
  HttpApi,
  'serverInfo' | 'challenge' | 'session' | 'getWrappedRoot' | 'putWrappedRoot'
>;

/** What `unlock` uses when given `api`: the routes of both background publications. */
export type UnlockApi = WrappingKeyApi & WrappedRootSigApi;

/**
 * `present`: the server holds the account's valid signature over this device's generation-0 wrap (or
 * this device holds a later, signed generation). `published`: this device signed its generation-0 wrap
 * and the server took the signature. `withheld`: nothing published and nothing recorded — the server's
 * wrap is not this device's (another wrap, or a later generation: `refreshWrappedRoot` takes that), this
 * device took its generation 0 unsigned (`gen0Sig: 'unverified'`), the signature the server holds does not
 * verify, or the server is older than WRAPPED_ROOT_SIG_VERSION.
 */
export type PublishWrappedRootSigResult = 'present' | 'published' | 'withheld';

export type PublishWrappingKeyResult = 'present' | 'published';

/** Whether `server` (already checked to be this account's answer) relays a valid wrapping-key signature. */
async function wrappingKeySigned(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
): Promise<boolean> {
  if (server.wrappingKeySig === undefined) return false;
  const sig = base64urlDecode(server.wrappingKeySig);
  if (!sig.ok) return false;
  const payload = wrappingKeySignaturePayload(server);
  return verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/** Signs the wrapping-key statement with `identitySecretKey` and PUTs it in a session of `device`. */
async function putWrappingKeySig(
  deps: {
    readonly api: Pick<WrappingKeyApi, 'challenge' | 'session' | 'putWrappingKey'>;
    readonly ed: Ed25519;
  },
  keys: Pick<AccountKeys, 'accountId' | 'identity' | 'wrapping'>,
  identitySecretKey: Uint8Array,
  bearer: Bearer,
  beforeSending: () => void = () => undefined,
  extra: { readonly roleSig?: string } = {},
): Promise<HttpWrappingKeyResponse> {
  const payload = wrappingKeySignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
  });
  const sig = await signPayload(deps.ed, identitySecretKey, payload);
  const token = await bearer();
  beforeSending();
  return deps.api.putWrappingKey({ sig, ...extra }, token);
}

/**
 * A join is online anyway: publishes the signature there and then when the server's answer lacks it.
 * True when the server now relays it; false (the next unlock retries) when publishing failed.
 */
async function publishAtJoin(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  device: DeviceKeys,
  server: HttpAccountResponse,
  token?: string,
): Promise<boolean> {
  try {
    if (await wrappingKeySigned(deps.ed, keys, server)) return true;
    const bearer = bearerOf(token, () => openSession(deps.api, device, deps.ed));
    await putWrappingKeySig(deps, keys, keys.identity.secretKey, bearer);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `update(record)` once every earlier vault write has ended, if the vault then still holds this
 * device's record and `update` returns one (null: nothing to record). A record removed or replaced
 * meanwhile (the account removed, another one joined) is left as it is: what is learnt about this
 * device's account must not land on another's.
 */
async function updateOwnRecord(
  vault: Vault,
  account: WrapHolder,
  update: (record: VaultRecord) => VaultRecord | null,
): Promise<void> {
  await exclusive(vault, async () => {
    const record = await readRecord(vault);
    if (
      record === null ||
      record.accountId !== account.accountId ||
      record.deviceId !== account.device.deviceId
    ) {
      return;
    }
    const next = update(record);
    if (next !== null) await vault.set(VAULT_KEY, JSON.stringify(next));
  });
}

/** Records in the vault that the server relays the signature, if the vault still holds this device. */
async function rememberWrappingKeyPublished(vault: Vault, account: WrapHolder): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    record.wrappingKeyPublished === true ? null : { ...record, wrappingKeyPublished: true },
  );
}

/**
 * Makes sure the server relays this account's identity signature over its wrapping key, without which
 * other accounts' devices wrap nothing to it (no grant can reach it). Reads the account answer first:
 * `present` when it already carries a valid signature, else signs `wrappingKeySignaturePayload` with the
 * identity key and PUTs it in a session of this device (`token`, or one it opens): `published`.
 * Idempotent. With `vault`, records the outcome there so `unlock` stops checking. `unlock` runs this
 * itself when given `api` and `ed`; call it directly to wait for the outcome or see its error
 * (HaleClientError, AccountError ACCOUNT_MISMATCH/ACCOUNT_NOT_FOUND/LOCKED). Signs with a copy of the
 * identity key, and sends nothing once the account is locked.
 */
export async function publishWrappingKey(
  deps: { readonly api: WrappingKeyApi; readonly ed: Ed25519; readonly vault?: Vault },
  input: { readonly account: WrapHolder; readonly token?: string },
): Promise<PublishWrappingKeyResult> {
  const { account } = input;
  return publishWrappingKeyWith(
    deps,
    account,
    bearerOf(input.token, () => openHolderSession(deps.api, deps.ed, account)),
  );
}

async function publishWrappingKeyWith(
  deps: { readonly api: WrappingKeyApi; readonly ed: Ed25519; readonly vault?: Vault },
  account: WrapHolder,
  bearer: Bearer,
): Promise<PublishWrappingKeyResult> {
  assertUnlocked(account);
  const server = await fetchAccount(deps.api, account.keys);
  const record = deps.vault === undefined ? null : await readRecord(deps.vault);
  const own = record !== null && record.accountId === account.accountId ? record : null;
  const roleSigned = own !== null && (await checkOwnRole(deps.ed, account.keys, server, own));
  let status: PublishWrappingKeyResult = 'present';
  if (!(await wrappingKeySigned(deps.ed, account.keys, server))) {
    assertUnlocked(account);
    const identitySecret = account.keys.identity.secretKey.slice();
    try {
      await putWrappingKeySig(deps, account.keys, identitySecret, bearer, () => assertUnlocked(account));
    } finally {
      identitySecret.fill(0);
    }
    status = 'published';
  }
  if (deps.vault !== undefined) await rememberWrappingKeyPublished(deps.vault, account);
  // Read anyway: a device that took its role unsigned learns here that the account signed it since.
  if (deps.vault !== undefined && own !== null && roleSigned) {
    await rememberRoleSig(deps.vault, account, own.role, false);
  }
  return status;
}

/**
 * Makes sure the server holds the account's identity signature over generation 0 of its passphrase wrap,
 * for an account registered without it (joins refuse an unsigned generation 0: WRAPPED_ROOT_UNSIGNED).
 * Signs only this device's own vault wrap — one its passphrase opened to this account's root — and only
 * when the server's generation-0 wrap is exactly that one and unsigned; then PUTs it as `gen: 0` in a
 * session of this device (`token`, or one it opens). A server older than WRAPPED_ROOT_SIG_VERSION is asked
 * nothing but its versions (`serverSpeaks`, once per `api` object): `withheld`, no session opened. Records
 * `gen0Sig: 'published'` in the vault once the server holds a valid signature, after which `unlock` stops
 * calling it. Idempotent; `unlock` runs it in
 * the background when given `api` and `ed`. Signs with a copy of the identity key and sends nothing once
 * the account is locked (LOCKED). Errors: HaleClientError (network, server refusal such as CONFLICT when
 * the server's wrap changed meanwhile), AccountError WRAPPED_ROOT_REFUSED (the server answers another
 * account), LOCKED, VAULT_CORRUPT / NO_ACCOUNT.
 */
export async function publishWrappedRootSig(
  deps: { readonly api: WrappedRootSigApi; readonly ed: Ed25519; readonly vault: Vault },
  input: { readonly account: WrapHolder; readonly token?: string },
): Promise<PublishWrappedRootSigResult> {
  const { account } = input;
  return publishWrappedRootSigWith(
    deps,
    account,
    bearerOf(input.token, () => openHolderSession(deps.api, deps.ed, account)),
  );
}

async function publishWrappedRootSigWith(
  deps: { readonly api: WrappedRootSigApi; readonly ed: Ed25519; readonly vault: Vault },
  account: WrapHolder,
  bearer: Bearer,
): Promise<PublishWrappedRootSigResult> {
  assertUnlocked(account);
  const record = await ownRecord(deps.vault, account);
  if ((record.gen ?? 0) !== 0 || record.gen0Sig === 'published') return 'present';
  // First: an older server neither holds nor takes the signature, and every unlock would ask again.
  if (!(await serverSpeaks(deps.api, WRAPPED_ROOT_SIG_VERSION))) return 'withheld';
  const token = await bearer();
  const state = await deps.api.getWrappedRoot(token);
  if (state.accountId !== account.accountId) {
    throw new AccountError('WRAPPED_ROOT_REFUSED', 'wrapped root refused: it belongs to another account');
  }
  if (state.gen !== 0 || canonicalJson(state.wrappedRoot) !== canonicalJson(record.wrappedRoot)) {
    return 'withheld';
  }
  if (state.sig !== null) {
    if (!(await wrapSignedByAccount(deps.ed, account.keys, state))) return 'withheld';
    await rememberGen0Sig(deps.vault, account, record.wrappedRoot);
    return 'present';
  }
  // A wrap this device took unsigned is the server's word: signing it would make it the account's.
  if (record.gen0Sig === 'unverified') return 'withheld';
  assertUnlocked(account);
  const identitySecret = account.keys.identity.secretKey.slice();
  let sig: string;
  try {
    sig = await signWrap(deps.ed, account.accountId, identitySecret, record.wrappedRoot, 0);
  } finally {
    identitySecret.fill(0);
  }
  assertUnlocked(account);
  await deps.api.putWrappedRoot({ wrappedRoot: record.wrappedRoot, gen: 0, sig }, token);
  await rememberGen0Sig(deps.vault, account, record.wrappedRoot);
  return 'published';
}

/** Records `gen0Sig: 'published'` if the vault still holds this device at generation 0 with `wrappedRoot`. */
async function rememberGen0Sig(vault: Vault, account: WrapHolder, wrappedRoot: WrappedRoot): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    (record.gen ?? 0) !== 0 ||
    record.gen0Sig === 'published' ||
    canonicalJson(record.wrappedRoot) !== canonicalJson(wrappedRoot)
      ? null
      : { ...record, gen0Sig: 'published' },
  );
}

/** The HTTP routes `publishRoleSig` uses: the server's versions, the account answer, a session, the PUT. */
export type RoleSigApi = Pick<
  HttpApi,
  'serverInfo' | 'getAccount' | 'challenge' | 'session' | 'putWrappingKey'
>;

/**
 * `present`: the server relays the account's valid signature over this device's role. `published`: this
 * device signed its role and the server took it. `withheld`: nothing published and nothing recorded — the
 * server is older than ROLE_SIG_VERSION, or this device took its role unsigned at its join (vault
 * `roleSig: 'unverified'`: the server's word would become the account's).
 */
export type PublishRoleSigResult = 'present' | 'published' | 'withheld';

/**
 * Makes sure the server relays the account's identity signature over its role (`roleSignaturePayload`),
 * for an account registered without it: joining devices otherwise take the role (patient or provider) as
 * the server's word. Reads the account answer first (ROLE_REFUSED when it names another role than this
 * device's vault, or relays a signature that does not verify for it; ROLE_UNSIGNED when it lacks one the
 * vault records as published); `present` when it carries a valid one. Else signs the vault's role with the
 * identity key and PUTs it beside the wrapping-key signature (`PUT /v1/accounts/me/wrapping-key`) in a
 * session of this device (`token`, or one it opens): `published`. A server older than ROLE_SIG_VERSION is
 * asked nothing but its versions (`withheld`) unless the vault records the signature as published. Records
 * `roleSig: 'published'` in the vault once the server relays a valid signature, after which `unlock` stops
 * calling it. Idempotent; `unlock` runs it in the background when given `api` and `ed`. Signs with a copy
 * of the identity key and sends nothing once the account is locked (LOCKED). Errors: those above,
 * HaleClientError, AccountError ACCOUNT_MISMATCH/ACCOUNT_NOT_FOUND, VAULT_CORRUPT / NO_ACCOUNT.
 */
export async function publishRoleSig(
  deps: { readonly api: RoleSigApi; readonly ed: Ed25519; readonly vault: Vault },
  input: { readonly account: WrapHolder; readonly token?: string },
): Promise<PublishRoleSigResult> {
  const { account } = input;
  return publishRoleSigWith(
    deps,
    account,
    bearerOf(input.token, () => openHolderSession(deps.api, deps.ed, account)),
  );
}

async function publishRoleSigWith(
  deps: { readonly api: RoleSigApi; readonly ed: Ed25519; readonly vault: Vault },
  account: WrapHolder,
  bearer: Bearer,
): Promise<PublishRoleSigResult> {
  assertUnlocked(account);
  const record = await ownRecord(deps.vault, account);
  // First: an older server neither relays nor takes it, and every unlock would ask again. A device that
  // saw it published reads the answer anyway, and refuses it without the signature.
  if (record.roleSig !== 'published' && !(await serverSpeaks(deps.api, ROLE_SIG_VERSION))) return 'withheld';
  const server = await fetchAccount(deps.api, account.keys);
  if (await checkOwnRole(deps.ed, account.keys, server, record)) {
    await rememberRoleSig(deps.vault, account, record.role, false);
    return 'present';
  }
  // A role this device took unsigned is the server's word: signing it would make it the account's.
  if (record.roleSig === 'unverified') return 'withheld';
  assertUnlocked(account);
  const identitySecret = account.keys.identity.secretKey.slice();
  let roleSig: string;
  try {
    roleSig = await signPayload(
      deps.ed,
      identitySecret,
      roleSignaturePayload({
        accountId: account.accountId,
        identityPublicKey: base64urlEncode(account.keys.identity.publicKey),
        role: record.role,
      }),
    );
    // The route publishes the wrapping-key signature too (the same one as ever: Ed25519 is deterministic).
    await putWrappingKeySig(deps, account.keys, identitySecret, bearer, () => assertUnlocked(account), {
      roleSig,
    });
  } finally {
    identitySecret.fill(0);
  }
  await rememberRoleSig(deps.vault, account, record.role, true);
  return 'published';
}

/**
 * Records `roleSig: 'published'` (and `wrappingKeyPublished` when the same PUT carried it) if the vault
 * still holds this device with `role`.
 */
async function rememberRoleSig(
  vault: Vault,
  account: WrapHolder,
  role: Role,
  wrappingKeyToo: boolean,
): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    record.role !== role ||
    (record.roleSig === 'published' && (!wrappingKeyToo || record.wrappingKeyPublished === true))
      ? null
      : {
          ...record,
          roleSig: 'published',
          ...(wrappingKeyToo ? { wrappingKeyPublished: true as const } : {}),
        },
  );
}

/**
 * Zeroes every secret byte the account object holds; the object is unusable afterwards. Imported key
 * objects hold the secrets too, so every cached one in this realm is dropped (`forgetCachedKeys`; other
 * accounts' are imported again when next used).
 */
export function lock(account: UnlockedAccount): void {
  forgetCachedKeys();
  account.root.fill(0);
  account.keys.identity.secretKey.fill(0);
  account.keys.wrapping.secretKey.fill(0);
  account.keys.localKey.fill(0);
  account.device.secretKey.fill(0);
  for (const part of partsOf(account)) lockedAccounts.add(part);
  for (const listener of listenersOf(lockListeners, account)) {
    try {
      listener();
    } catch {
      // A listener's failure must not fail the lock: the bytes are zeroed whatever it does.
    }
  }
}

export async function hasAccount(deps: Pick<AccountDeps, 'vault'>): Promise<boolean> {
  return (await deps.vault.get(VAULT_KEY)) !== null;
}

/** Forgets the account on this device (the server keeps it; join again with the passphrase). */
export async function removeLocalAccount(deps: Pick<AccountDeps, 'vault'>): Promise<void> {
  // After any write in flight, or that write would bring the account back.
  await exclusive(deps.vault, () => deps.vault.delete(VAULT_KEY));
}

export type ChangePassphraseInput = {
  readonly account: UnlockedAccount;
  readonly newPassphrase: string;
  /** Bearer token of this device's session. */
  readonly token: string;
} & (
  | { readonly oldPassphrase: string }
  /** The passphrase was forgotten: the recovery key proves the person holds the account instead. */
  | { readonly recoveryKey: string }
);

/**
 * Re-wraps the same root under a new passphrase, on the server and in this device's vault. A newer wrap
 * on the server (the passphrase was changed on another device) is taken first, so `oldPassphrase` must
 * be the account's current passphrase, not this device's stale one. A person who forgot it gives the
 * recovery key instead (`recoveryKey`; WRONG_RECOVERY_KEY for another account's, nothing sent). A server
 * behind this device (an older generation, or another wrap at this device's: restored from an older
 * backup) is not followed: the new wrap goes as the generation after this device's. Locked
 * (`lock`) before the new wrap is sent: LOCKED, nothing changed; locked after: the change completes, vault
 * included. An answer lost after the server took the wrap completes the change too (`sendWrap`). A vault
 * write failing after the server took the wrap is PASSPHRASE_NOT_SAVED (`storeChangedWrap`).
 */
export async function changePassphrase(deps: AccountDeps, input: ChangePassphraseInput): Promise<void> {
  const { account } = input;
  assertUnlocked(account);
  checkNewPassphrase(input.newPassphrase);
  wrapKdf(deps);
  // A mistyped or another account's recovery key is refused before anything is asked or taken.
  if ('recoveryKey' in input) requireRecoveryKeyOf(account, input.recoveryKey);
  await exclusive(deps.vault, () => changePassphraseNow(deps, input));
}

async function changePassphraseNow(deps: AccountDeps, input: ChangePassphraseInput): Promise<void> {
  const { account } = input;
  // A server behind this device (restored from an older backup) is not followed, nor does it block the
  // change: the new wrap goes past both generations, so the person can still change the passphrase.
  const taken = await takeNewerWrap(deps, { account, token: input.token }, 'keep-own');
  const record = await ownRecord(deps.vault, account);
  // Opening the current wrap proves knowledge of the current passphrase; the recovery key proves more.
  const current =
    'recoveryKey' in input
      ? rootOfRecoveryKey(input.recoveryKey)
      : await unwrapRoot(record.wrappedRoot, input.oldPassphrase).catch((e: unknown) => {
          // Most likely the person typed the passphrase this device knew: say that it changed, and that
          // this device now follows the change (the vault took the newer wrap, as refreshWrappedRoot would).
          if (taken.status === 'updated' && isAccountError(e) && e.code === 'WRONG_PASSPHRASE') {
            throw new AccountError(
              'PASSPHRASE_CHANGED_ELSEWHERE',
              'the passphrase was changed on another device: this device now unlocks with the passphrase ' +
                'set there, not the one it knew; give that passphrase to change it again',
            );
          }
          throw e;
        });
  // lock() may zero the account's bytes at any await from here on; a wrap of zeroes or a signature by a
  // zeroed key must never reach the server or the vault.
  let root: Uint8Array;
  let identitySecret: Uint8Array;
  try {
    assertUnlocked(account);
    root = account.root.slice();
    identitySecret = account.keys.identity.secretKey.slice();
  } catch (e) {
    current.fill(0);
    throw e;
  }
  try {
    if (!constantTimeEqual(current, root)) {
      throw new AccountError('VAULT_CORRUPT', 'vault: the wrapped root is not this account root');
    }
    const wrappedRoot = await wrapRootWithPassphrase(root, input.newPassphrase, wrapKdf(deps));
    // Past this device's generation, which takeNewerWrap left at or above the server's: devices that hold
    // this one take the change, and a server restored to an older generation takes it too.
    const gen = (record.gen ?? 0) + 1;
    const sig = await signWrap(deps.ed, account.accountId, identitySecret, wrappedRoot, gen);
    // Nothing has changed anywhere yet, so a lock that came meanwhile still wins.
    assertUnlocked(account);
    // Same root, same localKey: the sealed device key in the record stays valid and is kept as it is, so
    // writing the record needs no secret from `account`, which may be locked by then.
    const next: VaultRecord = { ...record, wrappedRoot, gen };
    delete next.gen0Sig;
    try {
      await sendWrap(deps.api, { wrappedRoot, gen, sig }, input.token);
    } catch (e) {
      if (!isHaleClientError(e) || e.code !== 'CONFLICT') throw e;
      // Another device changed the passphrase since this one read the server's wrap: this device follows
      // that change, as for one made before (the person gives the passphrase set there to change it again).
      const now = await takeNewerWrap(deps, { account, token: input.token }, 'keep-own').catch(() => null);
      if (now?.status !== 'updated') throw e;
      throw new AccountError(
        'PASSPHRASE_CHANGED_ELSEWHERE',
        'the passphrase was changed on another device at the same time: this device now unlocks with the ' +
          'passphrase set there, not the new one; give that passphrase to change it again',
      );
    }
    // The server now serves this wrap to joining devices: the vault must hold it too, locked or not.
    await storeChangedWrap(deps.vault, next);
    heldGenerations.set(account, gen);
  } finally {
    current.fill(0);
    root.fill(0);
    identitySecret.fill(0);
  }
}

export type RefreshWrappedRootResult =
  { readonly status: 'current'; readonly gen: number } | { readonly status: 'updated'; readonly gen: number };

/**
 * Takes the account's current passphrase wrap from the server when it is newer than this device's: after
 * a passphrase change on another device, this device then unlocks with the new passphrase only. Call it
 * when online after unlocking (an open device session given `vault` and `api` does it by itself). Refuses
 * (WRAPPED_ROOT_REFUSED, nothing written) a wrap that is older than or different from the generation
 * this device holds, or not signed by the account's identity key. Only the wrap and its generation change
 * in the vault; the rest of the record (login name, device name, sealed device key) is kept as it is.
 */
export async function refreshWrappedRoot(
  deps: RefreshDeps,
  input: { readonly account: WrapHolder; readonly token: string },
): Promise<RefreshWrappedRootResult> {
  assertUnlocked(input.account);
  return exclusive(deps.vault, () => takeNewerWrap(deps, input, 'refuse'));
}

type RefreshDeps = {
  readonly api: Pick<HttpApi, 'getWrappedRoot'>;
  readonly vault: Vault;
  readonly ed: Ed25519;
};

/**
 * refreshWrappedRoot for a caller that already runs exclusively on the vault. A served wrap older than this
 * device's, or another one at its generation, is never taken: `refuse` throws WRAPPED_ROOT_REFUSED for it;
 * `keep-own` (a passphrase change, which then publishes past both) answers `current` at this device's
 * generation, the vault untouched.
 */
async function takeNewerWrap(
  deps: RefreshDeps,
  input: { readonly account: WrapHolder; readonly token: string },
  notNewer: 'refuse' | 'keep-own',
): Promise<RefreshWrappedRootResult> {
  const { account } = input;
  assertUnlocked(account);
  const state = await deps.api.getWrappedRoot(input.token);
  const record = await ownRecord(deps.vault, account);
  const held = record.gen ?? 0;
  const refuse = (why: string) => new AccountError('WRAPPED_ROOT_REFUSED', `wrapped root refused: ${why}`);
  if (state.accountId !== account.accountId) throw refuse('it belongs to another account');
  const keepOwn = (why: string): RefreshWrappedRootResult => {
    if (notNewer === 'refuse') throw refuse(why);
    heldGenerations.set(account, held);
    return { status: 'current', gen: held };
  };
  if (state.gen < held) return keepOwn(`generation ${state.gen} is older than this device's ${held}`);
  if (state.gen === held) {
    if (canonicalJson(state.wrappedRoot) === canonicalJson(record.wrappedRoot)) {
      heldGenerations.set(account, held);
      return { status: 'current', gen: held };
    }
    return keepOwn(`it differs from this device's wrap at generation ${held}`);
  }
  if (!(await wrapSignedByAccount(deps.ed, account.keys, state))) {
    throw refuse('it is not signed by the account identity key');
  }
  const next: VaultRecord = { ...record, wrappedRoot: state.wrappedRoot, gen: state.gen };
  delete next.gen0Sig;
  await deps.vault.set(VAULT_KEY, JSON.stringify(next));
  heldGenerations.set(account, state.gen);
  return { status: 'updated', gen: state.gen };
}

/** Generation of the passphrase wrap this device's vault holds for `account`; no server call. */
export async function heldWrappedRootGen(
  deps: Pick<AccountDeps, 'vault'>,
  account: Pick<UnlockedAccount, 'accountId' | 'device'>,
): Promise<number> {
  return (await ownRecord(deps.vault, account)).gen ?? 0;
}

/** This device's own vault record (the account and device `account` was unlocked from). */
async function ownRecord(
  vault: Vault,
  account: Pick<UnlockedAccount, 'accountId' | 'device'>,
): Promise<VaultRecord> {
  const record = await requireRecord(vault);
  if (record.accountId !== account.accountId || record.deviceId !== account.device.deviceId) {
    throw new AccountError('VAULT_CORRUPT', 'vault: holds another account or device');
  }
  return record;
}

/** Whether `state` carries the identity key's signature over its wrap at its generation (0 included). */
async function wrapSignedByAccount(
  ed: Ed25519,
  keys: AccountKeys,
  state: Pick<HttpWrappedRootState, 'wrappedRoot' | 'gen' | 'sig'>,
): Promise<boolean> {
  const sig = state.sig === null ? null : base64urlDecode(state.sig);
  if (sig === null || !sig.ok) return false;
  const payload = wrappedRootSignaturePayload({
    accountId: keys.accountId,
    wrappedRoot: state.wrappedRoot,
    gen: state.gen,
  });
  return verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/**
 * The check a join makes of the wrap the server serves it (after the root it opens derived `keys`): for
 * this account, and signed by it at the generation served. An unsigned generation 0 is WRAPPED_ROOT_UNSIGNED
 * unless `acceptUnsigned`. Returns the vault's `gen0Sig` for a generation-0 wrap: `published` when signed,
 * `unverified` when taken unsigned.
 */
async function checkServedWrap(
  ed: Ed25519,
  keys: AccountKeys,
  state: HttpWrappedRootState,
  acceptUnsigned: boolean,
): Promise<VaultRecord['gen0Sig']> {
  if (state.accountId !== keys.accountId) {
    throw new AccountError('WRAPPED_ROOT_REFUSED', 'wrapped root refused: it belongs to another account');
  }
  if (state.gen === 0 && state.sig === null) {
    if (acceptUnsigned) return 'unverified';
    throw new AccountError(
      'WRAPPED_ROOT_UNSIGNED',
      'the account passphrase wrap (generation 0) is not signed by the account: open one of its devices ' +
        'online with an up-to-date app first, or join accepting an unsigned legacy wrap',
    );
  }
  if (!(await wrapSignedByAccount(ed, keys, state))) {
    throw new AccountError(
      'WRAPPED_ROOT_REFUSED',
      `wrapped root refused: generation ${state.gen} is not signed by the account identity key`,
    );
  }
  return state.gen === 0 ? 'published' : undefined;
}

/**
 * PUTs a new passphrase wrap. An answer lost on the way back (NETWORK, TIMEOUT, a 5xx: `retry`; or a
 * success that could not be read: `outcomeUnknown`) may hide a wrap the server took, which it then
 * serves to joining devices and, as newer, to this account's other devices; and a request sent twice (a retrying proxy or fetch wrapper) is refused CONFLICT by the server
 * that took the first. So after either the wrap is read back, and the PUT counts as done when the server
 * holds exactly this wrap at this generation. Otherwise (not there, or the read fails too) the first error
 * stands: a CONFLICT then means another device published a wrap at this generation or later.
 */
async function sendWrap(
  api: Pick<HttpApi, 'putWrappedRoot' | 'getWrappedRoot'>,
  body: { readonly wrappedRoot: WrappedRoot; readonly gen: number; readonly sig: string },
  token: string,
): Promise<void> {
  try {
    await api.putWrappedRoot(body, token);
  } catch (e) {
    if (!outcomeUnknown(e) && !(isHaleClientError(e) && e.code === 'CONFLICT')) throw e;
    const state = await api.getWrappedRoot(token).catch(() => null);
    const landed =
      state !== null &&
      state.gen === body.gen &&
      canonicalJson(state.wrappedRoot) === canonicalJson(body.wrappedRoot);
    if (!landed) throw e;
  }
}

/**
 * Whether `e`, refusing a new wrap at `gen`, is a CONFLICT because another device changed the passphrase
 * first: the server now serves a wrap of this account at `gen` or later, signed by it — the test
 * changePassphrase makes through takeNewerWrap, without the vault a join does not have yet. Another
 * CONFLICT, an unsigned wrap or a failed read: false, the server's error stands.
 */
async function lostToAnotherChange(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  e: unknown,
  gen: number,
  token: string,
): Promise<boolean> {
  if (!isHaleClientError(e) || e.code !== 'CONFLICT') return false;
  const state = await deps.api.getWrappedRoot(token).catch(() => null);
  return (
    state !== null &&
    state.accountId === keys.accountId &&
    state.gen >= gen &&
    (await wrapSignedByAccount(deps.ed, keys, state))
  );
}

/**
 * changePassphrase's vault write, after the server took the new wrap. A write reported failed that did
 * store the record counts (read back, as createAccount does). Else PASSPHRASE_NOT_SAVED, not the storage's
 * bare error: that is what a failure before sending throws, and the caller must tell the two apart — here
 * the server holds the new passphrase while this device still opens with the old one.
 */
async function storeChangedWrap(vault: Vault, next: VaultRecord): Promise<void> {
  const text = JSON.stringify(next);
  try {
    await vault.set(VAULT_KEY, text);
  } catch (e) {
    if ((await settle(() => vault.get(VAULT_KEY))) === text) return;
    throw new AccountError(
      'PASSPHRASE_NOT_SAVED',
      'the new passphrase was set for the account, but this device could not save it (its storage ' +
        'failed; it may be full): this device still unlocks with the old passphrase until it takes the ' +
        'new one (refreshWrappedRoot, once storage is freed); new devices join with the new one',
      { cause: e },
    );
  }
}

/** The identity key's signature over a wrap and its generation, as the server and other devices check it. */
async function signWrap(
  ed: Ed25519,
  accountId: string,
  identitySecretKey: Uint8Array,
  wrappedRoot: WrappedRoot,
  gen: number,
): Promise<string> {
  return signPayload(ed, identitySecretKey, wrappedRootSignaturePayload({ accountId, wrappedRoot, gen }));
}

/**
 * Signed device revocation; the server cuts the device off at once (sessions and sockets). LOCKED when the
 * account is locked, also before the second signature a refused revokedAt asks for. Once the server took
 * it, the listeners of the account (`onDeviceRevoked`: the directory of each device session open on it in
 * this app, whichever account object opened it) are handed the revocation sent, and waited for; one that
 * fails does not fail the revocation, which stands.
 */
export async function revokeDevice(
  deps: Pick<AccountDeps, 'api' | 'ed' | 'now'>,
  input: { readonly account: UnlockedAccount; readonly deviceId: string },
): Promise<HttpDeviceRevokeResponse> {
  assertUnlocked(input.account);
  const { accountId, keys } = input.account;
  const { answer, signed } = await sendDeviceRevocation(
    deps,
    { accountId, keys },
    input.deviceId,
    deps.now ?? Date.now,
  );
  const revoked: DeviceRevoked = { signed, revokedAt: answer.revokedAt };
  await Promise.all(
    [...(revocationListeners.get(accountId) ?? [])].map((listener) =>
      // A listener that throws at once is as one that rejects: the revocation stands either way.
      Promise.resolve()
        .then(() => listener(revoked))
        .catch(() => undefined),
    ),
  );
  return answer;
}

/**
 * Sends the revocation, signed again at the server's time if it refuses this clock's: the server's answer,
 * and the signed revocation it took.
 */
async function sendDeviceRevocation(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  { accountId, keys }: { readonly accountId: string; readonly keys: AccountKeys },
  deviceId: string,
  now: () => number,
): Promise<{ answer: HttpDeviceRevokeResponse; signed: SignedDeviceRevocation }> {
  const send = async (at: () => number) => {
    // The second attempt comes after an answer: lock() may have zeroed the identity key meanwhile.
    assertUnlocked({ keys });
    const revocation = { v: 1 as const, accountId, deviceId, revokedAt: isoAt(at) };
    const sig = await signPayload(deps.ed, keys.identity.secretKey, deviceRevocationPayload(revocation));
    const signed: SignedDeviceRevocation = { revocation, sig };
    return { answer: await deps.api.revokeDevice(signed), signed };
  };
  try {
    return await send(now);
  } catch (e) {
    // The server refuses a revokedAt far from its clock (this device's clock is off): a lost phone must
    // still be revocable, so it is signed once more at the time the server answered with.
    const serverTime = revokedAtRefusedAt(e);
    if (serverTime === null) throw e;
    return send(() => serverTime);
  }
}

/** The server's time, when `e` refuses a device revocation's revokedAt as too far from it; else null. */
const revokedAtRefusedAt = (e: unknown): number | null => {
  if (!isHaleClientError(e) || e.code !== 'BAD_MESSAGE' || e.details?.['field'] !== 'revokedAt') return null;
  const at = e.details['serverTime'];
  const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isFinite(ms) ? ms : null;
};

export type ProviderProfileInput = Omit<ProviderProfile, 'accountId'>;

/** Publishes (or replaces) this provider's directory entry, signed by its identity key. */
export async function publishProviderProfile(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  input: {
    readonly account: UnlockedAccount;
    readonly profile: ProviderProfileInput;
    readonly token: string;
  },
): Promise<SignedProviderProfile> {
  const { account } = input;
  assertUnlocked(account);
  if (account.role !== 'provider') {
    throw new AccountError('NOT_A_PROVIDER', 'only provider accounts publish a directory profile');
  }
  const p: Partial<ProviderProfileInput> = input.profile ?? {};
  // Checked before it is signed: from untyped code a missing field would fail as no HaleError.
  const checked = validate(ProviderProfile, {
    accountId: account.accountId,
    displayName: p.displayName,
    specialty: p.specialty,
    clinic: p.clinic,
    identifier: p.identifier,
    ...(p.contact === undefined ? {} : { contact: p.contact }),
  });
  if (!checked.ok) {
    const issue = checked.error.details.issues[0];
    const field = issue?.path.split('/')[1] || undefined;
    throw new AccountError(
      'INVALID_PROFILE',
      `the directory profile's ${field ?? 'content'} ${issue?.reason ?? 'is not valid'}`,
      field === undefined ? {} : { field },
    );
  }
  const profile: ProviderProfile = checked.value;
  const sig = await signPayload(deps.ed, account.keys.identity.secretKey, directoryProfilePayload(profile));
  const signed: SignedProviderProfile = { profile, sig };
  await deps.api.putDirectory(signed, input.token);
  return signed;
}

export interface VerifiedProvider extends DirectoryEntry {
  /** keyFingerprint of the identity key, for out-of-band comparison. */
  readonly fingerprint: string;
}

async function verifyEntry(ed: Ed25519, entry: DirectoryEntry): Promise<boolean> {
  const identity = base64urlDecode(entry.identityPublicKey);
  const sig = base64urlDecode(entry.sig);
  if (!identity.ok || !sig.ok || identity.value.length !== 32) return false;
  // Without this a server could pair any profile with a key of its own and a matching signature.
  if (accountIdFromIdentityKey(identity.value) !== entry.profile.accountId) return false;
  const payload = directoryProfilePayload(entry.profile);
  return verifyCanonical(ed, identity.value, payload.label, payload, sig.value);
}

/**
 * Searches the provider directory, one page per call (by display name): without `cursor` the first page,
 * with the `next` of a page (and the same `q`) the one after it; `next` is absent on the last page. A
 * search box shows the first matches and loads more when asked, instead of pulling a whole clinic's
 * directory. A server older than PAGING_VERSION (learnt from `serverInfo`, asked once per `api` object:
 * `serverSpeaks`) answers the first page only, without `next`: a full page then means more may match.
 * Every entry is checked on the device: its identity key must derive the profile's account id and sign
 * the profile; entries that fail are dropped and counted.
 */
export async function searchProviders(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  input: { readonly q: string; readonly limit?: number; readonly cursor?: string; readonly token: string },
): Promise<{ providers: VerifiedProvider[]; dropped: number; next?: string }> {
  // A cursor came from a server that pages; only the first page needs to ask.
  const paging =
    input.cursor !== undefined
      ? { cursor: input.cursor }
      : (await serverSpeaks(deps.api, PAGING_VERSION))
        ? { paged: true }
        : {};
  const answer = await deps.api.searchDirectory(
    { q: input.q, ...(input.limit === undefined ? {} : { limit: input.limit }), ...paging },
    input.token,
  );
  const providers: VerifiedProvider[] = [];
  let dropped = 0;
  for (const entry of answer.providers) {
    if (!(await verifyEntry(deps.ed, entry))) {
      dropped++;
      continue;
    }
    const identity = unwrapResult(base64urlDecode(entry.identityPublicKey));
    providers.push({ ...entry, fingerprint: keyFingerprint(identity) });
  }
  return { providers, dropped, ...(answer.next === undefined ? {} : { next: answer.next }) };
}

/** Safety number between this account's identity key and another's (base64url or bytes). */
export function safetyNumberWith(
  account: UnlockedAccount,
  otherIdentityPublicKey: Uint8Array | string,
): string {
  const other =
    typeof otherIdentityPublicKey === 'string'
      ? unwrapResult(base64urlDecode(otherIdentityPublicKey))
      : otherIdentityPublicKey;
  return safetyNumber(account.keys.identity.publicKey, other);
}

export interface JoinWithRootInput {
  /** The account root, handed over by pairing (a copy: the join zeroes it when it fails). */
  readonly root: Uint8Array;
  readonly deviceName: string;
  /** As the approving device holds them: the role the server must answer, and the login name. */
  readonly role: Role;
  readonly loginName: string | null;
  /** As for `joinWithPassphrase`: continue over an unsigned generation 0 (WRAPPED_ROOT_UNSIGNED otherwise). */
  readonly acceptUnsignedLegacyWrap?: boolean;
}

/**
 * Joins this device with a root another device of the account handed over (pairing, pairing/). As the
 * recovery-key join, without changing the passphrase: the account answer must carry the root's keys and the
 * role the approving device holds (ROLE_REFUSED otherwise: a server cannot flip it), the device is
 * registered, and the server's current passphrase wrap, checked signed by the account at its generation
 * (WRAPPED_ROOT_REFUSED / WRAPPED_ROOT_UNSIGNED), goes to the vault: this device unlocks with the account's
 * passphrase from then on. A failure after the registration revokes the certificate again.
 */
export async function joinWithRoot(deps: AccountDeps, input: JoinWithRootInput): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  checkDeviceName(input.deviceName);
  return exclusive(deps.vault, async () => {
    await requireEmptyVault(deps.vault);
    return withRootKeys(input.root, async (keys, track) => {
      const server = await fetchAccount(deps.api, keys);
      if (server.role !== input.role) {
        throw new AccountError(
          'ROLE_REFUSED',
          `the server answered this account as a ${server.role} account, but the device that paired holds it ` +
            `as a ${input.role} account: nothing was done; tell the server operator if it persists`,
        );
      }
      const roleSig = await checkServedRole(deps.ed, keys, server, null);
      const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now);
      track(device);
      return asRegisteredDevice(deps, keys, cert, now, async () => {
        const session = await openSession(deps.api, device, deps.ed);
        const current = await deps.api.getWrappedRoot(session.token);
        const gen0Sig = await checkServedWrap(
          deps.ed,
          keys,
          current,
          input.acceptUnsignedLegacyWrap === true,
        );
        const published = await publishAtJoin(deps, keys, device, server, session.token);
        const account = unlocked({
          root: input.root,
          keys,
          role: server.role,
          loginName: input.loginName,
          device,
          deviceName: input.deviceName,
        });
        await writeRecord(deps.vault, account, current.wrappedRoot, current.gen, published, gen0Sig, roleSig);
        heldGenerations.set(account, current.gen);
        return account;
      });
    });
  });
}
