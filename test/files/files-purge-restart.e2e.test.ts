// A provider's file queued offline (`session.files.enqueue`) whose stream's access ended while the device
// store refused to remove it: the session reports it (UPLOAD_PURGE_FAILED) and is closed before its retry
// passes. The next session of the device finishes the purge as it opens, before it lists anything: the
// file is never listed or sent again, its bytes are gone, and it is reported (UPLOAD_PURGED). The devices
// are HaleSessions of openHaleForTests; the provider's store (platform storage) kept across unlocks.
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { utf8Encode } from '@hale/crypto';
import { diskStorage } from '../support/disk-storage';
import { useServer } from '../support/fixture';
import { online, useHaleSessions, when } from '../client-api/hale-devices';
import { closeDevice, mayWrite, openFileDevice, restartedDevice, writeGrant } from './file-parties';

const server = useServer({ realClock: true });
const sessions: HaleSession[] = useHaleSessions();

describe('a purge of queued files the device store refused, the session closed before its retry', () => {
  it('is finished by the next session as it opens: never listed or sent again, reported removed', async () => {
    const { t } = server;
    const { session: p } = await openFileDevice(t.url, sessions);
    const disk = diskStorage();
    const { session: d, platform } = await openFileDevice(t.url, sessions, {
      role: 'provider',
      storage: disk.storage,
    });
    await Promise.all([online(p), online(d)]);
    const patientId = p.account.accountId;
    await p.consent.verifyProvider(d.account.accountId);
    const grant = await writeGrant(p, d.account.accountId, 'lab-result');
    const stream = `${patientId}/lab-result`;
    await mayWrite(d, patientId, 'lab-result');
    d.sync.goOffline();
    const file = await d.files.enqueue({
      patientId,
      type: 'lab-result',
      bytes: utf8Encode('potassium 4.1 mmol/L'),
      fileName: 'panel.txt',
      mediaType: 'text/plain',
    });
    await closeDevice(sessions, d);
    await p.consent.revoke(grant.grant.grantId);

    // Access ended; the device store refuses every write of the queue's index, so the file stays.
    disk.failWrites('meta-upload-queue');
    const again = await restartedDevice(t.url, sessions, platform);
    await when(
      again.sync.state,
      (s) => s.errors.some((e) => e.code === 'UPLOAD_PURGE_FAILED' && e.id === file.blobId),
      'the failed removal reported',
    );
    expect(again.files.uploads.get().map((u) => u.blobId)).toEqual([file.blobId]);
    // Closed before the retry (5 s) passes.
    await closeDevice(sessions, again);
    disk.failWrites(null);

    // Offline: nothing but the record of the purge tells this session the file is to go.
    const third = await restartedDevice(t.url, sessions, platform, { session: { offline: true } });
    expect(third.files.uploads.get()).toEqual([]);
    expect(third.sync.state.get().pendingUploads).toBe(0);
    expect(third.sync.state.get().errors.find((e) => e.code === 'UPLOAD_PURGED')).toMatchObject({
      id: file.blobId,
      stream,
    });
    expect(disk.storedIds(`meta-upload-chunk-${file.blobId}`)).toEqual([]);
    expect(t.store.db.prepare('SELECT COUNT(*) AS n FROM blob_manifests').get()).toEqual({ n: 0 });
  });
});
