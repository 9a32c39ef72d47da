/**
 * The grant a request asks for, checked whole before anything is sent.
 *
 * Invariants:
 * - Checked as the server checks it (the protocol's Grant schema and `grantIssues`), and with what the device
 *   alone can tell (a scope that is no list; an expiry and a duration both given; an expiry already past on
 *   this device's clock): ConsentError naming the field. Nothing is sent, signed or stored here.
 * - The purpose is sealed to this account only; `grant` seals it to the grantee once its key is verified.
 */
import type { ConsentCore } from './consent-core';
import { sealGrantPurpose } from './grant-purpose';
import { Grant, parseIsoDateTime, MAX_PURPOSE_CHARS, validate, grantIssues } from '@hale/protocol';
import { newId } from '@hale/model';
import { ConsentError, type GrantRequest, MAX_DATE_MS, type ConsentErrorCode } from './consent-types';

/**
 * The grant `request` asks for, checked whole as the server checks it (the protocol's Grant schema and
 * `grantIssues`, the rules its codec applies to a `grant` frame) so a grant is never refused for its
 * content after this device began publishing for it. Throws ConsentError naming the field: BAD_SCOPE,
 * BAD_EXPIRY (also a date that is not one, a duration that is not a number, both an expiry and a
 * duration, or an expiry already past; a duration counts from the start when one is given),
 * BAD_ACCOUNT_ID (the grantee's id, or this account's own), BAD_GRANT (any other field).
 */
export const draftGrant = (c: ConsentCore, request: GrantRequest): Grant => {
  const { deps } = c;
  // Read as untyped code may hand it (a form, an import): anything but a list of objects is refused by
  // name here, or by the schema below, never with a TypeError.
  const scope: unknown = request.scope;
  if (!Array.isArray(scope))
    throw new ConsentError('BAD_SCOPE', 'the scope must be a list of record types', 'scope');
  const entries = scope.map((s: unknown) =>
    typeof s === 'object' && s !== null && 'type' in s && 'access' in s
      ? { type: s.type, access: s.access }
      : s,
  );
  // Worded for the patient; the schema refuses both too, in its own words.
  if (entries.length === 0) throw new ConsentError('BAD_SCOPE', 'choose at least one record type', 'scope');
  if (entries.some((s) => typeof s === 'object' && s !== null && 'type' in s && s.type === 'audit')) {
    throw new ConsentError('BAD_SCOPE', 'the audit log cannot be shared', 'scope');
  }
  // Which end was meant cannot be told: taking either could grant longer than the patient chose.
  if (request.expiresAt !== undefined && request.durationMs !== undefined) {
    throw new ConsentError(
      'BAD_EXPIRY',
      'give the expiry (expiresAt) or a duration (durationMs), not both',
      'expiresAt',
    );
  }
  const now = deps.now();
  let expiresAt = request.expiresAt;
  if (expiresAt === undefined) {
    if (request.durationMs === undefined) {
      throw new ConsentError(
        'BAD_EXPIRY',
        'give the expiry (expiresAt) or a duration (durationMs)',
        'expiresAt',
      );
    }
    // Counted from the grant's start ("48 hours from next Monday"), from now without one. A start that
    // is no date counts from now here and is refused by name by the checks below.
    const start: unknown = request.start;
    const from = (typeof start === 'string' ? parseIsoDateTime(start) : null) ?? now;
    const end = from + request.durationMs;
    // NaN, an infinity, or beyond what a Date holds: toISOString would throw an untyped RangeError.
    if (typeof end !== 'number' || !Number.isFinite(end) || Math.abs(end) > MAX_DATE_MS) {
      throw new ConsentError(
        'BAD_EXPIRY',
        'durationMs must be a finite number of milliseconds',
        'durationMs',
      );
    }
    expiresAt = c.iso(end);
  }
  // The schema sees the sealed form only: the typed text's limit is checked here, before it is sealed.
  const purpose: unknown = request.purpose;
  if (typeof purpose !== 'string' || purpose.length > MAX_PURPOSE_CHARS) {
    throw new ConsentError(
      'BAD_GRANT',
      `the grant's purpose: text of at most ${MAX_PURPOSE_CHARS} characters`,
      'purpose',
    );
  }
  const grantId = newId(deps.now);
  const own = deps.keys.wrapping.publicKey;
  const draft = {
    v: 1,
    grantId,
    patientId: deps.accountId,
    granteeId: request.granteeId,
    scope: entries,
    start: request.start ?? c.iso(now),
    expiresAt,
    // Sealed to the grantee's key too once `grantOnce` has verified it; to this account's until then.
    purpose: sealGrantPurpose(purpose, grantId, own, own, deps.x25519),
    issuedAt: c.iso(now),
  };
  const checked = validate(Grant, draft);
  const issue = checked.ok ? grantIssues(checked.value)[0] : checked.error.details.issues[0];
  if (checked.ok && issue === undefined) {
    // Over before it is issued (a start given in the past): the server would store it, costing a slot of
    // the caps and of the daily rate, an audit entry of a disclosure and a re-keying of every stream.
    if (Date.parse(checked.value.expiresAt) <= now) {
      throw new ConsentError('BAD_EXPIRY', "the grant's expiresAt has passed", 'expiresAt');
    }
    return checked.value;
  }
  const field = issue?.path.split('/')[1] ?? '';
  const code: ConsentErrorCode =
    field === 'scope'
      ? 'BAD_SCOPE'
      : field === 'start' || field === 'expiresAt'
        ? 'BAD_EXPIRY'
        : field === 'granteeId'
          ? 'BAD_ACCOUNT_ID'
          : 'BAD_GRANT';
  throw new ConsentError(
    code,
    issue
      ? `the grant's ${issue.path.slice(1)}: ${issue.reason}`
      : checked.ok
        ? 'the grant breaks a rule of the protocol'
        : checked.error.message,
    field === '' ? undefined : field,
  );
};
