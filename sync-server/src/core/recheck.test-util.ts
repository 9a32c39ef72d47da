// Recheck tests hold a request open after it decided access (a store read it serves from, the server's
// signature on its access event), change the grant meanwhile, and look at what was served and logged.
// This starts a server whose app is given both seams (testing/gated-ed.ts, testing/held-reads.ts) with a
// patient and a provider registered; a test that drives a SyncService of its own builds it from `deps`, so
// the same seams hold it. Armed seams fire once, for whichever caller reaches them first.
import type { GrantScopeEntry } from '@hale/protocol';
import { expect, vi } from 'vitest';
import { gatedEd } from '../testing/gated-ed';
import { heldReads } from '../testing/held-reads';
import {
  makeGrant,
  makeRevocation,
  principalOf,
  registerAccount,
  serverAccessEntries,
  startServer,
  type ServerAccessEntry,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import type { SyncService, SyncServiceDeps } from './sync-service';

export interface Recheck {
  t: TestServer;
  patient: TestAccount;
  provider: TestAccount;
  /** Holds the next signature or verification until released. */
  arm: ReturnType<typeof gatedEd>['arm'];
  /** Runs a step of the test after the next armed store read answered. */
  armRead: ReturnType<typeof heldReads>['arm'];
  /** The app's store, clock, Ed25519 and identity, for a SyncService of the test's own. */
  deps: Pick<SyncServiceDeps, 'store' | 'now' | 'ed' | 'server'>;
}

export const startRecheck = async (): Promise<Recheck> => {
  const gated = gatedEd();
  let held: ReturnType<typeof heldReads> | undefined;
  const t = await startServer({
    ed: gated.gate,
    wrapStore: (store) => {
      held = heldReads(store);
      return held.store;
    },
  });
  if (held === undefined) throw new Error('the server was started without wrapping its store');
  return {
    t,
    patient: await registerAccount(t),
    provider: await registerAccount(t, 'provider'),
    arm: gated.arm,
    armRead: held.arm,
    deps: { store: held.store, now: () => t.clock.now, ed: gated.gate, server: t.server.server },
  };
};

/** What the consent steps below read when they run (the test's `beforeEach` assigns it). */
type Current = () => Pick<Recheck, 't' | 'patient' | 'provider'> & { service: SyncService };

/** The patient's consent steps towards the provider, taken through the service `current` names. */
export const consentSteps = (current: Current) => ({
  /** Grants `scope` ending at `expiresAt` (or lasting); resolves to the grant's id. */
  grantTo: async (scope: GrantScopeEntry[], expiresAt?: number): Promise<string> => {
    const { t, patient, provider, service } = current();
    const signed = await makeGrant(patient, provider, scope, {
      now: t.clock.now,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    await service.grant(principalOf(patient), signed);
    return signed.grant.grantId;
  },
  /** Starts revoking `grantId`; resolves once the store holds the revocation (the revoke may go on). */
  revokeCommitted: async (grantId: string): Promise<{ revoking: Promise<void> }> => {
    const { t, patient, service } = current();
    const revoking = service.revoke(principalOf(patient), await makeRevocation(patient, grantId));
    await vi.waitFor(async () => expect((await t.store.grants.get(grantId))?.revokedAt).toBeDefined());
    return { revoking };
  },
});

/** The server's access events of `action` in the patient's audit stream, in chain order. */
export const accessLogged = async (
  { t, patient }: Pick<Recheck, 't' | 'patient'>,
  action: ServerAccessEntry['action'],
): Promise<ServerAccessEntry[]> => (await serverAccessEntries(t, patient)).filter((e) => e.action === action);
