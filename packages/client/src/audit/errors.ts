/**
 * The audit log's own typed failures (transport failures stay SyncError, a locked account AccountError).
 * Codes: AUDIT_ERROR_CODES; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). Messages never carry
 * key material or an entry's plaintext.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** The codes an `AuditError` carries; each one's words and what to do are in `HALE_ERRORS`. */
export const AUDIT_ERROR_CODES = [
  'AUDIT_LOOKUP_UNVERIFIED',
  'AUDIT_NO_WRAPPING_KEY',
  'AUDIT_NOT_READABLE',
] as const satisfies readonly HaleErrorCode[];

export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

/** Grant ids per audit action of a consent lookup (`recorded`). */
export type GrantIdsByAction = Readonly<Record<'consent-grant' | 'consent-revoke', ReadonlySet<string>>>;

/** A refused or failed audit operation (`AuditErrorCode`): the log is unchanged. */
export class AuditError extends HaleError {
  readonly code: AuditErrorCode;
  /** AUDIT_LOOKUP_UNVERIFIED: the entries not checkable now that may be ones looked for. */
  readonly unverified?: number;
  /** AUDIT_LOOKUP_UNVERIFIED: the grants looked for that those entries may be (not answered). */
  readonly undecided?: GrantIdsByAction;
  /** AUDIT_LOOKUP_UNVERIFIED: the grants looked for whose entries were found. */
  readonly found?: GrantIdsByAction;
  /** AUDIT_NOT_READABLE: the server's refusal code. */
  readonly reason?: string;

  constructor(
    code: AuditErrorCode,
    message: string,
    extra: {
      readonly unverified?: number;
      readonly undecided?: GrantIdsByAction;
      readonly found?: GrantIdsByAction;
      readonly reason?: string;
    } = {},
  ) {
    super(message);
    this.name = 'AuditError';
    this.code = code;
    if (extra.unverified !== undefined) this.unverified = extra.unverified;
    if (extra.undecided !== undefined) this.undecided = extra.undecided;
    if (extra.found !== undefined) this.found = extra.found;
    if (extra.reason !== undefined) this.reason = extra.reason;
  }
}

/** Whether `e` is an `AuditError`, of `code` when given. */
export const isAuditError = (e: unknown, code?: AuditErrorCode): e is AuditError =>
  e instanceof AuditError && (code === undefined || e.code === code);
