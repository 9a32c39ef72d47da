/** What the records-in-and-out calls need of a device session and its account (injected: no platform API). */
import type { BoxKeyPair } from '@hale/crypto';
import type { FhirBundle } from '@hale/model';
import type { ProviderProfile } from '@hale/protocol';
import type { FetchLike } from '../api/http-api';
import type { AuditLog } from '../audit/audit-log';
import type { Files } from '../files/files';
import type { Records } from '../records/records';
import type { SignedFhirBundle } from './signed-fhir-export';

/** The parts of a device session (session/session.ts `DeviceSession`) these calls use. */
export interface RecordsIoSession {
  /** The account; its wrapping key pair seals and opens what the server keeps of its links. */
  readonly account: { readonly accountId: string; readonly keys: { readonly wrapping: BoxKeyPair } };
  readonly records: Records;
  readonly files: Files;
  readonly audit: AuditLog;
  exportFhir(
    patientId?: string,
    prepare?: (bundle: FhirBundle) => Promise<FhirBundle>,
  ): Promise<SignedFhirBundle>;
}

/**
 * What records in and out (`toHaleIo`, the SMART Health Link calls) is built from: the device session, the
 * server's base URL and the HTTP API.
 */
export interface RecordsIoDeps {
  readonly session: RecordsIoSession;
  /** The sync server's public base URL (links name it). */
  readonly baseUrl: string;
  readonly fetch: FetchLike;
  /** Runs a call with a bearer token of this device (SessionManager.withToken). */
  readonly withToken: <T>(call: (token: string) => Promise<T>) => Promise<T>;
  /** The signed directory profile of a provider account, verified (`directoryLookup`); null when none. */
  readonly providerProfile?: (accountId: string) => Promise<ProviderProfile | null>;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
}
