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
 * - `purgeStream` (files.ts, when access to a stream ends) first marks each file of the stream as being
 *   purged (from then on it is never sent, and a second purge of the stream, begun meanwhile, leaves it to
 *   the first: each file is reported once), stores their blob ids and stream in `upload-purges`, then
 *   removes each as `cancel` does (its blob on the server deleted best effort, not waited for), going on
 *   past one that fails; a removal that fails (the device store refuses) is reported UPLOAD_PURGE_FAILED
 *   and tried again by itself after the same backoff, online or not, until it passes (then
 *   UPLOAD_PURGED), reported again, in the same words, at each attempt that fails; a `cancel` that passes
 *   meanwhile ends it (nothing more is reported). The retries stop with the queue (close, lock); what is
 *   still to be purged then (a removal waiting for its retry, files the purge had not reached) is finished
 *   by the next session as it reads the queue (`ready`, before anything is listed or sent: each file
 *   still listed is removed and reported UPLOAD_PURGED, or UPLOAD_PURGE_FAILED and retried as above);
 *   chunks no longer listed go as orphans at start. `upload-purges` is rewritten as purges end (removed
 *   once none is left); a write of it the store refuses is made again with the next retry. Failure mode:
 *   if the store refused that record and the session ends before a retry writes it, the next session
 *   does not know of the purge (the file stays listed until cancelled, as before the record). A record
 *   naming files no longer listed is dropped at the next start; one that does not match its schema is
 *   reported by device-meta and taken as naming none.
 *   A purge is owed, never dropped, when the queue cannot do it at once: one that comes while the session
 *   is locked or the queue stopped marks and records the stream's files all the same (the session lets
 *   work under way finish; after close() the store takes nothing more, and the purge is lost as a record
 *   the store refused is) and leaves their removal to the next session. One that comes while the stored
 *   index could not be read (`ready` false: the files are not known) records the stream alone, beside
 *   what the record holds (an earlier session's purges, unread here), the write made again after the
 *   backoff while the store refuses it; the next session that reads the index purges every file of that
 *   stream it lists (none can have been enqueued since: enqueues are refused while the index is
 *   unread). An enqueue under way when its stream's purge looked at the queue (its entry written after)
 *   purges its own file as the stream's others, once the entry is written, and is refused
 *   (`purgedWhileStored`: files.ts FORBIDDEN); the file is never sent.
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
 * - A chunk is handed out (`read`, `readPlain`, `readSealed`) only as stored, or refused as what went
 *   wrong (QueuedBytesError): not stored (MISSING), stored but never readable (UNREADABLE: it fails to
 *   open at rest, or is not a chunk's text, which device-meta reports as META_INVALID), a failed read of the store that may pass (READ_FAILED), or
 *   read fine but not the FileRef's bytes (MISMATCH). A chunk read is never taken for wrong bytes.
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
import { BehaviorSubject } from 'rxjs';
import { parseStreamId } from '@hale/protocol';
import { blobChunkCount, base64urlDecode, base64urlEncode, hexEncode, sha256 } from '@hale/crypto';
import { isDeviceMetaError } from '../session/device-meta';
import { isAtRestError } from '../store/at-rest-encryption';
import { cutMiddle } from '../util/cut-middle';
import type { FileRef } from '@hale/model';
import {
  type UploadQueueDeps,
  type QueuedUpload,
  failureOf,
  type UploadFailureCode,
  quotedName,
  ADVICE,
  MAX_REPORT_MESSAGE,
  MAX_STORED_MESSAGE,
} from './upload-queue-report';
import {
  MAX_QUEUED_UPLOADS,
  MAX_QUEUED_BYTES,
  UPLOAD_RETRY,
  type QueuedEntry,
  type UploadErrorInfo,
  chunkKey,
  INDEX_KEY,
  QueueIndexSchema,
  CHUNK_PREFIX,
  QueuedBytesError,
  ChunkText,
  type QueuedBytes,
  PURGES_KEY,
  PendingPurgesSchema,
  type PendingPurges,
} from './upload-queue-store';

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
  const { meta } = deps;
  const bounds = deps.bounds ?? { uploads: MAX_QUEUED_UPLOADS, bytes: MAX_QUEUED_BYTES };
  const retry = deps.retry ?? UPLOAD_RETRY;
  const iso = (): string => new Date(deps.now()).toISOString();

  /** The index as stored, in queue order. */
  let entries: QueuedEntry[] = [];
  /** In-memory state of this session per blob id (see the header). */
  const runtime = new Map<string, { attempts: number; lastError: UploadErrorInfo | null; nextAt: number }>();
  let uploading: string | null = null;
  const cancelled = new Set<string>();
  const list$ = new BehaviorSubject<readonly QueuedUpload[]>([]);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wasOnline = false;
  let wasConnected = false;
  /** The link was down since uploads last ran (or never up yet): coming online then is a reconnect. */
  let wentDown = true;
  /**
   * Files of a purged stream not removed yet (`purgeStream`, or resumed at start): the entry as last seen
   * (its chunk keys once it is no longer listed), the stream, the failed attempts and the backoff, and
   * whether a removal is under way. Tried again online or not: nothing is sent.
   */
  const purges = new Map<
    string,
    { entry: QueuedEntry; stream: string; attempts: number; nextAt: number; running: boolean }
  >();
  let purgeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The stored record of `purges` (PURGES_KEY) is as they are: false after a write the store refused. */
  let purgesStored = true;
  let purgeWrites = 0;
  /**
   * Purges of streams begun in this session, counted (`purgeCount`), and the count at the last one of each
   * stream: an enqueue under way when its stream's purge looked at the queue (its entry not written yet)
   * finds it so once written, and purges its file (see `enqueue`).
   */
  let purgeCount = 0;
  const lastPurgeOf = new Map<string, number>();
  /**
   * Streams purged while the stored index could not be read (`ready` false): recorded for the next session
   * (`storeOwedStreams`); those whose record the store refused, written again after the backoff.
   */
  const owedStreams = new Set<string>();
  let owedTimer: ReturnType<typeof setTimeout> | undefined;
  let owedAttempts = 0;

  const view = (e: QueuedEntry): QueuedUpload => {
    const rt = runtime.get(e.ref.blobId);
    // A malformed stream (the index's schema bounds only its length) names no one; its upload fails.
    const place = parseStreamId(e.stream);
    return {
      blobId: e.ref.blobId,
      stream: e.stream,
      patientId: place.ok ? place.value.patientId : '',
      type: place.ok ? place.value.type : '',
      fileName: e.ref.fileName,
      mediaType: e.ref.mediaType,
      size: e.ref.size,
      queuedAt: e.queuedAt,
      state: e.failed ? 'failed' : uploading === e.ref.blobId ? 'uploading' : 'queued',
      attempts: rt?.attempts ?? 0,
      lastError: e.failed ?? rt?.lastError ?? null,
      nextAttemptAt:
        e.failed || rt === undefined || rt.nextAt === 0 ? null : new Date(rt.nextAt).toISOString(),
      failure: e.failed ? failureOf(e.failedAs) : null,
    };
  };
  const emit = (): void => list$.next(entries.map(view));

  const chunkKeysOf = (e: QueuedEntry): string[] => {
    const n = blobChunkCount(e.ref.size, e.chunkSize);
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(chunkKey(e.ref.blobId, 'p', i), chunkKey(e.ref.blobId, 's', i));
    return keys;
  };

  /** Changes the stored index; the in-memory copy follows what was written. */
  const updateIndex = async (change: (current: QueuedEntry[]) => QueuedEntry[]): Promise<void> => {
    const next = await meta.update(INDEX_KEY, QueueIndexSchema, (current) => change(current ?? []));
    entries = next ?? [];
    emit();
  };

  /** Chunks of files the index does not name (a crash during an enqueue or a removal), removed. */
  const removeOrphans = async (): Promise<void> => {
    const keys = await meta.keys(CHUNK_PREFIX);
    if (keys === null) return;
    const plain = new Set(entries.flatMap(chunkKeysOf).filter((k) => /-p\d+$/.test(k)));
    // Sealed chunks only of a sealing the index holds: else a crash came before the index was written.
    const sealed = new Set(
      entries
        .filter((e) => e.sealing)
        .flatMap(chunkKeysOf)
        .filter((k) => /-s\d+$/.test(k)),
    );
    const orphans = keys.filter((k) => !plain.has(k) && !sealed.has(k));
    if (orphans.length > 0) await meta.remove(orphans);
  };

  /** The index read (true), or not readable (false); `ready` also finishes the purges recorded. */
  const read: Promise<boolean> = (async () => {
    // Strict: an index that does not match its schema is refused, never taken for an empty queue.
    const stored = await meta.get(INDEX_KEY, QueueIndexSchema, { strict: true });
    entries = stored ?? [];
    emit();
    await removeOrphans().catch(() => undefined);
    return true;
  })().catch(() => false);

  /**
   * A stored chunk (null: not stored). Read strictly (a value failing its schema is reported by device-meta
   * and refused, not answered as absent): a chunk stored but unreadable is not one never stored.
   */
  const readChunk = async (blobId: string, kind: 'p' | 's', index: number): Promise<Uint8Array | null> => {
    const what = `queued file ${blobId}: ${kind === 'p' ? 'chunk' : 'sealed chunk'} ${index}`;
    const damaged = (cause?: unknown) =>
      new QueuedBytesError(
        'UNREADABLE',
        blobId,
        `${what} is not a chunk's text on this device (damaged)`,
        cause,
      );
    let text: string | null;
    try {
      text = await meta.get(chunkKey(blobId, kind, index), ChunkText, { strict: true });
    } catch (e) {
      if (isDeviceMetaError(e, 'META_INVALID')) throw damaged(e);
      // A value that fails to open at rest fails every time; any other error of the store may pass.
      const lasting = isAtRestError(e, 'AT_REST_DECRYPT_FAILED');
      throw new QueuedBytesError(
        lasting ? 'UNREADABLE' : 'READ_FAILED',
        blobId,
        `${what} ${lasting ? 'does not open on this device (damaged at rest)' : 'could not be read from the device store'}`,
        e,
      );
    }
    if (text === null) return null;
    const bytes = base64urlDecode(text);
    if (bytes.ok) return bytes.value;
    throw damaged();
  };

  /** Plaintext chunk `index` of `e` as stored (null: not stored), refused when not of its length. */
  const plainChunk = async (e: QueuedEntry, index: number): Promise<Uint8Array | null> => {
    const bytes = await readChunk(e.ref.blobId, 'p', index);
    if (bytes && bytes.length !== Math.min(e.chunkSize, e.ref.size - index * e.chunkSize)) {
      bytes.fill(0);
      throw new QueuedBytesError(
        'MISMATCH',
        e.ref.blobId,
        `queued file ${e.ref.blobId}: chunk ${index} has the wrong length on this device`,
      );
    }
    return bytes;
  };

  const bytesOf = (e: QueuedEntry): QueuedBytes => {
    const blobId = e.ref.blobId;
    const assertQueued = (): void => {
      if (cancelled.has(blobId)) throw new Error(`queued file ${blobId} was cancelled`);
    };
    return {
      async readPlain(index) {
        const bytes = await plainChunk(e, index);
        if (!bytes) {
          throw new QueuedBytesError(
            'MISSING',
            blobId,
            `queued file ${blobId}: chunk ${index} is not stored on this device`,
          );
        }
        return bytes;
      },
      readSealed: (index) => readChunk(blobId, 's', index),
      async saveSealing(sealing, sealed) {
        for (let i = 0; i < sealed.length; i++) {
          assertQueued();
          await meta.set(chunkKey(blobId, 's', i), base64urlEncode(sealed[i]!));
        }
        assertQueued();
        await updateIndex((current) => current.map((x) => (x.ref.blobId === blobId ? { ...x, sealing } : x)));
      },
      async dropSealing() {
        await updateIndex((current) =>
          current.map((x) => {
            if (x.ref.blobId !== blobId || !x.sealing) return x;
            const { sealing: _dropped, ...rest } = x;
            return rest;
          }),
        );
      },
      assertQueued,
    };
  };

  /**
   * Removes `blobId` from the index, then its chunks (see the header). `known`: the entry as the caller
   * holds it, whose chunks go even once it is no longer listed (a purge's retry after the index went).
   */
  const removeEntry = async (blobId: string, known?: QueuedEntry): Promise<QueuedEntry | null> => {
    const entry = known ?? entries.find((e) => e.ref.blobId === blobId) ?? null;
    await updateIndex((current) => current.filter((e) => e.ref.blobId !== blobId));
    runtime.delete(blobId);
    if (entry) await meta.remove(chunkKeysOf(entry));
    emit();
    return entry;
  };

  const deleteRemote = async (blobId: string): Promise<void> => {
    await deps.deleteRemote(blobId).catch(() => undefined);
  };

  /** Of a removed `entry` once sealed (a manifest may be on the server): its blob there, best effort. */
  const deleteRemoteIfSealed = async (entry: QueuedEntry): Promise<void> => {
    // An upload under way deletes it when it ends (see `attempt`).
    if (entry.sealing && uploading !== entry.ref.blobId) await deleteRemote(entry.ref.blobId);
  };

  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (stopped || !deps.online()) return;
    const waits = entries
      .filter((e) => !e.failed)
      .map((e) => runtime.get(e.ref.blobId)?.nextAt ?? 0)
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

  /** The wait after the `attempts`th failed attempt in a row: base doubling up to max. */
  const backoffMs = (attempts: number): number =>
    Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempts - 1, 30));

  /** Schedules the next retry of a failed purge removal (those not tried yet are their purge's to try). */
  const schedulePurges = (): void => {
    if (purgeTimer !== undefined) clearTimeout(purgeTimer);
    purgeTimer = undefined;
    if (stopped) return;
    const waits = [...purges.values()].filter((p) => p.attempts > 0).map((p) => p.nextAt);
    if (waits.length === 0) return;
    purgeTimer = setTimeout(
      () => {
        purgeTimer = undefined;
        void purgeDue().catch(() => undefined);
      },
      Math.max(0, Math.min(...waits) - deps.now()),
    );
  };

  /**
   * Stores which files' purges are still to be done (PURGES_KEY), as `purges` holds them now; none: the
   * record is removed. Never rejects: a write the store refuses leaves `purgesStored` false, written again
   * with the next retry (the writes of one key land in call order, so the last one's outcome counts).
   */
  const storePurges = async (): Promise<void> => {
    const write = ++purgeWrites;
    const pending = [...purges].map(([blobId, p]) => ({ blobId, stream: p.stream }));
    const stored = await (
      pending.length === 0 ? meta.remove([PURGES_KEY]) : meta.set(PURGES_KEY, pending)
    ).then(
      () => true,
      () => false,
    );
    if (write === purgeWrites) purgesStored = stored;
  };

  /**
   * Marks the files of `targets` as being purged: never sent from now on, and left alone by a purge
   * begun later (one report per file). Answers the blob ids marked (those not being purged already).
   */
  const beginPurges = (targets: readonly QueuedEntry[], streamOf: (e: QueuedEntry) => string): string[] => {
    const begun: string[] = [];
    for (const entry of targets) {
      const blobId = entry.ref.blobId;
      if (purges.has(blobId)) continue;
      purges.set(blobId, { entry, stream: streamOf(entry), attempts: 0, nextAt: 0, running: false });
      cancelled.add(blobId);
      begun.push(blobId);
    }
    return begun;
  };

  /**
   * A purge of `blobId` is over: its removal passed, or a cancel removed the file. Its standing
   * UPLOAD_PURGE_FAILED, if a removal failed, goes.
   */
  const endPurge = (blobId: string): void => {
    const purge = purges.get(blobId);
    if (purge === undefined) return;
    purges.delete(blobId);
    if (purge.attempts > 0) {
      deps.clearReport?.({ code: 'UPLOAD_PURGE_FAILED', stream: purge.stream, id: blobId });
    }
  };

  /**
   * Removes file `blobId` being purged as `cancel` does (its blob on the server deleted best effort, not
   * waited for); a failure is reported and tried again after the backoff, a removal once it passes. Left
   * alone when its removal is under way already; nothing is reported once a cancel ended it meanwhile.
   */
  const purgeOne = async (blobId: string): Promise<void> => {
    const p = purges.get(blobId);
    if (p === undefined || p.running) return;
    p.running = true;
    // The entry as stored now, if it still is (a sealing may have been stored since the purge began).
    const entry = entries.find((e) => e.ref.blobId === blobId) ?? p.entry;
    p.entry = entry;
    const { stream } = p;
    const name = `"${quotedName(entry.ref.fileName)}"`;
    try {
      await removeEntry(blobId, entry);
    } catch (e) {
      p.running = false;
      if (purges.get(blobId) !== p) return;
      const still = entries.some((x) => x.ref.blobId === blobId);
      p.attempts += 1;
      p.nextAt = deps.now() + backoffMs(p.attempts);
      // The same words at each failed attempt (no count, no time): the sync state keeps one issue for a
      // repeat, so a removal that keeps failing is one issue, refreshed, not one per attempt.
      deps.report?.({
        code: 'UPLOAD_PURGE_FAILED',
        message: cutMiddle(
          `the queued file ${name} could not be removed from this device after access to ${stream} ` +
            `ended (${e instanceof Error ? e.message : String(e)}); ` +
            (still
              ? 'it stays listed, unsent, and is tried again by itself (cancelUpload removes it now)'
              : 'it is no longer listed, and the removal of its bytes is tried again by itself (else ' +
                'they go when the session is next opened)'),
          MAX_REPORT_MESSAGE,
        ),
        stream,
        id: blobId,
      });
      return;
    }
    p.running = false;
    // A cancel removed it meanwhile and answered for it.
    if (purges.get(blobId) !== p) return;
    endPurge(blobId);
    // Not waited for: the other files' bytes are not kept on the device behind a round trip.
    void deleteRemoteIfSealed(entry).catch(() => undefined);
    deps.report?.({
      code: 'UPLOAD_PURGED',
      message: `the queued file ${name} was removed unsent: access to ${stream} ended`,
      stream,
      id: blobId,
    });
  };

  /**
   * Removes, in turn, the files `begun` (marked by `beginPurges`), their record stored first; stops with
   * the queue (the record takes the rest to the next session). Never rejects.
   */
  const runPurges = async (begun: readonly string[]): Promise<void> => {
    if (begun.length === 0) return;
    await storePurges();
    try {
      for (const blobId of begun) {
        if (stopped) return;
        // Locked or closed: the queue stops, as `purgeDue` does (no timer armed only to find that).
        if (!deps.usable()) return stop();
        await purgeOne(blobId);
      }
      await storePurges();
    } finally {
      schedulePurges();
    }
  };

  /** Tries again each failed purge removal whose backoff passed, one at a time. */
  let purgingDue = false;
  const purgeDue = async (): Promise<void> => {
    if (purgingDue) return;
    purgingDue = true;
    const before = purges.size;
    try {
      for (const [blobId, p] of [...purges]) {
        if (stopped) return;
        // Locked or closed: the queue stops (a retry due again at once would spin on the timer).
        if (!deps.usable()) return stop();
        // Not tried yet (its purge is at it), under way, or not due.
        if (p.attempts === 0 || p.running || p.nextAt > deps.now()) continue;
        await purgeOne(blobId);
      }
      // A removal passed, or the record is not stored as it is.
      if (!purgesStored || purges.size !== before) await storePurges();
    } finally {
      purgingDue = false;
      schedulePurges();
    }
  };

  /**
   * Finishes the purges a session before this one recorded and did not finish (closed or locked first):
   * of the files still listed; the others' bytes went as orphans (`removeOrphans`). A record that does
   * not match its schema is reported by device-meta and taken as none.
   */
  const resumePurges = async (): Promise<void> => {
    const stored = await meta.get(PURGES_KEY, PendingPurgesSchema);
    if (stored === null || stored.length === 0) return;
    const streams = new Map<string, string>();
    const wholeStreams = new Set<string>();
    for (const p of stored) {
      if (p.blobId === undefined) wholeStreams.add(p.stream);
      else streams.set(p.blobId, p.stream);
    }
    // A stream-wide record names the files of the stream listed now: none could be enqueued since it was
    // written (the session that wrote it could not read the index, so it refused every enqueue).
    const begun = beginPurges(
      entries.filter((e) => streams.has(e.ref.blobId) || wholeStreams.has(e.stream)),
      (e) => streams.get(e.ref.blobId) ?? e.stream,
    );
    if (begun.length === 0) {
      await storePurges();
      return;
    }
    await runPurges(begun);
  };

  /**
   * Records that every file of the streams in `owedStreams` is to be purged (PURGES_KEY, without a blob id),
   * beside what the record holds already (an earlier session's purges: this session never read them), for
   * the next session that reads the index. Only while the index cannot be read (`ready` false: nothing
   * else writes the record then). A write the store refuses is made again after the backoff until it
   * passes or the queue stops; a record that does not match its schema (taken as naming none at the next
   * start) is written over. Never rejects.
   */
  const storeOwedStreams = async (): Promise<void> => {
    if (owedTimer !== undefined) clearTimeout(owedTimer);
    owedTimer = undefined;
    const add = (current: PendingPurges | null): PendingPurges => {
      const kept = (current ?? []).filter((p) => !(p.blobId === undefined && owedStreams.has(p.stream)));
      return [...kept, ...[...owedStreams].map((stream) => ({ stream }))];
    };
    const stored = await meta.update(PURGES_KEY, PendingPurgesSchema, add).then(
      () => true,
      (e: unknown) =>
        isDeviceMetaError(e, 'META_INVALID')
          ? meta.set(PURGES_KEY, add(null)).then(
              () => true,
              () => false,
            )
          : false,
    );
    if (stored) {
      owedAttempts = 0;
      return;
    }
    if (stopped || !deps.usable()) return;
    owedAttempts += 1;
    owedTimer = setTimeout(() => {
      owedTimer = undefined;
      void storeOwedStreams();
    }, backoffMs(owedAttempts));
  };

  /**
   * Settles once the stored index was read (true), or could not be (false), and the purges recorded by an
   * earlier session were tried (a removal that fails is tried again later, as any): nothing of them is
   * listed or sent.
   */
  const ready: Promise<boolean> = read.then(async (ok) => {
    if (ok) await resumePurges().catch(() => undefined);
    return ok;
  });

  /** One attempt at `entry`: false when uploads must stop (locked, closed). */
  const attempt = async (entry: QueuedEntry): Promise<boolean> => {
    const blobId = entry.ref.blobId;
    uploading = blobId;
    emit();
    try {
      await deps.upload(entry, bytesOf(entry));
      if (cancelled.has(blobId)) await deleteRemote(blobId);
      else await removeEntry(blobId);
      return true;
    } catch (e) {
      if (cancelled.has(blobId)) {
        await deleteRemote(blobId);
        return true;
      }
      const verdict = deps.verdict(e, entry);
      if (verdict === 'stop') return false;
      if (verdict === 'deleted') {
        // Deleted on the server (another device deleted the file): it is never taken under its id again,
        // so its bytes go now, as a cancel's would, and nothing is left there to delete.
        const bytesGone = await removeEntry(blobId).then(
          () => true,
          () => false,
        );
        if (!entries.some((x) => x.ref.blobId === blobId)) {
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
      const error = { ...described, message: cutMiddle(described.message, MAX_STORED_MESSAGE), at: iso() };
      const backOff = (): void => {
        const rt = runtime.get(blobId) ?? { attempts: 0, lastError: null, nextAt: 0 };
        const attempts = rt.attempts + 1;
        runtime.set(blobId, { attempts, lastError: error, nextAt: deps.now() + backoffMs(attempts) });
      };
      if (verdict !== 'retry') {
        const failedAs: UploadFailureCode =
          verdict === 'stuck' ? 'UPLOAD_STUCK' : verdict === 'lost' ? 'UPLOAD_SERVER_LOST' : 'UPLOAD_REFUSED';
        const marked = await updateIndex((current) =>
          current.map((x) => (x.ref.blobId === blobId ? { ...x, failed: error, failedAs } : x)),
        ).then(
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
      uploading = null;
      emit();
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
          if (stopped || !deps.usable() || !deps.online()) return;
          const now = deps.now();
          const next = entries.find(
            (e) =>
              !e.failed && !cancelled.has(e.ref.blobId) && (runtime.get(e.ref.blobId)?.nextAt ?? 0) <= now,
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
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (purgeTimer !== undefined) clearTimeout(purgeTimer);
    purgeTimer = undefined;
    if (owedTimer !== undefined) clearTimeout(owedTimer);
    owedTimer = undefined;
  };

  /** Serializes enqueues (see the header). */
  let enqueueTail: Promise<unknown> = Promise.resolve();

  return {
    uploads$: list$.asObservable(),
    uploads: (): readonly QueuedUpload[] => list$.value,
    /** Settles once the stored index was read (true), or could not be (false). */
    ready,

    /**
     * Stores `plain` as the file `ref` of `stream` and queues it; refused (`full`) past the bounds, with
     * nothing stored.
     */
    enqueue(ref: FileRef, stream: string, chunkSize: number, plain: Uint8Array): Promise<void> {
      // A purge of the stream from now on covers this file, also one that looks at the queue before its
      // entry is written.
      const purgesBefore = purgeCount;
      const run = enqueueTail.then(async () => {
        if (!(await ready)) {
          throw deps.unreadable('the upload queue on this device cannot be read; nothing was queued');
        }
        const bytes = entries.reduce((n, e) => n + e.ref.size, 0);
        if (entries.length >= bounds.uploads || bytes + ref.size > bounds.bytes) {
          throw deps.full(
            `the upload queue is full (${entries.length} of ${bounds.uploads} files, ${bytes} of ` +
              `${bounds.bytes} bytes; this file has ${ref.size}): nothing was queued`,
          );
        }
        const entry: QueuedEntry = { ref, stream, chunkSize, queuedAt: iso() };
        const written: string[] = [];
        try {
          for (let i = 0; i < blobChunkCount(ref.size, chunkSize); i++) {
            const key = chunkKey(ref.blobId, 'p', i);
            written.push(key);
            const part = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
            await meta.set(key, base64urlEncode(part));
          }
          await updateIndex((current) => [...current, entry]);
        } catch (e) {
          await meta.remove(written).catch(() => undefined);
          throw e;
        }
        if ((lastPurgeOf.get(stream) ?? 0) > purgesBefore) {
          // Access to the stream ended while the file was being stored, and its purge looked at the queue
          // before this entry was written: purged now as the stream's other files were (marked first, so
          // it is never sent; recorded; a removal the store refuses is tried again), not left queued.
          // One that purge saw already is left to it.
          await runPurges(beginPurges([entry], () => stream));
          const removed = !entries.some((e) => e.ref.blobId === ref.blobId);
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
    entry: (blobId: string): QueuedEntry | null => entries.find((e) => e.ref.blobId === blobId) ?? null,

    /**
     * The plaintext of queued file `blobId`, once it hashes to its FileRef's sha256; null when it is not
     * (or no longer) queued here. Rejects (QueuedBytesError) when a chunk cannot be read or the bytes do
     * not match.
     */
    async read(blobId: string): Promise<Uint8Array | null> {
      await ready;
      const e = entries.find((x) => x.ref.blobId === blobId);
      if (!e) return null;
      const out = new Uint8Array(e.ref.size);
      for (let i = 0; i < blobChunkCount(e.ref.size, e.chunkSize); i++) {
        const part = await plainChunk(e, i).catch((error: unknown) => {
          out.fill(0);
          throw error;
        });
        if (!part) {
          out.fill(0);
          // Uploaded and removed meanwhile (the index goes first): the server has it now.
          if (!entries.some((x) => x.ref.blobId === blobId)) return null;
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
      const entry = entries.find((e) => e.ref.blobId === blobId);
      if (!entry) return false;
      cancelled.add(blobId);
      try {
        await removeEntry(blobId);
      } catch (e) {
        // Still listed (its index entry could not be written): it is a queued file again, sent as any,
        // not one marked cancelled, never sent and not said so, until the session ends. One a purge holds
        // stays marked: the purge removes it.
        if (entries.some((x) => x.ref.blobId === blobId)) {
          if (!purges.has(blobId)) {
            cancelled.delete(blobId);
            kick();
          }
        } else {
          // Unlisted, only its bytes' removal failed (they go at the next start): what reached the server
          // goes as for any cancel, or nothing would ever ask (the file is no longer listed to cancel again).
          await deleteRemoteIfSealed(entry);
        }
        throw e;
      }
      // A purge of it is done: the person removed the file.
      if (purges.has(blobId)) {
        endPurge(blobId);
        await storePurges();
      }
      await deleteRemoteIfSealed(entry);
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
      if (!(await ready)) {
        // Which files are queued is not known here (the index was not read): owed for the whole stream,
        // done by the next session that reads the index. Enqueues are refused meanwhile.
        owedStreams.add(stream);
        await storeOwedStreams();
        return;
      }
      lastPurgeOf.set(stream, ++purgeCount);
      // Locked or closed (the queue stopped, or about to): marked and recorded all the same, as work under
      // way that the session lets finish; `runPurges` then removes nothing and the next session does.
      await runPurges(
        beginPurges(
          entries.filter((e) => e.stream === stream),
          () => stream,
        ),
      );
    },

    /** Queues again a file failed for good (refused or stuck); false when it is not queued or not failed. */
    async retry(blobId: string): Promise<boolean> {
      await ready;
      const entry = entries.find((e) => e.ref.blobId === blobId);
      if (!entry?.failed) return false;
      await updateIndex((current) =>
        current.map((x) => {
          if (x.ref.blobId !== blobId) return x;
          const { failed: _cleared, failedAs: _clearedAs, ...rest } = x;
          return rest;
        }),
      );
      runtime.delete(blobId);
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
        if (wentDown) for (const rt of runtime.values()) rt.nextAt = 0;
        wentDown = false;
        kick();
      }
      if (!online) schedule();
    },
  };
};

export type UploadQueue = ReturnType<typeof createUploadQueue>;
