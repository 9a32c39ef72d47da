/**
 * `recorded`: which grants have a `consent-grant` and which a `consent-revoke` entry by the patient's
 * devices (consent.ts appends a missing one).
 *
 * | looked in | when |
 * | --------- | ---- |
 * | this device's own appends (OWN: delivered, in the outbox or given up) | always, first |
 * | the served log (one `read`) | only when some are not found among them |
 *
 * - An entry not checkable now (`unverified`) that says it is one looked for (a patient device's entry of
 *   that action for that grant) leaves that grant undecided: AuditError AUDIT_LOOKUP_UNVERIFIED carries
 *   `undecided` and what was `found`, so consent settles the others and asks again later (a second entry
 *   is not appended). Any other unverified entry holds nothing back (a genuine entry says what it is).
 */
import { validate } from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import { AuditError } from './errors';
import { OWN, OwnGrantEntry } from './stored';
import { GRANT_ACTIONS, type ConsentLookup, type ConsentRecorded, type GrantAction } from './types';
import { grantOf } from './view-lists';
import { read, type ViewsCtx } from './views';

/**
 * Which grants of `lookup` have an entry of their action by one of the patient's devices: this device's
 * own appends first, then the served log, read once and only when some are not found among them.
 */
export const recorded = async (s: ViewsCtx, lookup: ConsentLookup): Promise<ConsentRecorded> => {
  const { deps } = s.core;
  const wanted = {
    'consent-grant': new Set(lookup['consent-grant']),
    'consent-revoke': new Set(lookup['consent-revoke']),
  };
  const found: ConsentRecorded = { 'consent-grant': new Set(), 'consent-revoke': new Set() };
  const note = (action: GrantAction, grantId: string): void => {
    if (wanted[action].has(grantId)) found[action].add(grantId);
  };
  const missing = (): boolean =>
    found['consent-grant'].size < wanted['consent-grant'].size ||
    found['consent-revoke'].size < wanted['consent-revoke'].size;
  for (const own of (await deps.meta.get(OWN, AUDIT_STATE.auditOwn)) ?? []) {
    const body = validate(OwnGrantEntry, own.body);
    if (own.patientId === deps.accountId && body.ok) note(body.value.action, body.value.grantId);
  }
  if (!missing()) return found;
  const { opened, unchecked } = await read(s);
  for (const e of opened) {
    for (const action of GRANT_ACTIONS) {
      const grantId = grantOf(e, action);
      if (grantId !== undefined) note(action, grantId);
    }
  }
  // An entry not checkable now may be one looked for and not found: that grant is left undecided, to
  // be asked again later, rather than answered "missing" (a second entry would be appended). Only one
  // that says it is that entry (a patient device's, of that action, for that grant) may be: a genuine
  // entry says what it is. The error carries what was found and which grants are undecided, so one such
  // entry (a forgery naming an account whose list the server withholds) keeps no other grant from an
  // answer, a cut entry's from being appended again, for as long as the server withholds that list.
  const undecided: ConsentRecorded = { 'consent-grant': new Set(), 'consent-revoke': new Set() };
  let maybe = 0;
  for (const body of unchecked) {
    if (body.kind !== 'AuditEntry' || body.actorId !== deps.accountId) continue;
    const claimed = GRANT_ACTIONS.find(
      (action) =>
        body.action === action &&
        body.grantId !== undefined &&
        wanted[action].has(body.grantId) &&
        !found[action].has(body.grantId),
    );
    if (claimed === undefined || body.grantId === undefined) continue;
    undecided[claimed].add(body.grantId);
    maybe++;
  }
  if (maybe > 0) {
    throw new AuditError(
      'AUDIT_LOOKUP_UNVERIFIED',
      `${maybe} audit entr${maybe === 1 ? 'y' : 'ies'} that may be one looked for could not be checked now`,
      { unverified: maybe, undecided, found },
    );
  }
  return found;
};
