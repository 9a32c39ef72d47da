// Encrypted files on the device (`session.files`) against a real server: what one device puts, another
// device of the patient and a provider with read consent get back byte for byte; a server that alters,
// swaps or misdescribes what it stores is caught before a single byte is handed out; an upload cut off
// part way resumes, when asked, with only the chunks the server lacks; delete refuses a blob of another
// stream than the record's; a lock in the middle of an upload or a download stops it there.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHttpApi, isFileError, lock, type FetchLike } from '@hale/client/advanced';
import { haleSessionOf } from '@hale/client/testing';
import { base64urlEncode, chooseEd25519, hexEncode, sha256 } from '@hale/crypto';
import type { FileRef } from '@hale/model';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { addDevice, registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { attachScan, removeScan } from '../../example/attach-file';
import { useServer } from '../support/fixture';
import { grantRead, openDevice, sessionAccount, waitOnline } from '../support/devices';

const server = useServer({ realClock: true });
const root = path.resolve(import.meta.dirname, '../..');

/** The global fetch, each request logged as `METHOD /path`; `before` may throw to drop a request unsent. */
const loggingFetch = (before?: (call: string) => void) => {
  const calls: string[] = [];
  const fetchLike: FetchLike = (url, init) => {
    const call = `${init.method} ${new URL(url).pathname}`;
    before?.(call);
    calls.push(call);
    return fetch(url, init);
  };
  return { calls, fetch: fetchLike };
};

const chunkPuts = (calls: readonly string[]): string[] => calls.filter((c) => /^PUT .*\/chunks\//.test(c));

/** Bytes that differ at every position from a shifted copy, so a swapped or dropped chunk shows. */
const fileBytes = (size: number, seed = 1): Uint8Array => {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
};

const open = async (t: TestServer, account: TestAccount, fetchLike: FetchLike = fetch) => {
  const s = await openDevice(t, account, { api: createHttpApi({ baseUrl: t.url, fetch: fetchLike }) });
  server.sessions.push(s);
  await waitOnline(s);
  return s;
};

/** What a rejected call was refused with: `FileError CODE`, `AccountError CODE`, or what else it threw. */
const refusal = (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    (value) => `resolved with ${value instanceof Uint8Array ? `${value.length} bytes` : typeof value}`,
    (error: unknown) =>
      isFileError(error)
        ? `FileError ${error.code}`
        : error instanceof Error && 'code' in error
          ? `${error.name} ${String(error.code)}`
          : `untyped: ${String(error)}`,
  );

const storedChunk = (t: TestServer, blobId: string, index: number): Buffer =>
  (
    t.store.db.prepare('SELECT bytes FROM blob_chunks WHERE blob_id = ? AND idx = ?').get(blobId, index) as {
      bytes: Buffer;
    }
  ).bytes;

/** Stores `bytes` as chunk `index` of a blob, and (`withDigest`) as its manifest's digest too. */
const replaceChunk = (
  t: TestServer,
  blobId: string,
  index: number,
  bytes: Uint8Array,
  withDigest: boolean,
) => {
  t.store.db
    .prepare('UPDATE blob_chunks SET bytes = ? WHERE blob_id = ? AND idx = ?')
    .run(Buffer.from(bytes), blobId, index);
  if (!withDigest) return;
  const row = t.store.db.prepare('SELECT digests FROM blob_manifests WHERE blob_id = ?').get(blobId) as {
    digests: string;
  };
  const digests = JSON.parse(row.digests) as string[];
  digests[index] = base64urlEncode(sha256(bytes));
  t.store.db
    .prepare('UPDATE blob_manifests SET digests = ? WHERE blob_id = ?')
    .run(JSON.stringify(digests), blobId);
};

const manifestRow = (t: TestServer, blobId: string) =>
  t.store.db.prepare('SELECT stream, size, chunk_count FROM blob_manifests WHERE blob_id = ?').get(blobId) as
    { stream: string; size: number; chunk_count: number } | undefined;

const blobCount = (t: TestServer): number =>
  (t.store.db.prepare('SELECT COUNT(*) AS n FROM blob_manifests').get() as { n: number }).n;

/** A patient device that has put a small file of `chunks` 64 KiB chunks into its document stream. */
const patientWithFile = async (t: TestServer, chunks = 2, seed = 7) => {
  const patient = await registerAccount(t);
  const p = await open(t, patient);
  const bytes = fileBytes(MIN_CHUNK_BYTES * (chunks - 1) + 1000, seed);
  const ref = await p.files.put({
    type: 'document',
    bytes,
    fileName: 'scan.pdf',
    mediaType: 'application/pdf',
    chunkSize: MIN_CHUNK_BYTES,
  });
  return { patient, p, bytes, ref };
};

describe('session.files: encrypted document attachments', () => {
  it("a 2.5 MiB file put on one of the patient's devices is got back identical on another", async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const a = await open(t, patient);
    const second = await addDevice(t, patient);
    const log = loggingFetch();
    const b = await openDevice(t, patient, {
      device: second,
      api: createHttpApi({ baseUrl: t.url, fetch: log.fetch }),
    });
    server.sessions.push(b);
    await waitOnline(b);
    const bytes = fileBytes(2.5 * 1024 * 1024);

    const ref = await a.files.put({
      type: 'document',
      bytes,
      fileName: 'MRI report.pdf',
      mediaType: 'application/pdf',
    });

    expect(ref).toMatchObject({
      fileName: 'MRI report.pdf',
      mediaType: 'application/pdf',
      size: bytes.length,
    });
    expect(ref.sha256).toBe(hexEncode(sha256(bytes)));
    expect(manifestRow(t, ref.blobId)).toEqual({
      stream: `${patient.accountId}/document`,
      size: bytes.length,
      chunk_count: 3,
    });
    // Ciphertext only: no run of the file's bytes is stored as it is.
    const stored = storedChunk(t, ref.blobId, 0);
    expect(stored.includes(Buffer.from(bytes.subarray(1000, 1064)))).toBe(false);

    const got = await b.files.get(ref, { type: 'document' });
    expect(got.length).toBe(bytes.length);
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    expect(chunkPuts(log.calls)).toEqual([]);
    expect(log.calls.filter((c) => c.startsWith('GET /v1/blobs/'))).toHaveLength(4);
  });

  it('a provider with read consent to documents gets the file; one with consent to allergies only is refused', async () => {
    const { t } = server;
    const { patient, p, bytes, ref } = await patientWithFile(t, 2);
    const reader = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const r = await open(t, reader);
    const o = await open(t, other);
    await p.consent.verifyProvider(reader.accountId);
    await p.consent.verifyProvider(other.accountId);
    await grantRead(p, reader.accountId, 'document', 3_600_000, 'second opinion');
    await grantRead(p, other.accountId, 'allergy', 3_600_000, 'pre-operative assessment');

    const got = await r.files.get(ref, { patientId: patient.accountId, type: 'document' });
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);

    const refused = await o.files
      .get(ref, { patientId: patient.accountId, type: 'document' })
      .catch((e: unknown) => e);
    expect(isFileError(refused) && { code: refused.code, serverCode: refused.serverCode }).toEqual({
      code: 'FORBIDDEN',
      serverCode: 'NO_CONSENT',
    });
    // Read consent is not write consent: the reader cannot add a file to the patient's documents.
    const put = r.files.put({
      patientId: patient.accountId,
      type: 'document',
      bytes: fileBytes(100),
      fileName: 'note.txt',
      mediaType: 'text/plain',
    });
    expect(await refusal(put)).toBe('FileError FORBIDDEN');
    expect(blobCount(t)).toBe(1);
  });

  it('a chunk altered in the server store is detected and no bytes are handed out', async () => {
    const { t } = server;
    const { patient, ref } = await patientWithFile(t, 3);
    const reader = await open(t, patient);
    const original = storedChunk(t, ref.blobId, 1);
    const altered = Buffer.from(original);
    altered.writeUInt8(altered.readUInt8(altered.length - 5) ^ 0x01, altered.length - 5);

    // Altered alone: the chunk no longer has the digest of the manifest.
    replaceChunk(t, ref.blobId, 1, altered, false);
    expect(await refusal(reader.files.get(ref, { type: 'document' }))).toBe('FileError TAMPERED');
    // Altered with the manifest's digest to match: the seal's authentication fails.
    replaceChunk(t, ref.blobId, 1, altered, true);
    expect(await refusal(reader.files.get(ref, { type: 'document' }))).toBe('FileError TAMPERED');
    // Put back as it was, the same file reads again: the refusals were the alteration's.
    replaceChunk(t, ref.blobId, 1, original, true);
    expect((await reader.files.get(ref, { type: 'document' })).length).toBe(ref.size);
  });

  it('a chunk of another blob served in place of one is detected (context mismatch)', async () => {
    const { t } = server;
    const { p, ref } = await patientWithFile(t, 2);
    const other = await p.files.put({
      type: 'document',
      bytes: fileBytes(MIN_CHUNK_BYTES + 1000, 99),
      fileName: 'other.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    // Same stream, same key, same size and index: the manifest's digest tells them apart, and with the
    // digest changed to match, the blob id sealed inside.
    replaceChunk(t, ref.blobId, 0, storedChunk(t, other.blobId, 0), false);
    expect(await refusal(p.files.get(ref, { type: 'document' }))).toBe('FileError TAMPERED');
    replaceChunk(t, ref.blobId, 0, storedChunk(t, other.blobId, 0), true);
    expect(await refusal(p.files.get(ref, { type: 'document' }))).toBe('FileError CONTEXT_MISMATCH');
  });

  it('a FileRef whose sha256 or size differs from the stored file is refused', async () => {
    const { t } = server;
    const { p, ref } = await patientWithFile(t, 2);
    const wrongHash: FileRef = { ...ref, sha256: hexEncode(sha256(fileBytes(10))) };
    const smaller: FileRef = { ...ref, size: ref.size - 1 };
    expect(await refusal(p.files.get(wrongHash, { type: 'document' }))).toBe('FileError HASH_MISMATCH');
    expect(await refusal(p.files.get(smaller, { type: 'document' }))).toBe('FileError SIZE_MISMATCH');
    expect(await refusal(p.files.get(ref, { type: 'document' }))).toBe(
      'resolved with ' + `${ref.size} bytes`,
    );
  });

  it('an upload cut off after its first chunk resumes, sending only the chunks the server lacks', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    let dropSecondPut = true;
    let puts = 0;
    const log = loggingFetch((call) => {
      if (!/^PUT .*\/chunks\//.test(call)) return;
      puts++;
      if (dropSecondPut && puts === 2) throw new TypeError('fetch failed: connection reset');
    });
    const a = await open(t, patient, log.fetch);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 3 + 10);
    const input = {
      type: 'document' as const,
      bytes,
      fileName: 'discharge letter.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    };

    const cut = await a.files.put(input).catch((e: unknown) => e);
    expect(isFileError(cut) && { code: cut.code, retry: cut.retry }).toEqual({
      code: 'OFFLINE',
      retry: true,
    });
    const first = chunkPuts(log.calls);
    expect(first.map((c) => c.replace(/.*\/chunks\//, ''))).toEqual(['0']);
    expect(isFileError(cut) && cut.blobId).toBe(first[0]!.split('/')[3]);

    dropSecondPut = false;
    log.calls.length = 0;
    const resumeBlobId = isFileError(cut) ? cut.blobId : undefined;
    const ref = await a.files.put({ ...input, ...(resumeBlobId === undefined ? {} : { resumeBlobId }) });
    expect(ref.blobId).toBe(resumeBlobId);
    expect(chunkPuts(log.calls).map((c) => c.replace(/.*\/chunks\//, ''))).toEqual(['1', '2', '3']);
    expect(blobCount(t)).toBe(1);

    const b = await open(t, patient);
    expect(Buffer.from(await b.files.get(ref, { type: 'document' })).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a deleted file is DELETED (not NOT_FOUND: not uploaded yet); deleting it again is done', async () => {
    const { t } = server;
    const { p, ref } = await patientWithFile(t, 2);
    await p.files.delete(ref, { type: 'document' });
    expect(manifestRow(t, ref.blobId)).toBeUndefined();
    expect(await refusal(p.files.get(ref, { type: 'document' }))).toBe('FileError DELETED');
    await expect(p.files.delete(ref, { type: 'document' })).resolves.toBeUndefined();
  });

  it("a document's FileRef deleted as a message attachment is refused and the document's file stays", async () => {
    const { t } = server;
    // A grantee with write consent to messages can put this FileRef in a message; the patient's app then
    // deletes the message's attachments naming the message stream.
    const { patient, p, bytes, ref } = await patientWithFile(t, 2);
    expect(await refusal(p.files.delete(ref, { type: 'message' }))).toBe('FileError CONTEXT_MISMATCH');
    expect(manifestRow(t, ref.blobId)?.stream).toBe(`${patient.accountId}/document`);
    expect(Buffer.from(await p.files.get(ref, { type: 'document' })).equals(Buffer.from(bytes))).toBe(true);
  });

  it('put while the account is locked is refused LOCKED and nothing is uploaded', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const log = loggingFetch();
    const account = { ...sessionAccount(patient), deviceName: 'laptop' };
    const a = await openDevice(t, patient, {
      sessionAccount: account,
      api: createHttpApi({ baseUrl: t.url, fetch: log.fetch }),
    });
    server.sessions.push(a);
    await waitOnline(a);

    lock(account);
    const put = a.files.put({
      type: 'document',
      bytes: fileBytes(1000),
      fileName: 'x.pdf',
      mediaType: 'application/pdf',
    });
    expect(await refusal(put)).toBe('AccountError LOCKED');
    expect(log.calls).toEqual([]);
    expect(blobCount(t)).toBe(0);
  });

  it('a lock in the middle of an upload or a download stops it there: nothing more is sent', async () => {
    const { t } = server;
    const blobCalls = (calls: readonly string[]) => calls.filter((c) => c.includes('/v1/blobs'));
    const openLockable = async (lockAt: RegExp) => {
      const patient = await registerAccount(t);
      const account = { ...sessionAccount(patient), deviceName: 'laptop' };
      let armed = false;
      const log = loggingFetch((call) => {
        if (armed && lockAt.test(call)) {
          armed = false;
          lock(account);
        }
      });
      const s = await openDevice(t, patient, {
        sessionAccount: account,
        api: createHttpApi({ baseUrl: t.url, fetch: log.fetch }),
      });
      server.sessions.push(s);
      await waitOnline(s);
      return { s, log, arm: () => (armed = true) };
    };
    const input = {
      type: 'document' as const,
      bytes: fileBytes(MIN_CHUNK_BYTES * 3 + 10),
      fileName: 'x.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    };

    // Locked as chunk 1 goes out: chunks 2 and 3 are never sent.
    const up = await openLockable(/^PUT .*\/chunks\/1$/);
    up.arm();
    expect(await refusal(up.s.files.put(input))).toBe('AccountError LOCKED');
    expect(blobCalls(up.log.calls).at(-1)).toMatch(/^PUT .*\/chunks\/1$/);
    expect(chunkPuts(up.log.calls)).toHaveLength(2);

    // Locked as chunk 1 is fetched: chunk 2 is never asked for, and no bytes come back.
    const down = await openLockable(/^GET .*\/chunks\/1$/);
    const ref = await down.s.files.put(input);
    down.log.calls.length = 0;
    down.arm();
    expect(await refusal(down.s.files.get(ref, { type: 'document' }))).toBe('AccountError LOCKED');
    expect(blobCalls(down.log.calls).map((c) => c.replace(/.*\/blobs\/[^/]+/, ''))).toEqual([
      '',
      '/chunks/0',
      '/chunks/1',
    ]);
  });

  it('docs/client-api.md "Files" is example/attach-file.ts verbatim, and it runs', async () => {
    const file = readFileSync(path.join(root, 'example/attach-file.ts'), 'utf8');
    const region = /\/\/ #region files\n([\s\S]*?)\/\/ #endregion files/.exec(file)?.[1];
    const doc = readFileSync(path.join(root, 'docs/client-api.md'), 'utf8');
    const block = /\n### Files\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(region).toBeDefined();
    expect(block).toBe(region);

    const { t } = server;
    const patient = await registerAccount(t);
    const device = await open(t, patient);
    // What the app's code is handed: the declared session.
    const a = haleSessionOf(device, {
      api: createHttpApi({ baseUrl: t.url, fetch }),
      ed: await chooseEd25519(),
    });
    const scan = fileBytes(200_000, 3);
    const { doc: record, bytes } = await attachScan(a, scan);
    expect(Buffer.from(bytes).equals(Buffer.from(scan))).toBe(true);
    expect(manifestRow(t, record.file.blobId)?.stream).toBe(`${patient.accountId}/document`);

    await removeScan(a, record);
    expect(manifestRow(t, record.file.blobId)).toBeUndefined();
    expect(await a.records.get(record.id)).toBeNull();
  });
});
