/**
 * The key-wait list: local versions RxDB took as sent while this device held no key to write their stream,
 * or that met a newer server version that cannot be verified yet (CONFLICT_WAIT).
 *
 * Invariants:
 * - A version lacking its write key (a grant whose envelopes are not published yet, an own stream's
 *   re-keying not confirmed) is not thrown back to RxDB, which holds every pull and live change while a
 *   push is under way: it goes on this list (at most MAX_KEY_WAITS; beyond it the push fails as before),
 *   persisted with the server state it was made on before the push handler returns (`key-wait`).
 * - It stays pending (after a restart too), its record is marked diverged, and it has a NO_KEY issue
 *   until answered. It is sent again once the key is held: at each connection, each access change, when
 *   the write guard changes, and after a backoff (KEY_WAIT_RETRY, util/backoff.ts), while no push of
 *   RxDB's runs (`rxdbPush`/`listPush`: the list's own send runs alone).
 * - A server version met once the key came is merged with it as RxDB merges a conflict, the merge sent
 *   on top and written here; a stream no longer writable sends it to unsent, a purge drops it
 *   (UNSENT_PURGED), a revocation of this device keeps it in unsent.
 * - `awaitInSync` resolves only once the list is empty.
 */
import type { WithDeleted } from 'rxdb';
import { sameVersion } from './record-codec';
import type { PlainRecord } from '../records/plain-record';
import type { EngineCore } from './engine-core';
import type { KeyWait, Refusal, SyncIssue } from './types';
import type { Merge } from './engine-parts';
import { SYNC_STATE } from './stored-state';
import { createBackoffTimer } from '../core/backoff';
import type { KeyWaits } from './engine-parts';

/**
 * Local versions kept waiting for their stream's write key (each with its content and that of the state
 * it was made on). Beyond it a push with versions lacking a key fails as a whole and RxDB sends it again
 * until the key comes, holding every pull meanwhile, as before the list existed.
 */
const MAX_KEY_WAITS = 1_000;
/** Backoff of sending versions waiting for their write key again. */
const KEY_WAIT_RETRY = { baseMs: 2_000, maxMs: 60_000 };

/** A record as stored (the fields of DeviceRecord and the deletion flag). */
export const storedRecord = (r: WithDeleted<PlainRecord>): WithDeleted<PlainRecord> => ({
  id: r.id,
  stream: r.stream,
  kind: r.kind,
  patientId: r.patientId,
  updatedAt: r.updatedAt,
  rv: r.rv,
  epoch: r.epoch,
  author: r.author,
  by: r.by,
  conflict: r.conflict,
  data: r.data,
  conflictData: r.conflictData,
  _deleted: r._deleted,
});

export const createKeyWaits = (core: EngineCore): KeyWaits => {
  const { deps } = core;
  const { keyring, collection } = deps;
  const report = core.issues.report;
  const clearIssues = core.issues.clearIssues;
  let keyWaits = new Map<string, KeyWait>();
  const keyWaitsSending = new Map<string, KeyWait>();
  let keyWaitsDrained: Array<() => void> = [];
  const saveKeyWaits = async (): Promise<void> => {
    await deps.meta.set(
      'key-wait',
      [...new Map([...keyWaitsSending, ...keyWaits]).values()].map((w) => ({
        record: storedRecord(w.record),
        ...(w.base === undefined ? {} : { base: storedRecord(w.base) }),
        at: w.at,
        ...(w.conflict === true ? { conflict: true } : {}),
      })),
    );
    if (keyWaits.size + keyWaitsSending.size > 0) return;
    const waiters = keyWaitsDrained;
    keyWaitsDrained = [];
    for (const w of waiters) w();
  };
  const keyWaitIssue = (record: PlainRecord): Omit<SyncIssue, 'at'> => ({
    code: 'NO_KEY',
    message: `No key yet to write ${record.stream}; the change waits on this device and is sent when the key comes`,
    stream: record.stream,
    id: record.id,
  });
  /**
   * Places on the key-wait list promised to rows not yet on it: RxDB sends a batch's frames at once, and
   * each push decides before any of them puts its rows there (`held`: this push's, released once they are
   * on the list or the push ended).
   */
  let keyWaitsReserved = 0;
  const roomForWait = (id: string, held: { n: number }): boolean => {
    if (keyWaits.has(id)) return true;
    if (keyWaits.size + keyWaitsReserved >= MAX_KEY_WAITS) return false;
    keyWaitsReserved++;
    held.n++;
    return true;
  };
  const releaseWaits = (held: { n: number }): void => {
    keyWaitsReserved -= held.n;
    held.n = 0;
  };
  /**
   * Puts versions lacking a write key on the key-wait list (persisted before the push handler returns, as
   * RxDB then takes them as sent). A version made on a waiting one (the push handler gives it that one's
   * base) or the same one again replaces its entry; any other version of the record (made on a server
   * version stored here meanwhile) cannot carry the waiting one's content, which goes to unsent. Each
   * record is marked diverged: its local copy is a version the server never took (see `hold`).
   */
  const parkRows = async (
    items: ReadonlyArray<{ record: WithDeleted<PlainRecord>; base: WithDeleted<PlainRecord> | undefined }>,
    { conflict = false }: { conflict?: boolean } = {},
  ): Promise<void> => {
    const aside: Refusal[] = [];
    for (const { record, base } of items) {
      const prior = keyWaits.get(record.id);
      const follows =
        prior === undefined ||
        sameVersion(prior.record, record) ||
        (base === undefined
          ? prior.base === undefined
          : prior.base !== undefined && sameVersion(base, prior.base));
      if (prior !== undefined && !follows) {
        aside.push({
          record: prior.record,
          base: prior.base,
          code: 'NO_KEY',
          message: `A newer server version of ${record.stream} record came before the key to send this change did; the change was not sent`,
        });
      }
      keyWaits.delete(record.id);
      keyWaits.set(record.id, { record, base, at: core.iso(), ...(conflict ? { conflict } : {}) });
      core.unsent.markDiverged(record, base?.rv ?? 0, true);
    }
    await core.unsent.saveDiverged();
    await saveKeyWaits();
    await core.unsent.hold(aside);
    // One waiting for a server version to open has that wait's own issue (CONFLICT_WAIT).
    if (!conflict) for (const { record } of items) report(keyWaitIssue(record));
    armKeyWaits();
  };
  // The key-wait list's own send runs alone: a version made on a waiting one is sent against that one's
  // base (`pushOnWaits`), which holds only while the waiting one is not being sent. RxDB's pushes run side
  // by side (it sends a batch's frames at once: serialised, live sync took twice as long at 100k records);
  // the list's send waits until none runs, and new ones wait for it.
  let pushesRunning = 0;
  let pushesIdle: Array<() => void> = [];
  let listTurn: Promise<void> | null = null;
  const rxdbPush = async <T>(run: () => Promise<T>): Promise<T> => {
    while (listTurn) await listTurn;
    pushesRunning++;
    try {
      return await run();
    } finally {
      pushesRunning--;
      if (pushesRunning === 0) {
        const idle = pushesIdle;
        pushesIdle = [];
        for (const resolve of idle) resolve();
      }
    }
  };
  /** Runs the list's send alone (one at a time: `wakeKeyWaits` starts one only when none runs). */
  const listPush = async (run: () => Promise<void>): Promise<void> => {
    let release = (): void => undefined;
    listTurn = new Promise<void>((resolve) => (release = resolve));
    try {
      if (pushesRunning > 0) await new Promise<void>((resolve) => pushesIdle.push(resolve));
      await run();
    } finally {
      listTurn = null;
      release();
    }
  };
  let keyWaitRun: Promise<void> | null = null;
  let keyWaitDue = false;
  /** Sends the waiting versions again after the backoff, while any wait (KEY_WAIT_RETRY). */
  const retry = createBackoffTimer(
    () => deps.keyWaitRetry ?? KEY_WAIT_RETRY,
    () => wakeKeyWaits(),
  );
  const armKeyWaits = (reset = false): void => {
    if (core.s.stopped || keyWaits.size === 0) {
      retry.reset();
      return;
    }
    retry.arm(reset);
  };
  /** A key may have come (a connection, an access change, the write guard): the waiting versions are sent. */
  const wakeKeyWaits = (reset = false): void => {
    if (reset) retry.resetCount();
    if (core.s.stopped || keyWaits.size === 0) return;
    keyWaitDue = true;
    if (!core.link.up() || keyWaitRun) return;
    keyWaitDue = false;
    keyWaitRun = listPush(sendKeyWaits)
      // What was not answered waits on (its NO_KEY issue stays); a dropped link or a server version that
      // cannot be verified yet is tried again at the next wake.
      .catch(() => undefined)
      .finally(() => {
        keyWaitRun = null;
        armKeyWaits();
        if (keyWaitDue) wakeKeyWaits();
      });
  };
  /**
   * Sends the waiting versions whose key is now held (or whose stream may no longer be written or read:
   * `pushRows` answers those), each against the state it was made on. A server version met meanwhile is
   * merged with it as RxDB merges a conflict, the merge sent on top of it and written here in place of the
   * waiting version or of that server version (RxDB may have stored it over the waiting one). An entry
   * leaves the list once answered; one whose merge was not taken waits on.
   */
  const sendKeyWaits = async (): Promise<void> => {
    if (keyWaits.size === 0 || core.s.stopped || !core.link.up()) return;
    await keyring.refresh().catch(() => 0);
    const ready: KeyWait[] = [];
    for (const w of keyWaits.values()) {
      const s = w.record.stream;
      if (!core.access.readable(s) || !core.access.writable(s) || (await keyring.writeKey(s)) !== null)
        ready.push(w);
    }
    if (ready.length === 0) return;
    for (const w of ready) {
      keyWaits.delete(w.record.id);
      keyWaitsSending.set(w.record.id, w);
    }
    const handler = collection.conflictHandler;
    try {
      const size = deps.batchSize ?? 500;
      for (let from = 0; from < ready.length; from += size) {
        const part = ready.slice(from, from + size);
        const conflicts = await core.push.pushRows(
          part.map((w) =>
            w.base === undefined
              ? { newDocumentState: w.record }
              : { newDocumentState: w.record, assumedMasterState: w.base },
          ),
          { park: true },
        );
        const byId = new Map(part.map((w) => [w.record.id, w]));
        const merges: Merge[] = [];
        for (const master of conflicts) {
          const copy = byId.get(master.id)?.record;
          if (!copy || handler.isEqual(master, copy, 'hale-key-wait')) continue;
          const resolved = await handler.resolve(
            { realMasterState: master, newDocumentState: copy },
            'hale-key-wait',
          );
          // The server's version already is the merge (both deleted, or the same content written later
          // there): nothing to send over it, which the server would refuse (the revision number must
          // grow). The wait is answered; the pull puts that version here as for any served version.
          if (!handler.isEqual(resolved, master, 'hale-key-wait')) merges.push({ copy, master, resolved });
        }
        const taken =
          merges.length > 0 ? await core.reset.storeMerges(merges, { overMaster: true }) : new Set();
        for (const w of part) {
          if (merges.some((m) => m.copy.id === w.record.id) && !taken.has(w.record.id)) continue;
          keyWaitsSending.delete(w.record.id);
          if (!keyWaits.has(w.record.id))
            clearIssues({ code: 'NO_KEY', stream: w.record.stream, id: w.record.id });
        }
        await saveKeyWaits();
      }
    } finally {
      // Not answered (the link dropped, a merge not taken): waiting again, unless a newer one took its place.
      for (const [id, w] of keyWaitsSending) if (!keyWaits.has(id)) keyWaits.set(id, w);
      keyWaitsSending.clear();
      // Revoked meanwhile: what waits can never be sent (kept unsent, the list emptied on disk too).
      if (core.link.fatal()?.code === 'DEVICE_REVOKED' && keyWaits.size > 0) core.unsent.keepRevokedUnsent();
    }
  };

  return {
    get: (id: string): KeyWait | undefined => keyWaits.get(id),
    has: (id: string): boolean => keyWaits.has(id),
    size: (): number => keyWaits.size + keyWaitsSending.size,
    waiting: (): number => keyWaits.size,
    /** Every waiting version, also those being sent now. */
    all: (): Map<string, KeyWait> => new Map([...keyWaitsSending, ...keyWaits]),
    /** Those of `stream`, also those being sent now. */
    ofStream: (stream: string): KeyWait[] =>
      [...keyWaits.values(), ...keyWaitsSending.values()].filter((w) => w.record.stream === stream),
    /** Drops the entry of `id` (waiting or being sent). */
    drop(id: string): void {
      keyWaits.delete(id);
      keyWaitsSending.delete(id);
    },
    /** Drops `id`'s waiting entry only (answered by a newer version). */
    dropWaiting: (id: string): boolean => keyWaits.delete(id),
    /** Empties the list (kept unsent: this device was revoked), on disk too. */
    async clear(): Promise<void> {
      keyWaits = new Map();
      keyWaitsSending.clear();
      await saveKeyWaits();
    },
    save: saveKeyWaits,
    roomForWait,
    releaseWaits,
    parkRows,
    rxdbPush,
    wakeKeyWaits,
    /** Resolves once the list is empty (every change of it is saved through `save`). */
    drained: (): Promise<void> => new Promise<void>((resolve) => keyWaitsDrained.push(resolve)),
    stopTimer: (): void => retry.cancel(),
    /** Reads the list at start: each counts as pending, and has its issue again (a conflict wait at its send). */
    async load(): Promise<void> {
      for (const w of (await deps.meta.get('key-wait', SYNC_STATE.keyWait)) ?? []) {
        const record = { ...w.record };
        keyWaits.set(record.id, {
          record,
          base: w.base === undefined ? undefined : { ...w.base },
          at: w.at,
          ...(w.conflict === true ? { conflict: true } : {}),
        });
        core.pending.atLeast(record.id, record.rv);
        if (w.conflict !== true) report(keyWaitIssue(record));
      }
      if (keyWaits.size > 0) core.pending.show();
    },
  };
};
