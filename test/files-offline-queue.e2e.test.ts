// Files added offline (`session.files.enqueue`) against a real server: a patient's device without a
// connection queues a scan and writes the record citing it, closes, and uploads it at the next open;
// another device of the patient meanwhile gets "no such blob" and afterwards the same bytes. The queue
// survives the restart on a store that outlives the session (Dexie over IndexedDB, as an app's), holds no
// plaintext there, and refuses a file past its bounds. A provider whose grant ended while its file waited
// sees the upload refused for good, listed and reported, and can cancel it.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { createHttpApi, isFileError, MAX_QUEUED_UPLOADS, type DeviceSession } from '@hale/client';
import { base64urlEncode, utf8Encode } from '@hale/crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { addDevice, registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from './support/fixture';
import { eventually, grantWrite, openDevice, waitOnline } from './support/devices';

const server = useServer({ realClock: true });

// Minimal typing of the IndexedDB calls used to read fake-indexeddb raw (the project has no DOM lib).
interface IdbRequest<T> {
  result: T;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  objectStoreNames: ArrayLike<string>;
  transaction(
    names: string[],
    mode: 'readonly',
  ): { objectStore(name: string): { getAll(): IdbRequest<unknown[]> } };
  close(): void;
}
interface IdbFactory {
  databases(): Promise<{ name?: string }[]>;
  open(name: string): IdbRequest<IdbDatabase>;
}
const idb = indexedDB as unknown as IdbFactory;
const request = <T>(req: IdbRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(String(req.error)));
  });
/** Everything fake-indexeddb holds for databases whose name mentions `dbName`, as one string. */
const dumpIndexedDb = async (dbName: string): Promise<string> => {
  const out: unknown[] = [];
  for (const info of await idb.databases()) {
    if (!info.name?.includes(dbName)) continue;
    const db = await request(idb.open(info.name));
    for (const store of Array.from(db.objectStoreNames)) {
      out.push(store, await request(db.transaction([store], 'readonly').objectStore(store).getAll()));
    }
    db.close();
  }
  return JSON.stringify(out);
};

const storage = getRxStorageDexie({
  indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
  IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
});
let dbCounter = 0;

const openWithApi = async (
  t: TestServer,
  account: TestAccount,
  options: { dbName?: string; offline?: boolean; device?: Awaited<ReturnType<typeof addDevice>> } = {},
): Promise<DeviceSession> => {
  const s = await openDevice(t, account, {
    storage,
    dbName: options.dbName ?? `files-queue-${Date.now().toString(36)}-${++dbCounter}`,
    api: createHttpApi({ baseUrl: t.url, fetch }),
    ...(options.offline ? { offline: true } : {}),
    ...(options.device ? { device: options.device } : {}),
  });
  server.sessions.push(s);
  return s;
};

const blobCount = (t: TestServer): number =>
  (t.store.db.prepare('SELECT COUNT(*) AS n FROM blob_manifests').get() as { n: number }).n;

const close = async (s: DeviceSession): Promise<void> => {
  await s.close();
  server.sessions.splice(server.sessions.indexOf(s), 1);
};

describe('files added offline are queued on the device and uploaded when the connection returns', () => {
  it("added offline with its record, uploaded at the next open; the patient's other device gets it", async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const dbName = `files-queue-patient-${Date.now().toString(36)}`;
    const phone = await openWithApi(t, patient, { dbName, offline: true });
    const marker = `basement-lab-report-${Math.random().toString(36).slice(2)}`;
    const scan = utf8Encode(marker.repeat(Math.ceil((MIN_CHUNK_BYTES * 1.5) / marker.length)));

    const file = await phone.files.enqueue({
      type: 'document',
      bytes: scan,
      fileName: 'lab report.jpg',
      mediaType: 'image/jpeg',
      chunkSize: MIN_CHUNK_BYTES,
    });
    const doc = await phone.records.add('HealthDocument', {
      file,
      documentType: 'lab-report',
      title: 'Lab report',
      uploadedAt: new Date().toISOString(),
      version: 1,
      versions: [],
    });
    expect(phone.files.uploads()).toMatchObject([
      { blobId: file.blobId, state: 'queued', size: scan.length },
    ]);
    expect(await phone.files.get(file, { type: 'document' })).toEqual(scan);
    await phone.close();
    server.sessions.splice(server.sessions.indexOf(phone), 1);

    // On disk while closed: the queue, sealed; no plaintext of the file or its name.
    const raw = await dumpIndexedDb(dbName);
    expect(raw.includes(`meta-upload-chunk-${file.blobId}-p0`)).toBe(true);
    expect(raw.includes(marker)).toBe(false);
    expect(raw.includes(base64urlEncode(scan.subarray(0, MIN_CHUNK_BYTES)).slice(0, 60))).toBe(false);
    expect(raw.includes('lab report.jpg')).toBe(false);
    expect(blobCount(t)).toBe(0);

    // Another device of the patient, while the file is not uploaded: the server has no such blob.
    const tablet = await openWithApi(t, patient, { device: await addDevice(t, patient) });
    await waitOnline(tablet);
    const early = await tablet.files.get(file, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(early) && [early.code, early.serverCode]).toEqual(['NOT_FOUND', 'NOT_FOUND']);

    const again = await openWithApi(t, patient, { dbName });
    await eventually(() => again.files.uploads().length === 0, 'the queued file is uploaded');
    expect(blobCount(t)).toBe(1);
    expect(
      (
        t.store.db.prepare('SELECT stream FROM blob_manifests WHERE blob_id = ?').get(file.blobId) as {
          stream: string;
        }
      ).stream,
    ).toBe(`${patient.accountId}/document`);
    // Removed from the device once uploaded (and purged: RxDB would keep removed local documents).
    await eventually(
      async () => !(await dumpIndexedDb(dbName)).includes(`meta-upload-chunk-${file.blobId}`),
      'the queued bytes are removed',
    );

    await eventually(
      async () => (await tablet.records.get(doc.id)) !== null,
      'the record reaches the tablet',
    );
    const got = await tablet.records.get<'HealthDocument'>(doc.id);
    expect(await tablet.files.get(got!.record.file, { type: 'document' })).toEqual(scan);
  });

  it('a full queue refuses with QUEUE_FULL and stores nothing', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const dbName = `files-queue-full-${Date.now().toString(36)}`;
    const s = await openWithApi(t, patient, { dbName, offline: true });
    const small = (i: number) => ({
      type: 'message' as const,
      bytes: new Uint8Array([i, i + 1, i + 2]),
      fileName: `note-${i}.txt`,
      mediaType: 'text/plain',
    });
    for (let i = 0; i < MAX_QUEUED_UPLOADS; i++) await s.files.enqueue(small(i));
    const before = await dumpIndexedDb(dbName);
    const refused = await s.files.enqueue(small(999)).catch((e: unknown) => e);
    expect(isFileError(refused) && refused.code).toBe('QUEUE_FULL');
    expect(s.files.uploads()).toHaveLength(MAX_QUEUED_UPLOADS);
    expect((await dumpIndexedDb(dbName)).match(/meta-upload-chunk-/g)?.length).toBe(
      before.match(/meta-upload-chunk-/g)?.length,
    );
    await close(s);
  });

  it('a provider whose grant ended while its file waited: refused for good, listed, reported, cancelled', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openWithApi(t, patient);
    const dbName = `files-queue-provider-${Date.now().toString(36)}`;
    const d = await openWithApi(t, provider, { dbName });
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

    const again = await openWithApi(t, provider, { dbName });
    await eventually(() => again.files.uploads()[0]?.state === 'failed', 'the upload is refused for good');
    const [listed] = again.files.uploads();
    expect(listed).toMatchObject({ blobId: file.blobId, stream, state: 'failed' });
    expect(['FORBIDDEN', 'NO_KEY']).toContain(listed?.lastError?.code);
    expect(again.sync.state().errors.some((e) => e.code === 'UPLOAD_REFUSED' && e.id === file.blobId)).toBe(
      true,
    );
    expect(blobCount(t)).toBe(0);
    expect(await again.files.cancelUpload(file.blobId)).toBe(true);
    expect(again.files.uploads()).toEqual([]);
    await eventually(
      async () => !(await dumpIndexedDb(dbName)).includes(`meta-upload-chunk-${file.blobId}`),
      'the cancelled bytes are removed',
    );
  });
});
