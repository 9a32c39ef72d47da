/**
 * The consent API's errors, inputs, stored forms (device meta keys and schemas) and timing limits.
 *
 * - ConsentError carries a stable code (CONSENT_ERROR_CODES, of the one table HALE_ERRORS).
 * - Device meta keys: WRAPS_OWED_KEY, STREAM_EPOCHS_KEY, PINNED_WRAPPING_KEY, PENDING_REVOCATIONS_KEY,
 *   REFUSED_REVOCATIONS_KEY, UNRECORDED_KEY, REVOCATIONS_UNRECORDED_KEY; each read back against its schema.
 * - Timers are bounded (MAX_TIMER_MS) and refreshes spaced (GRANT_REFRESH_MS, REVOCATION_RETRY_MS,
 *   WRITE_SPANS_REFRESH_MS); reads of listings are bounded in pages (MAX_GRANT_PAGES, MAX_ACCEPTED_PAGES).
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import {
  type GrantScopeEntry,
  type GrantRecord,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACCEPTED_PAGE,
} from '@hale/protocol';
import { type Static, Type } from '@sinclair/typebox';
import type { CONSENT_STATE } from './stored-state';
import type { DeviceMeta } from '../store/device-meta';
import type { AccountKeys, Ed25519, X25519 } from '@hale/crypto';
import type { SyncError } from '../sync/connection';
import type { Connection } from '../sync/connection';
import type { Keyring } from '../sync/keyring';
import type { DeviceDirectory } from '../sync/device-directory';
import type { AuditEntryDetail, ConsentLookup, ConsentRecorded } from '../audit/audit-log';
import type { StoredGrant } from '../audit/stored-state';

/** ConsentError's codes; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). */
export const CONSENT_ERROR_CODES = [
  'KEY_CHANGED',
  'UNKNOWN_ACCOUNT',
  'BAD_SCOPE',
  'BAD_EXPIRY',
  'NOT_FOUND',
  'BAD_INVITE',
  'WRAPPING_KEY_UNVERIFIED',
  'BAD_ACCOUNT_ID',
  'NOT_A_PROVIDER',
  'SERVER_TOO_OLD',
  'BAD_GRANT',
  'GRANT_ENDED',
] as const satisfies readonly HaleErrorCode[];
/** The codes a `ConsentError` carries; each one's words and what to do are in `HALE_ERRORS`. */
export type ConsentErrorCode = (typeof CONSENT_ERROR_CODES)[number];

/** A refused consent action (`ConsentErrorCode`): no grant, revocation or change was made. */
export class ConsentError extends HaleError {
  constructor(
    readonly code: ConsentErrorCode,
    message: string,
    /** The grant request's field at fault (`scope`, `expiresAt`, `durationMs`, `start`, `purpose`, `granteeId`), when one is. */
    field?: string,
  ) {
    super(message);
    this.name = 'ConsentError';
    if (field !== undefined) this.field = field;
  }
}

/** The wording the app shows before a revocation, because it is true and patients must know it. */
export const REVOCATION_NOTICE =
  'Revoking stops all future access as soon as the server has it (at once when online; when this device ' +
  'is offline, once it reconnects) and re-keys the affected records. What this provider already synced to ' +
  'their devices cannot be recalled.';

/**
 * What `grant` grants: the grantee account, the scope (stream types and rights), the purpose (sealed) and the
 * time window.
 */
export interface GrantRequest {
  granteeId: string;
  scope: GrantScopeEntry[];
  /** Either an absolute expiry or a duration (`durationMs`), not both. */
  expiresAt?: string;
  /** How long the grant lasts, counted from `start` when given, from now otherwise. */
  durationMs?: number;
  purpose: string;
  /** When access begins (ISO date-time, as toISOString writes it); now when not given. */
  start?: string;
}

/**
 * What a change of a grant asks for (`change`): the grantee stays; the scope and the end are the new
 * grant's whole, as `GrantRequest` gives them. The purpose stays the replaced grant's unless given.
 */
export interface GrantChange {
  scope: GrantScopeEntry[];
  /** Either an absolute expiry or a duration (`durationMs`), not both. */
  expiresAt?: string;
  /** How long the new grant lasts, counted from now (from the old start when that is still ahead). */
  durationMs?: number;
  purpose?: string;
}

/** A change's answer: the new grant; re-keying of the kinds it left out as `revoke` answers it. */
export interface ChangeResult {
  readonly grant: StoredGrant;
  readonly rotated: Rotation[];
  /** Streams of kinds the change left out still to re-key (the next connect finishes them). */
  readonly pending: string[];
}

export type { StoredGrant };

/**
 * A grant's state in `list()` at the time of the call: revoked, past its expiry, revoked on this device
 * but not yet taken by the server (`revocation-pending`: the grantee keeps access until this device sends
 * it, at its next connection), before its start (`not-started`: the server serves the grantee nothing
 * yet), in force (`active`), or replaced by a change (`replaced`: `supersededBy` names its successor).
 */
export type GrantStatus =
  'active' | 'not-started' | 'expired' | 'revoked' | 'revocation-pending' | 'replaced';

/** A stream re-keyed by a revocation: the new key epoch this device minted. */
export interface Rotation {
  stream: string;
  epoch: number;
}

/** `revoke`'s answer: the epochs this device minted, and the grant's streams still to re-key. */
export interface RevokeResult {
  rotated: Rotation[];
  pending: string[];
}

/** A reading of the server's grant list made after the keys were refreshed (`readAfterKeys`). */
export interface ReadAfterKeys {
  records: GrantRecord[] | null;
  round: number | null;
}

export const WRAPS_OWED_KEY = 'rotation-wraps-owed';

/** Highest epoch whose key this device held, per own stream (the keyring's write-guard floor). */
export const STREAM_EPOCHS_KEY = 'stream-epochs';

/** Grantee wrapping keys (base64url) pinned with their identity keys, by account id. */
export const PINNED_WRAPPING_KEY = 'pinned-wrapping-keys';

/** Revocations signed on this device that the server has not taken yet (kept-revocations.ts). */
export const PENDING_REVOCATIONS_KEY = 'revocations-pending';

export type KeptRevocation = Static<typeof CONSENT_STATE.revocationsPending>[number];

/** The furthest from 1970 a Date reaches, either way (ECMAScript time values). */
export const MAX_DATE_MS = 8.64e15;

/** Least interval between checks started by refused writes (wall clock). */
export const REKEY_KICK_MS = 2000;

/** Longest delay a timer takes: setTimeout fires at once for a longer one. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Past a grant's expiry before its check runs, so the clock read then finds it ended. */
export const EXPIRY_SLACK_MS = 5;

/**
 * How often a patient device reads the server's grant list while connected (`grantRefreshMs`): the bound
 * on how long it can go on writing under an epoch a grant made or revoked on another of its devices let
 * out, when that device could not re-key (closed, offline) — the server tells the patient's own devices of
 * no grant change.
 */
export const GRANT_REFRESH_MS = 5 * 60_000;

/**
 * First wait before a kept revocation the server did not take while connected (a refusal that may pass,
 * no answer in time) is sent again (`revocationRetryMs`); doubled at each failure, up to `grantRefreshMs`.
 */
export const REVOCATION_RETRY_MS = 5_000;

/**
 * Least interval between the readings of the server's grant list that `writeSpans(…, fresh)` starts: a
 * version by an account the copy lets write nothing then (a grant made on another of the patient's
 * devices, not read yet; or a forger the server serves) reads the list at most this often.
 */
export const WRITE_SPANS_REFRESH_MS = 10_000;

/** Device meta key of the refusals told REVOCATION_REFUSED (see `reportRefused`). */
export const REFUSED_REVOCATIONS_KEY = 'revocations-refused';

/** Refusals kept at most (the oldest go): each is a grant the patient meant to end. */
export const MAX_REFUSED_KEPT = 1000;

/** Longest refusal message kept (device-meta's schema). */
export const MAX_REFUSED_MESSAGE = 600;

/** Rounds of one check: a lost claim needs another round; more rounds are left to the next check. */
export const MAX_SETTLE_ROUNDS = 4;

/** Still-active grants tried as possibly ended on another device (2^n candidate sets at most). */
export const MAX_EXTRA_ENDED = 8;

/**
 * Most `grants` pages one listing of the server's grants reads (MAX_GRANTS_PAGE each): far beyond years of
 * grants under the per-pair daily cap, and a bound on what a server that never stops answering `next` costs.
 */
export const MAX_GRANT_PAGES = 20;

/**
 * Most `acceptedPatients` pages one listing reads (MAX_ACCEPTED_PAGE each): room for every patient the
 * server lets an account accept, and a bound on what a server that never stops answering `next` costs.
 */
export const MAX_ACCEPTED_PAGES = Math.ceil(MAX_ACCEPTED_PATIENTS_PER_GRANTEE / MAX_ACCEPTED_PAGE) + 1;

export interface ConsentDeps {
  accountId: string;
  /** The account's role: only a provider accepts patients (patients' grants always meet the full cap). */
  role?: 'patient' | 'provider';
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /** The host's X25519 for sealing and opening grant purposes (tweetnacl by default). */
  x25519?: X25519;
  connection: Connection;
  keyring: Keyring;
  directory: DeviceDirectory;
  now: () => number;
  meta: DeviceMeta;
  onEvent?: (event: {
    action: 'consent-grant' | 'consent-revoke' | 'key-rotation';
    detail: Omit<AuditEntryDetail, 'action' | 'summary'>;
  }) => void;
  /** Throws (AccountError LOCKED) once the account was locked: no grant or revocation is signed then. */
  assertUnlocked?: () => void;
  /** False once the account was locked or the session closed: the timers below stop then. */
  usable?: () => boolean;
  /** Interval of reading the server's grant list while connected (patient side); default GRANT_REFRESH_MS. */
  grantRefreshMs?: number;
  /** First wait before a kept revocation not taken while connected is sent again; default REVOCATION_RETRY_MS. */
  revocationRetryMs?: number;
  /**
   * Tells the person what no call answers: a kept revocation sent in the background (a connect, a refresh,
   * the backoff) that the server refused for good, REVOCATION_REFUSED (`id`: the grant id); cleared by
   * `clearReport` once a revocation of that grant is taken.
   */
  report?: (issue: { code: 'REVOCATION_REFUSED'; message: string; id: string }) => void;
  clearReport?: (issue: { code: 'REVOCATION_REFUSED'; id: string }) => void;
  /**
   * Which of these grants have a `consent-grant` audit entry, and which a `consent-revoke` entry, by the
   * patient's devices (audit log `recorded`). Without it, a grant or revocation is recorded only at its
   * answer (recording.ts).
   */
  recorded?: (lookup: ConsentLookup) => Promise<ConsentRecorded>;
}

/**
 * A `grant` whose answer never came (SyncError NETWORK, TIMEOUT or STOPPED): `grantId` names the grant
 * sent, which the server may have stored. Once online, `list()` shows it if it stands.
 */
export type GrantUnconfirmed = SyncError & { readonly grantId: string };

/**
 * A `revoke` the server has not taken, or not answered: SyncError NETWORK (not connected, or the connection
 * dropped before the answer), STOPPED (the connection was stopped: offline, closed), TIMEOUT, or a server
 * refusal that may pass later (`retry` in the protocol's error table: RATE_LIMITED, UNAVAILABLE, …).
 * The signed revocation is kept on this device and sent at its next connection (kept-revocations.ts): until
 * the server takes it the grantee keeps access, and `list()` shows the grant `revocation-pending`.
 */
export type RevocationPending = SyncError & { readonly grantId: string; readonly revocationPending: true };

/** Grants this device has yet to find a `consent-grant` audit entry for (recording.ts). */
export const UNRECORDED_KEY = 'grants-unrecorded';

export const Unrecorded = Type.Array(
  Type.Object(
    {
      grantId: Type.String({ maxLength: 128 }),
      expiresAt: Type.String({ maxLength: 40 }),
      /** This device's clock: not looked up before then (a grant learnt is left to its maker first). */
      notBefore: Type.Number(),
    },
    { additionalProperties: false },
  ),
);

/** Revocations this device has yet to find a `consent-revoke` audit entry for (recording.ts). */
export const REVOCATIONS_UNRECORDED_KEY = 'revocations-unrecorded';

export const UnrecordedRevocations = Type.Array(
  Type.Object(
    {
      grantId: Type.String({ maxLength: 128 }),
      granteeId: Type.String({ maxLength: 128 }),
      expiresAt: Type.String({ maxLength: 40 }),
      /** This device's clock: not looked up before then (a revocation learnt is left to its maker first). */
      notBefore: Type.Number(),
      /** This device signed the revocation: its entry names it as the device that revoked. */
      own: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
);

export type RevocationMark = Static<typeof UnrecordedRevocations>[number];

/** What a mark of either kind holds: the grant, its end, and when this device first looks it up. */
export interface AuditMark {
  grantId: string;
  expiresAt: string;
  notBefore: number;
}
