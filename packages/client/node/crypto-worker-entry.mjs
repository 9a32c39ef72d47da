// Worker side of `createNodeCryptoOffload`: says it is ready once loaded (CRYPTO_WORKER_READY: the offload
// then knows it started), then hands each message to `answerCryptoMessage`, the handler a browser's Web
// Worker runs too (src/offload/answer-crypto-message.ts: each job answered with its result, or with
// `jobFailureOf`'s code and message, never an error's own text). The sources are TypeScript run through
// tsx, as everywhere in this repository, so tsx is registered first; an entry that cannot load them never
// says it is ready, and the offload runs its jobs on the calling thread instead.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { answerCryptoMessage } = await import('../src/offload/answer-crypto-message.ts');
const { CRYPTO_WORKER_READY } = await import('../src/offload/crypto-offload.ts');

const post = (reply) => parentPort.postMessage(reply);
parentPort.on('message', (message) => answerCryptoMessage(message, post));
post(CRYPTO_WORKER_READY);
