/*
 * Key envelopes and blobs of the CouchDB store (types.ts `envelopes`, `blobs`).
 *
 * | document                         | owner shard   | holds                                       |
 * | -------------------------------- | ------------- | ------------------------------------------- |
 * | `e|stream|epoch|recipient`        | the stream's  | an envelope                                 |
 * | `er|recipient|stream|epoch`       | the stream's  | the same envelope, listed by recipient      |
 * | `bm|blob`                         | the stream's  | a manifest (`gone` once deleted)            |
 * | `bk|blob|index`                   | the stream's  | a sealed chunk (`gone` once deleted)         |
 * | `bc|creator|blob`                 | the stream's  | what the manifest reserves, by its creator   |
 * | `bt|blob`                         | the stream's  | the tombstone of a deleted blob              |
 *
 * Invariants:
 * - A batch of envelopes is one commit of its streams' shards: a record write checking `expectedEpoch`
 *   commits in the same shard, so a rotation is committed either before its read (seen) or after it.
 *   Envelopes for an account other than the stream's patient are an event for the other nodes (changes.ts).
 * - A manifest with a quota commits in the stream's shard and the quota account's: the account's usage
 *   (its devices' `bc` entries) and the new entry are decided in one commit, so two uploads cannot both take
 *   the last room. Chunk writes and deletions commit in the stream's shard, so a chunk never lands after
 *   its blob's deletion, and with the access entries they carry (all written, or CONFLICT and nothing).
 * - A deleted blob's documents are overwritten with `{ gone: true }`: their bytes leave the current
 *   revisions at once, and CouchDB's compaction removes the old revisions (docs/operations.md).
 * - Blob ids are checked across streams by reading `bm`/`bt` (not taken in one commit): two streams racing
 *   to announce the same random id is not guarded against.
 * Failure modes: as types.ts; the blob decisions are blob-rules.ts (shared with the SQLite store).
 */
import {
  StoreError,
  blobQuotaBytes,
  type AccessEntries,
  type AccessGuard,
  type BlobManifest,
  type BlobTombstone,
  type Envelope,
  type SyncStore,
} from '../types';
import { fromBase64, key, lastPart, prefix, toBase64, type CouchDoc } from './db';
import { currentEpoch, deviceAccount, guardShards, Parts, runGuard, type Ctx } from './context';
import { advancedHeads, planRows } from './docs';
import { shardOf, type CommitEvent } from './log';
import { gone, isGone, put } from './ops';
import { requireCount, validateEnvelope } from '../store-checks';
import * as blobRules from '../blob-rules';

const live = (doc: CouchDoc | null | undefined): CouchDoc | null =>
  doc === undefined || isGone(doc) ? null : doc;

export const couchBlobs = (ctx: Ctx): Pick<SyncStore, 'envelopes' | 'blobs'> => {
  const { data, log } = ctx;

  const putAll = async (envelopes: readonly Envelope[]): Promise<Array<{ created: boolean }>> => {
    envelopes.forEach(validateEnvelope);
    if (envelopes.length === 0) return [];
    const { result } = await log.commit(
      envelopes.map((e) => shardOf(e.stream)),
      async (snaps) => {
        const stored = await data.getMany(envelopes.map((e) => key('e', e.stream, e.epoch, e.recipient)));
        const parts = new Parts();
        const batch = new Map<string, Envelope>();
        const results: Array<{ created: boolean }> = [];
        const keys = new Map<string, { recipient: string; patient: string; streams: Set<string> }>();
        for (const e of envelopes) {
          const id = key('e', e.stream, e.epoch, e.recipient);
          const earlier = batch.get(id) ?? (live(stored.get(id))?.envelope as Envelope | undefined);
          let write = earlier === undefined;
          if (earlier !== undefined && batch.get(id) === undefined && earlier.keyId === e.keyId) {
            write = await replacesRevoked(earlier.createdBy, e.createdBy);
          }
          results.push({ created: write });
          if (!write) continue;
          batch.set(id, e);
          const shard = shardOf(e.stream);
          // The shard state carries each stream's current epoch (docs.ts checks a batch's rows on it).
          const p = parts.part(shard);
          const base = p.state ?? snaps.get(shard)?.state ?? { heads: {} };
          if ((base.epochs?.[e.stream] ?? -1) < e.epoch) {
            p.state = { ...base, epochs: { ...base.epochs, [e.stream]: e.epoch } };
          }
          parts.ops(
            shard,
            put({ _id: id, envelope: e }),
            put({ _id: key('er', e.recipient, e.stream, e.epoch), envelope: e }),
          );
          if (e.recipient !== shard) {
            const k = `${shard}|${e.recipient}`;
            const entry = keys.get(k) ?? {
              recipient: e.recipient,
              patient: shard,
              streams: new Set<string>(),
            };
            entry.streams.add(e.stream);
            keys.set(k, entry);
          }
        }
        for (const k of keys.values()) {
          const p = parts.part(k.patient);
          const event: CommitEvent = {
            k: 'keys',
            recipient: k.recipient,
            patient: k.patient,
            streams: [...k.streams],
          };
          p.events = [...(p.events ?? []), event];
        }
        return { parts: parts.map, result: results };
      },
    );
    return result;
  };

  /** A stored envelope's creator is revoked and the new one's is an active device of the same account. */
  const replacesRevoked = async (oldCreator: string, newCreator: string): Promise<boolean> => {
    const devices = await data.getMany([key('D', oldCreator), key('D', newCreator)]);
    const old = live(devices.get(key('D', oldCreator)));
    const fresh = live(devices.get(key('D', newCreator)));
    return (
      old !== null &&
      fresh !== null &&
      typeof old.revokedAt === 'string' &&
      typeof fresh.revokedAt !== 'string' &&
      old.accountId === fresh.accountId
    );
  };

  const usage = async (accountId: string): Promise<number> => {
    const devices = await data.range(prefix('Da', accountId), { includeDocs: false });
    let total = 0;
    for (const d of devices) {
      for (const entry of await data.range(prefix('bc', lastPart(d._id)))) {
        if (!isGone(entry)) total += entry.bytes as number;
      }
    }
    return total;
  };

  const getManifest = async (blobId: string): Promise<BlobManifest | null> => {
    const doc = live(await data.get(key('bm', blobId)));
    return doc === null
      ? null
      : { ...(doc.manifest as BlobManifest), digests: [...(doc.manifest as BlobManifest).digests] };
  };

  /** Writes a blob write's access entries in the same commit: CONFLICT unless every one is written. */
  const withEntries = async (
    snaps: Parameters<Parameters<typeof log.commit>[1]>[0],
    entries: AccessEntries | undefined,
    parts: Parts,
  ): Promise<void> => {
    if (entries === undefined || entries.rows.length === 0) return;
    const plan = await planRows(ctx, snaps, entries.rows, entries.now, parts);
    const refused = plan.results.find((r) => r.status !== 'ok');
    if (refused !== undefined || plan.positionTaken) {
      const status = refused?.status ?? 'position-taken';
      throw new StoreError('CONFLICT', `an access entry was not written (${status}); nothing written`, {
        details: { status },
      });
    }
  };
  const entryShards = (entries: AccessEntries | undefined): string[] =>
    entries === undefined ? [] : entries.rows.map((r) => shardOf(r.doc.stream));

  const putManifest: SyncStore['blobs']['putManifest'] = async (m, options) => {
    blobRules.validatePutManifest(m, options);
    const quota = options?.quota;
    const guard = options?.guard;
    const expectedEpoch = options?.expectedEpoch;
    const shard = shardOf(m.stream);
    const shards = [
      shard,
      ...(quota === undefined ? [] : [quota.accountId]),
      ...(await guardShards(data, guard)),
    ];
    await log.commit(shards, async () => {
      await runGuard(data, guard);
      const parts = new Parts();
      const deleted = live(await data.get(key('bt', m.blobId)));
      blobRules.refuseTombstoned(m, deleted === null ? null : (deleted.tombstone as BlobTombstone));
      if (blobRules.resumesUpload(m, await getManifest(m.blobId)))
        return { parts: parts.map, result: undefined };
      blobRules.requireEpoch(m, expectedEpoch, (await currentEpoch(data, m.stream)) ?? 0);
      const requestedBytes = blobQuotaBytes(m);
      if (quota !== undefined)
        blobRules.requireQuotaRoom(quota, await usage(quota.accountId), requestedBytes);
      parts.ops(
        shard,
        put({ _id: key('bm', m.blobId), manifest: m }),
        put({ _id: key('bc', m.createdBy, m.blobId), bytes: requestedBytes }),
      );
      return { parts: parts.map, result: undefined };
    });
  };

  const putChunk: SyncStore['blobs']['putChunk'] = async (blobId, index, bytes, guard, entries) => {
    blobRules.validatePutChunk(bytes, guard, entries);
    const first = blobRules.requireManifest(blobId, await getManifest(blobId));
    const shard = shardOf(first.stream);
    const { committed } = await log.commit(
      [shard, ...(await guardShards(data, guard)), ...entryShards(entries)],
      async (snaps) => {
        await runGuard(data, guard);
        const m = blobRules.requireManifest(blobId, await getManifest(blobId));
        blobRules.requireChunkFits(m, blobId, index, bytes);
        const parts = new Parts();
        const stored = live(await data.get(key('bk', blobId, index)));
        if (stored !== null)
          blobRules.requireSameChunk(blobId, index, fromBase64(stored.bytes as string), bytes);
        if (stored === null) parts.ops(shard, put({ _id: key('bk', blobId, index), bytes: toBase64(bytes) }));
        await withEntries(snaps, entries, parts);
        return { parts: parts.map, result: undefined };
      },
    );
    ctx.announce(advancedHeads(committed));
  };

  const deleteBlob: SyncStore['blobs']['delete'] = async (blobId, deletion, guard, entries) => {
    blobRules.validateBlobDelete(blobId, deletion, guard, entries);
    const first = blobRules.requireManifest(blobId, await getManifest(blobId));
    const shard = shardOf(first.stream);
    const { result, committed } = await log.commit<BlobTombstone>(
      [shard, ...(await guardShards(data, guard)), ...entryShards(entries)],
      async (snaps) => {
        await runGuard(data, guard);
        const m = blobRules.requireManifest(blobId, await getManifest(blobId));
        const parts = new Parts();
        const chunks = await data.range(prefix('bk', blobId), { includeDocs: false });
        const tombstone: BlobTombstone = { blobId, stream: m.stream, ...deletion };
        parts.ops(
          shard,
          ...chunks.map((c) => gone(c._id)),
          gone(key('bm', blobId)),
          gone(key('bc', m.createdBy, blobId)),
          put({ _id: key('bt', blobId), tombstone }),
        );
        await withEntries(snaps, entries, parts);
        return { parts: parts.map, result: tombstone };
      },
    );
    ctx.announce(advancedHeads(committed));
    return result;
  };

  return {
    envelopes: {
      put: async (e) => {
        const [result] = await putAll([e]);
        return result ?? { created: false };
      },
      putAll,
      list: async (recipient, streams, limit) => {
        if (limit !== undefined) requireCount(limit);
        const wanted = streams === undefined ? null : new Set(streams);
        const all = (await data.range(prefix('er', recipient)))
          .filter((d) => !isGone(d))
          .map((d) => d.envelope as Envelope)
          .filter((e) => wanted === null || wanted.has(e.stream))
          .sort((a, b) => (a.stream !== b.stream ? (a.stream < b.stream ? -1 : 1) : a.epoch - b.epoch))
          .map((e) => ({ ...e }));
        return limit === undefined ? all : all.slice(0, limit);
      },
      currentEpoch: (stream) => currentEpoch(data, stream),
      currentEpochs: async (streams) => {
        const found = new Map<string, number | null>();
        for (const s of new Set(streams)) found.set(s, await currentEpoch(data, s));
        return streams.map((s) => found.get(s) ?? null);
      },
      holders: async (streams, limit) => {
        const rows = [];
        for (const stream of [...new Set(streams)].sort()) {
          for (const d of await data.range(prefix('e', stream))) {
            if (isGone(d)) continue;
            const e = d.envelope as Envelope;
            rows.push({ stream: e.stream, epoch: e.epoch, recipient: e.recipient, createdBy: e.createdBy });
          }
        }
        rows.sort((a, b) =>
          a.stream !== b.stream
            ? a.stream < b.stream
              ? -1
              : 1
            : a.epoch !== b.epoch
              ? a.epoch - b.epoch
              : a.recipient < b.recipient
                ? -1
                : a.recipient > b.recipient
                  ? 1
                  : 0,
        );
        return rows.slice(0, limit);
      },
    },
    blobs: {
      putManifest,
      getManifest,
      usage: async (accountId) => usage(accountId),
      putChunk,
      getChunk: async (blobId, index) => {
        const doc = live(await data.get(key('bk', blobId, index)));
        return doc === null ? null : fromBase64(doc.bytes as string);
      },
      chunkIndexes: async (blobId) =>
        (await data.range(prefix('bk', blobId)))
          .filter((d) => !isGone(d))
          .map((d) => Number(lastPart(d._id))),
      delete: deleteBlob,
      getTombstone: async (blobId) => {
        const doc = live(await data.get(key('bt', blobId)));
        return doc === null ? null : { ...(doc.tombstone as BlobTombstone) };
      },
    },
  };
};

export type { AccessGuard };
export { deviceAccount };
