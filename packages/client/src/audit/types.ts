/**
 * The audit log's types: what callers pass and get (re-exported by audit-log.ts), and what its modules
 * hand each other (`Judged`, `Checked`).
 */
import type { AuditBody, AuditEntryBody, ServedDoc } from '@hale/protocol';
import type { AccountKeys, Ed25519, X25519 } from '@hale/crypto';
import type { Connection } from '../sync/connection';
import type { DeviceMeta } from '../store/device-meta';
import type { StoredGrant } from './stored-state';
import type { DeviceDirectory } from '../sync/device-directory';
import type { AuditVerification, ChainHead } from './audit-chain';

export interface AuditLogDeps {
  accountId: string;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /** The host's X25519 for sealing and opening entry bodies (tweetnacl by default). */
  x25519?: X25519;
  now: () => number;
  connection: Connection;
  directory: DeviceDirectory;
  meta: DeviceMeta;
  /** The server's id and audit signing key (GET /v1/server). */
  serverKey: () => Promise<{ serverId: string; publicKey: Uint8Array } | null>;
  /**
   * The grants this account issued, read now from the server's list into the device's copy (consent's
   * `readListed`); rejects when it cannot be read now. Absent: a check knows only the copy as stored.
   */
  readGrants?: () => Promise<readonly StoredGrant[]>;
  /** Throws (AccountError LOCKED) once the account was locked: nothing is signed or opened then. */
  assertUnlocked?: () => void;
  /**
   * The view cache's budget (default MAX_VIEW_ENTRIES entries, MAX_VIEW_CHARS characters) and, for tests,
   * its shape: entries kept in VIEW itself (VIEW_TAIL_ENTRIES), per part (VIEW_PART_ENTRIES), parts
   * (MAX_VIEW_PARTS).
   */
  viewCache?: {
    maxEntries: number;
    maxChars: number;
    tailEntries?: number;
    partEntries?: number;
    maxParts?: number;
  };
  /** How long a read of the log waits for the connection, from when it was asked (default VIEW_WAIT_MS). */
  viewWaitMs?: number;
}

/** What an audit entry says of one record write: the action, the record's kind and id. */
export interface RecordChange {
  action: 'create' | 'update' | 'delete';
  kind: string;
  id: string;
}

/** What a caller of `append` says; the log adds `kind`, the actor and the time (AuditEntryBody). */
export type AuditEntryDetail = Omit<AuditEntryBody, 'kind' | 'actorId' | 'actorDeviceId' | 'at'>;

/** Who vouches for an entry's content: the server (its key), the patient's own device, or a grantee's. */
export type EntrySource = 'server' | 'patient' | 'grantee';

/** An audit entry as `entries()` answers it: verified, its body opened. */
export interface OpenedEntry {
  id: string;
  seq: number;
  author: string;
  authorSeq: number;
  at: string;
  body: AuditBody;
  source: EntrySource;
  /** The account whose key verified the entry (the server's id for server entries). */
  authorAccountId: string;
  /**
   * A grantee's entry whose content did not open (UNREADABLE_ENTRY_ACTION): `body` is made here, naming
   * its signer, not what the author wrote.
   */
  unreadable?: true;
}

/** The action of the body standing in for a grantee's entry whose content is unreadable. */
export const UNREADABLE_ENTRY_ACTION = 'unreadable-entry';

/** What such an entry means, as views and `verify` say it. */
export const UNREADABLE_ENTRY_MEANING =
  "signed by this account's certified device, but its content does not open with your key: it says " +
  'nothing that can be read. The log is not broken by it (its place in its chain checks); it records no ' +
  'access the server saw and changes no access. A device with a wrong or old key for you, or one ' +
  'writing on purpose what you cannot read, makes such entries.';

/**
 * A device author as a check judged its entries: its account, and its revocation cutoff then (absent: not
 * revoked).
 */
export interface Judged {
  account: string;
  revokedAt?: string;
}

/** A check of a patient's log as served: its verification, the entries that verify opened, the heads. */
export interface Checked {
  verification: AuditVerification;
  opened: OpenedEntry[];
  heads: Map<string, ChainHead>;
  /**
   * Per device author whose entries were judged, how (null: differently within the check, the directory
   * answering anew meanwhile).
   */
  judged: Map<string, Judged | null>;
  /**
   * What the entries reported `unverified` say (their bodies, opened, vouched for by nobody): `recorded`
   * asks whether one of them may be an entry it looks for.
   */
  unchecked: AuditBody[];
  /** The link hash of each served entry whose signature holds (`verifyAuditChains`). */
  links: ReadonlyMap<ServedDoc, string>;
}

/** One line of "who saw my records". */
export interface AccessRecord {
  at: string;
  /**
   * `server`: an access the server logged and signed. `grantee`: an entry a grantee's own device wrote
   * about itself — its claim (shown, never counted as a server-logged access).
   */
  source: 'server' | 'grantee';
  actorId: string;
  actorDeviceId: string;
  /**
   * The newest name the actor's device gave itself in this log: from a DEVICE_NAMED_ACTION entry signed by
   * that very device (a device names only itself; the name is sealed to the patient). Absent: none.
   */
  actorDeviceName?: string;
  action: string;
  stream?: string;
  /** Documents served or written (server entries only; a positive integer). */
  count?: number;
  /** The blob a server-logged `blob-delete` removed. */
  blobId?: string;
  /**
   * What a grantee's entry says it did, in its own words (grantee entries only, when it wrote one: a
   * `quarantine-dismiss` names the versions dismissed).
   */
  summary?: string;
  /**
   * A grantee's entry whose content could not be read: `actorId` / `actorDeviceId` name who signed it,
   * `action` is UNREADABLE_ENTRY_ACTION and `summary` says what it means.
   */
  unreadable?: true;
}

/** Asks a view (`whoAccessed`, `disclosures`, `entries`) for an answer also when the device is offline. */
export interface AuditViewOptions {
  /**
   * `cached`: not connected, answer from what this device verified before (the view cache) instead of
   * waiting for the connection, or refuse at once (SyncError NETWORK) when no such answer may be given.
   */
  offline: 'cached';
}

/**
 * A view's answer asked with `{ offline: 'cached' }`. `complete: true`: the log was read now, as without
 * the option (`asOf`: when this read began). `complete: false`: the device was not connected (or lost the
 * connection before the read answered), so this is what it verified before, as of `asOf` (when it last
 * read the log, this device's clock): entries served since are missing, and it is never the current log.
 * `unverified` (present when not 0): entries left out of `records` because their author's device list could
 * not be loaded (offline: at the read `asOf` names), so whether that device may sign them was not checked;
 * `verify` reports them `unverified`. They are never listed as verified.
 */
export type AuditViewAnswer<T> =
  | { records: T; asOf: string; complete: true; unverified?: number }
  | { records: T; asOf: string; complete: false; reason: 'offline'; unverified?: number };

/** One grant in the accounting of disclosures. */
export interface Disclosure {
  /** When the grant was issued: its signed `issuedAt` when this device holds the grant, else `recordedAt`. */
  date: string;
  /** The grant's signed `issuedAt`, when this device holds the grant. */
  issuedAt?: string;
  /** The grant's signed start of access, when this device holds the grant. */
  start?: string;
  /** When its `consent-grant` entry was appended (the appending device's clock). */
  recordedAt: string;
  recipient: string;
  recordTypes: string[];
  purpose: string;
  expiresAt: string;
  /**
   * When it was revoked: the signed revocation's time when this device holds it, else the time of the
   * first `consent-revoke` entry of the patient's devices for it. Absent: not known to be revoked.
   */
  revokedAt?: string;
  /** The device that revoked it, as its `consent-revoke` entry names it (absent when none names one). */
  revokedByDeviceId?: string;
  /** Server-logged accesses by the recipient. */
  accesses: number;
  documentsDisclosed: number;
}

/** A patient's chain of entries this device holds back after a refusal. */
export interface UndeliveredChain {
  patientId: string;
  entries: number;
  code: string;
  message: string;
  refusals: number;
  since: string;
  nextAttemptAt: string;
  /** Some of its entries may be stored already (a push went unanswered): it is never given up. */
  maybeStored: boolean;
}

/** Patient actions on a grant whose entries `recorded` looks for. */
export type GrantAction = 'consent-grant' | 'consent-revoke';
export const GRANT_ACTIONS: readonly GrantAction[] = ['consent-grant', 'consent-revoke'];
/** The grants whose entries `recorded` looks for, by action. */
export type ConsentLookup = Partial<Record<GrantAction, readonly string[]>>;
/** Those of a `ConsentLookup` found recorded, by action. */
export type ConsentRecorded = Record<GrantAction, Set<string>>;
