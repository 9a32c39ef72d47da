/**
 * Files added without a connection (`session.files.enqueue`): kept on the device, uploaded when it is
 * online. This module keeps the queue and decides when to upload; files.ts seals and sends (its upload
 * path, `uploadQueued`) and classifies failures.
 *
 * Storage: device metadata (RxDB local documents, their values sealed at rest by at-rest-encryption.ts;
 * their ids in clear). `upload-queue` is the index: per file its FileRef, stream, chunk size, when it was
 * queued, a failure for good (`failed`, and `failedAs`: the code it was reported as), and once sealed for
 * upload the sealing (epoch, key id, digests of the sealed chunks). Each chunk of the plaintext is a
 * document of its own, `upload-chunk-<blobId>-p<i>`, and once sealed each sealed chunk
 * `upload-chunk-<blobId>-s<i>`: one chunk of the file's chunk size (at most 1 MiB) per document, never the
 * whole file. `upload-purges` names the files whose purge is still to be done (blob id, stream), or a
 * stream all of whose files are (no blob id; see `purgeStream` below). Ids name only the random blob id,
 * never a patient.
 *
 * | module | responsibility |
 * | ------ | -------------- |
 * | upload-queue-store.ts, upload-queue-report.ts | stored form and schemas; what callers get, reports |
 * | upload-queue-core.ts | the index, per-file state, removal: what the parts share |
 * | queued-chunks.ts | chunks read back, sealed chunks written, orphans removed |
 * | upload-purges.ts | purges when access to a stream ends |
 * | upload-queue.ts (this) | enqueue, the upload loop and its backoff, cancel, retry |
 *
 * Invariants:
 * - Bounded: at most `bounds.uploads` files and `bounds.bytes` plaintext bytes queued (failed ones
 *   included: they hold their bytes until cancelled). An enqueue past either bound is refused (`full`,
 *   FileError QUEUE_FULL) before anything is written. Enqueues run one at a time, so two cannot both pass
 *   the check. While a file uploads its sealed copy is stored too (about twice its size).
 * - An enqueue writes the chunks first, the index entry last: a crash in between leaves chunks no entry
 *   names, removed at the next start (`orphans`). A failed write removes what it wrote; nothing is queued.
 * - The sealed chunks and the sealing are stored before the manifest is first announced (files.ts): a
 *   crash or lost answer after the announce finds the very bytes the server committed to, and announcing
 *   the same manifest again answers which chunks the server holds (sync-server blobs.ts); sealing anew
 *   would announce other digests under the same id, which the server refuses (ALREADY_EXISTS). Only when
 *   the server holds nothing under the id (an announce refused STALE_EPOCH, the stream re-keyed before it;
 *   or no manifest there when a re-keying since or a sealed chunk lost here is found) does files.ts drop
 *   the sealing (`dropSealing`) and seal anew under the same id. A re-sealing overwrites the sealed chunks
 *   in place: if an announce of an earlier session arrives after it (files.ts `adoptHeld`), the file is
 *   finished as the server holds it only if the chunks it lacks are held here under its digests.
 * - A file leaves the queue only once the server confirmed every chunk (or by cancel): the index entry
 *   first, then its chunks. A crash between the last chunk and the removal uploads it again at the next
 *   start, which only re-announces the same manifest: one blob, never two.
 * - Uploads run only while `online()` (the session: connected and caught up, so that the keyring took this
 *   connection's stream epochs first) and `usable()` (not locked, not closed), one file at a time, at
 *   start, when the connection comes back (`onlineChanged(true)` after the link was down: a reconnect,
 *   which retries every waiting file at once), and after a failure that can pass with backoff (`retry`:
 *   base doubling up to max, kept in memory: a new session tries at once). Catching up again on a link
 *   that stayed up (an access change: `onlineChanged(false, true)`, then `true`) is no reconnect: each
 *   waiting file keeps its backoff. A failure for good is stored with the entry, reported (`report`) once,
 *   and never retried by itself: the file stays listed until `cancel` or `retry` (or the purge of its
 *   stream when access ends, `purgeStream`).
 * - files.ts's `verdict` says whether a failure can pass ('retry': no answer, a garbled success answer,
 *   a refusal the server says may pass) or which failure for good: 'failed',
 *   refused (by the server, or this device may no longer write the stream), reported UPLOAD_REFUSED;
 *   'stuck', this device lost bytes the file cannot be completed without, reported UPLOAD_STUCK; 'lost',
 *   the server lost chunks it had confirmed during the attempt, reported UPLOAD_SERVER_LOST (the sealed
 *   chunks are still stored here: `retry` sends them again); 'deleted', deleted on the server after
 *   the server took this file's announce (another device of the patient deleted it): removed with its
 *   bytes at once and reported UPLOAD_DELETED, not listed (marked refused only if the index cannot be
 *   written). A deletion files.ts cannot tell is of this file is 'failed': the file is kept. The code is
 *   stored with the failure (`failedAs`), so `uploads$` tells them apart in later sessions too; an entry
 *   stored before it was kept (or naming a code this build does not know) lists as UPLOAD_REFUSED, the code
 *   it was reported as then.
 * - A report's message fits the sync state's issue messages (MAX_REPORT_MESSAGE): the file's name is
 *   quoted shortened (`quotedName`), then the error's middle is cut, so what to do (at the end) is kept.
 *   A stored failure's message is cut the same way to what the index's schema takes.
 * - Once not `usable()` (close, lock; seen at the next `onlineChanged`) the queue stops: the timer is
 *   cleared, nothing more starts; the upload under way fails at its next request (files.ts asserts the
 *   session is usable before each) and the file stays queued for the next session.
 * - `cancel` removes the entry and the bytes; if the file was sealed (a manifest may be on the server) the
 *   blob is deleted on the server, best effort (an upload under way sends nothing more of it: it calls
 *   `assertQueued` before each request, and deletes it as it stops; so a deletion that fails leaves a part
 *   of the file there, never more than was sent before the cancel). Failing
 *   that, the part on the server stays, counting against the quota; no FileRef handed out elsewhere can
 *   be affected (the id is this file's alone). A cancel whose index write fails rejects and leaves the
 *   file queued as before, sent as any (an upload it cut off meanwhile deleted the part on the server:
 *   the next attempt finds the file deleted, UPLOAD_DELETED, and removes it); one whose chunks' removal
 *   fails has unlisted it (the bytes go when the session is next opened; its blob on the server is deleted
 *   as for any cancel).
 * - `read` answers the plaintext of a queued file only if the chunks stored hash to the FileRef's sha256.
 * - `uploads$` lists every entry, failed ones included (the session counts them as SyncState
 *   `pendingUploads`); it lists nothing before `ready` settled, which the session awaits before it opens.
 * Failure modes: the store's errors reject enqueue, cancel and retry as they come; an index that does not
 * match its schema (reported by device-meta as META_INVALID), or that the store fails to read, leaves the
 * queue empty in memory and refuses enqueues (`unreadable`, FileError STORAGE_FAILED; it is never written
 * over); a refusal for good whose mark cannot be written waits with backoff
 * (reported when marked). What a lost or unreadable chunk does to an upload files.ts decides by what the
 * server holds (files.ts `uploadQueued`): a file it cannot complete fails for good (STORAGE_FAILED,
 * INCOMPLETE; reported UPLOAD_STUCK) with a message saying so, listed until cancelled.
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
