// Attaching a file to a record and removing it, quoted verbatim in docs/client-api.md ("Files");
// test/files/files.e2e.test.ts fails if the two drift apart, and runs it against a real server.

// #region files
import type { FileRef, HaleSession } from '@hale/client';

export async function attachScan(session: HaleSession, scan: Uint8Array) {
  // 1. Seal and upload the file into the patient's document stream: the server stores ciphertext only.
  const file = await session.files.put({
    type: 'document',
    bytes: scan,
    fileName: 'discharge-summary.pdf',
    mediaType: 'application/pdf',
  });

  // 2. Keep its FileRef in a record, which syncs (encrypted) like any other.
  const doc = await session.records.add('HealthDocument', {
    file,
    documentType: 'discharge-summary',
    title: 'Discharge summary',
    uploadedAt: new Date().toISOString(),
    version: 1,
    versions: [],
  });

  // 3. Any device that may read the stream gets the bytes back, each chunk and the whole file checked.
  const bytes = await session.files.get(doc.file, { type: 'document' });
  return { doc, bytes };
}

export async function removeScan(session: HaleSession, doc: { id: string; file: FileRef }) {
  // 4. Delete the file naming the record's stream, as get does: a FileRef pointing into another stream
  //    (anyone who may write the record can make one) is refused and nothing is deleted. Then the record.
  await session.files.delete(doc.file, { type: 'document' });
  await session.records.remove(doc.id);
}
// #endregion files
