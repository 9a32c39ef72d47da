/**
 * Encrypted file blobs (HealthDocument files, message attachments), chunked and resumable.
 *
 * Invariants:
 * - A blob belongs to one stream: upload needs its push rights, download its read rights, per request.
 * - Each request is decided on arrival and again where it acts (store `guarded`, `decideAndLog`).
 * - A grant ended meanwhile stores, deletes and serves nothing, and nothing is logged.
 * - A grantee's chunk upload or deletion commits in the transaction that logs it, or neither happens.
 * - A chunk relies on no earlier request's decision (not the announcement's).
 * - A chunk is stored only if its sha256 is the manifest's digest; a stored chunk is never replaced.
 * - Chunks are read whole one at a time and streamed: a file never sits in memory whole.
 * - A manifest reserves its bytes against the uploader's `blobQuotaBytes` (else QUOTA_EXCEEDED, 413).
 * - Deletion releases the reservation; a lowered quota takes nothing stored back.
 * - Deletion passes the upload decision (`blob-up`): the patient, or the uploader while it may upload.
 * - A grantee's deletion is logged once, not windowed, in the transaction that deletes.
 * - A deleted id stays as a tombstone: BLOB_DELETED to whoever passes the route's decision (`deleted`).
 * - Others get the consent code a live blob gives them; NOT_FOUND means never stored here.
 * - A new manifest's `epoch` must be the stream's current one (else STALE_EPOCH, nothing reserved).
 * - A stored manifest announced again is not epoch-checked.
 * - A deletion racing a download ends it with BLOB_DELETED on the next chunk.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  HTTP_ROUTES,
  MAX_CHUNK_BYTES,
  OCTET_STREAM,
  type HttpBlobChunkParams,
  type HttpBlobCreateRequest,
  type HttpBlobParams,
} from '@hale/protocol';
import { base64urlEncode, sha256 } from '@hale/crypto';
import type { AppContext } from '../context';
import { ServiceError } from '../core/sync-service';
import { isStoreError, sealedChunkBounds } from '../store/index';

export const blobsPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { store } = ctx;

  app.addContentTypeParser(
    OCTET_STREAM,
    { parseAs: 'buffer', bodyLimit: MAX_CHUNK_BYTES },
    (_req, body, done) => done(null, body),
  );

  type Principal = Awaited<ReturnType<AppContext['authenticate']>>;

  const allow = async (principal: Principal, stream: string, op: 'blob-up' | 'blob-down') => {
    const decision = await ctx.service.check(principal, stream, op);
    if (!decision.ok) throw new ServiceError(decision.code, decision.message);
    return decision;
  };

  /**
   * No manifest under `blobId`: BLOB_DELETED if it was deleted, to whoever passes `op`'s decision on the
   * stream it was in; the consent code (as for a live blob there) to anyone else; otherwise `otherwise`.
   */
  const deleted = async (
    principal: Principal,
    blobId: string,
    op: 'blob-up' | 'blob-down',
    otherwise: unknown,
  ): Promise<never> => {
    const tombstone = await store.blobs.getTombstone(blobId);
    if (!tombstone) throw otherwise;
    await allow(principal, tombstone.stream, op);
    throw new ServiceError('BLOB_DELETED', 'this blob was deleted', { deletedAt: tombstone.deletedAt });
  };

  const manifestFor = async (principal: Principal, blobId: string, op: 'blob-up' | 'blob-down') => {
    const manifest = await store.blobs.getManifest(blobId);
    if (manifest) return manifest;
    return deleted(
      principal,
      blobId,
      op,
      new ServiceError('NOT_FOUND', 'no blob with this id was stored here (not uploaded yet?)'),
    );
  };

  app.post<{ Body: HttpBlobCreateRequest }>(
    HTTP_ROUTES.createBlob.url,
    { schema: HTTP_ROUTES.createBlob.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      const body = request.body;
      await allow(principal, body.stream, 'blob-up');
      const expectedChunks = Math.max(1, Math.ceil(body.size / body.chunkSize));
      if (body.chunkCount !== expectedChunks || body.digests.length !== body.chunkCount) {
        throw new ServiceError('BAD_MESSAGE', 'chunkCount and digests must match size / chunkSize');
      }
      // The uploading account pays, whoever's stream it is: so no one account can fill the disk, also
      // not through the streams of the many patients who granted it write access.
      await ctx.service.guarded(principal, body.stream, 'blob-up', (guard) =>
        store.blobs.putManifest(
          {
            blobId: body.blobId,
            stream: body.stream,
            size: body.size,
            chunkSize: body.chunkSize,
            chunkCount: body.chunkCount,
            digests: body.digests,
            createdBy: principal.deviceId,
            createdAt: new Date(ctx.now()).toISOString(),
          },
          {
            quota: { accountId: principal.accountId, maxBytes: ctx.config.blobQuotaBytes },
            expectedEpoch: body.epoch,
            guard,
          },
        ),
      );
      return { blobId: body.blobId, have: await store.blobs.chunkIndexes(body.blobId) };
    },
  );

  app.put<{ Params: HttpBlobChunkParams; Body: Buffer }>(
    HTTP_ROUTES.putChunk.url,
    { schema: HTTP_ROUTES.putChunk.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      const manifest = await manifestFor(principal, request.params.blobId, 'blob-up');
      const decision = await allow(principal, manifest.stream, 'blob-up');
      const { index } = request.params;
      if (index >= manifest.chunkCount)
        throw new ServiceError('BAD_MESSAGE', 'chunk index outside the manifest');
      const body = request.body;
      if (!Buffer.isBuffer(body)) throw new ServiceError('BAD_MESSAGE', `body must be ${OCTET_STREAM}`);
      if (base64urlEncode(sha256(body)) !== manifest.digests[index]) {
        throw new ServiceError('DIGEST_MISMATCH', `chunk ${index} does not match its announced digest`);
      }
      // The store checks the length too (in the same transaction as the upload's entry), but a chunk it
      // would refuse costs no entry to sign.
      const { min, max } = sealedChunkBounds(manifest, index);
      if (body.byteLength < min || body.byteLength > max) {
        throw new ServiceError(
          'BAD_MESSAGE',
          `chunk ${index} must be ${min} bytes sealed (+ at most ${max - min}), got ${body.byteLength}`,
        );
      }
      // Stored in the transaction that logs it, which decides again (a repeat inside its window in its own,
      // counted once stored; see access-windows.ts): a grant revoked or ended before that transaction
      // stores and logs nothing, and an upload that cannot be logged is not stored.
      const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      try {
        await ctx.service.loggedRepeatableWrite(
          principal,
          'blob-up',
          ctx.service.repeatable('blob-up', manifest.stream, 1, decision),
          (guard, entries) => store.blobs.putChunk(manifest.blobId, index, bytes, guard, entries),
        );
      } catch (error) {
        // Deleted since its manifest was read above: told as the same upload after the deletion is.
        if (isStoreError(error, 'NOT_FOUND')) await deleted(principal, manifest.blobId, 'blob-up', error);
        throw error;
      }
      return { have: await store.blobs.chunkIndexes(manifest.blobId) };
    },
  );

  app.get<{ Params: HttpBlobParams }>(
    HTTP_ROUTES.getBlob.url,
    { schema: HTTP_ROUTES.getBlob.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      const manifest = await manifestFor(principal, request.params.blobId, 'blob-down');
      await allow(principal, manifest.stream, 'blob-down');
      const have = await store.blobs.chunkIndexes(manifest.blobId);
      // Deleted since its manifest was read (its chunks went with it): not a manifest with nothing held.
      if (have.length === 0 && (await store.blobs.getManifest(manifest.blobId)) === null) {
        await deleted(
          principal,
          manifest.blobId,
          'blob-down',
          new ServiceError('NOT_FOUND', 'blob not found'),
        );
      }
      return {
        blobId: manifest.blobId,
        stream: manifest.stream,
        size: manifest.size,
        chunkSize: manifest.chunkSize,
        chunkCount: manifest.chunkCount,
        digests: manifest.digests,
        have,
        complete: have.length === manifest.chunkCount,
      };
    },
  );

  app.get<{ Params: HttpBlobChunkParams }>(
    HTTP_ROUTES.getChunk.url,
    { schema: HTTP_ROUTES.getChunk.schema },
    async (request, reply) => {
      const principal = await ctx.authenticate(request);
      const manifest = await manifestFor(principal, request.params.blobId, 'blob-down');
      const decision = await allow(principal, manifest.stream, 'blob-down');
      // None: not uploaded yet, or the blob was deleted since its manifest was read above (BLOB_DELETED).
      const chunk =
        (await store.blobs.getChunk(manifest.blobId, request.params.index)) ??
        (await deleted(
          principal,
          manifest.blobId,
          'blob-down',
          new ServiceError('NOT_FOUND', 'chunk not stored (not uploaded yet)'),
        ));
      // Decided again now that the chunk is read, and once more inside the transaction that logs the access
      // (sync-service.ts `decideAndLog`; nothing for the patient's own streams): a grant revoked or ended
      // while the chunk was read or the access logged serves nothing and leaves no download in the log.
      const refusal = (
        await ctx.service.decideAndLog(
          principal,
          'blob-down',
          [manifest.stream],
          [ctx.service.repeatable('blob-down', manifest.stream, 1, decision)],
        )
      ).get(manifest.stream);
      if (refusal !== undefined) throw refusal;
      reply.header('content-type', OCTET_STREAM);
      reply.header('x-hale-digest', manifest.digests[request.params.index] ?? '');
      return reply.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    },
  );

  app.delete<{ Params: HttpBlobParams }>(
    HTTP_ROUTES.deleteBlob.url,
    { schema: HTTP_ROUTES.deleteBlob.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      /**
       * Deleted already (a retry after a lost answer, or a request racing this one): said so to whoever
       * may delete in the stream, so that NOT_FOUND only ever means never stored here (or a server without
       * this route). Rethrows `error` when there is no tombstone.
       */
      const deletedAlready = (error: unknown): Promise<never> =>
        deleted(principal, request.params.blobId, 'blob-up', error);
      const manifest = await store.blobs.getManifest(request.params.blobId);
      if (!manifest) return deletedAlready(new ServiceError('NOT_FOUND', 'blob not found'));
      const decision = await allow(principal, manifest.stream, 'blob-up');
      if (decision.level !== 'owner') {
        // Write access to the stream is not enough: a grantee removes only what its own account uploaded.
        const uploader = await store.devices.get(manifest.createdBy);
        if (uploader?.accountId !== principal.accountId) {
          throw new ServiceError(
            'FORBIDDEN',
            'only the patient or the uploading account may delete this blob',
          );
        }
      }
      // A grantee's deletion commits in the transaction of its entry, which decides again (a guard made
      // when it writes, after the entry is signed): a grant revoked or ended meanwhile deletes and logs
      // nothing, and the refusal's consent code is answered. The patient's own is not logged.
      const tombstone = await ctx.service
        .loggedWrite(
          principal,
          'blob-up',
          { action: 'blob-delete', stream: manifest.stream, count: 1, blobId: manifest.blobId },
          (guard, entries) =>
            store.blobs.delete(
              manifest.blobId,
              { deletedBy: principal.deviceId, deletedAt: new Date(ctx.now()).toISOString() },
              guard,
              entries,
            ),
        )
        // Deleted by another request since the manifest was read: that one's deletion is the answer.
        .catch((error: unknown) => {
          if (isStoreError(error, 'NOT_FOUND')) return deletedAlready(error);
          throw error;
        });
      return { blobId: tombstone.blobId, stream: manifest.stream, deletedAt: tombstone.deletedAt };
    },
  );
};
