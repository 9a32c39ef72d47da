/**
 * The protocol's error vocabulary: one append-only table shared by WebSocket `error` frames, push
 * result rows, `denied` pull entries and HTTP error bodies.
 *
 * Invariants: codes are stable strings and the table is append-only (a test pins its order), so a
 * client can switch on a code forever. `http` is the status an HTTP endpoint answers with; `retry`
 * says whether sending the same request again later, unchanged, can succeed; `action` is what a
 * client should do (docs/protocol.md explains each). Messages are for humans and logs, never parsed,
 * and never carry key material or plaintext. A peer may send a code this build does not know (a
 * newer table): treat it by its HTTP class, see `isErrorCode`.
 */

export type ClientAction =
  /** Fix the request (client bug or user input); do not resend unchanged. */
  | 'fix-request'
  /** Split the batch or shrink the payload, then resend. */
  | 'split'
  /** Upgrade the app: this server does not speak our protocol version. */
  | 'upgrade'
  /** Run the challenge/response again, then resend. */
  | 'reauthenticate'
  /** Stop syncing the named stream and drop it from the subscription; keep local data read-only. */
  | 'drop-stream'
  /** This device is no longer trusted: stop syncing and ask the user to re-join. */
  | 'stop'
  /** Pull the current server state, reconcile, then retry with the new assumption. */
  | 'resolve-conflict'
  /** Fetch the current key envelopes, re-seal under the newest epoch, resend. */
  | 'rekey'
  /** Back off (exponential, with jitter; honour `details.retryAfterMs`) and resend unchanged. */
  | 'backoff'
  /** Nothing to resend: the state asked for is already there, or absent. */
  | 'accept';

export interface ErrorInfo {
  readonly http: number;
  readonly retry: boolean;
  readonly action: ClientAction;
  readonly description: string;
}

/** Append-only. Never remove, rename or reorder an entry. */
export const ERROR_CODES = {
  BAD_MESSAGE: {
    http: 400,
    retry: false,
    action: 'fix-request',
    description: 'The frame or body is not valid JSON, does not match its schema, or breaks a semantic rule.',
  },
  TOO_LARGE: {
    http: 413,
    retry: false,
    action: 'split',
    description: 'The frame, body, batch, document or chunk exceeds a protocol size limit.',
  },
  UNSUPPORTED_VERSION: {
    http: 400,
    retry: false,
    action: 'upgrade',
    description: 'Client and server share no protocol version.',
  },
  UNAUTHENTICATED: {
    http: 401,
    retry: false,
    action: 'reauthenticate',
    description: 'The request needs an authenticated session and has none (or a frame came before ready).',
  },
  SESSION_EXPIRED: {
    http: 401,
    retry: false,
    action: 'reauthenticate',
    description: 'The session reached its lifetime; authenticate again.',
  },
  CHALLENGE_INVALID: {
    http: 401,
    retry: false,
    action: 'reauthenticate',
    description: 'The challenge is unknown, already used, expired, or was issued to another device.',
  },
  BAD_SIGNATURE: {
    http: 401,
    retry: false,
    action: 'fix-request',
    description: 'A signature (auth, grant, revocation, certificate, document) does not verify.',
  },
  FORBIDDEN: {
    http: 403,
    retry: false,
    action: 'fix-request',
    description: 'The caller may not do this (e.g. act for another account, write to a read-only stream).',
  },
  NO_CONSENT: {
    http: 403,
    retry: false,
    action: 'drop-stream',
    description: 'No grant covers this stream for the caller.',
  },
  CONSENT_EXPIRED: {
    http: 403,
    retry: false,
    action: 'drop-stream',
    description:
      'The grant covering this stream has expired (a grant that has not started yet is NO_CONSENT).',
  },
  CONSENT_REVOKED: {
    http: 403,
    retry: false,
    action: 'drop-stream',
    description: 'The patient revoked the grant covering this stream.',
  },
  DEVICE_REVOKED: {
    http: 403,
    retry: false,
    action: 'stop',
    description: 'This device has been revoked by its account.',
  },
  NOT_FOUND: {
    http: 404,
    retry: false,
    action: 'accept',
    description: 'The account, device, grant, blob or chunk does not exist.',
  },
  ALREADY_EXISTS: {
    http: 409,
    retry: false,
    action: 'accept',
    description: 'The object already exists with different content (same content is accepted idempotently).',
  },
  CONFLICT: {
    http: 409,
    retry: false,
    action: 'resolve-conflict',
    description: 'The assumed revision is not the stored one; the push result carries the master.',
  },
  APPEND_ONLY: {
    http: 409,
    retry: false,
    action: 'fix-request',
    description: 'Audit entries can only be appended: updates and deletes are refused.',
  },
  STALE_EPOCH: {
    http: 409,
    retry: false,
    action: 'rekey',
    description:
      'The document or new blob is sealed under another key epoch than the stream current one: fetch the envelopes and seal again.',
  },
  REV_MISMATCH: {
    http: 400,
    retry: false,
    action: 'fix-request',
    description: 'The revision tag does not follow the assumed one (write counter must increase by one).',
  },
  DIGEST_MISMATCH: {
    http: 400,
    retry: true,
    action: 'backoff',
    description: 'An uploaded chunk does not hash to the digest in its manifest (corrupted in transit?).',
  },
  RATE_LIMITED: {
    http: 429,
    retry: true,
    action: 'backoff',
    description: 'Too many requests; `details.retryAfterMs` says when to try again.',
  },
  TOO_MANY_CONNECTIONS: {
    http: 429,
    retry: true,
    action: 'backoff',
    description: 'The account or server has too many open connections.',
  },
  UNAVAILABLE: {
    http: 503,
    retry: true,
    action: 'backoff',
    description: 'The server or its store is temporarily unavailable (starting, draining, overloaded).',
  },
  INTERNAL: {
    http: 500,
    retry: true,
    action: 'backoff',
    description: 'Unexpected server failure; it has been logged.',
  },
  TOO_MANY_GRANTS: {
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'A cap on active grants is reached (per patient and grantee, per grantee, or per patient; ' +
      '`details.limit` names it, `details.max` its size); nothing was stored. Wait for grants to end. ' +
      'With `details.limit` "per-pair-daily" the patient issued the most grants to this grantee that a ' +
      'rolling day allows, ended ones included: wait.',
  },
  BAD_CURSOR: {
    http: 400,
    retry: false,
    action: 'fix-request',
    description:
      'A page cursor is not one this server handed out for this listing with these filters (damaged, ' +
      'from another listing or filter, or written by a server build with another format): list again ' +
      'from the first page, without a cursor.',
  },
  QUOTA_EXCEEDED: {
    // 413, not 507: the account asked to store more than it is allowed (a refusal of this request's
    // content, nothing wrong with the server), and a client that does not know the code yet reads 413
    // as TOO_LARGE, which it does not retry, where a 5xx would be retried to no end.
    http: 413,
    retry: false,
    action: 'fix-request',
    description:
      "The account's storage quota would be exceeded; nothing was stored. `details` gives `usedBytes` " +
      '(what the account stores), `requestedBytes` (what the request needs) and `quotaBytes`. Only a ' +
      'larger quota from the operator helps; the same request sent again fails the same way.',
  },
  REGISTRATION_CLOSED: {
    // 403, like FORBIDDEN (which is what a client that does not know the code yet reads it as): this server
    // takes no new accounts at all, whatever the request carries.
    http: 403,
    retry: false,
    action: 'fix-request',
    description:
      'This server takes no new accounts (its operator closed registration); nothing was stored. Existing ' +
      'accounts and adding devices to them are unaffected. Ask the operator, or use another server.',
  },
  INVITE_INVALID: {
    http: 403,
    retry: false,
    action: 'fix-request',
    description:
      'This server registers new accounts only with an invite code, and the request carried none, or one ' +
      'that is unknown, expired, used up or revoked (one code for all of these, so codes cannot be probed); ' +
      'nothing was stored. With `details.role` the code is valid but only for an account of that role. ' +
      'Ask the operator for a new code.',
  },
  BLOB_DELETED: {
    // 410 Gone: a client that does not know the code yet reads a 4xx it does not retry.
    http: 410,
    retry: false,
    action: 'fix-request',
    description:
      'A blob with this id was deleted; the id is never used again, so a reader that kept its manifest ' +
      'cannot be handed other bytes under it. An upload stored nothing: upload under a new blob id. A read ' +
      '(manifest, chunk): the file is gone for good, not merely not uploaded yet (that is NOT_FOUND).',
  },
  TOO_MANY_ACCEPTED: {
    // 409 like TOO_MANY_GRANTS: a cap of this account is full, nothing wrong with the request's form.
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'The account has accepted the most patients it may (`acceptPatient`; `details.max` is the cap); nothing ' +
      'was stored. Stop accepting a patient first (`accept: false`).',
  },
  TOO_MANY_DEVICES: {
    // 409 like TOO_MANY_GRANTS: a cap of this account is full, nothing wrong with the request's form.
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'The account has the most devices it may (`POST /v1/devices`); nothing was stored. With `details.limit` ' +
      '"active" it has `details.max` devices not revoked: revoke one it no longer uses first. With "total" it ' +
      'has registered `details.max` devices, revoked ones included, the most it ever may.',
  },
  HEAD_NOT_CURRENT: {
    // 409 like CONFLICT: the statement describes another state of the stream than the server's current one.
    http: 409,
    retry: false,
    action: 'resolve-conflict',
    description:
      "A stream head statement (`putHead`) is signed at another seq than the stream's current one " +
      '(`details.seq`): the device was not caught up, or others wrote meanwhile; nothing was stored. Pull the ' +
      'stream to its head and sign again later.',
  },
  HEAD_MISMATCH: {
    http: 409,
    retry: false,
    action: 'resolve-conflict',
    description:
      "A stream head statement's root or count (`putHead`) is not that of the server's own rows of the stream " +
      'at its seq (id, revision and deletion of each record): the device holds another state than the ' +
      'server; nothing was stored. Pull the stream again before signing.',
  },
  HEAD_STALE: {
    http: 409,
    retry: false,
    action: 'accept',
    description:
      'The server keeps a stream head statement at a higher seq (`details.seq`) than this one (`putHead`); ' +
      'nothing was stored. Nothing to do: the newer statement covers this state.',
  },
  AVAILABILITY_STALE: {
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'The server keeps an availability of this provider at this version or a higher one (`details.version`); ' +
      'nothing was stored. Publish again with a version above it.',
  },
  PAIRING_UNKNOWN: {
    // 404 like NOT_FOUND, which is what a client that does not know the code yet reads it as.
    http: 404,
    retry: false,
    action: 'fix-request',
    description:
      'No pairing has this code on this server: mistyped, expired (a pairing lives 10 minutes), finished or ' +
      'cancelled by one of its devices. Check the code, or start pairing again on the new device.',
  },
  PAIRING_TAKEN: {
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'Another device already answered this pairing code (one approver per code); nothing was stored. If that ' +
      'was not you, cancel on the new device and start again.',
  },
  NOT_AUTHOR: {
    // 403 like FORBIDDEN, which is what a client that does not know the code yet reads it as.
    http: 403,
    retry: false,
    action: 'fix-request',
    description:
      "The record is another account's to change: a note, visit or result is changed or removed only by the " +
      'account that wrote it, a treatment plan by its author (and the patient, for the acknowledgement); ' +
      'nothing was stored. Ask its author for a correction.',
  },
  GROUP_REFUSED: {
    // 409 like CONFLICT: nothing of the row was stored, and it is not wrong in itself.
    http: 409,
    retry: false,
    action: 'fix-request',
    description:
      'Another row of the same user action (push rows sharing a `group`) was refused or met a newer version, ' +
      'so none of the action was stored; this row is not wrong in itself. Its message names the other ' +
      "row's refusal.",
  },
  GRANT_NOT_SUPERSEDABLE: {
    // 409 like CONFLICT: the request is well formed, but the grant it names is not in a state it can replace.
    http: 409,
    retry: false,
    action: 'resolve-conflict',
    description:
      "A grant's `supersedes` names a grant this one cannot replace: none with that id, one of another " +
      'patient or grantee, or one already ended (revoked, expired, or replaced by another grant: a change ' +
      'made meanwhile on another device); nothing was stored. List the grants again and change the one in ' +
      'force, if any.',
  },
  GRANT_SUPERSEDED: {
    // 409 like CONFLICT: the revocation names a grant whose successor is what is in force now.
    http: 409,
    retry: false,
    action: 'resolve-conflict',
    description:
      'A revocation names a grant that a newer grant replaced (`details.supersededBy` is its id): it ended ' +
      'then, and nothing was stored. To end the sharing, revoke the grant that replaced it.',
  },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Error codes in table order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as readonly ErrorCode[];

export interface HaleProtocolError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);

export const errorInfo = (code: ErrorCode): ErrorInfo => ERROR_CODES[code];

export function protocolError(
  code: ErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): HaleProtocolError {
  return details === undefined ? { code, message } : { code, message, details };
}

/** Thrown form, for callers that pass their own (trusted) input and treat a failure as a bug. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(error: HaleProtocolError) {
    super(error.message);
    this.name = 'ProtocolError';
    this.code = error.code;
    if (error.details !== undefined) this.details = error.details;
  }

  toJSON(): HaleProtocolError {
    return protocolError(this.code, this.message, this.details);
  }
}
