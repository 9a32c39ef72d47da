// Worker side of `createNodeCryptoOffload`: says it is ready once loaded (CRYPTO_WORKER_READY: the offload
// then knows it started), then hands each message to `answerCryptoMessage`, the handler a browser's Web
// Worker runs too (src/offload/answer-crypto-message.ts: each job answered with its result, or with
// `jobFailureOf`'s code and message, never an error's own text). The sources are TypeScript run through
// tsx, as everywhere in this repository, so tsx is registered first; an entry that cannot load them never
// says it is ready, and the offload runs its jobs on the calling thread instead.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { answerCryptoMessage } = await import('../src/offload/answer-crypto-message.ts');
const { CRYPTO_WORKER_READY } = await import('../src/offload/crypto-offload.ts');
// libsodium's secretbox (tweetnacl's bytes, faster) for this thread's seals and opens, where it loads,
// unless the host asked for tweetnacl (`createNodeCryptoOffload({ secretbox: 'tweetnacl' })`).
if (workerData?.secretbox !== 'tweetnacl') {
  const { loadSodiumSecretbox, useSecretbox } = await import('@hale/crypto');
  const secretbox = await loadSodiumSecretbox();
  if (secretbox) useSecretbox(secretbox);
}

// node:crypto's SHA-256 / HMAC-SHA256 (@noble/hashes' outputs, faster) for this thread's hashes, unless
// the host asked for the reference (`createNodeCryptoOffload({ hashes: 'noble' })`).
if (workerData?.hashes !== 'noble') {
  const { useHashes } = await import('@hale/crypto');
  const { createNodeHashes } = await import('@hale/crypto/node');
  useHashes(createNodeHashes());
}

const post = (reply) => parentPort.postMessage(reply);
parentPort.on('message', (message) => answerCryptoMessage(message, post));
post(CRYPTO_WORKER_READY);
