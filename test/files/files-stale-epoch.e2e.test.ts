// A file sealed under a stream key that was replaced before it was announced: another device of the patient
// re-keys the document stream (a grant ended: the ended grantee holds the old key) in the moment between
// this device sealing a file under the key it knows and announcing it. The server refuses the announce
// (STALE_EPOCH, nothing stored) and the device seals the file anew under the current key, by itself: a
// queued upload under the same blob id (records may cite it already), a put under a new one. Either way
// the server ends with the file sealed under the key the stream writes with, readable by the patient's
// other device. Real server; both devices HaleSessions of openHaleForTests, the phone's announce held at its
// platform's fetch; the stream's keys read from the server's envelopes with the account's recovery key.
import { describe, expect, it } from 'vitest';
import type { FetchLike, HaleSession } from '@hale/client';
import {
  decodeRecoveryKey,
  deriveAccountKeys,
  deriveInitialStreamKey,
  keyId,
  sealedKeyId,
  unwrapKey,
  utf8Encode,
} from '@hale/crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { online, useHaleSessions, when } from '../client-api/hale-devices';
import { until } from '../conflicts/parties';
import { openFileDevice } from './file-parties';

const server = useServer({ realClock: true });
const sessions: HaleSession[] = useHaleSessions();

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

const manifestIds = (t: TestServer): string[] =>
  (t.store.db.prepare('SELECT blob_id FROM blob_manifests').all() as Array<{ blob_id: string }>).map(
    (r) => r.blob_id,
  );

/**
 * The platform's fetch; the first announce (`POST /v1/blobs`) waits, unsent, until `beforeAnnounce` settled: the
 * file is sealed by then, under the key the device knew.
 */
const announceGate = (beforeAnnounce: () => Promise<unknown>) => {
  const log: string[] = [];
  let gated = false;
  const fetchLike =
    (real: FetchLike): FetchLike =>
    async (url, init) => {
      const call = `${init.method} ${new URL(url).pathname}`;
      if (call === 'POST /v1/blobs') {
        const body = typeof init.body === 'string' ? (JSON.parse(init.body) as { epoch?: number }) : {};
        log.push(`${call} epoch ${body.epoch ?? 'none'}`);
        if (!gated) {
          gated = true;
          await beforeAnnounce();
        }
      }
      return real(url, init);
    };
  return { log, fetch: fetchLike };
};

/** Another device of the patient grants the documents to a provider and revokes it: the stream is re-keyed. */
const rekeyOn = async (t: TestServer, tablet: HaleSession, stream: string): Promise<void> => {
  const provider = await registerAccount(t, 'provider');
  await tablet.consent.verifyProvider(provider.accountId);
  const grant = await tablet.consent.grant({
    granteeId: provider.accountId,
    scope: [{ type: 'document', access: 'read' }],
    durationMs: 3_600_000,
    purpose: 'second opinion',
  });
  const before = serverEpoch(t, stream);
  await tablet.consent.revoke(grant.grant.grantId);
  await until(() => serverEpoch(t, stream) > before, 'the stream is re-keyed');
};

const setup = async () => {
  const { t } = server;
  const { session: tablet, loginName, recoveryKey } = await openFileDevice(t.url, sessions);
  const patientId = tablet.account.accountId;
  const stream = `${patientId}/document`;
  const gate = announceGate(() => rekeyOn(t, tablet, stream));
  const { session: phone } = await openFileDevice(t.url, sessions, { join: loginName, fetch: gate.fetch });
  await Promise.all([online(tablet), online(phone)]);
  // The account's root, from its recovery key: its first key of the stream and its wrapping key.
  const root = decodeRecoveryKey(recoveryKey!);
  if (!root.ok) throw new Error('cannot read the patient recovery key');
  const epoch0 = keyId(deriveInitialStreamKey(root.value, stream));
  /** The key id of the key the stream writes with now: the patient's envelope of the server's newest epoch. */
  const currentKeyId = () => {
    const epoch = serverEpoch(t, stream);
    const row = t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
      .get(stream, patientId, epoch) as { wrapped: string } | undefined;
    expect(row).toBeDefined();
    const opened = unwrapKey(row!.wrapped, deriveAccountKeys(root.value).wrapping, { stream, epoch });
    if (!opened.ok) throw new Error('cannot open the patient envelope');
    return keyId(opened.value);
  };
  return { t, stream, tablet, phone, gate, epoch0, currentKeyId };
};

describe('a re-keying between sealing a file and announcing it', () => {
  it('a queued file is refused, sealed anew under the current key and the same blob id', async () => {
    const { t, tablet, phone, gate, epoch0, currentKeyId } = await setup();
    const bytes = utf8Encode('ferritin 12 ng/mL '.repeat(9000));

    const file = await phone.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'ferritin.txt',
      mediaType: 'text/plain',
      chunkSize: MIN_CHUNK_BYTES,
    });
    await when(phone.files.uploads, (u) => u.length === 0, 'uploaded', 30_000);

    const current = currentKeyId();
    expect(current).not.toBe(epoch0);
    expect(gate.log[0]).toBe('POST /v1/blobs epoch 0');
    expect(manifestIds(t)).toEqual([file.blobId]);
    const named = chunkKeyIds(t, file.blobId);
    expect(named).toHaveLength(3);
    expect(new Set(named)).toEqual(new Set([current]));
    expect(await tablet.files.get(file, { type: 'document' })).toEqual(bytes);
  });

  it('a put is refused, sealed anew under the current key, and answers a FileRef of that blob', async () => {
    const { t, tablet, phone, gate, epoch0, currentKeyId } = await setup();
    const bytes = utf8Encode('hemoglobin 13.1 g/dL '.repeat(8000));

    const ref = await phone.files.put({
      type: 'document',
      bytes,
      fileName: 'cbc.txt',
      mediaType: 'text/plain',
      chunkSize: MIN_CHUNK_BYTES,
    });

    const current = currentKeyId();
    expect(current).not.toBe(epoch0);
    expect(gate.log[0]).toBe('POST /v1/blobs epoch 0');
    expect(manifestIds(t)).toEqual([ref.blobId]);
    expect(new Set(chunkKeyIds(t, ref.blobId))).toEqual(new Set([current]));
    expect(await tablet.files.get(ref, { type: 'document' })).toEqual(bytes);
  });
});
