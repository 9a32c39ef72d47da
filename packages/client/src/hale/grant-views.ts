/**
 * Consent as screens show it: the grants this account gave, each with one state to show, and the charts
 * shared with this account (grants received), each with its streams and state.
 *
 * | given (`GrantState`) | when |
 * |---|---|
 * | `revocation-pending` | revoked on this device, the server has not taken it: the grantee keeps access until it does |
 * | `rotation-in-progress` | revoked or expired; its streams are not yet re-keyed without it (the next connect of a patient device finishes it) |
 * | `revoked` / `expired` | ended, and re-keyed |
 * | `replaced` | a change replaced it (`supersededBy`): the successor is listed on its own |
 * | `not-started` | before its start: nothing is served yet |
 * | `expiring` | in force, ending within `expiringWindowMs` of its length: a fifth of it, at most EXPIRING_SOON_MS |
 * | `active` | in force |
 *
 * | received (`ReceivedGrant['state']`) | when |
 * |---|---|
 * | `active` | at least one stream of the patient readable |
 * | `expiring` | readable, the soonest end within EXPIRING_SOON_MS (the grantee is not told a grant's start) |
 * | `ended` | no stream left; `ended` says why for each (expired, revoked, this device revoked) and how many records were purged |
 *
 * Invariants: every state is computed at the `now` given (the session's clock), from what this device
 * holds: its copy of the grants it issued, the server's list of what it may sync as last heard (kept
 * offline), and the ends it saw in this session. A chart whose access ended stays listed `ended` until the
 * session closes, or until access to it comes back.
 */
import { GRANTABLE_STREAM_TYPES, type StreamAccess } from '@hale/protocol';
import type { StreamType } from '@hale/model';
import type { GrantStatus, StoredGrant } from '../consent/consent';
import type { RemovedStream } from '../sync/engine';

/** The widest window before an end in which a grant shows as `expiring`: a week. */
export const EXPIRING_SOON_MS = 7 * 24 * 3600_000;

/**
 * How close the end of a grant lasting `lengthMs` must be for it to show as `expiring`: a fifth of its
 * length, at most EXPIRING_SOON_MS (a year: its last week; a 30-day grant: its last 6 days; a 12-hour
 * visit: its last 2 h 24 min), so a short grant is not "ending soon" all its life. A length unknown or
 * not positive: EXPIRING_SOON_MS.
 */
export const expiringWindowMs = (lengthMs: number | null): number =>
  lengthMs === null || !Number.isFinite(lengthMs) || lengthMs <= 0
    ? EXPIRING_SOON_MS
    : Math.min(EXPIRING_SOON_MS, lengthMs / 5);

/**
 * A grant as a screen shows it: in force, expiring within `EXPIRING_SOON_MS`, not started, its revocation or
 * re-keying under way, or ended.
 */
export type GrantState =
  | 'active'
  | 'expiring'
  | 'not-started'
  | 'revocation-pending'
  | 'rotation-in-progress'
  | 'revoked'
  | 'expired'
  | 'replaced';

/** A grant this account gave, with its state now and its purpose opened. */
export type GrantView = StoredGrant & {
  /** The consent layer's status (`GrantStatus`). */
  readonly status: GrantStatus;
  /** What to show: the status refined by the clock (expiring) and the re-keying (rotation in progress). */
  readonly state: GrantState;
  readonly purpose: string | null;
};

export function grantStateOf(g: StoredGrant & { readonly status: GrantStatus }, now: number): GrantState {
  switch (g.status) {
    case 'revoked':
    case 'expired':
      return g.rotatedAt === undefined ? 'rotation-in-progress' : g.status;
    case 'active': {
      const end = Date.parse(g.grant.expiresAt);
      const window = expiringWindowMs(end - Date.parse(g.grant.start));
      return end - now <= window ? 'expiring' : 'active';
    }
    default:
      return g.status;
  }
}

/** One stream of a shared chart this account may sync now. */
export interface ReceivedStream {
  readonly type: StreamType;
  readonly access: 'read' | 'write';
  /** The grant that describes the stream (write over read, then the longest lasting). */
  readonly grantId: string | null;
  /** When this access ends (writing, for a write grant a read grant outlasts). */
  readonly expiresAt: string | null;
  /** When reading ends, if later than `expiresAt`. */
  readonly readExpiresAt: string | null;
}

/** A stream of the chart whose access ended in this session. */
export interface EndedStream {
  readonly type: StreamType;
  readonly reason: RemovedStream['reason'];
  /** Local records removed with it (null: not told). */
  readonly purged: number | null;
  readonly at: string;
}

/** A patient's chart shared with this account. */
export interface ReceivedGrant {
  readonly patientId: string;
  readonly state: 'active' | 'expiring' | 'ended';
  readonly streams: readonly ReceivedStream[];
  /** The soonest end of reading among `streams` (null: none has an end this device knows). */
  readonly endsAt: string | null;
  readonly ended: readonly EndedStream[];
}

/** An end seen in this session, by stream id. */
export interface SeenEnd {
  readonly patientId: string;
  readonly ended: EndedStream;
}

const GRANTABLE: ReadonlySet<string> = new Set(GRANTABLE_STREAM_TYPES);

/**
 * The charts shared with `accountId`, by patient (ids ascending), from the streams it may sync now and
 * the ends seen (`ends`, by stream id; an end whose stream is listed again is left out).
 */
export function receivedGrantsOf(
  accountId: string,
  access: readonly StreamAccess[],
  ends: ReadonlyMap<string, SeenEnd>,
  now: number,
): ReceivedGrant[] {
  const charts = new Map<string, { streams: ReceivedStream[]; ended: EndedStream[] }>();
  const chart = (patientId: string) => {
    let c = charts.get(patientId);
    if (c === undefined) charts.set(patientId, (c = { streams: [], ended: [] }));
    return c;
  };
  const listed = new Set<string>();
  for (const a of access) {
    if (a.patientId === accountId || a.access === 'owner' || !GRANTABLE.has(a.type)) continue;
    listed.add(a.stream);
    chart(a.patientId).streams.push({
      type: a.type,
      access: a.access,
      grantId: a.grantId ?? null,
      expiresAt: a.expiresAt ?? null,
      readExpiresAt: a.readExpiresAt ?? null,
    });
  }
  for (const [stream, end] of ends) {
    if (!listed.has(stream)) chart(end.patientId).ended.push(end.ended);
  }
  return [...charts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([patientId, c]) => {
      const streams = c.streams.sort((a, b) => (a.type < b.type ? -1 : 1));
      const ended = c.ended.sort((a, b) => (a.type < b.type ? -1 : 1));
      const endsAt = streams
        .map((s) => s.readExpiresAt ?? s.expiresAt)
        .reduce<string | null>(
          (soonest, t) =>
            t !== null && (soonest === null || Date.parse(t) < Date.parse(soonest)) ? t : soonest,
          null,
        );
      const state: ReceivedGrant['state'] =
        streams.length === 0
          ? 'ended'
          : endsAt !== null && Date.parse(endsAt) - now <= EXPIRING_SOON_MS
            ? 'expiring'
            : 'active';
      return { patientId, state, streams, endsAt, ended };
    });
}
