import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Ed25519 } from '@hale/crypto';
import type { ServerConfig } from './config';
import type { SyncStore } from './store/index';
import type { Metrics } from './metrics';
import type { RateLimiter } from './core/rate-limit';
import type { AuthenticatedDevice, ServerIdentity, SyncService } from './core/sync-service';
import type { Hub } from './core/hub';
import type { WrappedRootNotices } from './core/wrapped-root-notices';

/** Everything a feature plugin needs; built once in buildApp(). */
export interface AppContext {
  config: ServerConfig;
  store: SyncStore;
  now: () => number;
  ed: Ed25519;
  server: ServerIdentity;
  service: SyncService;
  hub: Hub;
  /** Passphrase-wrap changes announced to the account's other connected devices. */
  wrappedRoots: WrappedRootNotices;
  metrics: Metrics;
  deviceLimiter: RateLimiter;
  addressLimiter: RateLimiter;
  log: FastifyBaseLogger;
  /** Resolves the bearer session of a request or throws ServiceError(UNAUTHENTICATED | SESSION_EXPIRED | DEVICE_REVOKED). */
  authenticate(request: FastifyRequest): Promise<AuthenticatedDevice>;
  /** Looks up an active device and its account, or throws. */
  loadDevice(deviceId: string): Promise<AuthenticatedDevice>;
  /** The key per-address limits count the request's client under (core/client-address.ts), once per request. */
  clientAddress(request: FastifyRequest): string;
}
