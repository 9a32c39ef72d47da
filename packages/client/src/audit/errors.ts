/**
 * The audit log's own typed failures (transport failures stay SyncError, a locked account AccountError).
 * One code per failure, stable strings callers switch on, only ever appended; messages never carry key
 * material or an entry's plaintext.
 */
import { HaleError } from '../core/hale-error';

export const AUDIT_ERROR_CODES = [
  /**
   * recorded: an entry whose author's device list could not be loaded now says it is a patient device's
   * entry looked for (that action, that grant) and none that verifies was found. Answering "not recorded"
   * would have a second entry appended, so that one is not answered: ask again later (`unverified`: how
   * many such entries; `undecided`: the grants looked for they may be, per action; `found`: what the
   * lookup found, so a caller can settle every other grant now). Nothing was appended or kept.
   */
  'AUDIT_LOOKUP_UNVERIFIED',
  /**
   * An entry for a patient whose wrapping key the directory does not give (an account it does not know, or
   * whose key it cannot verify): entries are sealed to that key, so none is made. With `appendAll`, none
   * of the batch is. Nothing was appended or kept.
   */
  'AUDIT_NO_WRAPPING_KEY',
  /**
   * The server refuses to serve the patient's log to this account (`reason`: its code, e.g. no access to
   * that patient, or access ended). Nothing was read or remembered.
   */
  'AUDIT_NOT_READABLE',
] as const;

export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

/** Grant ids per audit action of a consent lookup (`recorded`). */
export type GrantIdsByAction = Readonly<Record<'consent-grant' | 'consent-revoke', ReadonlySet<string>>>;

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

export const isAuditError = (e: unknown, code?: AuditErrorCode): e is AuditError =>
  e instanceof AuditError && (code === undefined || e.code === code);
