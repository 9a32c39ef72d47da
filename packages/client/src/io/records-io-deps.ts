/** What the records-in-and-out calls need of a device session and its account (injected: no platform API). */
import type { DeviceSession } from '../session/session';
import type { FetchLike } from '../api/http-api';
import type { ProviderProfile } from '@hale/protocol';

export interface RecordsIoDeps {
  readonly session: Pick<DeviceSession, 'account' | 'records' | 'files' | 'audit' | 'exportFhir'>;
  /** The sync server's public base URL (links name it). */
  readonly baseUrl: string;
  readonly fetch: FetchLike;
  /** Runs a call with a bearer token of this device (SessionManager.withToken). */
  readonly withToken: <T>(call: (token: string) => Promise<T>) => Promise<T>;
  /** The signed directory profile of a provider account, verified (`directoryLookup`); null when none. */
  readonly providerProfile?: (accountId: string) => Promise<ProviderProfile | null>;
  readonly now?: () => number;
}
