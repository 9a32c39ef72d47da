// A blob announce without `epoch`, as a device built before BLOB_EPOCH_VERSION sends it (requests are closed
// objects, so such a device cannot name one), after a re-keying that device did not know of: the server
// stores it unchecked (blobs.ts header), so the file stays sealed under the replaced key. What a reader does
// with it: the patient's other device opens it as any file (a reader takes any epoch of the stream it holds
// a key of, as for a record pushed before a re-keying), and the provider whose ended grant caused the
// re-keying, which holds the replaced key, is refused the bytes by the server (its consent ended). So the
// check an epoch-less announce skips protects only honest devices from their own stale view of the stream;
// a device naming the current epoch while sealing under an old key is stored alike (the server cannot open
// a chunk), which is why the field stays optional rather than refusing every older device's uploads.
// Real server.
import { describe, expect, it } from 'vitest';
import type { DeviceSession, FetchLike } from '@hale/client/advanced';
import { deriveInitialStreamKey, keyId, sealedKeyId, utf8Encode } from '@hale/crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import {
  addDevice,
  getChunk,
  registerAccount,
  sessionToken,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openOnlineWithFetch } from '../support/devices';

const server = useServer({ realClock: true });

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

const chunkKeyIds = (t: TestServer, blobId: string): Array<string | false> =>
  (
    t.store.db.prepare('SELECT bytes FROM blob_chunks WHERE blob_id = ? ORDER BY idx').all(blobId) as Array<{
      bytes: Buffer;
    }>
  ).map((c) => {
    const named = sealedKeyId(new Uint8Array(c.bytes));
    return named.ok && named.value;
  });

const open = (t: TestServer, account: TestAccount, options: Parameters<typeof openOnlineWithFetch>[3] = {}) =>
  openOnlineWithFetch(t, server.sessions, account, options);

/**
 * The real fetch, but every announce (`POST /v1/blobs`) goes without `epoch`, as an older device sends it;
 * the first waits, unsent, until `beforeAnnounce` settled (the file is sealed by then).
 */
const olderAnnounces = (beforeAnnounce: () => Promise<unknown>) => {
  const log: string[] = [];
  let gated = false;
  const fetchLike: FetchLike = async (url, init) => {
    if (`${init.method} ${new URL(url).pathname}` === 'POST /v1/blobs' && typeof init.body === 'string') {
      const { epoch, ...rest } = JSON.parse(init.body) as { epoch?: number };
      log.push(`announce, epoch ${epoch ?? 'none'} dropped`);
      if (!gated) {
        gated = true;
        await beforeAnnounce();
      }
      return fetch(url, { ...init, body: JSON.stringify(rest) });
    }
    return fetch(url, init);
  };
  return { log, fetch: fetchLike };
};

describe('an announce without epoch after a re-keying the device did not know of', () => {
  it('is stored under the replaced key; the patient reads it, the ended grantee is refused the bytes', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const stream = `${patient.accountId}/document`;
    const tablet = await open(t, patient, { device: await addDevice(t, patient) });
    const provider = await registerAccount(t, 'provider');
    await tablet.consent.verifyProvider(provider.accountId);
    const grant = await grantRead(tablet, provider.accountId, 'document', 3_600_000, 'second opinion');
    // The grant wrapped the key of epoch 0 for the provider: its revocation re-keys the stream.
    const rekeyed = async (session: DeviceSession) => {
      const before = serverEpoch(t, stream);
      await session.consent.revoke(grant.grant.grantId);
      await eventually(() => serverEpoch(t, stream) > before, 'the stream is re-keyed');
    };
    const older = olderAnnounces(() => rekeyed(tablet));
    const phone = await open(t, patient, { fetch: older.fetch });
    const epoch0 = keyId(deriveInitialStreamKey(patient.root, stream));
    const bytes = utf8Encode('ferritin 12 ng/mL '.repeat(9000));

    const file = await phone.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'ferritin.txt',
      mediaType: 'text/plain',
      chunkSize: MIN_CHUNK_BYTES,
    });
    await eventually(() => phone.files.uploads().length === 0, 'uploaded', 30_000);

    // Stored as announced, unchecked: sealed under the key the re-keying replaced.
    expect(older.log[0]).toBe('announce, epoch 0 dropped');
    expect(serverEpoch(t, stream)).toBeGreaterThan(0);
    const named = chunkKeyIds(t, file.blobId);
    expect(named).toHaveLength(3);
    expect(new Set(named)).toEqual(new Set([epoch0]));

    // A reader of the patient opens it as any file of the stream.
    expect(await tablet.files.get(file, { type: 'document' })).toEqual(bytes);

    // The ended grantee holds epoch 0's key, but the server hands it nothing of the stream any more.
    const token = await sessionToken(t, provider.device);
    const chunk = await getChunk(t, token, file.blobId, 0);
    expect(chunk.bytes).toBeUndefined();
    expect(chunk.status).toBe(403);
    expect(chunk.body).toMatchObject({ code: 'CONSENT_REVOKED' });
  });
});
