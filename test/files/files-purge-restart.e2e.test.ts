// A provider's file queued offline (`session.files.enqueue`) whose stream's access ended while the device
// store refused to remove it: the session reports it (UPLOAD_PURGE_FAILED) and is closed before its retry
// passes. The next session of the device finishes the purge as it opens, before it lists anything: the
// file is never listed or sent again, its bytes are gone, and it is reported (UPLOAD_PURGED).
import { describe, expect, it } from 'vitest';
import { createHttpApi, type DeviceSession } from '@hale/client/advanced';
import { utf8Encode } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { diskStorage } from '../support/disk-storage';
import { useServer } from '../support/fixture';
import { eventually, grantWrite, openDevice, waitOnline } from '../support/devices';

const server = useServer({ realClock: true });

const close = async (s: DeviceSession): Promise<void> => {
  server.sessions.splice(server.sessions.indexOf(s), 1);
  await s.close();
};

describe('a purge of queued files the device store refused, the session closed before its retry', () => {
  it('is finished by the next session as it opens: never listed or sent again, reported removed', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    const disk = diskStorage();
    const dbName = `files-purge-restart-${Date.now().toString(36)}`;
    const openProvider = async (offline: boolean): Promise<DeviceSession> => {
      const s = await openDevice(t, provider, {
        storage: disk.storage,
        dbName,
        api: createHttpApi({ baseUrl: t.url, fetch }),
        ...(offline ? { offline: true } : {}),
      });
      server.sessions.push(s);
      return s;
    };
    const d = await openProvider(false);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await p.consent.verifyProvider(provider.accountId);
    const grant = await grantWrite(p, provider.accountId, 'lab-result', 3_600_000);
    const stream = `${patient.accountId}/lab-result`;
    await eventually(() => d.engine.whyNotWritable(stream) === null, 'the provider may write');
    d.sync.goOffline();
    const file = await d.files.enqueue({
      patientId: patient.accountId,
      type: 'lab-result',
      bytes: utf8Encode('potassium 4.1 mmol/L'),
      fileName: 'panel.txt',
      mediaType: 'text/plain',
    });
    await close(d);
    await p.consent.revoke(grant.grant.grantId);

    // Access ended; the device store refuses every write of the queue's index, so the file stays.
    disk.failWrites('meta-upload-queue');
    const again = await openProvider(false);
    await eventually(
      () => again.sync.state().errors.some((e) => e.code === 'UPLOAD_PURGE_FAILED' && e.id === file.blobId),
      'the failed removal reported',
    );
    expect(again.files.uploads().map((u) => u.blobId)).toEqual([file.blobId]);
    // Closed before the retry (5 s) passes.
    await close(again);
    disk.failWrites(null);

    // Offline: nothing but the record of the purge tells this session the file is to go.
    const third = await openProvider(true);
    expect(third.files.uploads()).toEqual([]);
    expect(third.sync.state().pendingUploads).toBe(0);
    expect(third.sync.state().errors.find((e) => e.code === 'UPLOAD_PURGED')).toMatchObject({
      id: file.blobId,
      stream,
    });
    expect(disk.storedIds(`meta-upload-chunk-${file.blobId}`)).toEqual([]);
    expect(t.store.db.prepare('SELECT COUNT(*) AS n FROM blob_manifests').get()).toEqual({ n: 0 });
  });
});
