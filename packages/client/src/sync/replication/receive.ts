/**
 * Served versions, from the wire to what RxDB may store: decoded (codec), set aside when they fail,
 * dropped when older than the local copy, judged against it (received-transition.ts).
 *
 * Invariants:
 * - Echoes of this device's own pushes are neither decoded nor applied (`sent.isEcho`).
 * - A served document this device cannot open, or whose tag, author, signature or write grant does not
 *   verify, is quarantined, never written locally; the device never pushes anything for a record it could
 *   not read.
 * - A served version older than the local copy the server last agreed on is never applied (freshness.ts):
 *   one at a position past what this device had seen of its stream is a replay and is reported
 *   (STALE_VERSION); one at an old position (of its stream, or at or below where a push of this device
 *   found the server's version of the record: stored, or met) is a late copy, dropped quietly; one whose
 *   id this device holds under another stream is never applied (ID_CLASH). One that is the settled local copy itself is dropped
 *   quietly and answers what RxDB storing it would (quarantine entries of that version or older leave).
 * - A served version of a record this device holds must be a state that may follow the one held as the
 *   server's (received-transition.ts), judged against the settled local copy, never an unsent local edit;
 *   one that may not is set aside BAD_TRANSITION (final) and the held version stays. A version already set
 *   aside BAD_TRANSITION is set aside again whatever the local copy. A record this device never held has
 *   nothing to compare with: its first version is taken as verified.
 * - Positions move past every decoded document of a readable stream (`known`), also those set aside.
 * - A note's header whose current text version is set aside in the same batch is set aside with it: a reader
 *   never shows a header whose companion version was refused.
 * - What RxDB stores of the server is judged again as it is stored (`refusesAtStore`, store/replica-guard.ts):
 *   a version older than a settled local copy never replaces it, whenever it was judged fresh.
 */
import type { ServedDoc } from '@hale/protocol';
import { createFreshnessCheck, type FreshnessDeps, type LocalVersion } from '../freshness';
import { receivedTransitionRefusal } from '../received-transition';
import { readNoteVersionContexts } from '../../records/removal-rules';
import { decodeRecords, tagOf, type Decoded } from '../record-codec';
import { emptied, type PlainRecord } from '../../records/plain-record';
import { recordKey, type EngineCore } from '../engine-core';
import type { Refused } from '../types';
import type { Receive } from '../engine-parts';

export const createReceive = (core: EngineCore): Receive => {
  const { deps } = core;
  const { collection, keyring } = deps;
  const known = core.known;
  const report = core.issues.report;
  /** Decodes served documents (on the offload when there is one) without applying anything. */
  const decode = (docs: readonly ServedDoc[]): Promise<Decoded[]> => decodeRecords(core.codec, docs);

  /** Decodes served documents without applying anything; echoes of this device's own pushes are skipped. */
  const decodeServed = async (docs: readonly ServedDoc[]) => {
    const fresh = docs.filter((d) => !core.sent.isEcho(d));
    const decoded = await decode(fresh);
    // Seal once: each verified version may be kept as received (store/stream-sealing.ts `receivedFor`),
    // under a key the next session holds: keys opened since the last save of the kept keys are saved first.
    const kept = deps.storedVersions;
    if (kept !== undefined) {
      const unsaved = (n: number): boolean => {
        const doc = fresh[n]!;
        return (
          keyring.heldKey(doc.stream, doc.epoch) !== null && keyring.keptKey(doc.stream, doc.epoch) === null
        );
      };
      if (decoded.some((d, n) => d.ok && unsaved(n))) await keyring.keepKeysNow();
      decoded.forEach((d, n) => {
        if (d.ok) kept.noteReceived(d.record, fresh[n]!);
      });
    }
    return { docs, fresh, decoded };
  };
  const freshnessDeps: FreshnessDeps = {
    lookup: async (ids) => {
      const docs = await collection.storageInstance.findDocumentsById([...ids], true);
      // A purge's tombstones (emptied) are no copy: they may carry the number of a local edit never
      // pushed, and the stream's versions come back from the server when access returns.
      const copies = docs.filter((d) => !(d._deleted && emptied(d)));
      return new Map(copies.map((d) => [d.id, { rv: d.rv, deleted: d._deleted, record: d }]));
    },
    unsettled: (stream, id) => core.pending.unsettled(stream, id),
    floor: (stream, id) => core.unsent.divergedOf(stream, id)?.floor ?? 0,
    pending: (id) => core.pending.has(id),
    deviceId: deps.device.deviceId,
    // Compares content only: both states under one tag key (epoch 0's), whatever epoch each was sealed
    // under; the local copy of a version this device pushed does not name the epoch it was sealed under.
    tagOf: (r) => tagOf(keyring, r, 0),
  };
  /** The freshness check of one batch, with the local copies it looked up (judged by `judgeReceived`). */
  const freshness = async (records: readonly PlainRecord[]) => {
    let held: ReadonlyMap<string, LocalVersion> = new Map();
    const outcome = await createFreshnessCheck({
      ...freshnessDeps,
      lookup: async (ids) => (held = await freshnessDeps.lookup(ids)),
    })(records);
    return { ...outcome, held };
  };
  /**
   * For the held NoteVersions among `pairs` (held state, received version: a change or a deletion), what
   * decides whether they are final: their notes and the patients' signatures as this device holds them, one read
   * per batch (removal-rules.ts, which the records API reads the same way before its own `remove`).
   */
  const noteVersionContexts = (pairs: ReadonlyArray<readonly [PlainRecord, PlainRecord]>) =>
    readNoteVersionContexts(
      collection,
      pairs.flatMap(([held]) => (held.kind === 'NoteVersion' ? [held] : [])),
    );
  /**
   * Of fresh served versions, those that may follow the state this device holds of their record
   * (received-transition.ts); the others are set aside BAD_TRANSITION and the held version stays. Only a
   * settled local copy is the server's last state: an unsettled one is a local edit (RxDB keeps it and the
   * push meets the served version as a conflict, judged against RxDB's assumed master state there) or a
   * version the server refused. A version already set aside BAD_TRANSITION is set aside again, whatever
   * the local copy. A record this device does not hold (initial sync) costs one map lookup.
   */
  const judgeReceived = async (
    fresh: readonly PlainRecord[],
    held: ReadonlyMap<string, LocalVersion>,
    served: ReadonlyMap<string, ServedDoc>,
  ): Promise<PlainRecord[]> => {
    const taken: PlainRecord[] = [];
    const refused: Refused[] = [];
    const contextOf = await noteVersionContexts(
      fresh.flatMap((r) => {
        const mine = held.get(r.id);
        return mine === undefined ? [] : [[mine.record, r] as const];
      }),
    );
    for (const record of fresh) {
      const mine = held.get(record.id);
      const doc = served.get(recordKey(record.stream, record.id));
      if (mine === undefined || doc === undefined) {
        taken.push(record);
        continue;
      }
      const again = core.quarantine.refusedTransition(record.stream, record.id, doc.rev);
      const message =
        again?.message ??
        (mine.record.stream === record.stream && !core.pending.unsettled(record.stream, record.id)
          ? receivedTransitionRefusal(mine.record, record, contextOf(mine.record))
          : null);
      if (message === null) taken.push(record);
      else refused.push({ doc, reason: 'BAD_TRANSITION', message, record });
    }
    // A note's header comes with its text: one naming a text version set aside here stays out too.
    const refusedTexts = new Set(
      refused.flatMap(({ record: r }) =>
        r?.kind === 'NoteVersion' && !r._deleted
          ? [`${String(r.data['noteId'])}#${String(r.data['versionNumber'])}`]
          : [],
      ),
    );
    const kept = taken.filter((r) => {
      const text = `${r.id}#${String(r.data['currentVersionNumber'])}`;
      if (r.kind !== 'MedicalNote' || r._deleted || !refusedTexts.has(text)) return true;
      const doc = served.get(recordKey(r.stream, r.id));
      if (doc !== undefined)
        refused.push({
          doc,
          reason: 'BAD_TRANSITION',
          message: `MedicalNote ${r.id}: its version ${String(r.data['currentVersionNumber'])} was refused, so this header is not shown`,
          record: r,
        });
      return doc === undefined;
    });
    await core.quarantine.setAside(refused);
    return kept;
  };
  /**
   * Drops served versions older than what this device holds. One served at a position past what this
   * device had seen of its stream is a replay (a server serving an old genuine version as new) and is
   * reported; one at an old position is a late copy (e.g. a live frame overtaken by this device's own newer
   * push) and is dropped quietly. One whose id this device holds under another stream is never applied
   * (it would replace that record) and is always reported. One that is the settled local copy itself is
   * dropped quietly (nothing to apply; handed to RxDB it could replace an edit acknowledged before RxDB
   * got to it) and answers what RxDB storing it would: quarantine entries of that version or older leave.
   */
  const dropStale = async (
    records: PlainRecord[],
    seqOf: ReadonlyMap<string, number>,
    served: ReadonlyMap<string, ServedDoc>,
  ) => {
    const { fresh, same, stale, clashes, held } = await freshness(records);
    for (const record of same) core.quarantine.onStored(record.stream, record.id, record.rv);
    for (const { record, held } of clashes) {
      report({
        code: 'ID_CLASH',
        message: `The server sent a record of ${record.stream} under the id of a record this device holds in ${held}; it was not applied`,
        stream: record.stream,
        id: record.id,
      });
    }
    for (const { record, localRv } of stale) {
      const key = recordKey(record.stream, record.id);
      const seq = seqOf.get(key) ?? 0;
      // While a restore is caught up with, what was seen before it (its floor) counts as seen too.
      if (seq <= Math.max(known[record.stream] ?? 0, core.reset.floorOf(record.stream) ?? 0)) continue;
      // The server's before a push of this device landed or met a newer version as a conflict (a page or
      // frame read before it, or the met version itself served again): a late copy.
      if (seq <= core.sent.storedAt(record.stream, record.id)) continue;
      report({
        code: 'STALE_VERSION',
        message: `The server sent an older version (${record.rv}) of a record than this device holds (${localRv}); it was not applied`,
        stream: record.stream,
        id: record.id,
      });
    }
    return judgeReceived(fresh, held, served);
  };
  const seqsOf = (docs: readonly ServedDoc[]): Map<string, number> =>
    new Map(docs.map((d) => [recordKey(d.stream, d.id), d.seq]));
  const servedByKey = (docs: readonly ServedDoc[]): Map<string, ServedDoc> =>
    new Map(docs.map((d) => [recordKey(d.stream, d.id), d]));

  /**
   * Applies decoded documents: quarantines what failed, drops what is older than the local copy, moves the
   * per-stream positions past all of them. A batch left with nothing to hand over carries its position by
   * the pull floor (`carry`), never by a record: a version handed to RxDB is stored only after the batches
   * before it, and a local edit can be pushed and acknowledged meanwhile; RxDB then finds its copy equal to
   * the server's and would take the handed version, an older one, in the edit's place.
   */
  const applyDecoded = async (
    { docs, fresh, decoded }: Awaited<ReturnType<typeof decodeServed>>,
    era = core.s.liveEra,
  ): Promise<PlainRecord[] | null> => {
    const out = await dropStale(
      await core.quarantine.sortOutcomes(fresh, decoded),
      seqsOf(fresh),
      servedByKey(fresh),
    );
    // Served by the store before a restore whose catch-up started meanwhile: nothing of it is applied.
    if (era !== core.s.liveEra) return null;
    // A stream whose access ended meanwhile keeps no position: the purge dropped it, and one left here
    // would make the next list of streams end that access again (a second purge, a second audit entry).
    for (const d of docs) {
      if (core.access.readable(d.stream)) known[d.stream] = Math.max(known[d.stream] ?? 0, d.seq);
    }
    return out;
  };

  /**
   * Whether RxDB, storing a served version (`served`) now, would put it over a newer settled local copy
   * (`held`): one the server acknowledged or served after it. The arrival check (`dropStale`) saw the copy
   * before a local edit was pushed and answered (a merge after a conflict, typically), and the server does
   * not send a device's own pushes back to it, so stored it would stay. Purge tombstones are no copy.
   */
  const refusesAtStore = (held: PlainRecord, served: PlainRecord): boolean =>
    !(held._deleted && emptied(held)) &&
    !core.pending.unsettled(held.stream, held.id) &&
    (held.stream !== served.stream || served.rv <= held.rv);

  return {
    decode,
    decodeServed,
    refusesAtStore,
    applyDecoded,
    dropStale,
    servedByKey,
    noteVersionContexts,
  };
};
export type Served = Awaited<ReturnType<Receive['decodeServed']>>;
