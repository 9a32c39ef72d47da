/**
 * Pre-unlock storage of a device and the format of the account record kept in it. The platform injects
 * the storage: IndexedDB written durably in the web app (`idbVault` of @hale/platform-web; not localStorage,
 * which a browser writes to disk late), Electron safeStorage on the desktop. It holds
 * only what is needed before unlock (the passphrase-wrapped root and the device key sealed under a
 * root-derived key), never a secret in clear.
 *
 * Record format and builds: `v` is the record's format version. A build reads any record of its own
 * version, including one a newer build of the same version wrote with fields this build does not know
 * (e.g. after going back to an older app version): those are kept as they are, so the newer build finds
 * them again when the older one rewrote the record, and every field this build knows is checked as
 * strictly as ever. So a field added later must stay valid when an older build rewrites the fields it
 * knows and carries the new one along unchanged; a change that cannot (a field whose meaning changes, one
 * that must be read to use the record safely) bumps `v`. A record of a higher `v` is refused as
 * VAULT_TOO_NEW (update the app), never read and never overwritten by account operations (create and join
 * refuse a vault that holds a record: ACCOUNT_EXISTS). Anything else that does not parse or check is
 * VAULT_CORRUPT.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AccountId,
  AccountRole,
  B64u,
  DeviceId,
  LoginName,
  PublicKey,
  WrappedRoot,
  WrappedRootGen,
  validateTolerant,
} from '@hale/protocol';
import { AccountError } from '../core/account-error';

/** Format version of the account record this build writes and reads. */
export const VAULT_RECORD_VERSION = 1;

/**
 * The one JSON entry an account keeps in the vault, under `VAULT_KEY`: what is needed before unlock.
 * - Sealed: the root (wrapped under the passphrase) and the device's signing key.
 * - In clear: account id, role, login name, device id and name, the wrap's generation and KDF parameters.
 * - Whoever reads it learns whose account the device holds and can guess passphrases offline.
 */
export const VaultRecord = Type.Object(
  {
    v: Type.Literal(VAULT_RECORD_VERSION),
    accountId: AccountId,
    role: AccountRole,
    /** Null after a recovery-key join: the server does not tell login names. */
    loginName: Type.Union([LoginName, Type.Null()]),
    wrappedRoot: WrappedRoot,
    /** Generation of `wrappedRoot` (see HttpWrappedRootState); absent in vaults written before it existed: 0. */
    gen: Type.Optional(WrappedRootGen),
    deviceId: DeviceId,
    devicePublicKey: PublicKey,
    /** base64url(nonce(24) ‖ secretbox(device secret key, nonce, keys.localKey)). */
    deviceSecret: B64u(256),
    deviceName: Type.String({ minLength: 1, maxLength: 100 }),
    /**
     * Set once the server was seen relaying the account's own signature over its wrapping key (sent at
     * registration or by `publishWrappingKey`); absent: `unlock` checks, and publishes it if missing.
     */
    wrappingKeyPublished: Type.Optional(Type.Literal(true)),
    /**
     * `published` once the server was seen relaying the account's valid signature over `role` (sent at
     * registration, published by `publishRoleSig`, or verified at this device's join): from then on this
     * device refuses an answer of its account without it (ROLE_UNSIGNED). `unverified`: this device took
     * `role` from an answer without it at its join, so it never signs that role itself; `unlock` does not ask
     * again (a request at every unlock), `publishRoleSig` and `publishWrappingKey` record `published` once
     * they see the server relay a valid one. Absent (an older build wrote the record, or the server could
     * not keep it): `unlock` publishes it for `role` once the server relays none.
     */
    roleSig: Type.Optional(Type.Union([Type.Literal('published'), Type.Literal('unverified')])),
  },
  { additionalProperties: false },
);
/**
 * The one JSON entry an account keeps in the vault, under `VAULT_KEY`: what is needed before unlock.
 * - Sealed: the root (wrapped under the passphrase) and the device's signing key.
 * - In clear: account id, role, login name, device id and name, the wrap's generation and KDF parameters.
 * - Whoever reads it learns whose account the device holds and can guess passphrases offline.
 */
export type VaultRecord = Static<typeof VaultRecord>;

/**
 * The account record stored as `text`: VAULT_TOO_NEW when a newer app version wrote it in a format this
 * build does not know, VAULT_CORRUPT when it is not a valid record. Top-level fields this build does not
 * know are kept in the object returned (invisible to its type), so spreading it into the record written
 * back keeps them; unknown fields nested inside known ones are dropped.
 */
export function parseVaultRecord(text: string): VaultRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AccountError('VAULT_CORRUPT', 'vault: the account record is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AccountError('VAULT_CORRUPT', 'vault: the account record is not an object');
  }
  const v: unknown = (parsed as Record<string, unknown>)['v'];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > VAULT_RECORD_VERSION) {
    throw new AccountError(
      'VAULT_TOO_NEW',
      `vault: the account on this device was saved by a newer version of the app (record format ${v}, ` +
        `this version reads ${VAULT_RECORD_VERSION}); update the app to open it`,
    );
  }
  const checked = validateTolerant(VaultRecord, parsed);
  if (!checked.ok) throw new AccountError('VAULT_CORRUPT', `vault: ${checked.error.message}`);
  const unknown = Object.entries(parsed).filter(([key]) => !Object.hasOwn(VaultRecord.properties, key));
  return { ...Object.fromEntries(unknown), ...checked.value };
}

/**
 * Where a device keeps its account record before unlock: async `get`/`set`/`delete` of strings, injected by
 * the platform (`idbVault` in a browser, a vault behind `safeStorage` in Electron's main process, `fileVault`
 * or `memoryVault` in Node).
 * - Use storage only this app reads, on disk when a write resolves, never copied off the device in clear (not
 *   `localStorage`).
 * - Writes to one vault run one at a time, in call order.
 */
export interface Vault {
  /** The value under `key`, or null. */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key`; resolves once it is durable. */
  set(key: string, value: string): Promise<void>;
  /** Removes `key` (nothing when absent). */
  delete(key: string): Promise<void>;
}

/** In-memory vault for tests and for sessions that must leave nothing behind. */
export interface MemoryVault extends Vault {
  /** Copy of every entry, so tests can inspect exactly what would have been persisted. */
  entries(): ReadonlyMap<string, string>;
}

/** A vault in memory, for Node tools and sessions that keep nothing: lost when the process ends. */
export function memoryVault(initial?: Iterable<readonly [string, string]>): MemoryVault {
  const data = new Map<string, string>(initial);
  return {
    get: async (key) => data.get(key) ?? null,
    set: async (key, value) => {
      data.set(key, value);
    },
    delete: async (key) => {
      data.delete(key);
    },
    entries: () => new Map(data),
  };
}
