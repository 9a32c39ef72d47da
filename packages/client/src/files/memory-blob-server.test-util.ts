// A blob server in memory implementing FilesHttpApi, for the files tests (files.test, files-queue.test,
// files-stale-epoch.test). It answers as sync-server's blob routes do where the tests can tell: an
// announce of a stored blob id resumes it (answering the chunks held) if its digests are the same and is
// refused ALREADY_EXISTS if not; a deleted blob is BLOB_DELETED on every route, a never-stored one
// NOT_FOUND; a manifest is answered without the epoch it was announced under and only with the chunks it
// counts. A server given the stream's key epoch (`epoch`) refuses a new manifest naming another one
// STALE_EPOCH, storing nothing. A test can refuse the next call of a route once (`refuseNext`) and hold one before or after
// its effect (`hold`); every call is logged in `calls`, every announce received in `announced`.
import { base64urlEncode, randomBytes } from '@hale/crypto';
import type { HttpBlobCreateRequest, HttpBlobManifestResponse } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import type { FilesHttpApi } from './files';

/** A blob route as refusals and holds name it: a chunk route with its chunk index. */
export type BlobCall = 'createBlob' | 'getBlob' | 'deleteBlob' | `putChunk ${number}` | `getChunk ${number}`;

export interface MemoryBlobServerOptions {
  /**
   * The stream's current key epoch, as the real server knows it from the key envelopes; change it later
   * through `epoch.current`. Without it no epoch is checked, and `calls` logs a bare `createBlob`.
   */
  readonly epoch?: number;
}

export const memoryBlobServer = (options: MemoryBlobServerOptions = {}) => {
  const knowsEpoch = options.epoch !== undefined;
  const epoch: { current: number | undefined } = { current: options.epoch };
  const manifests = new Map<string, HttpBlobCreateRequest>();
  const chunks = new Map<string, Uint8Array>();
  const deleted = new Set<string>();
  /**
   * Every call in order: `createBlob` (`createBlob 1`, naming the announce's epoch, on a
   * server given `epoch`), `putChunk 0`, `getBlob`, `getChunk 0`, `deleteBlob <blobId>`.
   */
  const calls: string[] = [];
  /** Every announce received, as sent. */
  const announced: HttpBlobCreateRequest[] = [];
  const refusals = new Map<BlobCall, HaleClientError>();
  const holds = new Map<BlobCall, { at: 'before' | 'after'; reached: () => void; released: Promise<void> }>();

  /** The next `call` throws `error` instead of answering (once); a dropped connection unless given. */
  const refuseNext = (
    call: BlobCall,
    error = new HaleClientError({ code: 'NETWORK', message: `${call}: connection reset`, status: 0 }),
  ): void => void refusals.set(call, error);

  /**
   * The next `call` waits, before its effect or after it (its answer in flight), until `release()`;
   * `reached` settles when it waits.
   */
  const hold = (call: BlobCall, at: 'before' | 'after') => {
    let reached!: () => void;
    let release!: () => void;
    const atHold = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    holds.set(call, { at, reached, released });
    return { reached: atHold, release };
  };

  const heldAt = (call: BlobCall, at: 'before' | 'after'): Promise<void> | null => {
    const h = holds.get(call);
    if (h?.at !== at) return null;
    holds.delete(call);
    h.reached();
    return h.released;
  };

  /** Logs `call`, refuses it if asked to, and runs `effect` between its holds. */
  const route = async <T>(call: BlobCall, logged: string, effect: () => T): Promise<T> => {
    calls.push(logged);
    const refusal = refusals.get(call);
    if (refusal) {
      refusals.delete(call);
      throw refusal;
    }
    const before = heldAt(call, 'before');
    if (before) await before;
    const answer = effect();
    const after = heldAt(call, 'after');
    if (after) await after;
    return answer;
  };

  const have = (blobId: string): number[] =>
    [...chunks.keys()]
      .filter((k) => k.startsWith(`${blobId}/`))
      .map((k) => Number(k.split('/')[1]))
      .sort((a, b) => a - b);

  const manifest = (blobId: string): HttpBlobCreateRequest => {
    const m = manifests.get(blobId);
    if (m) return m;
    if (deleted.has(blobId)) {
      throw new HaleClientError({ code: 'BLOB_DELETED', message: 'deleted', status: 410 });
    }
    throw new HaleClientError({ code: 'NOT_FOUND', message: 'never stored', status: 404 });
  };

  const api: FilesHttpApi = {
    challenge: async () => ({
      challengeId: base64urlEncode(randomBytes(16)),
      nonce: base64urlEncode(randomBytes(32)),
      serverId: 'srv_test',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    }),
    session: async () => ({
      token: 'tok_0123456789abcdef',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
    createBlob: (body) =>
      route('createBlob', knowsEpoch ? `createBlob ${body.epoch}` : 'createBlob', () => {
        announced.push(structuredClone(body));
        if (deleted.has(body.blobId)) {
          throw new HaleClientError({ code: 'BLOB_DELETED', message: 'deleted', status: 410 });
        }
        const stored = manifests.get(body.blobId);
        if (stored && JSON.stringify(stored.digests) !== JSON.stringify(body.digests)) {
          throw new HaleClientError({ code: 'ALREADY_EXISTS', message: 'other manifest', status: 409 });
        }
        // A stored manifest resumes; a new one only under the current epoch (sync-server blobs.ts).
        if (!stored) {
          if (epoch.current !== undefined && body.epoch !== epoch.current) {
            throw new HaleClientError({
              code: 'STALE_EPOCH',
              message: 'stale',
              status: 409,
              details: { epoch: epoch.current },
            });
          }
          manifests.set(body.blobId, body);
        }
        return { blobId: body.blobId, have: have(body.blobId) };
      }),
    putChunk: (blobId, index, bytes) =>
      route(`putChunk ${index}`, `putChunk ${index}`, () => {
        manifest(blobId);
        chunks.set(`${blobId}/${index}`, bytes.slice());
        return { have: have(blobId) };
      }),
    getBlob: (blobId) =>
      route('getBlob', 'getBlob', (): HttpBlobManifestResponse => {
        const { epoch: _sealedUnder, ...m } = manifest(blobId);
        const held = have(blobId).filter((i) => i < m.chunkCount);
        return { ...m, have: held, complete: held.length === m.chunkCount };
      }),
    getChunk: (blobId, index) =>
      route(`getChunk ${index}`, `getChunk ${index}`, () => {
        manifest(blobId);
        const bytes = chunks.get(`${blobId}/${index}`);
        if (!bytes) {
          throw new HaleClientError({ code: 'NOT_FOUND', message: 'chunk not stored', status: 404 });
        }
        return bytes.slice();
      }),
    deleteBlob: (blobId) =>
      route('deleteBlob', `deleteBlob ${blobId}`, () => {
        const m = manifest(blobId);
        manifests.delete(blobId);
        deleted.add(blobId);
        for (const i of have(blobId)) chunks.delete(`${blobId}/${i}`);
        return { blobId, stream: m.stream, deletedAt: new Date().toISOString() };
      }),
  };

  return { api, epoch, manifests, chunks, deleted, calls, announced, refuseNext, hold };
};

export type MemoryBlobServer = ReturnType<typeof memoryBlobServer>;
