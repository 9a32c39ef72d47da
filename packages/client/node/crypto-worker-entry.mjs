// Worker side of `createNodeAtRestOffload`: runs `runCryptoJob` for each message. The sources are
// TypeScript run through tsx, as everywhere in this repository, so tsx is registered first.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { runCryptoJob } = await import('../src/offload/run-crypto-job.ts');

parentPort.on('message', (message) => {
  const { id, job } = message;
  try {
    parentPort.postMessage({ id, result: runCryptoJob(job) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error) });
  }
});
