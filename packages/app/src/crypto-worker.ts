// The crypto worker's entry: the session's sealing and opening run here, off the page's thread.
import { startCryptoWorker, type WorkerScopeLike } from '@hale/platform-web';

void startCryptoWorker(self as unknown as WorkerScopeLike);
