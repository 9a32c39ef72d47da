// Worker side of `createNodeCryptoOffload`: runs `runCryptoJob` for each message. The sources are
// TypeScript run through tsx, as everywhere in this repository, so tsx is registered first.
// A message that cannot be read or run, or whose answer cannot be posted, is answered with an error for
// its id when it has one (and ignored otherwise: nobody waits for it); the worker stays up for the next
// job either way. That error is `jobFailureOf`'s code and message, never the error's own text: it may
// quote the job (a DataCloneError quotes the value it could not copy).
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { runCryptoJob } = await import('../src/offload/run-crypto-job.ts');
const { jobFailureOf } = await import('../src/offload/job-failure.ts');

parentPort.on('message', (message) => {
  let id;
  let job;
  try {
    ({ id, job } = message);
    if (typeof id !== 'number') throw new TypeError('crypto job message has no numeric id');
    parentPort.postMessage({ id, result: runCryptoJob(job) });
  } catch (error) {
    if (typeof id === 'number') parentPort.postMessage({ id, error: jobFailureOf(error, job) });
  }
});
