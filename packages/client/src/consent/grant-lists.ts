/**
 * Pure functions over this device's copy of the grants.
 *
 * - `mergeGrants`: by grant id, the first copy kept; a revocation or rotation stored is never taken away,
 *   so a copy read before it never undoes it. Null: nothing new.
 * - `writeSpansOf`: when a grantee held write access, per grant: from its start to its expiry or its
 *   revocation's signed time; a grant whose times do not read as dates gives no span.
 * - `grantEnded`: revoked (or replaced), or past its expiry. `endedFor`: ended for one record type — a
 *   grant replaced by a successor that still names the type hands that type on, so it ends nothing there.
 * - `grantRequestKey`: one key per equal request (double taps).
 */
import type { StreamType } from '@hale/model';
import { supersedesGrant } from '@hale/protocol';
import type { WriteSpan } from '../sync/record-codec';
import type { StoredGrant, GrantRequest } from './consent-types';

/** Whether the grant ended by `now` (ms): revoked, or past its expiry. */
export const grantEnded = (g: StoredGrant, now: number): boolean =>
  g.revokedAt !== undefined || Date.parse(g.grant.expiresAt) <= now;

/**
 * Whether `g` ended for streams of `type` by `now`: ended (`grantEnded`), unless a change replaced it by a
 * grant of `all` that names `type` (read or write): that successor holds the type on, and its own end is
 * judged for it. So a kind kept, or moved between read and write, by a change rotates no key; a kind a
 * change left out ends with the grant replaced.
 */
export const endedFor = (
  g: StoredGrant,
  type: StreamType,
  all: readonly StoredGrant[],
  now: number,
): boolean => {
  if (!grantEnded(g, now)) return false;
  if (g.supersededBy === undefined) return true;
  const next = all.find((x) => x.grant.grantId === g.supersededBy);
  return !(
    next !== undefined &&
    supersedesGrant(next.grant, g.grant) &&
    next.grant.scope.some((e) => e.type === type)
  );
};

/**
 * When `granteeId` held write access to `patientId`'s streams of `type`, by `grants` (this device's copy:
 * each grant, and each revocation in it, signed by the patient): per grant naming `type` with write
 * access, from its start until its expiry, or until its revocation's time when earlier — the time the
 * patient's device signed it, the only time of it the patient vouches for (when the server took it is
 * the server's word). A grant whose times do not read as dates gives no span.
 */
export const writeSpansOf = (
  grants: readonly StoredGrant[],
  patientId: string,
  type: StreamType,
  granteeId: string,
): WriteSpan[] =>
  grants.flatMap(({ grant, revokedAt }) => {
    if (grant.patientId !== patientId || grant.granteeId !== granteeId) return [];
    if (!grant.scope.some((e) => e.type === type && e.access === 'write')) return [];
    const start = Date.parse(grant.start);
    const expiry = Date.parse(grant.expiresAt);
    const revoked = revokedAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(revokedAt);
    const end = Math.min(expiry, revoked);
    return Number.isFinite(start) && Number.isFinite(end) ? [{ grantId: grant.grantId, start, end }] : [];
  });

/**
 * `stored` with `found` merged in, by grant id (the first copy of an id is the one kept): a grant not held
 * yet is added; one held takes a `revokedAt`, `supersededBy` or `rotatedAt` it lacks, and keeps the one it has. Nothing is
 * ever taken away, so a revocation stored is never undone by a copy read before it. Null: nothing new.
 */
export const mergeGrants = (
  stored: readonly StoredGrant[],
  found: readonly StoredGrant[],
): StoredGrant[] | null => {
  const out = stored.map((g) => ({ ...g }));
  const byId = new Map<string, StoredGrant>();
  for (const g of out) if (!byId.has(g.grant.grantId)) byId.set(g.grant.grantId, g);
  let changed = false;
  for (const g of found) {
    const mine = byId.get(g.grant.grantId);
    if (!mine) {
      const taken = { ...g };
      out.push(taken);
      byId.set(g.grant.grantId, taken);
      changed = true;
      continue;
    }
    if (mine.revokedAt === undefined && g.revokedAt !== undefined) {
      mine.revokedAt = g.revokedAt;
      changed = true;
    }
    if (mine.supersededBy === undefined && g.supersededBy !== undefined) {
      mine.supersededBy = g.supersededBy;
      changed = true;
    }
    if (mine.rotatedAt === undefined && g.rotatedAt !== undefined) {
      mine.rotatedAt = g.rotatedAt;
      changed = true;
    }
  }
  return changed ? out : null;
};

/**
 * What a `grant` call asks for, as text: two calls at once asking the same (a double tap) are one grant.
 * Null when it cannot be written so (a value JSON refuses): such a call shares nothing.
 */
export const grantRequestKey = (request: GrantRequest): string | null => {
  try {
    // As `draftGrant` reads a scope entry: its type and access only.
    const scope: unknown = request.scope;
    const entries = Array.isArray(scope)
      ? scope.map((e: unknown) =>
          typeof e === 'object' && e !== null && 'type' in e && 'access' in e ? [e.type, e.access] : e,
        )
      : scope;
    return JSON.stringify([
      request.granteeId,
      entries,
      request.expiresAt,
      request.durationMs,
      request.purpose,
      request.start,
    ]);
  } catch {
    return null;
  }
};
