/**
 * What consent's modules share: the injected dependencies, a few helpers, and each module's handle.
 *
 * Invariants:
 * - Every piece of state has one owner module; the others reach it through that module's handle here
 *   (late bound: a module calls `c.other.fn()` at call time, so creation order does not matter).
 * - Nothing runs before `createConsent` has assigned every handle.
 */
import type { StreamType } from '@hale/model';
import type { Pins, GrantCopy, Recording, Rekey, Checks, KeptRevocations } from './consent-parts';
import type { ConsentDeps } from './consent-types';

export interface ConsentCore {
  readonly deps: ConsentDeps;
  /** `ms` (now by default) as an ISO date-time. */
  readonly iso: (ms?: number) => string;
  /** This account as a reader of its grants' sealed purposes. */
  readonly reader: () => {
    accountId: string;
    wrapping: ConsentDeps['keys']['wrapping'];
    x25519: ConsentDeps['x25519'];
  };
  /** This account's stream of `type`. */
  readonly streamOf: (type: StreamType) => `${string}/${StreamType}`;
  pins: Pins;
  copy: GrantCopy;
  recording: Recording;
  rekey: Rekey;
  checks: Checks;
  kept: KeptRevocations;
}

/** The core without its modules; `createConsent` fills them in. */
export const createConsentCore = (deps: ConsentDeps): ConsentCore => {
  const core = {
    deps,
    iso: (ms = deps.now()): string => new Date(ms).toISOString(),
    reader: () => ({ accountId: deps.accountId, wrapping: deps.keys.wrapping, x25519: deps.x25519 }),
    streamOf: (type: StreamType): `${string}/${StreamType}` => `${deps.accountId}/${type}`,
  };
  // The modules are assigned right after, before anything runs.
  return core as unknown as ConsentCore;
};
