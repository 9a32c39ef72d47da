// SyncState `pendingUploads` (session.ts wires the upload queue into the engine): a front end's "everything
// is on the server" indicator must not read 0 while a file added offline waits on the device. The count
// follows the queue (enqueue, cancel), is right from the moment a session is handed out (the queue is read
// during the open), and a file refused for good still counts: it is not on the server either.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { utf8Encode } from '@hale/crypto';
import type { UnlockedAccount } from '../account/account';
import { createHttpApi } from '../api/http-api';
import { openDeviceSession } from '../session/session';
import { anAccount } from '../session/session.test-util';

describe('SyncState pendingUploads', () => {
  const storage = getRxStorageMemory();
  /** An offline session of `account` (nothing is sent: the fetch and the socket refuse). */
  const open = (account: UnlockedAccount) =>
    openDeviceSession({
      account,
      serverUrl: 'http://127.0.0.1:1',
      createWebSocket: () => {
        throw new Error('offline test: no socket');
      },
      storage,
      getAccount: () => Promise.reject(new Error('offline test: no server')),
      api: createHttpApi({
        baseUrl: 'http://127.0.0.1:1',
        fetch: () => Promise.reject(new Error('offline test: no server')),
      }),
      offline: true,
    });
  const scan = (n: number) => ({
    type: 'document' as const,
    bytes: utf8Encode(`lab report ${n}`),
    fileName: `report-${n}.txt`,
    mediaType: 'text/plain',
  });

  it('counts the files queued on the device, across a restart, until cancelled', async () => {
    const account = anAccount();
    const first = await open(account);
    const seen: number[] = [];
    const sub = first.sync.state$.subscribe((s) => seen.push(s.pendingUploads));
    expect(first.sync.state().pendingUploads).toBe(0);

    const a = await first.files.enqueue(scan(1));
    await first.files.enqueue(scan(2));
    expect(first.sync.state().pendingUploads).toBe(2);
    // Records and files are counted apart: no record was written.
    expect(first.sync.state().pendingWrites).toBe(0);
    sub.unsubscribe();
    expect([...new Set(seen)]).toEqual([0, 1, 2]);
    await first.close();

    // At once when the next session is handed out, not after some later read.
    const second = await open(account);
    try {
      expect(second.sync.state().pendingUploads).toBe(2);
      expect(second.files.uploads()).toHaveLength(2);
      expect(await second.files.cancelUpload(a.blobId)).toBe(true);
      expect(second.sync.state().pendingUploads).toBe(1);
    } finally {
      await second.close();
    }
  });
});
