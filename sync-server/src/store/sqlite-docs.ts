/*
 * The SQLite store's documents (types.ts `docs`): writeDocs' batches, reads, heads and audit chain ends, and
 * the access entries a blob write carries (writeEntries, run inside that write's transaction).
 *
 * Invariants:
 * - Sequence allocation: `stream_heads` holds each stream's last seq; a batch reads and advances it inside
 *   one BEGIN IMMEDIATE transaction, so writers (other connections and processes too) serialise and
 *   readers never see seq n+1 without seq n.
 * - Audit rows answer `append-only` once stored. A new audit row's (stream, author, authorSeq) is looked up
 *   in docs_audit_by_position just before it is inserted, so rows committed by any connection and the
 *   batch's own earlier rows are seen; a held position refuses it `position-taken` and rolls the whole
 *   batch back (the other rows answer `not-written`). A chain's end is the tail of the same index's
 *   (stream, author) range.
 * - A row's `expectedEpoch` is compared with the stream's highest envelope epoch read inside the
 *   transaction; a row marked `expectRefused` that passes its compare-and-set throws CONFLICT there, so
 *   nothing of its batch commits.
 * - A conflict names the backup's incarnation (`keptFrom`) only for a version at or below its stream's
 *   restored head (`restored_heads`), and only while the restore origin's incarnation is the store's own.
 * - Access entries are written after the guard's check and the blob write, in the same transaction: any not
 *   written `ok` throws CONFLICT, so the entries and the write commit together or not at all.
 * - A row of a group (`DocWrite.group`) that would not be written rolls the whole batch back
 *   (`groupRefusal`): a group is written whole or not at all, inside the one transaction.
 * - Heads are announced after COMMIT, in commit order.
 *
 * Failure modes: malformed rows → INVALID (nothing written); conflicting stored versions over
 * `maxMasterBytes` → TOO_LARGE (nothing written); an access guard's refusal unchanged.
 */
import {
  StoreError,
  isAuditStream,
  type AccessEntries,
  type AccessGuard,
  type Doc,
  type DocPage,
  type DocWrite,
  type DocWriteResult,
  type StreamHead,
  type SyncStore,
} from './types';
import { INCARNATION_META_KEY, RESTORE_ORIGIN_META_KEY, restoreOrigin } from './sqlite-incarnation';
import { rowToDoc } from './sqlite-rows';
import { invalid, validateDocWrite, validateGuard } from './store-checks';
import { groupRefusal } from './store-records';
import { checkGuard } from './sqlite-guard';
import type { Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

/**
 * Rolls writeDocs' transaction back from inside it (a chain position was taken, a group would be written in
 * part); carries the answer.
 */
class BatchNotWritten extends Error {
  constructor(readonly results: DocWriteResult[]) {
    super('nothing of the batch was written');
  }
}

/**
 * As of now, which backup's incarnation a stored version was kept from: for `stream` and `seq`, the
 * incarnation of the store the last restore's backup was taken of, when that version was in the store at
 * that restore; undefined for one stored since, or when no restore recorded it for the current
 * incarnation (see header).
 */
const keptFrom = (s: Statements): ((stream: string, seq: number) => string | undefined) => {
  const origin = restoreOrigin(s.metaGet.get(RESTORE_ORIGIN_META_KEY)?.value);
  if (origin === null || origin.into !== s.metaGet.get(INCARNATION_META_KEY)?.value) return () => undefined;
  return (stream, seq) => (seq <= (s.restoredHeadGet.get(stream)?.head ?? 0) ? origin.from : undefined);
};

const writeBatch = (
  s: Statements,
  rows: DocWrite[],
  now: string,
  maxMasterBytes: number | undefined,
  guard: AccessGuard | undefined,
) => {
  checkGuard(s, guard);
  const heads = new Map<string, number>();
  const results: DocWriteResult[] = [];
  let masters = 0;
  let masterBytes = 0;
  // The restore's origin, read at the batch's first conflict only (conflicts are rare).
  let keptIn: ReturnType<typeof keptFrom> | undefined;
  let positionTaken = false;
  // Inside the write lock: no envelope can be stored between this read and the commit.
  const epochs = new Map<string, number>();
  const epochOf = (stream: string): number => {
    let epoch = epochs.get(stream);
    if (epoch === undefined) {
      epoch = s.envelopeMaxEpoch.get(stream)?.epoch ?? 0;
      epochs.set(stream, epoch);
    }
    return epoch;
  };
  for (const { doc, assumedRev, expectedEpoch, expectRefused } of rows) {
    const current = s.docRev.get(doc.stream, doc.id);
    if (current !== undefined && isAuditStream(doc.stream)) {
      results.push({ status: 'append-only' });
      continue;
    }
    if (expectedEpoch !== undefined && epochOf(doc.stream) !== expectedEpoch) {
      results.push({ status: 'stale-epoch', epoch: epochOf(doc.stream) });
      continue;
    }
    if (current === undefined ? assumedRev !== null : current.rev !== assumedRev) {
      if (current !== undefined && maxMasterBytes !== undefined) {
        // Measured before it is loaded; thrown inside the transaction, so nothing of the batch commits.
        masterBytes += current.bytes;
        if (masters > 0 && masterBytes > maxMasterBytes) {
          throw new StoreError(
            'TOO_LARGE',
            `the stored versions this batch conflicts with exceed ${maxMasterBytes} bytes; nothing written`,
          );
        }
        masters++;
      }
      const master = current === undefined ? undefined : s.docGet.get(doc.stream, doc.id);
      if (master === undefined) {
        results.push({ status: 'conflict', master: null });
        continue;
      }
      keptIn ??= keptFrom(s);
      const kept = keptIn(master.stream, master.seq);
      results.push({
        status: 'conflict',
        master: rowToDoc(master),
        ...(kept === undefined ? {} : { keptFrom: kept }),
      });
      continue;
    }
    if (expectRefused === true) {
      // Thrown inside the transaction, so nothing of the batch commits: the writer's account of it
      // (sealed into the batch) leaves this row out.
      throw new StoreError(
        'CONFLICT',
        `${doc.stream} ${doc.id} holds the revision its row assumes, which the writer expected refused; nothing written`,
        { details: { stream: doc.stream, id: doc.id } },
      );
    }
    const a = doc.audit;
    // Only new audit rows get here (a stored id answered append-only above); earlier rows of the batch
    // are already inserted, so they are seen too.
    if (a !== undefined && isAuditStream(doc.stream)) {
      if (s.docAuditAt.get(doc.stream, doc.author, a.authorSeq) !== undefined) {
        results.push({ status: 'position-taken' });
        positionTaken = true;
        continue;
      }
    }
    const seq = (heads.get(doc.stream) ?? s.headGet.get(doc.stream)?.head ?? 0) + 1;
    heads.set(doc.stream, seq);
    if (current === undefined) {
      s.docInsert.run(
        doc.stream,
        doc.id,
        seq,
        doc.rev,
        doc.deleted ? 1 : 0,
        doc.epoch,
        doc.ct,
        doc.size,
        doc.author,
        doc.sig ?? null,
        a?.authorSeq ?? null,
        a?.prevHash ?? null,
        a?.at ?? null,
        doc.creator ?? null,
        now,
      );
    } else {
      s.docUpdate.run(
        seq,
        doc.rev,
        doc.deleted ? 1 : 0,
        doc.epoch,
        doc.ct,
        doc.size,
        doc.author,
        doc.sig ?? null,
        a?.authorSeq ?? null,
        a?.prevHash ?? null,
        a?.at ?? null,
        now,
        doc.stream,
        doc.id,
      );
    }
    results.push({ status: 'ok', seq });
  }
  if (positionTaken) {
    // Thrown so that the transaction rolls back what the batch's other rows inserted.
    throw new BatchNotWritten(
      results.map((r): DocWriteResult => (r.status === 'position-taken' ? r : { status: 'not-written' })),
    );
  }
  const partial = groupRefusal(rows, results);
  // Thrown so that the transaction rolls back what the group's other rows (and the batch's) wrote.
  if (partial !== null) throw new BatchNotWritten(partial);
  for (const [stream, head] of heads) s.headPut.run(stream, head);
  return { results, heads: [...heads].map(([stream, head]): StreamHead => ({ stream, head })) };
};

/**
 * Writes a blob write's access entries (types.ts AccessEntries) inside the caller's transaction, after
 * its write: CONFLICT (rolling the whole transaction back) unless every one is written. Answers the
 * heads they advanced, to announce once committed.
 */
export const writeEntries = (s: Statements, entries: AccessEntries | undefined): StreamHead[] => {
  if (entries === undefined || entries.rows.length === 0) return [];
  let written: ReturnType<typeof writeBatch>;
  try {
    written = writeBatch(s, entries.rows, entries.now, undefined, undefined);
  } catch (error) {
    if (!(error instanceof BatchNotWritten)) throw error;
    written = { results: error.results, heads: [] };
  }
  const refused = written.results.find((r) => r.status !== 'ok');
  if (refused !== undefined) {
    const { status } = refused;
    throw new StoreError('CONFLICT', `an access entry was not written (${status}); nothing written`, {
      details: { status },
    });
  }
  return written.heads;
};

export const sqliteDocs = ({ db, call, announce }: SqliteContext): Pick<SyncStore, 'docs'> => {
  const writeTx = db.transaction(writeBatch);

  const headsTx = db.transaction((s: Statements, streams: string[]) =>
    streams.map((stream): StreamHead => ({ stream, head: s.headGet.get(stream)?.head ?? 0 })),
  );

  return {
    docs: {
      writeDocs: (rows, now, maxMasterBytes, guard) =>
        call((s) => {
          rows.forEach(validateDocWrite);
          validateGuard(guard);
          if (maxMasterBytes !== undefined && !(maxMasterBytes >= 0)) {
            throw invalid('maxMasterBytes must be a non-negative number');
          }
          let written: ReturnType<typeof writeBatch>;
          try {
            written = writeTx.immediate(s, rows, now, maxMasterBytes, guard);
          } catch (error) {
            if (error instanceof BatchNotWritten) return error.results;
            throw error;
          }
          const { results, heads } = written;
          // Synchronously after COMMIT, so listeners see heads in commit order; deliver() contains throws.
          announce(heads);
          return results;
        }),

      readDocs: (stream, since, limit, maxBytes) =>
        call((s): DocPage => {
          if (!Number.isSafeInteger(since) || since < 0)
            throw invalid('since must be a non-negative integer');
          if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
          if (!(maxBytes > 0)) throw invalid('maxBytes must be positive');
          const docs: Doc[] = [];
          let bytes = 0;
          let done = true;
          // One indexed range scan; the extra row tells whether more remain without a second query.
          for (const row of s.docsRange.iterate(stream, since, limit + 1)) {
            if (docs.length === limit || (docs.length > 0 && bytes + row.ct.byteLength > maxBytes)) {
              done = false;
              break;
            }
            bytes += row.ct.byteLength;
            docs.push(rowToDoc(row));
          }
          return { docs, checkpoint: docs.at(-1)?.seq ?? since, done };
        }),

      getDoc: (stream, id) =>
        call((s) => {
          const row = s.docGet.get(stream, id);
          return row === undefined ? null : rowToDoc(row);
        }),

      streamHeads: (streams) =>
        // One read transaction so all heads come from the same snapshot.
        call((s) => headsTx(s, streams)),

      auditChainEnd: (stream, author) =>
        call((s) => {
          const row = s.docAuditChainEnd.get(stream, author);
          return row === undefined ? null : rowToDoc(row);
        }),

      auditEntriesOfAccountSince: (stream, accountId, since) =>
        call((s) => {
          const row = s.docAuditOfAccountSince.get(stream, accountId, since);
          return { count: row?.n ?? 0, first: row?.first ?? null };
        }),
    },
  };
};
