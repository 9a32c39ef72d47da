/**
 * The handles consent's modules reach each other by (consent-core.ts): declared here, below the modules
 * that implement them, so that no module and the core import each other.
 */
import type { SyncError } from '../sync/connection';
import type {
  KeptRevocation,
  ReadAfterKeys,
  RevocationPending,
  Rotation,
  StoredGrant,
} from './consent-types';
import type { Static } from '@sinclair/typebox';
import type { GrantRecord } from '@hale/protocol';
import type { AUDIT_STATE } from '../audit/stored-state';

/** The handle of pins.ts (`createPins`). */
export interface Pins {
  pinnedKeys: () => Promise<{
    [x: string]: string;
  }>;
  pinIdentity: (accountId: string, identity: Uint8Array, firstOnly: boolean) => Promise<void>;
  identityOf: (accountId: string) => Promise<Uint8Array>;
  unpinWrappingKey: (accountId: string) => Promise<void>;
  wrappingKeyOf: (accountId: string) => Promise<Uint8Array | null>;
  holderWrappingKey: (accountId: string) => Promise<Uint8Array | null>;
}

/** The handle of grant-copy.ts (`createGrantCopy`). */
export interface GrantCopy {
  localGrants: () => Promise<Static<typeof AUDIT_STATE.grants>>;
  saveGrants: (change: (stored: StoredGrant[]) => StoredGrant[] | null) => Promise<StoredGrant[]>;
  addGrants: (found: readonly StoredGrant[]) => Promise<StoredGrant[]>;
  verifies: (
    payload: {
      label: string;
    },
    sig: string,
  ) => Promise<boolean>;
  merge: (known: readonly StoredGrant[], records: readonly GrantRecord[]) => Promise<StoredGrant[]>;
  serverGrants: () => Promise<GrantRecord[]>;
  grants: () => Promise<StoredGrant[]>;
  currentGrants: () => Promise<StoredGrant[]>;
  onChange: (watcher: (stored: readonly StoredGrant[]) => void) => () => void;
}

/** The handle of recording.ts (`createRecording`). */
export interface Recording {
  grantAudit: {
    sending: Set<string>;
    emit: (
      mark: {
        expiresAt: string;
        grantId: string;
        notBefore: number;
      },
      stored: StoredGrant,
    ) => void;
    unmark: (grantIds: ReadonlySet<string>) => Promise<void>;
    mark(
      marks: readonly {
        expiresAt: string;
        grantId: string;
        notBefore: number;
      }[],
    ): Promise<Set<string>>;
    stored: () => Promise<
      {
        expiresAt: string;
        grantId: string;
        notBefore: number;
      }[]
    >;
    check(
      marks: readonly {
        expiresAt: string;
        grantId: string;
        notBefore: number;
      }[],
      held: ReadonlyMap<string, StoredGrant>,
      now: number,
      whole: boolean,
      waiting?: {
        has(grantId: string): boolean;
      },
    ): {
      ids: string[];
      settle: (found: ReadonlySet<string>, undecided?: ReadonlySet<string>) => Promise<void>;
    };
  };
  revocationAudit: {
    sending: Set<string>;
    emit: (
      mark: {
        granteeId: string;
        expiresAt: string;
        grantId: string;
        own: boolean;
        notBefore: number;
      },
      stored: StoredGrant,
    ) => void;
    unmark: (grantIds: ReadonlySet<string>) => Promise<void>;
    mark(
      marks: readonly {
        granteeId: string;
        expiresAt: string;
        grantId: string;
        own: boolean;
        notBefore: number;
      }[],
    ): Promise<Set<string>>;
    stored: () => Promise<
      {
        granteeId: string;
        expiresAt: string;
        grantId: string;
        own: boolean;
        notBefore: number;
      }[]
    >;
    check(
      marks: readonly {
        granteeId: string;
        expiresAt: string;
        grantId: string;
        own: boolean;
        notBefore: number;
      }[],
      held: ReadonlyMap<string, StoredGrant>,
      now: number,
      whole: boolean,
      waiting?: {
        has(grantId: string): boolean;
      },
    ): {
      ids: string[];
      settle: (found: ReadonlySet<string>, undecided?: ReadonlySet<string>) => Promise<void>;
    };
  };
  recordGraceMs: number;
  recordStanding: (whole: boolean) => Promise<void>;
  recordNow: () => void;
}

/** The handle of rekey.ts (`createRekey`). */
export interface Rekey {
  wrapsOwed: () => Promise<{
    [x: string]: {
      epoch: number;
      minted: boolean;
    };
  }>;
  candidateSets: (ended: string[], active: StoredGrant[]) => string[][];
  readAfterKeys: () => Promise<ReadAfterKeys>;
  wrapMissing: (holdersOf: ReadonlyMap<string, StoredGrant[]>) => Promise<void>;
  background: Rotation[];
  settle: (
    out: Rotation[],
    read?: ReadAfterKeys,
  ) => Promise<{
    complete: boolean;
  }>;
}

/** The handle of checks.ts (`createChecks`). */
export interface Checks {
  live: () => boolean;
  stop: () => void;
  checkNow: () => void;
  armResend: () => void;
  resendSucceeded: () => void;
  resendOver: () => void;
  startRefresh: () => void;
  grantsChanged: (stored: readonly StoredGrant[]) => void;
  readForWriteSpans: () => Promise<void>;
}

/** The handle of kept-revocations.ts (`createKeptRevocations`). */
export interface KeptRevocations {
  unkept: Map<
    string,
    {
      signed: {
        sig: string;
        revocation: {
          v: 1;
          patientId: string;
          revokedAt: string;
          grantId: string;
        };
      };
      marked: boolean;
    }
  >;
  keptRevocations: () => Promise<KeptRevocation[]>;
  revokedHere: () => Promise<Map<string, string>>;
  revocationPending: (grantId: string, cause: SyncError) => RevocationPending;
  notConnected: () => SyncError;
  refusedForGood: (error: unknown) => boolean;
  keepRevocation: (entry: KeptRevocation) => Promise<KeptRevocation>;
  dropRevocation: (grantId: string, sig: string) => Promise<void>;
  deliver: (
    entry: KeptRevocation,
    fresh: boolean,
  ) => Promise<
    | {
        sent: true;
        read: ReadAfterKeys;
      }
    | {
        sent: false;
        error: SyncError;
      }
  >;
  sendKept: () => Promise<ReadAfterKeys | undefined>;
  forgetRefused: (grantIds: ReadonlySet<string>) => Promise<void>;
  refusedStill: () => Promise<void>;
  revokedElsewhere: (records: readonly GrantRecord[], grantId: string, sig: string) => Promise<boolean>;
}
