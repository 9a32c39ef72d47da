/*
 * Refused attempts on another account's streams, told to that account: when a device asks for a stream it
 * holds no grant in force for (NO_CONSENT, CONSENT_EXPIRED, CONSENT_REVOKED), the server appends an access
 * event `denied` (count 0, the refused stream) to the stream owner's audit log, sealed and signed as its
 * other access events are (sync-access-log.ts), attributed to the requesting account and device. Each path
 * hands its refusals here (`note`) once it has decided them: pull, push, key fetch, subscribe, heads and
 * the blob routes (sync-service.ts, sync-envelopes.ts, hub.ts).
 *
 * Invariants:
 * - At most one `denied` entry per (device, stream) per DENIED_WINDOW_MS of the injected clock (forward).
 * - The throttle is in memory, at most DENIED_KEYS keys, oldest dropped first: a restart may log one more.
 * - Only consent refusals: FORBIDDEN (a grant in force that does not allow the operation) is not logged.
 * - Only requests: a live subscription the server ends (a revocation, an expiry) is no attempt.
 * - Never for the requester's own streams, an id that is no stream id, or an account the store lacks.
 * - Logging never changes the answer: a failed write is reported (`onError`) and frees its slots.
 */
import { ACCESS_DENIED, parseStreamId } from '@hale/protocol';
import { base64urlDecode } from '@hale/crypto';
import type { SyncStore } from '../store/index';
import type { Principal } from './access';
import { forwardClock } from './forward-clock';
import { ServiceError } from './service-error';
import type { AccessEvent } from './sync-context';

/** How long one (device, stream) logs at most one `denied` entry. */
export const DENIED_WINDOW_MS = 3_600_000;
/** Keys the throttle holds; past it the oldest go first (each then may log once more). */
export const DENIED_KEYS = 10_000;

/** The refusals that mean no grant in force covers the stream. */
const CONSENT_REFUSALS: ReadonlySet<string> = new Set(['NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED']);

/** A stream refused to a device, with the refusal's code. */
export interface Refusal {
  stream: string;
  code: string;
}

/**
 * Which keys may log: `take` answers the slot taken (to `free` again) or null while the key's last
 * slot is younger than `windowMs`. Keys are kept in the order taken, so the oldest are dropped first.
 */
export const createDeniedThrottle = ({
  now,
  windowMs = DENIED_WINDOW_MS,
  maxKeys = DENIED_KEYS,
}: {
  now: () => number;
  windowMs?: number;
  maxKeys?: number;
}) => {
  const clock = forwardClock(now);
  const taken = new Map<string, number>();
  const take = (key: string): number | null => {
    const t = clock();
    for (const [oldest, at] of taken) {
      if (t - at < windowMs) break;
      taken.delete(oldest);
    }
    if (taken.has(key)) return null;
    taken.set(key, t);
    for (const oldest of taken.keys()) {
      if (taken.size <= maxKeys) break;
      taken.delete(oldest);
    }
    return t;
  };
  /** Gives back the slot `at` of `key` (its entry was not written), unless a later take holds it. */
  const free = (key: string, at: number): void => {
    if (taken.get(key) === at) taken.delete(key);
  };
  return { take, free, size: () => taken.size };
};

export interface DeniedAccessDeps {
  store: Pick<SyncStore, 'accounts'>;
  now: () => number;
  /** Appends the events to their owners' logs (sync-access-log.ts `recordGranteeAccess`). */
  write: (p: Principal, events: AccessEvent[]) => Promise<void>;
  onError?: (error: unknown) => void;
  windowMs?: number;
  maxKeys?: number;
}

export const createDeniedAccess = ({ store, now, write, onError, windowMs, maxKeys }: DeniedAccessDeps) => {
  const throttle = createDeniedThrottle({
    now,
    ...(windowMs === undefined ? {} : { windowMs }),
    ...(maxKeys === undefined ? {} : { maxKeys }),
  });

  /** Whether the store holds `accountId` with a wrapping key an entry can be sealed to. */
  const canSealTo = async (accountId: string): Promise<boolean> => {
    const account = await store.accounts.get(accountId);
    if (account === null || account === undefined) return false;
    const key = base64urlDecode(account.wrappingPublicKey);
    return key.ok && key.value.length === 32;
  };

  /**
   * Logs `refusals`, the streams refused to `p` in one answer, as the throttle allows. Never rejects: a
   * failure is reported through `onError` and the caller answers its refusals as it would have.
   */
  const note = async (p: Principal, refusals: Iterable<Refusal>): Promise<void> => {
    const slots: Array<{ key: string; at: number; stream: string; owner: string }> = [];
    try {
      for (const { stream, code } of refusals) {
        if (!CONSENT_REFUSALS.has(code)) continue;
        const parsed = parseStreamId(stream);
        if (!parsed.ok || parsed.value.patientId === p.accountId) continue;
        const key = JSON.stringify([p.deviceId, stream]);
        const at = throttle.take(key);
        if (at !== null) slots.push({ key, at, stream, owner: parsed.value.patientId });
      }
      if (slots.length === 0) return;
      const owners = new Map<string, boolean>();
      for (const { owner } of slots) if (!owners.has(owner)) owners.set(owner, await canSealTo(owner));
      const events: AccessEvent[] = [];
      for (const slot of slots) {
        if (owners.get(slot.owner) === true)
          events.push({ action: ACCESS_DENIED, stream: slot.stream, count: 0 });
        else throttle.free(slot.key, slot.at);
      }
      if (events.length > 0) await write(p, events);
    } catch (error) {
      for (const { key, at } of slots) throttle.free(key, at);
      onError?.(error);
    }
  };

  /** `note` for an operation on `stream` that failed with `error`: logged when it is a consent refusal. */
  const noteError = (p: Principal, stream: string, error: unknown): Promise<void> =>
    error instanceof ServiceError ? note(p, [{ stream, code: error.code }]) : Promise.resolve();

  return { note, noteError, throttle };
};

export type DeniedAccess = ReturnType<typeof createDeniedAccess>;
