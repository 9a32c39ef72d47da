// Web Worker side of the browser device's crypto offload, as docs/client-advanced.md (Platform injection)
// describes it: it says it is ready once loaded (CRYPTO_WORKER_READY), then hands each message to
// `answerCryptoMessage`, the handler the Node worker entry runs too (a job answered with its result, or
// with `jobFailureOf`'s code and message, never the error's own text).
import { CRYPTO_WORKER_READY, answerCryptoMessage } from '@hale/client/advanced';

// The worker global, typed here for the same reason as the page's platform (no DOM lib in the program).
interface WorkerScope {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as typeof globalThis & WorkerScope;
const post = (message: unknown): void => scope.postMessage(message);

scope.onmessage = (ev) => answerCryptoMessage(ev.data, post);
post(CRYPTO_WORKER_READY);
