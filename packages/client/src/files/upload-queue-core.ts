/**
 * What the upload queue's modules share: the injected dependencies, the index as stored, this session's
 * state per file, and the writes every part makes (the index, a file's removal).
 *
 * Invariants:
 * - `entries` is the index as last written or read (`updateIndex` sets it from what was stored); every
 *   change of it is emitted to `list$`.
 * - A removal writes the index first, then the chunks (a crash in between leaves orphans, removed at start).
 * - `stop` is late bound: the queue assigns it before anything runs.
 */
import { BehaviorSubject } from 'rxjs';
import { parseStreamId } from '@hale/protocol';
import { blobChunkCount } from '@hale/crypto';
import { type UploadQueueDeps, type QueuedUpload, failureOf } from './upload-queue-report';
import {
  UPLOAD_RETRY,
  type QueuedEntry,
  type UploadErrorInfo,
  chunkKey,
  INDEX_KEY,
  QueueIndexSchema,
} from './upload-queue-store';

export interface QueueCore {
  readonly deps: UploadQueueDeps;
  readonly meta: UploadQueueDeps['meta'];
  readonly iso: () => string;
  /** The index as stored, in queue order. */
  entries: QueuedEntry[];
  /** The file being uploaded now. */
  uploading: string | null;
  /** The queue stopped (close, lock): nothing more starts. */
  stopped: boolean;
  /** In-memory state of this session per blob id (see upload-queue.ts). */
  readonly runtime: Map<string, { attempts: number; lastError: UploadErrorInfo | null; nextAt: number }>;
  /** Files cancelled or being purged: never sent from then on. */
  readonly cancelled: Set<string>;
  readonly list$: BehaviorSubject<readonly QueuedUpload[]>;
  readonly emit: () => void;
  readonly chunkKeysOf: (e: QueuedEntry) => string[];
  readonly updateIndex: (change: (current: QueuedEntry[]) => QueuedEntry[]) => Promise<void>;
  readonly removeEntry: (blobId: string, known?: QueuedEntry) => Promise<QueuedEntry | null>;
  readonly deleteRemote: (blobId: string) => Promise<void>;
  readonly deleteRemoteIfSealed: (entry: QueuedEntry) => Promise<void>;
  readonly backoffMs: (attempts: number) => number;
  /** Stops the queue (upload-queue.ts). */
  stop: () => void;
}

export const createQueueCore = (deps: UploadQueueDeps): QueueCore => {
  const { meta } = deps;
  const retry = deps.retry ?? UPLOAD_RETRY;
  const q = {
    deps,
    meta,
    iso: (): string => new Date(deps.now()).toISOString(),
    entries: [] as QueuedEntry[],
    uploading: null as string | null,
    stopped: false,
    runtime: new Map<string, { attempts: number; lastError: UploadErrorInfo | null; nextAt: number }>(),
    cancelled: new Set<string>(),
    list$: new BehaviorSubject<readonly QueuedUpload[]>([]),
  } as QueueCore;

  const view = (e: QueuedEntry): QueuedUpload => {
    const rt = q.runtime.get(e.ref.blobId);
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
      state: e.failed ? 'failed' : q.uploading === e.ref.blobId ? 'uploading' : 'queued',
      attempts: rt?.attempts ?? 0,
      lastError: e.failed ?? rt?.lastError ?? null,
      nextAttemptAt:
        e.failed || rt === undefined || rt.nextAt === 0 ? null : new Date(rt.nextAt).toISOString(),
      failure: e.failed ? failureOf(e.failedAs) : null,
    };
  };
  const emit = (): void => q.list$.next(q.entries.map(view));

  const chunkKeysOf = (e: QueuedEntry): string[] => {
    const n = blobChunkCount(e.ref.size, e.chunkSize);
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(chunkKey(e.ref.blobId, 'p', i), chunkKey(e.ref.blobId, 's', i));
    return keys;
  };

  /** Changes the stored index; the in-memory copy follows what was written. */
  const updateIndex = async (change: (current: QueuedEntry[]) => QueuedEntry[]): Promise<void> => {
    const next = await meta.update(INDEX_KEY, QueueIndexSchema, (current) => change(current ?? []));
    q.entries = next ?? [];
    emit();
  };

  /**
   * Removes `blobId` from the index, then its chunks (see the header). `known`: the entry as the caller
   * holds it, whose chunks go even once it is no longer listed (a purge's retry after the index went).
   */
  const removeEntry = async (blobId: string, known?: QueuedEntry): Promise<QueuedEntry | null> => {
    const entry = known ?? q.entries.find((e) => e.ref.blobId === blobId) ?? null;
    await updateIndex((current) => current.filter((e) => e.ref.blobId !== blobId));
    q.runtime.delete(blobId);
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
    if (entry.sealing && q.uploading !== entry.ref.blobId) await deleteRemote(entry.ref.blobId);
  };

  /** The wait after the `attempts`th failed attempt in a row: base doubling up to max. */
  const backoffMs = (attempts: number): number =>
    Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempts - 1, 30));

  return Object.assign(q, {
    emit,
    chunkKeysOf,
    updateIndex,
    removeEntry,
    deleteRemote,
    deleteRemoteIfSealed,
    backoffMs,
  });
};
