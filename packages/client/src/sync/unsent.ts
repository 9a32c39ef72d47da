/**
 * Local versions the server will not take (`unsent`), and records whose local copy is such a version
 * (`diverged`).
 *
 * Invariants:
 * - A refused local version is copied to the persisted `unsent` list before the push handler returns:
 *   RxDB takes it as pushed, so a later pulled version replaces it in the collection, but its content
 *   stays visible here until the person discards it (or access to its stream ends). A later refused
 *   version of the record replaces its entry only if it is that version again or was made on it; one made
 *   on a pulled version is kept beside it. At most MAX_UNSENT entries, the oldest dropped and reported.
 * - Its record is marked diverged (persisted, at most MAX_DIVERGED): the local copy is a version the
 *   server never took, so served versions of it are left to RxDB rather than judged against that copy
 *   (freshness.ts). The mark goes only when a served version of the record is stored (`received$`), the
 *   server takes a version of it from this device (a wait for a key), or its stream is purged.
 * - Pending stops counting a refused version only once it is kept, in memory and on disk.
 * - Once the connection is fatal DEVICE_REVOKED, every pending local version goes to unsent (one issue
 *   for all), as does any written or handed later: a revoked device can never send it.
 */
import type { RxDocumentData, WithDeleted } from 'rxdb';
import { canonicalOrNull } from './record-codec';
import { emptied, type PlainRecord } from '../records/plain-record';
import { recordKey, type EngineCore } from './engine-core';
import type { Refusal, UnsentChange } from './types';
import { SYNC_STATE } from './stored-state';
import type { DeviceRecord } from '../store/device-db';
import type { Unsent } from './engine-parts';

/** Unsent versions kept (each holds a record's content); beyond it the oldest go, reported. */
const MAX_UNSENT = 1_000;
/**
 * Records marked diverged (a key each, no content). Beyond it the oldest marks go, reported: such a record
 * is judged as settled again, so a served version under its number with other content is dropped as
 * stale until a newer one comes.
 */
const MAX_DIVERGED = 10_000;

/** The local record as RxDB hands it to the push handler (no storage fields). */
export const plainOf = (d: RxDocumentData<DeviceRecord>): WithDeleted<PlainRecord> => {
  const { _meta: _m, _rev: _r, _attachments: _a, ...record } = d;
  return record;
};

export const createUnsent = (core: EngineCore): Unsent => {
  const { deps } = core;
  const report = core.issues.report;
  let unsent: UnsentChange[] = [];
  /** Whether kept version `u` is version `r`: same record, revision number, deletion flag and data. */
  const keptAs = (u: UnsentChange, r: PlainRecord): boolean => {
    if (u.stream !== r.stream || u.id !== r.id || u.rv !== r.rv || u.deleted !== r._deleted) return false;
    // Not plain JSON: not known to be the same, so both are kept.
    const data = canonicalOrNull(u.data);
    return data !== null && data === canonicalOrNull(r.data);
  };
  /**
   * recordKey → record of every record whose local copy is a version the server never took (see `hold`),
   * oldest first. Not the unsent list: discarding an entry, or its dropping out of that list, leaves the
   * refused version in the collection, and taken for the server's state it would make the server's next
   * version under the same number look stale (freshness.ts). `floor`: the revision number of the server's
   * state the refused version was made on, which the device held as the server's: a served version below
   * it is a replay, not the server's next state (freshness.ts `floor`).
   */
  // `wait`: marked for a version on the key-wait list (`parkRows`): the mark goes once the server takes
  // a version of the record from this device (the local copy is then the server's state; its echo is
  // never stored here, so `received$` would not end it).
  let diverged = new Map<string, { stream: string; id: string; floor?: number; wait?: true }>();
  const saveDiverged = async (): Promise<void> => {
    const dropped = diverged.size - MAX_DIVERGED;
    if (dropped > 0) {
      diverged = new Map([...diverged].slice(dropped));
      report({
        code: 'DIVERGED_DROPPED',
        message: `${dropped} record(s) holding a version the server did not take are no longer tracked (more than ${MAX_DIVERGED}); a server version under the same number may be refused as stale`,
      });
    }
    await deps.meta.set('diverged', [...diverged.values()]);
  };
  let divergedTimer: ReturnType<typeof setTimeout> | undefined;
  /** Marks left as records are stored one by one: persisted once for the page. */
  const saveDivergedSoon = (): void => {
    if (divergedTimer !== undefined) return;
    divergedTimer = setTimeout(() => {
      divergedTimer = undefined;
      if (!core.s.stopped) void saveDiverged().catch(() => undefined);
    }, 0);
  };
  const saveUnsent = async (next: UnsentChange[]): Promise<void> => {
    const dropped = next.length - MAX_UNSENT;
    if (dropped > 0) {
      report({
        code: 'UNSENT_DROPPED',
        message: `${dropped} unsent change(s) were dropped: more than ${MAX_UNSENT} were kept`,
      });
    }
    unsent = next.slice(-MAX_UNSENT);
    core.issues.patch({ unsent: unsent.length });
    await deps.meta.set('unsent', unsent);
  };
  /**
   * Keeps local versions the server did not take (one persisted write) and reports each. An earlier kept
   * version of the record goes only if it is that very version (refused again) or the one the new version
   * was made on (`base`, RxDB's state the row builds on: the refused copy edited further, so its content
   * carries on). Any other stays beside it: once a pulled version replaced the local copy, an edit made on
   * that one does not hold the earlier refused content, which exists nowhere else.
   * Awaited before the push handler returns.
   */
  const hold = async (
    items: readonly Refusal[],
    { quiet = false }: { quiet?: boolean } = {},
  ): Promise<void> => {
    if (items.length === 0) return;
    const replaced = (u: UnsentChange): boolean =>
      items.some(({ record, base }) => keptAs(u, record) || (base !== undefined && keptAs(u, base)));
    // The refused version stays the local copy until a served version of the record replaces it.
    for (const { record, base } of items) {
      const key = recordKey(record.stream, record.id);
      // A version refused again keeps the floor of the first: the state it was made on is below both.
      const floor = Math.max(diverged.get(key)?.floor ?? 0, base?.rv ?? 0);
      diverged.delete(key);
      diverged.set(key, { stream: record.stream, id: record.id, ...(floor > 0 ? { floor } : {}) });
    }
    await saveDiverged();
    await saveUnsent([
      ...unsent.filter((u) => !replaced(u)),
      ...items.map(({ record, code, message }) => ({
        stream: record.stream,
        id: record.id,
        kind: record.kind,
        rv: record.rv,
        deleted: record._deleted,
        data: record.data,
        code,
        message,
        at: core.iso(),
      })),
    ]);
    // Not pending any more: nothing will send them again (a newer local version still is). Only once they
    // are kept, in memory and on disk: pendingWrites never drops before unsent() lists them, and a crash in
    // between leaves them pending (sent again, refused again), not in neither list.
    for (const { record } of items) core.pending.settle(record.id, record.rv);
    await core.pending.save();
    if (quiet) return;
    for (const { record, code, message } of items) {
      report({
        code,
        message: `${message}; the change is kept in unsent changes`,
        stream: record.stream,
        id: record.id,
      });
    }
  };

  /**
   * This device was revoked (DEVICE_REVOKED): nothing pending can ever be sent from it, and a device joined
   * anew starts an empty store. So every pending local version goes to unsent with its content, where the
   * app can show or copy it, instead of counting as pending for ever; one issue says how many. Run again
   * whenever something is pending while revoked (a write made since, RxDB handing the versions again after
   * a restart): a version kept already replaces its entry, so each is listed once. One run at a time.
   */
  let keepingRevoked: Promise<void> = Promise.resolve();
  const keepRevokedUnsent = (): void => {
    keepingRevoked = keepingRevoked
      .then(async () => {
        const pending = core.pending;
        if (core.s.stopped || core.link.fatal()?.code !== 'DEVICE_REVOKED' || pending.size() === 0) return;
        const held = await deps.collection.storageInstance.findDocumentsById(pending.ids(), true);
        const message = 'this device was removed from its account before the change was sent';
        // Versions waiting for a key (also those being sent now) were answered to RxDB as sent: the
        // local copy may be a served version since, which is no change of this device's. It is one only
        // if a change newer than the waiting version is pending.
        const waits = core.keyWaits.all();
        const waiting: Refusal[] = [...waits.values()].map(({ record, base }) => ({
          record,
          base,
          code: 'DEVICE_REVOKED',
          message,
        }));
        const items: Refusal[] = [
          ...waiting,
          ...held
            .filter((d) => {
              const want = pending.get(d.id) ?? Infinity;
              const w = waits.get(d.id);
              return !emptied(d) && want <= d.rv && (w === undefined || want > w.record.rv);
            })
            .map((d) => ({ record: plainOf(d), base: undefined, code: 'DEVICE_REVOKED', message })),
        ];
        if (items.length === 0) return;
        await hold(items, { quiet: true });
        if (waiting.length > 0) {
          for (const { record } of waiting)
            core.issues.clearIssues({ code: 'NO_KEY', stream: record.stream, id: record.id });
          await core.keyWaits.clear();
        }
        report({
          code: 'DEVICE_REVOKED',
          message: `${items.length} change(s) made on this device were never sent and cannot be sent from it now; they are kept in unsent changes`,
        });
      })
      .catch((error: unknown) => {
        report({
          code: 'DEVICE_REVOKED',
          message: `changes not sent before this device was removed could not be listed in unsent changes (${error instanceof Error ? error.message : String(error)}); they stay pending and readable`,
        });
      });
  };

  return {
    list: (): UnsentChange[] => unsent,
    keptAs,
    hold,
    saveUnsent,
    saveDiverged,
    saveDivergedSoon,
    keepRevokedUnsent,
    isDiverged: (stream: string, id: string): boolean => diverged.has(recordKey(stream, id)),
    divergedOf: (stream: string, id: string) => diverged.get(recordKey(stream, id)),
    hasDiverged: (): boolean => diverged.size > 0,
    /** Marks `record` diverged: made on a server state numbered `floor`, `wait` for a key (key-wait list). */
    markDiverged(record: { stream: string; id: string }, floor: number, wait = false): void {
      const key = recordKey(record.stream, record.id);
      const f = Math.max(diverged.get(key)?.floor ?? 0, floor);
      diverged.delete(key);
      diverged.set(key, {
        stream: record.stream,
        id: record.id,
        ...(f > 0 ? { floor: f } : {}),
        ...(wait ? { wait: true as const } : {}),
      });
    },
    /** Forgets a mark; answers whether there was one. */
    undiverge: (stream: string, id: string): boolean => diverged.delete(recordKey(stream, id)),
    /** Forgets every mark of `stream` (purged); answers whether there was one. */
    undivergeStream(stream: string): boolean {
      const left = [...diverged].filter(([, r]) => r.stream === stream);
      for (const [key] of left) diverged.delete(key);
      return left.length > 0;
    },
    async load(): Promise<void> {
      unsent = (await deps.meta.get('unsent', SYNC_STATE.unsent)) ?? [];
      for (const r of (await deps.meta.get('diverged', SYNC_STATE.diverged)) ?? []) {
        diverged.set(recordKey(r.stream, r.id), {
          stream: r.stream,
          id: r.id,
          ...(r.floor === undefined ? {} : { floor: r.floor }),
          ...(r.wait === true ? { wait: true } : {}),
        });
      }
    },
    /** At stop: a save of the marks left waiting is done now. */
    async flush(): Promise<void> {
      if (divergedTimer !== undefined) {
        clearTimeout(divergedTimer);
        divergedTimer = undefined;
        await saveDiverged().catch(() => undefined);
      }
    },
  };
};
