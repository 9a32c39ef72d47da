// A crypto worker entry for tests (`createNodeCryptoOffload({ workerUrl })`) that misbehaves on demand:
// a 'seal' job whose first value is `{ worker: <what> }` makes it exit ('exit', code 7), throw outside
// any job ('throw': an uncaught exception, so the host sees 'error' then 'exit'), answer a reply of the
// wrong shape ('malformed'), answer its thread id as the only envelope ('thread'; tells workers
// apart), never answer while staying responsive ('hang': a job lost inside the worker), or never answer
// because its thread is stuck in a loop ('spin': only terminate() ends it). Every other job runs
// `runCryptoJob`, as the real entry does. Like the real entry it says it is ready once loaded, so each
// misbehaviour is that of a worker that started (not one that could not start: see
// worker-start-fallback.test.ts).
import process from 'node:process';
import { parentPort, threadId } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { CRYPTO_WORKER_READY } = await import('./crypto-offload.ts');
// Loaded on the first real job only: most of these workers are started to die, and die sooner so.
let runner;
const run = async (job) => (runner ??= (await import('./run-crypto-job.ts')).runCryptoJob)(job);

parentPort.on('message', ({ id, job }) => {
  const what = job.op === 'seal' ? job.items[0]?.value?.worker : undefined;
  if (what === 'exit') process.exit(7);
  if (what === 'throw') throw new Error('misbehaving worker threw');
  if (what === 'hang') return;
  if (what === 'spin') for (;;);
  const answer = (result) => parentPort.postMessage({ id, result });
  if (what === 'malformed') answer({ op: 'seal', envelopes: [42] });
  // Padded to an envelope's form, which an offload checks before it answers.
  else if (what === 'thread')
    answer({ op: 'seal', envelopes: [{ envelope: `v1.${String(threadId).padStart(60, '0')}`, bound: '' }] });
  else void run(job).then(answer);
});
parentPort.postMessage(CRYPTO_WORKER_READY);
