/**
 * The audit log's own typed failures (transport failures stay SyncError, a locked account AccountError).
 * One code per failure, stable strings callers switch on, only ever appended; messages never carry key
 * material or an entry's plaintext.
 */

export const AUDIT_ERROR_CODES = [
  /**
   * recorded: an entry whose author's device list could not be loaded now says it is a patient device's
   * entry looked for (that action, that grant) and none that verifies was found. Answering "not recorded"
   * would have a second entry appended, so nothing is answered: ask again later (`unverified`: how many
   * such entries). Nothing was appended or kept.
   */
  'AUDIT_LOOKUP_UNVERIFIED',
] as const;

export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

export class AuditError extends Error {
  readonly code: AuditErrorCode;
  /** AUDIT_LOOKUP_UNVERIFIED: the entries not checkable now that may be ones looked for. */
  readonly unverified?: number;

  constructor(code: AuditErrorCode, message: string, extra: { readonly unverified?: number } = {}) {
    super(message);
    this.name = 'AuditError';
    this.code = code;
    if (extra.unverified !== undefined) this.unverified = extra.unverified;
  }
}

export const isAuditError = (e: unknown, code?: AuditErrorCode): e is AuditError =>
  e instanceof AuditError && (code === undefined || e.code === code);
