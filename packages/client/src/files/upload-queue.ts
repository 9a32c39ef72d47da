/**
 * Files added without a connection (`session.files.enqueue`), kept on the device until uploaded. This file:
 * enqueue, the upload loop and its backoff, cancel, retry; queued-upload.ts seals and sends; files.ts
 * judges failures (`verdict`). Parts: upload-queue-store.ts, upload-queue-report.ts (stored form, reports),
 * upload-queue-core.ts (index, removal), queued-chunks.ts (chunks, orphans), upload-purges.ts (purges).
 * Storage: device meta, sealed at rest (ids clear, naming only the random blob id): the index `upload-queue`,
 * one chunk per document (`upload-chunk-<blobId>-p<i>` plain, `-s<i>` sealed), `upload-purges`.
 *
 * Invariants:
 * - At most `bounds.uploads` files, `bounds.bytes` bytes (failed ones included); enqueues run one at a time.
 * - Enqueue writes the chunks, then the index entry; removal the index, then the chunks (orphans at start).
 * - The sealing is stored before the first announce (a retry re-announces the same manifest: one blob); it is
 *   sealed anew only when the server holds nothing under the id.
 * - A file leaves only once the server confirmed every chunk, or by cancel or purge.
 * - One upload at a time, only while `online()` (connected, caught up) and `usable()`; backoff in memory.
 * - Verdicts: 'retry' (backoff), or for good 'failed' UPLOAD_REFUSED, 'stuck' UPLOAD_STUCK, 'lost'
 *   UPLOAD_SERVER_LOST (sealed chunks kept: `retry` resends), 'deleted' UPLOAD_DELETED (removed).
 * - A failure for good is stored (`failedAs`), reported once (MAX_REPORT_MESSAGE), never retried by itself.
 * - Once not `usable()` the queue stops; an upload under way fails at its next request, the file stays.
 * - `cancel` removes entry and bytes, stops an upload under way, deletes the server's part (best effort).
 * - A purge (upload-purges.ts) marks and records the files first: what a session leaves, the next finishes.
 * - `read` answers a file only if its chunks hash to its sha256; `uploads$` lists nothing before `ready`.
 * Failure modes: past the bounds enqueue refuses (`full`, QUEUE_FULL) before writing; store errors reject
 * enqueue, cancel and retry; an unreadable index is never written over and enqueue refuses (`unreadable`).
 */
import { blobChunkCount, base64urlEncode, hexEncode, sha256 } from '@hale/crypto';
import { cutMiddle } from '../core/cut-middle';
import {
  type UploadQueueDeps,
  type QueuedUpload,
  type UploadFailureCode,
  quotedName,
  ADVICE,
  MAX_REPORT_MESSAGE,
  MAX_STORED_MESSAGE,
} from './upload-queue-report';
import {
  MAX_QUEUED_UPLOADS,
  MAX_QUEUED_BYTES,
  type QueuedEntry,
  type UploadErrorInfo,
  chunkKey,
  INDEX_KEY,
  QueueIndexSchema,
  QueuedBytesError,
} from './upload-queue-store';
import type { FileRef } from '@hale/model';
import { createQueueCore } from './upload-queue-core';
import { createQueuedChunks } from './queued-chunks';
import { createUploadPurges } from './upload-purges';

export {
  MAX_QUEUED_UPLOADS,
  MAX_QUEUED_BYTES,
  UPLOAD_RETRY,
  type UploadErrorInfo,
  type Sealing,
  type QueuedEntry,
  QUEUED_BYTES_FAILURES,
  type QueuedBytesFailure,
  QueuedBytesError,
  isQueuedBytesError,
  type QueuedBytes,
} from './upload-queue-store';
export {
  UPLOAD_FAILURE_CODES,
  type UploadFailureCode,
  MAX_REPORT_MESSAGE,
  quotedName,
  type QueuedUploadState,
  type QueuedUpload,
  type UploadQueueDeps,
} from './upload-queue-report';

export const createUploadQueue = (deps: UploadQueueDeps) => {
  const q = createQueueCore(deps);
  const chunks = createQueuedChunks(q);
  const purge = createUploadPurges(q);
  const bounds = deps.bounds ?? { uploads: MAX_QUEUED_UPLOADS, bytes: MAX_QUEUED_BYTES };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wasOnline = false;
  let wasConnected = false;
  /** The link was down since uploads last ran (or never up yet): coming online then is a reconnect. */
  let wentDown = true;

  /** The index read (true), or not readable (false); `ready` also finishes the purges recorded. */
  const read: Promise<boolean> = (async () => {
    // Strict: an index that does not match its schema is refused, never taken for an empty queue.
    const stored = await q.meta.get(INDEX_KEY, QueueIndexSchema, { strict: true });
    q.entries = stored ?? [];
    q.emit();
    await chunks.removeOrphans().catch(() => undefined);
    return true;
  })().catch(() => false);
  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (q.stopped || !deps.online()) return;
    const waits = q.entries
      .filter((e) => !e.failed)
      .map((e) => q.runtime.get(e.ref.blobId)?.nextAt ?? 0)
      .filter((t) => t > 0);
    if (waits.length === 0) return;
    const delay = Math.max(0, Math.min(...waits) - deps.now());
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, delay);
  };

  /**
   * The report of `entry` failed for good: what happened, the error, and what to do (the error's own advice
   * when it ends with it), within MAX_REPORT_MESSAGE: the name is shortened, then the error's middle cut.
   */
  const reportMessage = (entry: QueuedEntry, failedAs: UploadFailureCode, error: UploadErrorInfo): string => {
    const name = `"${quotedName(entry.ref.fileName)}"`;
    const what =
      failedAs === 'UPLOAD_STUCK'
        ? `the queued file ${name} can never be completed from this device`
        : failedAs === 'UPLOAD_SERVER_LOST'
          ? `the server lost part of the queued file ${name} after confirming it`
          : `the queued file ${name} was refused for good`;
    // An error that names what to do says it for its own case (e.g. a file deleted on the server).
    const advises = /\b(cancelUpload|retryUpload)\b/.test(error.message);
    const detail = advises ? error.message : `${error.message}; ${ADVICE[failedAs]}`;
    return cutMiddle(`${what} (${error.code}): ${detail}`, MAX_REPORT_MESSAGE);
  };

  /**
   * Settles once the stored index was read (true), or could not be (false), and the purges recorded by an
   * earlier session were tried (a removal that fails is tried again later, as any): nothing of them is
   * listed or sent.
   */
  const ready: Promise<boolean> = read.then(async (ok) => {
    if (ok) await purge.resumePurges().catch(() => undefined);
    return ok;
  });

  /** One attempt at `entry`: false when uploads must stop (locked, closed). */
  const attempt = async (entry: QueuedEntry): Promise<boolean> => {
    const blobId = entry.ref.blobId;
    q.uploading = blobId;
    q.emit();
    try {
      await deps.upload(entry, chunks.bytesOf(entry));
      if (q.cancelled.has(blobId)) await q.deleteRemote(blobId);
      else await q.removeEntry(blobId);
      return true;
    } catch (e) {
      if (q.cancelled.has(blobId)) {
        await q.deleteRemote(blobId);
        return true;
      }
      const verdict = deps.verdict(e, entry);
      if (verdict === 'stop') return false;
      if (verdict === 'deleted') {
        // Deleted on the server (another device deleted the file): it is never taken under its id again,
        // so its bytes go now, as a cancel's would, and nothing is left there to delete.
        const bytesGone = await q.removeEntry(blobId).then(
          () => true,
          () => false,
        );
        if (!q.entries.some((x) => x.ref.blobId === blobId)) {
          deps.report?.({
            code: 'UPLOAD_DELETED',
            message: cutMiddle(
              `the queued file "${quotedName(entry.ref.fileName)}" was deleted on the server (by a device ` +
                'that may delete it) before its upload finished: it was removed from this device, unsent' +
                (bytesGone ? '' : ' (its stored bytes go when the session is next opened)') +
                '; records naming it point to a deleted file',
              MAX_REPORT_MESSAGE,
            ),
            stream: entry.stream,
            id: blobId,
          });
          return true;
        }
        // The index could not be written: marked refused below (its message says to cancel it), or, if
        // that fails too, tried again after the backoff, which removes it then.
      }
      const described = deps.describe(e);
      const error = { ...described, message: cutMiddle(described.message, MAX_STORED_MESSAGE), at: q.iso() };
      const backOff = (): void => {
        const rt = q.runtime.get(blobId) ?? { attempts: 0, lastError: null, nextAt: 0 };
        const attempts = rt.attempts + 1;
        q.runtime.set(blobId, { attempts, lastError: error, nextAt: deps.now() + q.backoffMs(attempts) });
      };
      if (verdict !== 'retry') {
        const failedAs: UploadFailureCode =
          verdict === 'stuck' ? 'UPLOAD_STUCK' : verdict === 'lost' ? 'UPLOAD_SERVER_LOST' : 'UPLOAD_REFUSED';
        const marked = await q
          .updateIndex((current) =>
            current.map((x) => (x.ref.blobId === blobId ? { ...x, failed: error, failedAs } : x)),
          )
          .then(
            () => true,
            () => false,
          );
        // Not marked (the store refuses writes, e.g. a full disk): the entry still looks waiting, so it
        // waits as after a failure that can pass instead of being sent and reported again at once.
        if (!marked) {
          backOff();
          return true;
        }
        deps.report?.({
          code: failedAs,
          message: reportMessage(entry, failedAs, error),
          stream: entry.stream,
          id: blobId,
        });
        return true;
      }
      backOff();
      return true;
    } finally {
      q.uploading = null;
      q.emit();
    }
  };

  let running = false;
  let again = false;
  const pump = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      if (!(await ready)) return;
      do {
        again = false;
        for (;;) {
          if (q.stopped || !deps.usable() || !deps.online()) return;
          const now = deps.now();
          const next = q.entries.find(
            (e) =>
              !e.failed &&
              !q.cancelled.has(e.ref.blobId) &&
              (q.runtime.get(e.ref.blobId)?.nextAt ?? 0) <= now,
          );
          if (!next) break;
          if (!(await attempt(next))) return;
        }
      } while (again);
    } finally {
      running = false;
      schedule();
    }
  };
  const kick = (): void => {
    void pump().catch(() => undefined);
  };

  const stop = (): void => {
    q.stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    purge.stopTimers();
  };
  q.stop = stop;

  /** Serializes enqueues (see the header). */
  let enqueueTail: Promise<unknown> = Promise.resolve();

  return {
    uploads$: q.list$.asObservable(),
    uploads: (): readonly QueuedUpload[] => q.list$.value,
    /** Settles once the stored index was read (true), or could not be (false). */
    ready,

    /**
     * Stores `plain` as the file `ref` of `stream` and queues it; refused (`full`) past the bounds, with
     * nothing stored.
     */
    enqueue(ref: FileRef, stream: string, chunkSize: number, plain: Uint8Array): Promise<void> {
      // A purge of the stream from now on covers this file, also one that looks at the queue before its
      // entry is written.
      const purgesBefore = purge.count();
      const run = enqueueTail.then(async () => {
        if (!(await ready)) {
          throw deps.unreadable('the upload queue on this device cannot be read; nothing was queued');
        }
        const bytes = q.entries.reduce((n, e) => n + e.ref.size, 0);
        if (q.entries.length >= bounds.uploads || bytes + ref.size > bounds.bytes) {
          throw deps.full(
            `the upload queue is full (${q.entries.length} of ${bounds.uploads} files, ${bytes} of ` +
              `${bounds.bytes} bytes; this file has ${ref.size}): nothing was queued`,
          );
        }
        const entry: QueuedEntry = { ref, stream, chunkSize, queuedAt: q.iso() };
        const written: string[] = [];
        try {
          for (let i = 0; i < blobChunkCount(ref.size, chunkSize); i++) {
            const key = chunkKey(ref.blobId, 'p', i);
            written.push(key);
            const part = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
            await q.meta.set(key, base64urlEncode(part));
          }
          await q.updateIndex((current) => [...current, entry]);
        } catch (e) {
          await q.meta.remove(written).catch(() => undefined);
          throw e;
        }
        if (purge.lastOf(stream) > purgesBefore) {
          // Access to the stream ended while the file was being stored, and its purge looked at the queue
          // before this entry was written: purged now as the stream's other files were (marked first, so
          // it is never sent; recorded; a removal the store refuses is tried again), not left queued.
          // One that purge saw already is left to it.
          await purge.runPurges(purge.beginPurges([entry], () => stream));
          const removed = !q.entries.some((e) => e.ref.blobId === ref.blobId);
          throw deps.purgedWhileStored(
            `access to ${stream} ended while the file was stored on this device: ` +
              (removed
                ? 'it was removed, unsent; nothing was queued'
                : 'it is never sent and is being removed from this device (UPLOAD_PURGE_FAILED while the ' +
                  'device store refuses, tried again by itself)'),
            ref.blobId,
          );
        }
        kick();
      });
      enqueueTail = run.catch(() => undefined);
      return run;
    },

    /** The queued entry of `blobId`, or null. */
    entry: (blobId: string): QueuedEntry | null => q.entries.find((e) => e.ref.blobId === blobId) ?? null,

    /**
     * The plaintext of queued file `blobId`, once it hashes to its FileRef's sha256; null when it is not
     * (or no longer) queued here. Rejects (QueuedBytesError) when a chunk cannot be read or the bytes do
     * not match.
     */
    async read(blobId: string): Promise<Uint8Array | null> {
      await ready;
      const e = q.entries.find((x) => x.ref.blobId === blobId);
      if (!e) return null;
      const out = new Uint8Array(e.ref.size);
      for (let i = 0; i < blobChunkCount(e.ref.size, e.chunkSize); i++) {
        const part = await chunks.plainChunk(e, i).catch((error: unknown) => {
          out.fill(0);
          throw error;
        });
        if (!part) {
          out.fill(0);
          // Uploaded and removed meanwhile (the index goes first): the server has it now.
          if (!q.entries.some((x) => x.ref.blobId === blobId)) return null;
          throw new QueuedBytesError(
            'MISSING',
            blobId,
            `queued file ${blobId}: chunk ${i} is not stored on this device`,
          );
        }
        out.set(part, i * e.chunkSize);
        part.fill(0);
      }
      if (hexEncode(sha256(out)) !== e.ref.sha256) {
        out.fill(0);
        throw new QueuedBytesError(
          'MISMATCH',
          blobId,
          `queued file ${blobId}: the bytes stored on this device do not match its sha256`,
        );
      }
      return out;
    },

    /** Removes queued file `blobId` and its bytes (see the header); false when it is not queued. */
    async cancel(blobId: string): Promise<boolean> {
      await ready;
      const entry = q.entries.find((e) => e.ref.blobId === blobId);
      if (!entry) return false;
      q.cancelled.add(blobId);
      try {
        await q.removeEntry(blobId);
      } catch (e) {
        // Still listed (its index entry could not be written): it is a queued file again, sent as any,
        // not one marked cancelled, never sent and not said so, until the session ends. One a purge holds
        // stays marked: the purge removes it.
        if (q.entries.some((x) => x.ref.blobId === blobId)) {
          if (!purge.purges.has(blobId)) {
            q.cancelled.delete(blobId);
            kick();
          }
        } else {
          // Unlisted, only its bytes' removal failed (they go at the next start): what reached the server
          // goes as for any cancel, or nothing would ever ask (the file is no longer listed to cancel again).
          await q.deleteRemoteIfSealed(entry);
        }
        throw e;
      }
      // A purge of it is done: the person removed the file.
      if (purge.purges.has(blobId)) {
        purge.endPurge(blobId);
        await purge.storePurges();
      }
      await q.deleteRemoteIfSealed(entry);
      return true;
    },

    /**
     * Removes every file queued for `stream` (access to it ended) as `cancel` does, in turn, going on past
     * one whose removal fails: reported UPLOAD_PURGE_FAILED and tried again after the backoff (`retry`)
     * until it passes, reported again at each failed attempt; each file removed is reported UPLOAD_PURGED,
     * once (a file some purge is at already is left to it). The files are marked first (none is sent from
     * then on) and recorded, so that the next session finishes what this one does not (see the header).
     * Settles once each file it began to purge was tried once, or the queue stopped (files another purge
     * holds already are left to it, not waited for). Locked, closed or with the index unread, the purge
     * is recorded for the next session instead (see the header).
     */
    async purgeStream(stream: string): Promise<void> {
      await purge.purgeStream(stream, await ready);
    },

    /** Queues again a file failed for good (refused or stuck); false when it is not queued or not failed. */
    async retry(blobId: string): Promise<boolean> {
      await ready;
      const entry = q.entries.find((e) => e.ref.blobId === blobId);
      if (!entry?.failed) return false;
      await q.updateIndex((current) =>
        current.map((x) => {
          if (x.ref.blobId !== blobId) return x;
          const { failed: _cleared, failedAs: _clearedAs, ...rest } = x;
          return rest;
        }),
      );
      q.runtime.delete(blobId);
      kick();
      return true;
    },

    /**
     * Uploads may run (`online`: connected and caught up) or not, and whether the link is up (`connected`,
     * `online` unless given: up but catching up, e.g. after an access change). Coming online after the link
     * was down (a reconnect), every waiting file is tried at once; after catching up on a link that stayed
     * up, each waits for its backoff. Called again with the same values, nothing changes.
     */
    onlineChanged(online: boolean, connected: boolean = online): void {
      if (!deps.usable()) return stop();
      if (online === wasOnline && connected === wasConnected) return;
      const cameOnline = online && !wasOnline;
      wasOnline = online;
      wasConnected = connected;
      if (!connected) wentDown = true;
      if (cameOnline) {
        if (wentDown) for (const rt of q.runtime.values()) rt.nextAt = 0;
        wentDown = false;
        kick();
      }
      if (!online) schedule();
    },
  };
};

export type UploadQueue = ReturnType<typeof createUploadQueue>;
