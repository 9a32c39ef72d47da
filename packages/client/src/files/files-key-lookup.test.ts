// How files.get finds the key a sealed chunk names (its key id) among a stream's epochs. The keyring has no
// lookup by key id, and a lookup of an epoch's key it lacks fetches the stream's envelopes from the server
// (keyring.ts `keyFor`). A key id seen before is found with one lookup; one never seen walks only the
// epochs whose key id is not known yet, so a stream of many epochs is not walked again at every get of a
// chunk sealed under a key this device does not hold; and the envelopes are fetched once per get, not
// again after a lookup that fetched them. A key that reaches the keyring after a get missed it (fetched
// by that get's successor, or by the engine meanwhile) is still found.
import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  sealBytes,
  sha256,
  tweetnaclEd25519,
} from '@hale/crypto';
import type { FileRef } from '@hale/model';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { createFiles, isFileError } from './files';
import { memoryBlobServer, type MemoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes } from './queued-device.test-util';

const ACCOUNT = 'L'.repeat(22);
const EPOCHS = 24;

/**
 * A keyring holding `keys[e]` for epoch e (null: this device lacks it), writing with the last, counting
 * key lookups and envelope fetches. As the real one, a lookup of a key it lacks fetches the stream's
 * envelopes first; a fetch takes the keys in `served` (what the server serves from now on).
 */
const countingKeyring = (keys: Array<Uint8Array | null>) => {
  const count = { lookups: 0, fetches: 0 };
  const served = new Map<number, Uint8Array>();
  const fetch = (): number => {
    count.fetches++;
    const n = served.size;
    for (const [epoch, key] of served) keys[epoch] = key;
    served.clear();
    return n;
  };
  return {
    keys,
    count,
    served,
    writeKey: async () => {
      const key = keys.at(-1);
      return key ? { epoch: keys.length - 1, key } : null;
    },
    keyFor: async (_stream: string, epoch: number) => {
      count.lookups++;
      if (keys[epoch]) return keys[epoch];
      fetch();
      return keys[epoch] ?? null;
    },
    currentEpoch: () => keys.length - 1,
    refresh: async () => fetch(),
  };
};

const filesOn = (server: MemoryBlobServer, keyring: ReturnType<typeof countingKeyring>) =>
  createFiles({
    accountId: ACCOUNT,
    api: server.api,
    device: generateDeviceKeys(),
    ed: tweetnaclEd25519,
    keyring,
    usable: () => true,
    assertUnlocked: () => undefined,
  });

const BYTES = fileBytes(MIN_CHUNK_BYTES * 2 + 5);

/** Seals every chunk of `ref` (of BYTES) anew under `key` at `epoch` and serves them. */
const resealUnder = (server: MemoryBlobServer, ref: FileRef, key: Uint8Array, epoch: number): void => {
  const digests: string[] = [];
  for (let i = 0; i * MIN_CHUNK_BYTES < BYTES.length; i++) {
    const part = BYTES.subarray(i * MIN_CHUNK_BYTES, Math.min(BYTES.length, (i + 1) * MIN_CHUNK_BYTES));
    const sealed = sealBytes(key, { blobId: ref.blobId, chunkIndex: i, epoch }, part);
    server.chunks.set(`${ref.blobId}/${i}`, sealed);
    digests.push(base64urlEncode(sha256(sealed)));
  }
  const m = server.manifests.get(ref.blobId)!;
  server.manifests.set(ref.blobId, { ...m, digests });
};

/** The keyring's counts during `run`. */
const counted = async (keyring: ReturnType<typeof countingKeyring>, run: () => Promise<unknown>) => {
  const before = { ...keyring.count };
  const outcome = await run().then(
    (v) => (v instanceof Uint8Array ? `${v.length} bytes` : typeof v),
    (e: unknown) => (isFileError(e) ? e.code : String(e)),
  );
  return {
    outcome,
    lookups: keyring.count.lookups - before.lookups,
    fetches: keyring.count.fetches - before.fetches,
  };
};

describe('files.get finding the key of a sealed chunk', () => {
  it('a key id seen before is found with one lookup, not by walking the epochs above it again', async () => {
    const server = memoryBlobServer();
    const keyring = countingKeyring(Array.from({ length: EPOCHS }, () => generateStreamKey()));
    const files = filesOn(server, keyring);
    const ref = await files.put({
      type: 'document',
      bytes: BYTES,
      fileName: 'a.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    resealUnder(server, ref, keyring.keys[2]!, 2);

    // The first get walks from the current epoch down to 2.
    const first = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(first).toEqual({ outcome: `${BYTES.length} bytes`, lookups: EPOCHS - 2, fetches: 0 });
    const again = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(again).toEqual({ outcome: `${BYTES.length} bytes`, lookups: 1, fetches: 0 });
  });

  it('a key id this device does not hold: the epochs are walked once; a later get fetches once, looks up none', async () => {
    const server = memoryBlobServer();
    const keyring = countingKeyring(Array.from({ length: EPOCHS }, () => generateStreamKey()));
    const files = filesOn(server, keyring);
    const ref = await files.put({
      type: 'document',
      bytes: BYTES,
      fileName: 'a.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    resealUnder(server, ref, generateStreamKey(), EPOCHS - 1);

    const first = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(first).toEqual({ outcome: 'NO_KEY', lookups: EPOCHS, fetches: 1 });
    const again = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(again).toEqual({ outcome: 'NO_KEY', lookups: 0, fetches: 1 });
  });

  it('a key this device lacked when a get looked is found by a later get, fetched or taken meanwhile', async () => {
    const server = memoryBlobServer();
    const keys = Array.from({ length: EPOCHS }, () => generateStreamKey());
    const given = keys[5]!;
    const other = keys[3]!;
    const keyring = countingKeyring(keys.map((k, e) => (e === 5 || e === 3 ? null : k)));
    const files = filesOn(server, keyring);
    const ref = await files.put({
      type: 'document',
      bytes: BYTES,
      fileName: 'a.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    const second = await files.put({
      type: 'document',
      bytes: BYTES,
      fileName: 'b.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    resealUnder(server, ref, given, 5);
    resealUnder(server, second, other, 3);

    // Not held: the lookups of epochs 5 and 3 each fetched the envelopes; not fetched a third time.
    const first = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(first).toEqual({ outcome: 'NO_KEY', lookups: EPOCHS, fetches: 2 });
    // The server serves epoch 5's key now: the next get's fetch takes it.
    keyring.served.set(5, given);
    expect((await counted(keyring, () => files.get(ref, { type: 'document' }))).outcome).toBe(
      `${BYTES.length} bytes`,
    );
    // Epoch 3's key reaches the keyring by another way (the engine's fetch): found all the same.
    keyring.keys[3] = other;
    expect((await counted(keyring, () => files.get(second, { type: 'document' }))).outcome).toBe(
      `${BYTES.length} bytes`,
    );
  });
});
