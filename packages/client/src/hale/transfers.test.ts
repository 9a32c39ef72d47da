// Uploads and downloads with progress, as the files screen shows them.
import { describe, expect, it } from 'vitest';
import { BehaviorSubject, Subject } from 'rxjs';
import type { FileRef } from '@hale/model';
import type { QueuedUpload } from '../files/upload-queue';
import type { UploadProgress } from '../files/files';
import { downloadTracker, uploadsWithProgress } from './transfers';

const queued = (blobId: string): QueuedUpload => ({
  blobId,
  stream: 'PatientAccount00000001/document',
  patientId: 'PatientAccount00000001',
  type: 'document',
  fileName: `${blobId}.pdf`,
  mediaType: 'application/pdf',
  size: 4_000_000,
  queuedAt: '2026-01-01T00:00:00.000Z',
  state: 'uploading',
  attempts: 0,
  lastError: null,
  nextAttemptAt: null,
  failure: null,
});

const ref = (size: number): FileRef => ({
  blobId: 'B1',
  fileName: 'scan.pdf',
  mediaType: 'application/pdf',
  size,
  sha256: '0'.repeat(64),
});

describe('uploadsWithProgress', () => {
  it('gives each queued file the share of its chunks the server confirmed', () => {
    const uploads$ = new BehaviorSubject<readonly QueuedUpload[]>([queued('B1'), queued('B2')]);
    const progress$ = new Subject<UploadProgress>();
    const view = uploadsWithProgress(uploads$, () => uploads$.value, progress$);
    const stop = view.subscribe(() => undefined);
    expect(view.get().map((u) => u.progress)).toEqual([0, 0]);
    progress$.next({ blobId: 'B1', done: 1, total: 4 });
    progress$.next({ blobId: 'B1', done: 3, total: 4 });
    expect(view.get().map((u) => [u.blobId, u.progress])).toEqual([
      ['B1', 0.75],
      ['B2', 0],
    ]);
    // A file leaving the queue leaves the list; another's progress is kept.
    progress$.next({ blobId: 'B2', done: 2, total: 2 });
    uploads$.next([queued('B2')]);
    expect(view.get().map((u) => [u.blobId, u.progress])).toEqual([['B2', 1]]);
    stop();
  });
});

describe('downloadTracker', () => {
  it('lists a download while it runs, with the bytes received, and drops it when it settles', async () => {
    const { downloads, track } = downloadTracker();
    let report: (n: number) => void = () => undefined;
    let finish: (bytes: Uint8Array) => void = () => undefined;
    const seen: Array<Array<[number, number]>> = [];
    const stop = downloads.subscribe(() =>
      seen.push(downloads.get().map((d) => [d.receivedBytes, d.progress])),
    );
    const got = track(
      ref(1_000),
      (onProgress) =>
        new Promise<Uint8Array>((resolve) => {
          report = onProgress;
          finish = resolve;
        }),
    );
    report(250);
    report(1_000);
    finish(new Uint8Array(1_000));
    expect((await got).length).toBe(1_000);
    expect(seen).toEqual([[[0, 0]], [[250, 0.25]], [[1_000, 1]], []]);
    stop();
  });

  it('drops a failed download too; the caller has the error', async () => {
    const { downloads, track } = downloadTracker();
    const failed = await track(ref(10), () => Promise.reject(new Error('gone'))).catch((e: Error) => e);
    expect(failed.message).toBe('gone');
    expect(downloads.get()).toEqual([]);
  });
});
