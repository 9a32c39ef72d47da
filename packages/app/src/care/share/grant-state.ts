/**
 * What a grant given allows now, said once for every screen that asks. Pure.
 *
 * - In force: active, ending soon, or not started yet; a revoked or expired grant (re-keying or not) is not.
 * - A holder: an account with a grant in force.
 */
import type { GrantView } from '@hale/client';

export const inForce = (g: Pick<GrantView, 'state'>): boolean =>
  g.state === 'active' || g.state === 'expiring' || g.state === 'not-started';

/** The accounts holding a grant in force. */
export const holdersOf = (grants: readonly GrantView[]): ReadonlySet<string> =>
  new Set(grants.filter(inForce).map((g) => g.grant.granteeId));
