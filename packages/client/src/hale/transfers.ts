/**
 * Files moving between this device and the server, with progress, as the files screen shows them.
 *
 * | Observed | lists | progress |
 * |---|---|---|
 * | `uploads` | the upload queue (`enqueue`: waiting, uploading, failed) | `progress`: chunks the server confirmed of all, 0 to 1 (kept from the last attempt in this session; 0 before any) |
 * | `downloads` | every `files.get` under way in this session | `receivedBytes` of `size`, and `progress` 0 to 1 |
 *
 * Invariants: a download leaves the list when its `get` settles (the caller has the bytes, or the
 * HaleError); progress never goes down within one attempt. Nothing here is stored.
 */
import { combineLatest, map, scan, startWith, type Observable } from 'rxjs';
import type { FileRef } from '@hale/model';
import type { QueuedUpload } from '../files/upload-queue';
import type { UploadProgress } from '../files/files';
import { observedFrom, observedValue, type Observed } from '../core/observed';

/** A queued file with how far its upload got. */
export type UploadView = QueuedUpload & {
  /** Chunks the server confirmed of the file's chunks, 0 to 1. */
  readonly progress: number;
};

/** A file download in progress, as a screen shows it. */
export interface DownloadView {
  readonly blobId: string;
  readonly fileName: string;
  readonly mediaType: string;
  readonly size: number;
  readonly receivedBytes: number;
  /** `receivedBytes / size` (1 for an empty file). */
  readonly progress: number;
}

/** The upload queue with each file's progress. */
export function uploadsWithProgress(
  uploads$: Observable<readonly QueuedUpload[]>,
  current: () => readonly QueuedUpload[],
  progress$: Observable<UploadProgress>,
): Observed<readonly UploadView[]> {
  const initial = current();
  const withProgress = (list: readonly QueuedUpload[], done: ReadonlyMap<string, number>): UploadView[] =>
    list.map((u) => ({ ...u, progress: done.get(u.blobId) ?? 0 }));
  const fractions$ = progress$.pipe(
    scan(
      (done, p) => new Map(done).set(p.blobId, p.total === 0 ? 1 : p.done / p.total),
      new Map<string, number>(),
    ),
    startWith(new Map<string, number>()),
  );
  return observedFrom(
    combineLatest([uploads$.pipe(startWith(initial)), fractions$]).pipe(
      map(([list, done]) => withProgress(list, done)),
    ),
    withProgress(initial, new Map()),
    // Nothing listening: the queue as it is now (progress is followed only while something listens).
    () => withProgress(current(), new Map()),
  );
}

/** The downloads under way, and `track` to wrap a `get` into one. */
export function downloadTracker(): {
  readonly downloads: Observed<readonly DownloadView[]>;
  readonly track: <T>(
    ref: FileRef,
    run: (onProgress: (receivedBytes: number) => void) => Promise<T>,
  ) => Promise<T>;
} {
  const list = observedValue<readonly DownloadView[]>([]);
  let seq = 0;
  const entries = new Map<number, DownloadView>();
  const publish = (): void => list.set([...entries.values()]);
  return {
    downloads: list,
    track: async (ref, run) => {
      const key = ++seq;
      const view = (receivedBytes: number): DownloadView => ({
        blobId: ref.blobId,
        fileName: ref.fileName,
        mediaType: ref.mediaType,
        size: ref.size,
        receivedBytes,
        progress: ref.size === 0 ? 1 : Math.min(1, receivedBytes / ref.size),
      });
      entries.set(key, view(0));
      publish();
      try {
        return await run((receivedBytes) => {
          if (!entries.has(key)) return;
          entries.set(key, view(receivedBytes));
          publish();
        });
      } finally {
        entries.delete(key);
        publish();
      }
    },
  };
}
