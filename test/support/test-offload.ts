// The crypto worker of the test harness, and whether this run is the project of vitest.config.ts that
// runs the devices' cryptography on one (no vitest import: the benches load the harness under tsx).
import { createNodeCryptoOffload, type NodeCryptoOffload } from '@hale/client/node';

/** HALE_CRYPTO_WORKER=1: the project 'e2e on a crypto worker' (vitest.config.ts). */
export const onCryptoWorkerProject = process.env['HALE_CRYPTO_WORKER'] === '1';

/**
 * A crypto worker thread (`@hale/client/node`). In the worker project every batch goes to it, however
 * small (`minBatch` 1): with the default (8) most batches of a scenario stay in-thread and the project
 * would test little of the worker's path. Elsewhere (sync/offload.e2e, device/restart.e2e, benches) the default, as an
 * app has.
 */
export const createTestCryptoOffload = (): NodeCryptoOffload =>
  createNodeCryptoOffload(onCryptoWorkerProject ? { minBatch: 1 } : {});
