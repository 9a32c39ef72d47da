/**
 * Where the server's log lines go (stdout in production): a file descriptor written asynchronously,
 * so that whatever happens to the log reader, serving and shutdown go on.
 *
 * Why not pino's default destination: it flushes synchronously when the process exits, so a reader that
 * is alive but not reading (a stalled pipe, a log shipper that hangs) kept `process.exit` blocked in a
 * write after SIGTERM had closed the store — the process never ended, and its own drain timeout could not
 * fire; and it buffers without bound while the reader stalls.
 *
 * Invariants:
 * - `write` never blocks and never throws. At most one `fs.write` is in flight (on libuv's thread pool);
 *   lines wait in memory up to `maxBufferBytes`, lines beyond that are dropped and counted.
 * - A write error other than EAGAIN, ENOSPC and EDQUOT (EPIPE: the reader is gone; EBADF, EIO, …) retires
 *   the destination: later lines are dropped and counted, nothing is thrown or emitted. Logging failures
 *   never stop the server, and a reader that went away is not written to again. A full disk (ENOSPC,
 *   EDQUOT: a log file) drops what is queued, counted, and the next lines are tried again.
 * - Nothing is written at exit. `settle(ms)` is the bounded flush the owner awaits before exiting: it
 *   resolves when every accepted line is written, the destination retired, or `ms` passed, whichever comes
 *   first.
 * - When the queue has drained after lines were dropped, `onDropped(n)` reports how many (once per
 *   episode), so the gap is visible in the log itself.
 */
import { write as fsWrite } from 'node:fs';

export interface LogDestination {
  write(line: string): void;
  settle(ms: number): Promise<void>;
  /** Lines dropped so far (buffer full or destination retired). */
  readonly dropped: number;
  /** The write error that retired the destination, if one did. */
  readonly failure: NodeJS.ErrnoException | null;
}

/** Enough for minutes of normal logging; bounds memory while the reader stalls. */
export const DEFAULT_LOG_BUFFER_BYTES = 8 * 1024 * 1024;
/** Bytes handed to one `fs.write`. */
const WRITE_BYTES = 256 * 1024;
/**
 * Write errors of a log file whose disk (or the user's quota) is full. They pass once space is freed, so
 * they drop what is queued but do not retire the destination: a log volume full for a minute must not
 * silence the server for the rest of its life. The gap is reported once lines are written again.
 */
const DISK_FULL: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);
/** Wait before writing again to a non-blocking descriptor that answered EAGAIN. */
const EAGAIN_RETRY_MS = 20;

export const createLogDestination = (
  fd: number,
  options: { maxBufferBytes?: number; onDropped?: (count: number) => void } = {},
): LogDestination => {
  const maxBufferBytes = options.maxBufferBytes ?? DEFAULT_LOG_BUFFER_BYTES;
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let writing = false;
  let failure: NodeJS.ErrnoException | null = null;
  let dropped = 0;
  /** Dropped since the last `onDropped` report. */
  let unreported = 0;
  let waiters: Array<() => void> = [];

  const idle = (): boolean => failure !== null || (!writing && queuedBytes === 0);

  const wakeWaiters = (): void => {
    if (!idle()) return;
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  };

  const drop = (): void => {
    dropped++;
    unreported++;
  };

  const pump = (): void => {
    if (writing || failure !== null || queuedBytes === 0) return;
    const chunk = queue.length === 1 ? queue[0]! : Buffer.concat(queue);
    queue.length = 0;
    const out = chunk.length > WRITE_BYTES ? chunk.subarray(0, WRITE_BYTES) : chunk;
    if (out.length < chunk.length) queue.push(chunk.subarray(out.length));
    writing = true;
    fsWrite(fd, out, 0, out.length, null, (error, written) => {
      writing = false;
      if (error) {
        if (error.code === 'EAGAIN') {
          queue.unshift(out);
          writing = true;
          setTimeout(() => {
            writing = false;
            pump();
          }, EAGAIN_RETRY_MS).unref();
          return;
        }
        // What was queued is not written: the disk has no room for it now, or never will be written.
        let lost = countLines(out);
        for (const pending of queue) lost += countLines(pending);
        queue.length = 0;
        queuedBytes = 0;
        dropped += lost;
        if (!DISK_FULL.has(error.code ?? '')) failure = error;
        else unreported += lost;
        wakeWaiters();
        return;
      }
      queuedBytes -= written;
      if (written < out.length) queue.unshift(out.subarray(written));
      if (queuedBytes === 0 && unreported > 0 && options.onDropped) {
        const count = unreported;
        unreported = 0;
        options.onDropped(count);
      }
      pump();
      wakeWaiters();
    });
  };

  return {
    write(line) {
      if (failure !== null) return drop();
      const bytes = Buffer.from(line, 'utf8');
      if (queuedBytes + bytes.length > maxBufferBytes) return drop();
      queue.push(bytes);
      queuedBytes += bytes.length;
      pump();
    },
    settle(ms) {
      if (idle()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }
        waiters.push(done);
      });
    },
    get dropped() {
      return dropped;
    },
    get failure() {
      return failure;
    },
  };
};

const countLines = (bytes: Buffer): number => {
  let n = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) n++;
  return n;
};
