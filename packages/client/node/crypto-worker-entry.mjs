// Worker side of `createNodeCryptoOffload`: runs `runCryptoJob` for each message. The sources are
// TypeScript run through tsx, as everywhere in this repository, so tsx is registered first.
// A message that cannot be read or run is answered with an error for its id when it has one (and
// ignored otherwise: nobody waits for it); the worker stays up for the next job either way.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { runCryptoJob } = await import('../src/offload/run-crypto-job.ts');

parentPort.on('message', (message) => {
  let id;
  try {
    const { id: received, job } = message;
    id = received;
    if (typeof id !== 'number') throw new TypeError('crypto job message has no numeric id');
    parentPort.postMessage({ id, result: runCryptoJob(job) });
  } catch (error) {
    if (typeof id === 'number') parentPort.postMessage({ id, error: String(error) });
  }
});
