/**
 * Whom this account can write to: a patient, the clinicians it shares its messages with (a grant in force
 * naming `message`: read lets them read, write lets them answer); a clinician, the patients who let it write
 * into their `message` stream. One entry per account, the widest access first.
 */
import type { GrantView, ReceivedGrant } from '@hale/client';

export interface Recipient {
  readonly accountId: string;
  /** Whether they can answer in the thread (a clinician needs write on the patient's messages). */
  readonly canReply: boolean;
}

const IN_FORCE = new Set(['active', 'expiring']);

export const clinicianRecipients = (grants: readonly GrantView[]): Recipient[] => {
  const by = new Map<string, Recipient>();
  for (const g of grants) {
    if (!IN_FORCE.has(g.state)) continue;
    const entry = g.grant.scope.find((s) => s.type === 'message');
    if (entry === undefined) continue;
    const held = by.get(g.grant.granteeId);
    by.set(g.grant.granteeId, {
      accountId: g.grant.granteeId,
      canReply: (held?.canReply ?? false) || entry.access === 'write',
    });
  }
  return [...by.values()];
};

export const patientRecipients = (received: readonly ReceivedGrant[]): Recipient[] =>
  received
    .filter((r) => r.state !== 'ended' && r.streams.some((s) => s.type === 'message' && s.access === 'write'))
    .map((r) => ({ accountId: r.patientId, canReply: true }));
