/**
 * What the device directory answers and reads: the server's answers (account lists, one device, batches)
 * and their shape checks, the directory's entries, the wrapping-key error, the author rules' identity, and
 * the check of a served device revocation.
 *
 * Invariants:
 * - An answer is used only once its shape passed (`isAnswerShape`, `isDeviceAnswerShape`); its keys and
 *   signatures are checked by the directory (device-directory.ts).
 * - `signedRevocationTime` answers a time only for the account's own signature of that device's revocation.
 */
import { HaleError } from '../core/hale-error';
import { base64urlDecode, verifyCanonical, type Ed25519 } from '@hale/crypto';
import { SignedDeviceRevocation, deviceRevocationPayload, validate } from '@hale/protocol';

/** An account's identity key and certified devices, as the server answers them. */
export interface AccountDevicesInfo {
  accountId: string;
  identityPublicKey: string;
  wrappingPublicKey: string;
  /** The identity key's signature over the wrapping key (`wrappingKeySignaturePayload`); absent if none. */
  wrappingKeySig?: string;
  role: 'patient' | 'provider';
  devices: unknown[];
  /** Ids of the account's revoked devices; absent from callers that do not pass them on. */
  revokedDevices?: readonly string[];
}

/**
 * One device of an account, active or revoked (`GET /v1/accounts/:accountId/devices/:deviceId`): its
 * certificate, the server's time of its revocation and the account's signed revocation, both when revoked.
 */
export interface AccountDeviceInfo {
  certificate: unknown;
  revokedAt?: string;
  revocation?: unknown;
}

/**
 * A batched answer (`POST /v1/accounts/lookup`): each account asked for in exactly one of the lists;
 * `deferred` ones were left out to keep the answer within its limit.
 */
export interface AccountsDevicesAnswer {
  accounts: AccountDevicesInfo[];
  unknown: string[];
  deferred: string[];
}

/** Why an account's wrapping key is not trusted. */
export type WrappingKeyErrorCode = 'WRAPPING_KEY_UNVERIFIED' | 'WRAPPING_KEY_CHANGED';

/** The server's wrapping key for an account cannot be trusted: nothing may be wrapped to it. */
export class WrappingKeyError extends HaleError {
  constructor(
    readonly code: WrappingKeyErrorCode,
    readonly accountId: string,
    message: string,
  ) {
    super(message);
    this.name = 'WrappingKeyError';
  }
}

/** Whether `error` is a `WrappingKeyError`. */
export const isWrappingKeyError = (error: unknown): error is WrappingKeyError =>
  error instanceof WrappingKeyError;

export type WrappingState =
  | { status: 'verified'; key: Uint8Array }
  | { status: 'refused'; code: WrappingKeyErrorCode; message: string };

/**
 * `found` with `revokedAt`: a device the account revoked at that time; its key vouches only for what it
 * signed, and dated, before then (the caller compares: see the header).
 */
export type DeviceKeyLookup =
  | { status: 'found'; key: Uint8Array; revokedAt?: string }
  | { status: 'unknown' }
  | { status: 'unavailable'; message: string };

/** A device key, and for a revoked device the time from which it is no longer trusted. */
export interface AuthorKey {
  key: Uint8Array;
  revokedAt?: string;
}

/** An author's key could not be looked up now (`unavailable` lookup): neither trusted nor refused. */
export interface AuthorUnavailable {
  unavailable: string;
}

export interface Entry {
  at: number;
  /** `expire()` count when loaded: an entry of an earlier generation is reloaded at its next use. */
  generation: number;
  /** Loaded to look for a device the cached list did not name. */
  forced: boolean;
  devices: Map<string, Uint8Array>;
  /** Ids the account answer lists as revoked (empty unless the identity key is self-certified). */
  revoked: Set<string>;
  wrapping: WrappingState;
  identity: Uint8Array;
  selfCertified: boolean;
}

/** A revoked device's answer: kept for good (`generation` null), or until `expire()` moves past it. */
export interface RevokedAnswer {
  generation: number | null;
  answer: Promise<DeviceKeyLookup>;
}

/**
 * The version of what verifies as a record's author (this directory's answers and the codec's use of
 * them, record-codec.ts). Bumped whenever that changes: records set aside BAD_AUTHOR under another one
 * are fetched again once. 2: a revoked device, for what it signed before its revocation.
 */
export const AUTHOR_RULES_VERSION = 2;

/** The identity of the author rules: the version, and whether revoked devices are looked up. */
export const authorRulesId = (revokedLookups: boolean): string =>
  `${AUTHOR_RULES_VERSION}${revokedLookups ? '+revoked' : ''}`;

/** A thrown lookup error that is the server's answer "no such account", not a failure to ask. */
export const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'NOT_FOUND';

/** A batched lookup refused because the server has no such route (older server): NOT_FOUND or HTTP 404. */
export const isRouteMissing = (error: unknown): boolean =>
  isNotFound(error) ||
  (typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 404);

/**
 * A batched answer of the shape `loadBatch` reads (lists, accounts named by a string id); each account's
 * own answer is checked by `enter` as a single load's is.
 */
export const isAnswerShape = (answer: unknown): answer is AccountsDevicesAnswer => {
  if (typeof answer !== 'object' || answer === null) return false;
  const { accounts, unknown } = answer as { accounts?: unknown; unknown?: unknown };
  return (
    Array.isArray(accounts) &&
    accounts.every(
      (a: unknown) =>
        typeof a === 'object' && a !== null && typeof (a as { accountId?: unknown }).accountId === 'string',
    ) &&
    Array.isArray(unknown) &&
    unknown.every((id: unknown) => typeof id === 'string')
  );
};

/** A device answer `checkRevoked` can read (its certificate and revocation are checked there). */
export const isDeviceAnswerShape = (answer: unknown): answer is AccountDeviceInfo =>
  typeof answer === 'object' &&
  answer !== null &&
  ((answer as { revokedAt?: unknown }).revokedAt === undefined ||
    typeof (answer as { revokedAt?: unknown }).revokedAt === 'string');

/**
 * The time in `revocation` (as served: unchecked) when it is the account's signed revocation of `deviceId`:
 * for this account and device, signed by its identity key (`identity`); else null. The one check of a
 * served revocation, for the directory's cutoffs and the device list a person sees (account/device-list.ts).
 */
export const signedRevocationTime = async (
  ed: Ed25519,
  identity: Uint8Array,
  accountId: string,
  deviceId: string,
  revocation: unknown,
): Promise<string | null> => {
  const signed = validate(SignedDeviceRevocation, revocation);
  if (!signed.ok) return null;
  const { revocation: r, sig } = signed.value;
  const bytes = base64urlDecode(sig);
  const payload = deviceRevocationPayload(r);
  return r.accountId === accountId &&
    r.deviceId === deviceId &&
    bytes.ok &&
    (await verifyCanonical(ed, identity, payload.label, payload, bytes.value))
    ? r.revokedAt
    : null;
};

/** The key of one device of one account in the directory's maps. */
export const deviceKeyOf = (accountId: string, deviceId: string): string => `${accountId}\u0000${deviceId}`;

/** What a preload settles an account's load with when it did not load it: it is then loaded alone. */
export const NOT_PRELOADED = Symbol('not preloaded');

/** A revocation verified by the account's signature, with the cutoff taken (device meta `revoked-devices`). */
export interface RememberedRevocation {
  readonly accountId: string;
  readonly deviceId: string;
  readonly revokedAt: string;
}
/** Revocations kept across sessions, all accounts together (device meta's bound). */
export const MAX_REMEMBERED_REVOCATIONS = 10_000;

/**
 * An account's load in flight, the `expire()` count when it was asked for, and its place among the loads
 * this directory began (`seq`: a lookup shares only a load begun after it asked, when it must).
 */
export interface Loading {
  readonly generation: number;
  readonly seq: number;
  readonly promise: Promise<Entry | null | typeof NOT_PRELOADED>;
}

export type Settle = (loaded: Entry | null | typeof NOT_PRELOADED) => void;
