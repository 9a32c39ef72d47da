// How files.get finds the key a sealed chunk names (its key id) among a stream's epochs: among the keys the
// keyring holds (keyring.ts `heldKeyWithId`, which fetches nothing), and, not found there, once more after
// one fetch of the stream's envelopes. So a stream of many epochs costs at most one fetch per get of a chunk
// sealed under a key this device does not hold, never one per epoch; and a key that reaches the keyring
// after a get missed it (fetched by the next get, or by the engine meanwhile) is still found.
import { describe, expect, it } from 'vitest';
import { base64urlEncode, generateDeviceKeys, generateStreamKey, sealBytes, sha256 } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { FileRef } from '@hale/model';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { createFiles, isFileError } from './files';
import { memoryBlobServer, type MemoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, heldAmong } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'L'.repeat(22);
const EPOCHS = 24;

/**
 * A keyring holding `keys[e]` for epoch e (null: this device lacks it), writing with the last, counting
 * envelope fetches. A fetch takes the keys in `served` (what the server serves from now on).
 */
const countingKeyring = (keys: Array<Uint8Array | null>) => {
  const count = { fetches: 0 };
  const served = new Map<number, Uint8Array>();
  return {
    keys,
    count,
    served,
    writeKey: async () => {
      const key = keys.at(-1);
      return key ? { epoch: keys.length - 1, key } : null;
    },
    heldKeyWithId: heldAmong(keys),
    refresh: async () => {
      count.fetches++;
      const n = served.size;
      for (const [epoch, key] of served) keys[epoch] = key;
      served.clear();
      return n;
    },
  };
};

const filesOn = (server: MemoryBlobServer, keyring: ReturnType<typeof countingKeyring>) =>
  createFiles({
    accountId: ACCOUNT,
    api: server.api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
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

const put = (files: ReturnType<typeof filesOn>, fileName: string) =>
  files.put({
    type: 'document',
    bytes: BYTES,
    fileName,
    mediaType: 'application/pdf',
    chunkSize: MIN_CHUNK_BYTES,
  });

/** The keyring's counts during `run`. */
const counted = async (keyring: ReturnType<typeof countingKeyring>, run: () => Promise<unknown>) => {
  const before = { ...keyring.count };
  const outcome = await run().then(
    (v) => (v instanceof Uint8Array ? `${v.length} bytes` : typeof v),
    (e: unknown) => (isFileError(e) ? e.code : String(e)),
  );
  return { outcome, fetches: keyring.count.fetches - before.fetches };
};

describe('files.get finding the key of a sealed chunk', () => {
  it('a key held under an older epoch is found without a fetch', async () => {
    const server = memoryBlobServer();
    const keyring = countingKeyring(Array.from({ length: EPOCHS }, () => generateStreamKey()));
    const files = filesOn(server, keyring);
    const ref = await put(files, 'a.pdf');
    resealUnder(server, ref, keyring.keys[2]!, 2);
    const read = await counted(keyring, () => files.get(ref, { type: 'document' }));
    expect(read).toEqual({ outcome: `${BYTES.length} bytes`, fetches: 0 });
  });

  it('a key id this device does not hold: one fetch per get, however many epochs', async () => {
    const server = memoryBlobServer();
    const keyring = countingKeyring(Array.from({ length: EPOCHS }, () => generateStreamKey()));
    const files = filesOn(server, keyring);
    const ref = await put(files, 'a.pdf');
    resealUnder(server, ref, generateStreamKey(), EPOCHS - 1);
    expect(await counted(keyring, () => files.get(ref, { type: 'document' }))).toEqual({
      outcome: 'NO_KEY',
      fetches: 1,
    });
    expect(await counted(keyring, () => files.get(ref, { type: 'document' }))).toEqual({
      outcome: 'NO_KEY',
      fetches: 1,
    });
  });

  it('a key this device lacked when a get looked is found by a later get, fetched or taken meanwhile', async () => {
    const server = memoryBlobServer();
    const keys = Array.from({ length: EPOCHS }, () => generateStreamKey());
    const given = keys[5]!;
    const other = keys[3]!;
    const keyring = countingKeyring(keys.map((k, e) => (e === 5 || e === 3 ? null : k)));
    const files = filesOn(server, keyring);
    const ref = await put(files, 'a.pdf');
    const second = await put(files, 'b.pdf');
    resealUnder(server, ref, given, 5);
    resealUnder(server, second, other, 3);

    expect(await counted(keyring, () => files.get(ref, { type: 'document' }))).toEqual({
      outcome: 'NO_KEY',
      fetches: 1,
    });
    // The server serves epoch 5's key now: the next get's fetch takes it.
    keyring.served.set(5, given);
    expect(await counted(keyring, () => files.get(ref, { type: 'document' }))).toEqual({
      outcome: `${BYTES.length} bytes`,
      fetches: 1,
    });
    // Epoch 3's key reaches the keyring by another way (the engine's fetch): found without a fetch.
    keyring.keys[3] = other;
    expect(await counted(keyring, () => files.get(second, { type: 'document' }))).toEqual({
      outcome: `${BYTES.length} bytes`,
      fetches: 0,
    });
  });
});
