/*
 * What the sync service's modules (sync-consent.ts, sync-access-log.ts, sync-pull.ts, sync-push.ts, …) are
 * given by createSyncService, instead of sharing one closure: its dependencies and the clock.
 *
 * | member | what it is |
 * | --- | --- |
 * | deps | SyncServiceDeps as the app passed them (hooks, limits, the server's identity) |
 * | store, now, ed | deps' store, clock (ms) and Ed25519, taken out for brevity |
 * | iso | the clock's time now as an ISO string (what the store's `now` arguments take) |
 */
import type { AccessEventBody, ServerAccessAction } from '@hale/protocol';
import type { Ed25519, SealTo } from '@hale/crypto';
import type { Grant, SyncStore } from '../store/index';
import type { PushOutcome } from '../metrics';
import type { Principal } from './access';

export interface ServerIdentity {
  serverId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface AuthenticatedDevice extends Principal {
  devicePublicKey: Uint8Array;
}

export interface AccessEvent {
  action: ServerAccessAction;
  stream: string;
  count: number;
  /** The blob it concerns, for an access that concerns one (a deletion). */
  blobId?: AccessEventBody['blobId'];
}

export interface SyncServiceDeps {
  store: SyncStore;
  now: () => number;
  ed: Ed25519;
  /** Seals access-audit entries to the patient; default tweetnacl's, the app injects node:crypto's (≈10×). */
  sealTo?: SealTo;
  server: ServerIdentity;
  /**
   * Called after grants of `granteeId` changed, so live connections re-evaluate at once; grant and revoke
   * answer only after it settles, so no change committed after the answer reaches a cut-off device.
   */
  onGrantsChanged?: (granteeId: string, patientId: string) => void | Promise<void>;
  /**
   * Called synchronously just before a revocation of `grantId` (a grant to `granteeId`) commits, so live
   * delivery stops deciding from it before a row committed after it could go out; the function it returns
   * is called once the revocation settled: after its `onGrantsChanged` settled, or, should the commit
   * fail, before the `onGrantsChanged` that then gives the grantee's connections what the store holds.
   * Also for a grant a new grant replaces (`successor`, stored in the same commit): live delivery then goes
   * on deciding, until the reload, from what both grants allow, so a stream both cover sees no gap.
   */
  onGrantEnding?: (granteeId: string, grantId: string, successor?: Grant) => () => void;
  /**
   * Called after `putEnvelopes` stored envelopes of `patientId`'s `streams` addressed to `recipientId`,
   * another account, so its live connections are told at once (a device may hold those streams' records
   * set aside for want of the key). Must not reject: the envelopes are stored whatever it does.
   */
  onEnvelopesStored?: (recipientId: string, patientId: string, streams: string[]) => void | Promise<void>;
  onPush?: (outcome: PushOutcome, count: number) => void;
  /**
   * Length of the windows in which a grantee device's repeated pulls, key fetches and blob transfers of
   * one stream are logged as one tally (access-windows.ts); default 60 s, as live delivery's.
   */
  accessWindowMs?: number;
  /** A tally of repeated access that could not be written yet (it is retried with the next write). */
  onAccessLogError?: (error: unknown) => void;
  /**
   * Audit entries one account (all its devices) may append to one patient's audit stream per rolling day
   * (see the header); default DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY (config.ts, which says why that number).
   */
  auditEntriesPerAccountPerDay?: number;
}

export interface SyncContext {
  readonly deps: SyncServiceDeps;
  readonly store: SyncStore;
  readonly now: () => number;
  readonly ed: Ed25519;
  readonly iso: () => string;
}
