// Files added offline (`session.files.enqueue`) against a real server: a patient's device without a
// connection queues a scan and writes the record citing it, closes, and uploads it at the next open;
// another device of the patient meanwhile gets "no such blob" and afterwards the same bytes. The queue
// survives the restart on a store that outlives the session (Dexie over IndexedDB, as an app's), holds no
// plaintext there, and refuses a file past its bounds. A provider whose grant ended while its file waited
// loses it with the purged stream, unsent and reported (UPLOAD_PURGED). The sync state counts queued
// files (`pendingUploads`) until the server confirmed them. lock(account) while a file is queued, and while
// its upload is under way, sends nothing more; unlocked, the next session finishes the same blob. A
// re-keying done on another device while this one was away: a file not announced yet is sealed under the
// new key at the next connection, one already announced is finished under the key it was sealed with.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import {
  createAccount,
  createHttpApi,
  isFileError,
  lock,
  memoryVault,
  unlock,
  MAX_QUEUED_UPLOADS,
  type DeviceSession,
  type FetchLike,
} from '@hale/client/advanced';
import {
  TEST_KDF,
  base64urlEncode,
  deriveInitialStreamKey,
  keyId,
  sealedKeyId,
  utf8Encode,
} from '@hale/crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { addDevice, registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, eventually, grantRead, grantWrite, openDevice, waitOnline } from '../support/devices';

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
  options: {
    dbName?: string;
    offline?: boolean;
    device?: Awaited<ReturnType<typeof addDevice>>;
    fetch?: FetchLike;
    /** An unlocked account object (from createAccount or unlock) to open with, which lock() can lock. */
    unlocked?: Awaited<ReturnType<typeof unlock>>;
  } = {},
): Promise<DeviceSession> => {
  const s = await openDevice(t, account, {
    storage,
    dbName: options.dbName ?? `files-queue-${Date.now().toString(36)}-${++dbCounter}`,
    api: createHttpApi({ baseUrl: t.url, fetch: options.fetch ?? fetch }),
    ...(options.offline ? { offline: true } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.unlocked ? { sessionAccount: options.unlocked } : {}),
  });
  server.sessions.push(s);
  return s;
};

/**
 * The real fetch, logging each blob request (`POST /v1/blobs`, `PUT /v1/blobs/<id>/chunks/<i>`, ...) as it
 * is sent. `holdAnswer(i)` keeps the answer to the PUT of chunk i (the server stored the chunk) from the device
 * until `release()`; `failChunksFrom(i)` fails the PUT of chunk i and later ones as a dropped connection.
 */
const blobFetch = () => {
  const log: string[] = [];
  let failFrom = Infinity;
  let held: { index: number; reached: () => void; released: Promise<void> } | null = null;
  const wrapped: FetchLike = async (url, init) => {
    const path = new URL(url).pathname;
    if (path.startsWith('/v1/blobs')) log.push(`${init.method} ${path}`);
    const put = init.method === 'PUT' ? /\/chunks\/(\d+)$/.exec(path) : null;
    const chunk = put ? Number(put[1]) : -1;
    if (chunk >= failFrom) throw new TypeError('fetch failed (the test dropped the connection)');
    const answer = await fetch(url, init);
    if (held && chunk === held.index) {
      const h = held;
      held = null;
      h.reached();
      await h.released;
    }
    return answer;
  };
  return {
    fetch: wrapped,
    log,
    holdAnswer(index: number) {
      let reached!: () => void;
      let release!: () => void;
      const atHold = new Promise<void>((r) => (reached = r));
      held = { index, reached, released: new Promise<void>((r) => (release = r)) };
      return { reached: atHold, release: () => release() };
    },
    failChunksFrom(index: number) {
      failFrom = index;
    },
  };
};

const chunkRows = (t: TestServer, blobId: string): Array<{ idx: number; bytes: Buffer }> =>
  t.store.db
    .prepare('SELECT idx, bytes FROM blob_chunks WHERE blob_id = ? ORDER BY idx')
    .all(blobId) as Array<{
    idx: number;
    bytes: Buffer;
  }>;

/** A file of `chunks` chunks of MIN_CHUNK_BYTES (the last one shorter), every byte depending on its place. */
const largeFile = (chunks: number): Uint8Array => {
  const bytes = new Uint8Array(MIN_CHUNK_BYTES * (chunks - 1) + 1000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >> 9)) & 0xff;
  return bytes;
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
    // Not on the server: the sync state says so, apart from the record (pending too, offline).
    expect(phone.sync.state()).toMatchObject({ pendingUploads: 1, pendingWrites: 1 });
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
    const counts: number[] = [];
    const counted = again.sync.state$.subscribe((state) => counts.push(state.pendingUploads));
    await eventually(() => again.files.uploads().length === 0, 'the queued file is uploaded');
    counted.unsubscribe();
    expect(blobCount(t)).toBe(1);
    // 1 from the moment the session is handed out, 0 once the server confirmed the file.
    expect([...new Set(counts)]).toEqual([1, 0]);
    expect(again.sync.state().pendingUploads).toBe(0);
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

  it('a provider whose grant ended while its file waited: the file goes with the purged stream, unsent, reported', async () => {
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
    expect(d.sync.state().pendingUploads).toBe(1);
    await close(d);
    await p.consent.revoke(grant.grant.grantId);

    // Access ended: the stream's records are purged, and the queued file with them (the TSDoc of @hale/client/advanced,
    // Consent: changes never sent are removed with the stream, their content not kept), reported.
    const again = await openWithApi(t, provider, { dbName });
    await eventually(
      () => again.sync.state().errors.some((e) => e.code === 'UPLOAD_PURGED' && e.id === file.blobId),
      'the queued file is purged with its stream',
    );
    expect(again.files.uploads()).toEqual([]);
    expect(again.sync.state().pendingUploads).toBe(0);
    expect(blobCount(t)).toBe(0);
    await expect(
      again.files.get(file, { patientId: patient.accountId, type: 'lab-result' }),
    ).rejects.toThrow();
    await eventually(
      async () => !(await dumpIndexedDb(dbName)).includes(`meta-upload-chunk-${file.blobId}`),
      'the purged bytes are removed',
    );
  });
});

describe('a queued file and lock(account)', () => {
  const PASSPHRASE = 'correct horse battery';

  it('locked while queued, then during its upload: nothing sent after the lock; finished once unlocked', async () => {
    const { t } = server;
    const vault = memoryVault();
    const { account } = await createAccount(
      { api: createHttpApi({ baseUrl: t.url, fetch }), vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      {
        role: 'patient',
        passphrase: PASSPHRASE,
        loginName: `files-lock-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`,
        deviceName: 'phone',
      },
    );
    const patient = {} as TestAccount;
    const dbName = `files-queue-lock-${Date.now().toString(36)}`;
    const bytes = largeFile(4);

    // 1. Queued offline, locked, then the connection asked for: it never comes up, nothing is sent.
    const first = blobFetch();
    const s1 = await openWithApi(t, patient, {
      dbName,
      offline: true,
      fetch: first.fetch,
      unlocked: account,
    });
    const file = await s1.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'scan.jpg',
      mediaType: 'image/jpeg',
      chunkSize: MIN_CHUNK_BYTES,
    });
    lock(account);
    s1.sync.goOnline();
    await eventually(() => /locked/.test(s1.connection.reason() ?? ''), 'offline, saying why', 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(first.log).toEqual([]);
    expect(s1.files.uploads()).toMatchObject([{ blobId: file.blobId, state: 'queued' }]);
    expect(s1.sync.state().pendingUploads).toBe(1);
    await close(s1);
    expect(await dumpIndexedDb(dbName)).toContain(`meta-upload-chunk-${file.blobId}-p3`);

    // 2. Unlocked, opened again: locked once the server stored chunk 0, before its answer reached the device.
    const unlocked = await unlock({ vault }, { passphrase: PASSPHRASE });
    const second = blobFetch();
    const atChunk0 = second.holdAnswer(0);
    const s2 = await openWithApi(t, patient, { dbName, fetch: second.fetch, unlocked });
    await atChunk0.reached;
    lock(unlocked);
    const sentBeforeLock = second.log.length;
    atChunk0.release();
    await eventually(() => s2.files.uploads()[0]?.state === 'queued', 'the upload under way ends');
    await new Promise((r) => setTimeout(r, 300));
    expect(second.log.slice(sentBeforeLock)).toEqual([]);
    expect(second.log).toEqual(['POST /v1/blobs', `PUT /v1/blobs/${file.blobId}/chunks/0`]);
    expect(chunkRows(t, file.blobId).map((c) => c.idx)).toEqual([0]);
    expect(s2.sync.state().pendingUploads).toBe(1);
    await close(s2);
    // On disk still: the plaintext and the sealing stored before the announce (nothing sealed anew).
    const disk = await dumpIndexedDb(dbName);
    expect(disk).toContain(`meta-upload-chunk-${file.blobId}-p3`);
    expect(disk).toContain(`meta-upload-chunk-${file.blobId}-s3`);

    // 3. Unlocked again: the same manifest announced again, only chunks 1 to 3 sent; one blob.
    const third = blobFetch();
    const s3 = await openWithApi(t, patient, {
      dbName,
      fetch: third.fetch,
      unlocked: await unlock({ vault }, { passphrase: PASSPHRASE }),
    });
    await eventually(() => s3.files.uploads().length === 0, 'uploaded once unlocked');
    expect(third.log).toEqual([
      'POST /v1/blobs',
      ...[1, 2, 3].map((i) => `PUT /v1/blobs/${file.blobId}/chunks/${i}`),
    ]);
    expect(s3.sync.state().pendingUploads).toBe(0);
    expect(blobCount(t)).toBe(1);
    expect(chunkRows(t, file.blobId).map((c) => c.idx)).toEqual([0, 1, 2, 3]);
    expect(await s3.files.get(file, { type: 'document' })).toEqual(bytes);
    await close(s3);
  });
});

/** The stream's highest epoch on the server. */
const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

/** Another device of the patient grants `type` to a provider and revokes it: the stream is re-keyed. */
const rekeyElsewhere = async (
  t: TestServer,
  patient: TestAccount,
  stream: string,
): Promise<DeviceSession> => {
  const provider = await registerAccount(t, 'provider');
  const tablet = await openWithApi(t, patient, { device: await addDevice(t, patient) });
  await waitOnline(tablet);
  await tablet.consent.verifyProvider(provider.accountId);
  const grant = await grantRead(tablet, provider.accountId, 'document', 3_600_000, 'second opinion');
  const before = serverEpoch(t, stream);
  await tablet.consent.revoke(grant.grant.grantId);
  await eventually(() => serverEpoch(t, stream) > before, 'the stream is re-keyed');
  return tablet;
};

describe('queued files and a re-keying on another device of the patient', () => {
  it('queued offline, re-keyed elsewhere meanwhile: sealed under the new key at the next connection', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const stream = `${patient.accountId}/document`;
    const phone = await openWithApi(t, patient, { offline: true });
    const bytes = utf8Encode('ferritin 12 ng/mL '.repeat(300));
    const file = await phone.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'ferritin.txt',
      mediaType: 'text/plain',
    });
    // The ended grantee holds the epoch-0 key: a file sealed under it would be readable to them.
    const tablet = await rekeyElsewhere(t, patient, stream);

    phone.sync.goOnline();
    await eventually(() => phone.files.uploads().length === 0, 'uploaded');
    const [chunk] = chunkRows(t, file.blobId);
    const named = sealedKeyId(new Uint8Array(chunk!.bytes));
    const current = await phone.keyring.writeKey(stream);
    expect(current?.epoch).toBe(serverEpoch(t, stream));
    expect(named.ok && named.value).toBe(keyId(current!.key));
    expect(named.ok && named.value).not.toBe(keyId(deriveInitialStreamKey(patient.root, stream)));
    expect(await tablet.files.get(file, { type: 'document' })).toEqual(bytes);
  });

  it('half uploaded, re-keyed before the next session: finished under the key it was sealed with', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const stream = `${patient.accountId}/document`;
    const dbName = `files-queue-rekey-${Date.now().toString(36)}`;
    const bytes = largeFile(3);

    // Session 1: announced and chunk 0 stored, then the connection drops for chunks 1 and 2; closed.
    const first = blobFetch();
    first.failChunksFrom(1);
    const s1 = await openWithApi(t, patient, { dbName, fetch: first.fetch });
    await waitOnline(s1);
    const file = await s1.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'scan.jpg',
      mediaType: 'image/jpeg',
      chunkSize: MIN_CHUNK_BYTES,
    });
    await eventually(() => s1.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'cut off after chunk 0');
    expect(chunkRows(t, file.blobId).map((c) => c.idx)).toEqual([0]);
    await close(s1);

    // Re-keyed meanwhile on another device of the patient: a grant of the documents ends.
    const tablet = await rekeyElsewhere(t, patient, stream);

    // Session 2 of the same device: writes under the new key, finds the manifest held, sends the rest.
    const second = blobFetch();
    const s2 = await openWithApi(t, patient, { dbName, fetch: second.fetch });
    await eventually(() => s2.files.uploads().length === 0, 'uploaded by the next session');
    expect((await s2.keyring.writeKey(stream))?.epoch).toBe(serverEpoch(t, stream));
    expect(second.log).toEqual([
      `GET /v1/blobs/${file.blobId}`,
      'POST /v1/blobs',
      ...[1, 2].map((i) => `PUT /v1/blobs/${file.blobId}/chunks/${i}`),
    ]);
    // Every chunk sealed under the epoch-0 key (derived from the root; the stream writes under a later one).
    const epoch0 = keyId(deriveInitialStreamKey(patient.root, stream));
    const named = chunkRows(t, file.blobId).map((c) => sealedKeyId(new Uint8Array(c.bytes)));
    expect(named.map((n) => n.ok && n.value)).toEqual([epoch0, epoch0, epoch0]);
    expect(blobCount(t)).toBe(1);
    expect(await tablet.files.get(file, { type: 'document' })).toEqual(bytes);
  });
});

describe("a closed session's announce arriving late, after the next session sealed the file anew", () => {
  it('the server refuses the late one (STALE_EPOCH): the next session finishes its own sealing, one blob', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const stream = `${patient.accountId}/document`;
    const dbName = `files-queue-late-${Date.now().toString(36)}`;
    const bytes = largeFile(2);

    // Announces of both sessions: the first waits, sent by the device, until released; the second waits
    // until the first was answered, so the late one reaches the server first.
    const answers: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atFirst = new Promise<void>((r) => (reached = r));
    let first: ReturnType<FetchLike> | null = null;
    const log: string[] = [];
    const lateFetch: FetchLike = async (url, init) => {
      const path = new URL(url).pathname;
      if (path.startsWith('/v1/blobs')) log.push(`${init.method} ${path}`);
      if (init.method !== 'POST' || path !== '/v1/blobs') return fetch(url, init);
      const body = typeof init.body === 'string' ? (JSON.parse(init.body) as { epoch: number }) : null;
      const send = async () => {
        const answer = await fetch(url, init);
        const code = answer.ok ? 'stored' : ((await answer.clone().json()) as { code?: string }).code;
        answers.push(`epoch ${body?.epoch}: ${answer.status} ${code}`);
        return answer;
      };
      if (first === null) {
        first = (async () => {
          reached();
          await released;
          return send();
        })();
        return first;
      }
      await first.catch(() => undefined);
      return send();
    };

    // Session 1 seals the file under epoch 0 and announces it; closed while the announce is in flight.
    const s1 = await openWithApi(t, patient, { dbName, fetch: lateFetch });
    await waitOnline(s1);
    const file = await s1.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'scan.jpg',
      mediaType: 'image/jpeg',
      chunkSize: MIN_CHUNK_BYTES,
    });
    await atFirst;
    await close(s1);

    // Re-keyed elsewhere; session 2 finds no manifest under the id and seals the file anew under epoch 1.
    const tablet = await rekeyElsewhere(t, patient, stream);
    const s2 = await openWithApi(t, patient, { dbName, fetch: lateFetch });
    await eventually(() => log.includes(`GET /v1/blobs/${file.blobId}`), 'session 2 asks for the manifest');
    release();
    await eventually(
      () => s2.files.uploads().length === 0 || s2.files.uploads()[0]?.state === 'failed',
      'session 2 is done',
    );

    expect(s2.files.uploads()).toEqual([]);
    expect(answers).toEqual(['epoch 0: 409 STALE_EPOCH', `epoch ${serverEpoch(t, stream)}: 200 stored`]);
    const current = await s2.keyring.writeKey(stream);
    const named = chunkRows(t, file.blobId).map((c) => sealedKeyId(new Uint8Array(c.bytes)));
    expect(named.map((n) => n.ok && n.value)).toEqual([keyId(current!.key), keyId(current!.key)]);
    expect(blobCount(t)).toBe(1);
    expect(await tablet.files.get(file, { type: 'document' })).toEqual(bytes);
  });
});
