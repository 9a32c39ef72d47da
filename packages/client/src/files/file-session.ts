/**
 * The files API's hold on the session: requests, stream keys, and uploads kept to resume.
 *
 * - Every request first checks the session is open (`assertOpen`: closed or locked → AccountError LOCKED,
 *   the kept uploads dropped); refusals come back as FileError (`fromServer`).
 * - Without an HTTP API with the blob routes → NO_HTTP_API.
 * - A stream location is checked before use: `type` one of FILE_STREAM_TYPES, `patientId` an account id.
 * - Kept uploads stay within `keep` (count and bytes), dropping the oldest, never the one being kept; one is
 *   claimed only by a put of the same file, and is no longer kept then.
 * - `discard` deletes a blob no FileRef names, best effort.
 */
import { type SessionManager, createSessionManager } from '../api/session-manager';
import { AccountError, isAccountError } from '../core/account-error';
import type { StreamId } from '@hale/protocol';
import { isAccountId } from '@hale/model';
import {
  type Upload,
  type FilesHttpApi,
  hasBlobRoutes,
  type FileLocation,
  isFileStreamType,
  FILE_STREAM_TYPES,
  pendingBytes,
} from './file-types';
import { FileError, fromServer, invalid, fromKeyring } from './file-errors';
import type { FilesState } from './file-types';

export const createFileSession = (s: FilesState) => {
  const { deps, keep, kept } = s;
  const keyring = s.deps.keyring;
  let sessions: SessionManager | null = null;

  const assertOpen = (): void => {
    if (deps.usable()) return;
    kept.clear();
    deps.assertUnlocked();
    throw new AccountError('LOCKED', 'the device session was closed; open it again');
  };

  const requireApi = (): FilesHttpApi => {
    const { api } = deps;
    if (api === undefined || !hasBlobRoutes(api)) {
      throw new FileError(
        'NO_HTTP_API',
        'the device session was opened without an HTTP API with the blob routes: pass api: createHttpApi(...)',
      );
    }
    return api;
  };

  /** Runs one authenticated request; refusals as FileError (`fromServer`). */
  const call = async <T>(
    api: FilesHttpApi,
    request: (token: string) => Promise<T>,
    what: string,
    blobId?: string,
  ): Promise<T> => {
    assertOpen();
    sessions ??= createSessionManager({
      api,
      device: deps.device,
      ed: deps.ed,
      ...(deps.now ? { now: deps.now } : {}),
    });
    try {
      return await sessions.withToken(request);
    } catch (e) {
      throw fromServer(e, what, blobId);
    }
  };

  const streamOf = (location: FileLocation | undefined): StreamId => {
    if (typeof location !== 'object' || location === null) {
      throw invalid('location', 'must name the stream: { patientId?, type }');
    }
    if (!isFileStreamType(location.type)) {
      throw invalid('type', `must be one of ${FILE_STREAM_TYPES.join(', ')}`);
    }
    const patientId = location.patientId ?? deps.accountId;
    if (!isAccountId(patientId)) throw invalid('patientId', 'must be an account id');
    return `${patientId}/${location.type}`;
  };

  /** The key the stream writes with now, or null; after it, the session is still open. */
  const writeKeyOf = async (stream: string, what: string, blobId?: string) => {
    let write: Awaited<ReturnType<typeof keyring.writeKey>>;
    try {
      write = await keyring.writeKey(stream);
    } catch (e) {
      throw fromKeyring(e, what, blobId);
    }
    assertOpen();
    return write;
  };

  /**
   * Fetches the stream's key envelopes again: after STALE_EPOCH (the server's epoch is past this device's
   * view) and before a resume (a kept upload is finished only under the key the stream writes with now).
   */
  const refreshKeys = async (stream: string, what: string, blobId?: string): Promise<void> => {
    try {
      await keyring.refresh([stream]);
    } catch (e) {
      throw fromKeyring(e, what, blobId);
    }
    assertOpen();
  };

  /** Keeps `u` to resume; past the bounds the oldest are dropped, never `u` itself (see the header). */
  const keepUpload = (u: Upload): void => {
    kept.delete(u.blobId);
    kept.set(u.blobId, u);
    let bytes = 0;
    for (const k of kept.values()) bytes += pendingBytes(k);
    for (const [blobId, k] of kept) {
      if (k === u || (kept.size <= keep.uploads && bytes <= keep.bytes)) break;
      kept.delete(blobId);
      bytes -= pendingBytes(k);
    }
  };

  /** Takes kept upload `blobId` if it is one of this file (see the header); it is no longer kept then. */
  const claim = (blobId: string, like: Omit<Upload, 'blobId' | 'epoch' | 'keyId' | 'digests' | 'sealed'>) => {
    const u = kept.get(blobId);
    if (
      !u ||
      u.stream !== like.stream ||
      u.chunkSize !== like.chunkSize ||
      u.size !== like.size ||
      u.sha256 !== like.sha256
    ) {
      return null;
    }
    kept.delete(blobId);
    return u;
  };

  /** Deletes a blob no FileRef names, best effort: only a lock or a close stops the put. */
  const discard = async (api: FilesHttpApi, blobId: string, what: string): Promise<void> => {
    await call(api, (t) => api.deleteBlob(blobId, t), what, blobId).catch((e: unknown) => {
      if (isAccountError(e)) throw e;
    });
  };

  return {
    assertOpen,
    requireApi,
    call,
    streamOf,
    writeKeyOf,
    refreshKeys,
    keepUpload,
    claim,
    discard,
  };
};

export type FileSession = ReturnType<typeof createFileSession>;
