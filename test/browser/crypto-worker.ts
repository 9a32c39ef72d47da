// Web Worker side of the browser device's crypto offload, as the TSDoc of @hale/client/advanced (Platform injection)
// describes it: it says it is ready once loaded (CRYPTO_WORKER_READY), then hands each message to
// `answerCryptoMessage`, the handler the Node worker entry runs too (a job answered with its result, or
// with `jobFailureOf`'s code and message, never the error's own text).
// Before that it installs libsodium's secretbox where it loads (tweetnacl's bytes, faster), as
// `startCryptoWorker` of @hale/platform-web does; jobs that arrive meanwhile wait, in order.
import { CRYPTO_WORKER_READY, answerCryptoMessage } from '@hale/client/advanced';
import { loadSodiumSecretbox, useSecretbox } from '@hale/crypto';

// The worker global, typed here for the same reason as the page's platform (no DOM lib in the program).
interface WorkerScope {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as typeof globalThis & WorkerScope;
const post = (message: unknown): void => scope.postMessage(message);

const early: unknown[] = [];
scope.onmessage = (ev) => void early.push(ev.data);
void loadSodiumSecretbox().then((box) => {
  if (box) useSecretbox(box);
  scope.onmessage = (ev) => answerCryptoMessage(ev.data, post);
  post(CRYPTO_WORKER_READY);
  for (const message of early.splice(0)) answerCryptoMessage(message, post);
});
