/**
 * Consent enforcement: the one place that decides whether a device may touch a stream.
 *
 * Invariants:
 * - Decisions are made at the moment of the operation with the server's clock: a grant covers
 *   [start, expiresAt) and nothing after its revocation, whatever the state of the connection.
 * - The patient's own (non-revoked) devices may do everything on the patient's streams.
 * - A grantee may read (pull, live, envelope fetch, blob download) streams whose type its active grant
 *   names, and write (push, blob upload) only where that grant says `write`.
 * - A stream several active grants name is listed once (`grantedStreams`), described by one of them
 *   (`describes`: write over read, then the longest lasting), with the end of reading (`readExpiresAt`)
 *   when another of them reads past that one's end, so a device knows when writing ends and when reading does.
 * - The audit stream is never readable by a grantee; a grantee with any active grant for the patient may
 *   append to it (its own access entries). Nobody updates or deletes audit entries (the store refuses).
 * - Callers decide from the grants unended when they loaded them (`store.grants.listUnended`, or only those
 *   from the patients whose streams they decide on, `listUnendedFrom`: the same decisions): ended grants
 *   pile up without bound (they are the consent history) and never give access, so they are not loaded
 *   to decide. They only name a refusal's reason: `explainEnded` completes a refusal made without them
 *   from the pair's ended scopes (`store.grants.endedScopes`), looked up only when something is refused.
 * Failure modes: the reason is reported precisely (NO_CONSENT, CONSENT_EXPIRED, CONSENT_REVOKED, FORBIDDEN)
 * so the device can tell the user what happened; nothing is ever granted by default. Only the reason of a
 * refusal depends on the ended grants, never whether something is refused.
 */
import { parseStreamId, type ErrorCode } from '@hale/protocol';
import type { StreamType } from '@hale/model';
import type { EndedScope, Grant } from '../store/index';

export type Operation =
  'pull' | 'live' | 'push' | 'envelope-fetch' | 'envelope-publish' | 'blob-up' | 'blob-down';

export interface Principal {
  accountId: string;
  deviceId: string;
  role: 'patient' | 'provider';
}

export type AccessDecision =
  | { ok: true; level: 'owner' | 'read' | 'write'; grant?: Grant }
  | { ok: false; code: ErrorCode; message: string };

const WRITE_OPS: ReadonlySet<Operation> = new Set(['push', 'blob-up']);

export const grantIsActive = (grant: Grant, now: number): boolean =>
  grant.revokedAt === undefined && Date.parse(grant.start) <= now && now < Date.parse(grant.expiresAt);

const deny = (code: ErrorCode, message: string): AccessDecision => ({ ok: false, code, message });

/**
 * The grants of one list by patient, built at a list's first decision: a grantee's list can hold thousands
 * (accepted patients), and a pull decides up to a thousand streams from one list. A list is frozen when
 * indexed, so a caller that changed it afterwards would fail loudly rather than be decided from a stale index.
 */
const byPatient = new WeakMap<readonly Grant[], ReadonlyMap<string, readonly Grant[]>>();
export const grantsOfPatient = (grants: readonly Grant[], patientId: string): readonly Grant[] => {
  let index = byPatient.get(grants);
  if (index === undefined) {
    const built = new Map<string, Grant[]>();
    for (const g of grants) {
      const list = built.get(g.patientId);
      if (list) list.push(g);
      else built.set(g.patientId, [g]);
    }
    Object.freeze(grants);
    byPatient.set(grants, built);
    index = built;
  }
  return index.get(patientId) ?? [];
};

/**
 * `grants` are grants the principal's account received (any state; callers pass the unended ones and
 * complete a refusal with `explainEnded`). Same inputs, same answer; the list is indexed at its first decision
 * and frozen then (`grantsOfPatient`), so pass a list the caller no longer changes.
 */
export const decideAccess = (
  principal: Principal,
  stream: string,
  op: Operation,
  grants: readonly Grant[],
  now: number,
): AccessDecision => {
  const parsed = parseStreamId(stream);
  if (!parsed.ok) return deny('BAD_MESSAGE', `not a stream id: ${stream}`);
  const { patientId, type } = parsed.value;
  if (patientId === principal.accountId) return { ok: true, level: 'owner' };
  if (op === 'envelope-publish') return deny('FORBIDDEN', 'only the patient publishes key envelopes');

  const relevant = grantsOfPatient(grants, patientId).filter((g) => g.granteeId === principal.accountId);
  if (type === 'audit') {
    if (op !== 'push') return deny('FORBIDDEN', "the audit stream is readable by the patient's devices only");
    const active = relevant.find((g) => grantIsActive(g, now));
    return active ? { ok: true, level: 'write', grant: active } : explainMissing(relevant, now, null);
  }
  const covering = relevant.filter((g) => g.scope.some((s) => s.type === type));
  const active = covering.filter((g) => grantIsActive(g, now));
  if (active.length === 0) return explainMissing(covering, now, type);
  const writable = active.find((g) => g.scope.some((s) => s.type === type && s.access === 'write'));
  if (WRITE_OPS.has(op)) {
    return writable
      ? { ok: true, level: 'write', grant: writable }
      : deny('FORBIDDEN', `consent to ${type} is read-only`);
  }
  const grant = writable ?? active[0];
  return grant
    ? { ok: true, level: writable ? 'write' : 'read', grant }
    : explainMissing(covering, now, type);
};

const refusal = (code: 'CONSENT_REVOKED' | 'CONSENT_EXPIRED' | 'NO_CONSENT', type: StreamType | null) => {
  const what = type ?? 'this patient';
  if (code === 'CONSENT_REVOKED') return deny(code, `consent to ${what} was revoked`);
  if (code === 'CONSENT_EXPIRED') return deny(code, `consent to ${what} expired`);
  return deny(code, `no consent covers ${what}`);
};

const explainMissing = (grants: readonly Grant[], now: number, type: StreamType | null): AccessDecision => {
  if (grants.some((g) => g.revokedAt !== undefined)) return refusal('CONSENT_REVOKED', type);
  if (grants.some((g) => now >= Date.parse(g.expiresAt))) return refusal('CONSENT_EXPIRED', type);
  return refusal('NO_CONSENT', type);
};

/**
 * Whether `decision`, a refusal `decideAccess` made from fewer than all grants of the pair (the unended
 * ones), should name another reason given the pair's ended grants (`ended`, from
 * `store.grants.endedScopes`): the answer `decideAccess` would give with every grant loaded. A grant or
 * other refusal is returned as it is. Pure.
 */
export const explainEnded = (
  principal: Principal,
  stream: string,
  decision: AccessDecision,
  ended: readonly EndedScope[],
): AccessDecision => {
  if (decision.ok || (decision.code !== 'NO_CONSENT' && decision.code !== 'CONSENT_EXPIRED')) return decision;
  const parsed = parseStreamId(stream);
  if (!parsed.ok || parsed.value.patientId === principal.accountId) return decision;
  // The audit stream is refused for the pair as a whole, other streams for the grants naming their type.
  const type = parsed.value.type === 'audit' ? null : parsed.value.type;
  const covering = type === null ? ended : ended.filter((e) => e.type === type);
  if (covering.some((e) => e.revoked)) return refusal('CONSENT_REVOKED', type);
  if (decision.code === 'CONSENT_EXPIRED' || covering.length > 0) return refusal('CONSENT_EXPIRED', type);
  return decision;
};

/** The patient whose ended grants could explain a refusal of `stream` to `principal`, if any. */
export const patientToExplain = (principal: Principal, stream: string): string | null => {
  const parsed = parseStreamId(stream);
  return parsed.ok && parsed.value.patientId !== principal.accountId ? parsed.value.patientId : null;
};

/** Streams a grantee may read right now, from its active grants. */
export interface GrantedStream {
  stream: string;
  patientId: string;
  type: StreamType;
  access: 'read' | 'write';
  grantId: string;
  expiresAt: string;
  /**
   * When reading ends, where another active grant lets the grantee read past `expiresAt` (a read grant
   * outlasting the write grant that describes the stream); absent otherwise.
   */
  readExpiresAt?: string;
}

/**
 * Which of two active grants of one stream describes it: write over read, then the one lasting longer,
 * then the lower grant id. Whatever order the grants come in (a reload merges them anew), so the terms a
 * device is told change only when the grants do.
 */
const describes = (a: GrantedStream, b: GrantedStream): boolean => {
  if (a.access !== b.access) return a.access === 'write';
  const byExpiry = Date.parse(a.expiresAt) - Date.parse(b.expiresAt);
  if (byExpiry !== 0) return byExpiry > 0;
  return a.grantId < b.grantId;
};

/**
 * One row per stream the grantee may read now, described by the grant `describes` picks, with the end of
 * reading (`readExpiresAt`) where a grant it does not pick lets the grantee read longer: a device must
 * know both ends, or at the end of a write grant it would take its read access for ended too.
 */
export const grantedStreams = (grants: readonly Grant[], granteeId: string, now: number): GrantedStream[] => {
  const out: GrantedStream[] = [];
  const seen = new Map<string, number>();
  // Per stream, the latest end of an active grant naming it: reading lasts that long without a gap, as
  // every active grant runs from before now to its end.
  const readEnd = new Map<string, string>();
  for (const g of grants) {
    if (g.granteeId !== granteeId || !grantIsActive(g, now)) continue;
    for (const s of g.scope) {
      const stream = `${g.patientId}/${s.type}`;
      const entry: GrantedStream = {
        stream,
        patientId: g.patientId,
        type: s.type as StreamType,
        access: s.access,
        grantId: g.grantId,
        expiresAt: g.expiresAt,
      };
      const end = readEnd.get(stream);
      if (end === undefined || Date.parse(g.expiresAt) > Date.parse(end)) readEnd.set(stream, g.expiresAt);
      const at = seen.get(stream);
      if (at === undefined) {
        seen.set(stream, out.length);
        out.push(entry);
      } else {
        const held = out[at];
        if (held && describes(entry, held)) out[at] = entry;
      }
    }
  }
  for (const row of out) {
    const end = readEnd.get(row.stream);
    if (end !== undefined && Date.parse(end) > Date.parse(row.expiresAt)) row.readExpiresAt = end;
  }
  return out;
};

/** The earliest future instant at which one of these grants starts or ends (for expiry timers). */
export const nextGrantBoundary = (grants: readonly Grant[], now: number): number | null => {
  let next: number | null = null;
  for (const g of grants) {
    if (g.revokedAt !== undefined) continue;
    for (const t of [Date.parse(g.start), Date.parse(g.expiresAt)]) {
      if (t > now && (next === null || t < next)) next = t;
    }
  }
  return next;
};
