// Worker side of `createNodeAtRestOffload`: runs `runAtRestJob` for each message. The sources are
// TypeScript run through tsx, as everywhere in this repository, so tsx is registered first.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { runAtRestJob } = await import('../src/store/at-rest-encryption.ts');

parentPort.on('message', (message) => {
  const { id, job } = message;
  try {
    parentPort.postMessage({ id, result: runAtRestJob(job) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error) });
  }
});
