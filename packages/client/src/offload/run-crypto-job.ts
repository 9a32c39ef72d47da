import { runAtRestJob } from './at-rest-jobs';
import { runWireJob } from './wire-jobs';
import type { CryptoJob, CryptoJobResult } from './crypto-offload';

/** Does one offloaded job (what a worker runs); never throws for bad items (each answers its own failure). */
export function runCryptoJob(job: CryptoJob): CryptoJobResult {
  return job.op === 'wireSeal' || job.op === 'wireOpen' ? runWireJob(job) : runAtRestJob(job);
}
