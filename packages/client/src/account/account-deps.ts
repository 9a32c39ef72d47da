/**
 * What the account operations share: the account and dependency types, the vault key, retry limits, and
 * the checks of what a person types (login name, device name, new passphrase, KDF cost).
 *
 * - Every check here runs before anything is derived, sent or written.
 * - `normalizeLoginName`: NFKC, trimmed, lower case; still not a login name → INVALID_LOGIN_NAME.
 * - A device name a certificate cannot carry → INVALID_DEVICE_NAME; a passphrase shorter than
 *   MIN_PASSPHRASE_LENGTH code points → WEAK_PASSPHRASE; a KDF cost below production strength without the
 *   test-only `weakKdfForTests` → WEAK_KDF.
 * - `outcomeUnknown`: a failed request that may still have taken effect (no answer, or an unreadable 2xx).
 * - `settle`: a step after the server holds a new account, which nothing may end (never throws).
 */
import type { Static } from '@sinclair/typebox';
import type { AccountRole } from '@hale/protocol';
import { LOGIN_NAME_PATTERN, MAX_DEVICE_NAME_CHARS } from '@hale/protocol';
import {
  type AccountKeys,
  type DeviceKeys,
  type Ed25519,
  type X25519,
  type KdfSettings,
  PRODUCTION_KDF,
  isProductionStrength,
  base64urlEncode,
  signCanonical,
} from '@hale/crypto';
import type { HttpApi } from '../api/http-api';
import type { Vault } from './vault';
import { AccountError } from '../core/account-error';
import { isHaleClientError } from '../api/errors';

/** Vault key of the account record. */
export const VAULT_KEY = 'hale.account';

/** Minimum passphrase length (Unicode code points after NFKC) for new passphrases. */
export const MIN_PASSPHRASE_LENGTH = 8;

/**
 * An account's role, fixed at registration: `patient` (owns a chart) or `provider` (is granted access to
 * patients' charts).
 */
export type Role = Static<typeof AccountRole>;

/**
 * An account opened on this device: its ids, role, root secret, derived keys and device keys, all in memory.
 * - Every secret is zeroed in place by `lock(account)`; a locked account answers `LOCKED` everywhere.
 * - Never stored or sent in clear: the vault holds the root wrapped under the passphrase.
 * - A device session open on it uses none of its keys once it is locked (reads and writes reject `LOCKED`,
 *   earlier writes stay pending, the connection ends with `SyncError` `LOCKED`).
 */
export interface UnlockedAccount {
  readonly accountId: string;
  readonly role: Role;
  readonly loginName?: string;
  readonly root: Uint8Array;
  readonly keys: AccountKeys;
  readonly device: DeviceKeys;
  readonly deviceName: string;
}

/**
 * What the account functions (`createAccount`, `unlock`, `changePassphrase`, …) are given: the server's HTTP
 * API, the vault, Ed25519 and the KDF settings. Injected, so the same code runs in a browser, Electron and
 * Node.
 */
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

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

export const weakKdf = (what: string): AccountError =>
  new AccountError(
    'WEAK_KDF',
    `${what} a key derivation (KDF) cost below production strength, which anyone holding the wrap can ` +
      'guess passphrases against cheaply; only tests may use it (weakKdfForTests)',
  );

/** The KDF settings for a new wrap: PRODUCTION_KDF, or weaker ones only as the named test-only choice. */
export function wrapKdf(deps: Pick<AccountDeps, 'kdf' | 'weakKdfForTests'>): KdfSettings {
  const kdf = deps.kdf ?? PRODUCTION_KDF;
  if (!isProductionStrength(kdf) && deps.weakKdfForTests !== true) throw weakKdf('this app asked for');
  return kdf;
}

/** The parts of an unlocked account that taking a newer wrap needs (an open session's account will do). */
export type WrapHolder = Pick<UnlockedAccount, 'accountId' | 'keys' | 'device'>;

export const isoAt = (now: () => number): string => new Date(now()).toISOString();

export async function signPayload(ed: Ed25519, secretKey: Uint8Array, payload: { readonly label: string }) {
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
export function checkDeviceName(deviceName: string): void {
  if (typeof deviceName !== 'string' || deviceName.length < 1 || deviceName.length > MAX_DEVICE_NAME_CHARS) {
    throw new AccountError(
      'INVALID_DEVICE_NAME',
      'a device name has 1 to 100 characters (an emoji counts as 2): choose a shorter one',
    );
  }
}

export function checkNewPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || [...passphrase.normalize('NFKC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new AccountError(
      'WEAK_PASSPHRASE',
      `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  }
}

/**
 * Whether a failed request may still have taken effect on the server: no answer came (`retry`: NETWORK,
 * TIMEOUT, a 5xx), or a success status came with a body that could not be read (a proxy rewrote it:
 * BAD_RESPONSE with a 2xx status). Anything else is the server's refusal, and nothing was stored.
 */
export const outcomeUnknown = (e: unknown): boolean =>
  isHaleClientError(e) && (e.retry || (e.code === 'BAD_RESPONSE' && e.status >= 200 && e.status < 300));

/**
 * What `fn` resolves to, or undefined when it fails: thrown at the call (an injected platform function that
 * throws instead of rejecting) or rejected. For steps after the server holds a new account, where nothing
 * may end the creation.
 */
export const settle = <T>(fn: () => Promise<T>): Promise<T | undefined> =>
  Promise.resolve()
    .then(fn)
    .catch(() => undefined);
