// A server store restored from a backup (docs/operations.md: stop, restore, start) under devices that keep
// running: the store lost what was written after the backup, and says so with a new `ready.incarnation`.
// The devices that hold those writes send them again and pull everything anew; a device that sees the
// incarnation it recorded does nothing of the kind.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { createWebSocket, eventually, openDevice, whenAllPushed, whenState } from '../support/devices';
import { input } from '../support/records';
import { useRestorableServer } from '../support/restorable-server';

/** A socket factory that counts the rows of every push frame a device sends. */
const countingPushes = () => {
  const counter = {
    rows: 0,
    /** The stream of every row pushed, in order (a failure says what was sent). */
    streams: [] as string[],
    factory: (url: string): WebSocketLike => {
      const ws = createWebSocket(url);
      const send = ws.send.bind(ws);
      ws.send = (data: string) => {
        const frame = JSON.parse(data) as { t: string; rows?: Array<{ doc?: { stream?: string } }> };
        if (frame.t === 'push') {
          counter.rows += frame.rows?.length ?? 0;
          for (const row of frame.rows ?? []) counter.streams.push(row.doc?.stream ?? '?');
        }
        send(data);
      };
      return ws;
    },
  };
  return counter;
};

/** A socket factory whose push requests the "server" refuses as busy (UNAVAILABLE), never sending them. */
const refusingPushes = (url: string): WebSocketLike => refusingPushesWhile(() => true)(url);
/** As `refusingPushes`, while `refusing()` holds. */
const refusingPushesWhile =
  (refusing: () => boolean) =>
  (url: string): WebSocketLike => {
    const ws = createWebSocket(url);
    const send = ws.send.bind(ws);
    ws.send = (data: string) => {
      const frame = JSON.parse(data) as { t: string; rid?: number };
      if (frame.t !== 'push' || !refusing()) return send(data);
      const reply = { t: 'error', rid: frame.rid, code: 'UNAVAILABLE', message: 'busy' };
      setTimeout(() => ws.onmessage?.({ data: JSON.stringify(reply) }), 0);
    };
    return ws;
  };

const recordedIncarnation = async (s: DeviceSession): Promise<string | undefined> =>
  (await s.db.getLocal<{ value: { recorded?: string } }>('meta-incarnation'))?.toJSON().data.value.recorded;

const allergies = async (s: DeviceSession) =>
  (await s.records.query('Allergy')).map((r) => ({
    id: r.record.id,
    substance: (r.record as { substance?: string }).substance,
    conflict: r.conflict,
  }));

describe('a server store restored from a backup', () => {
  const { sessions, start } = useRestorableServer('hale-restore-resync-', { inProcess: true });

  it('gets back what it lost from the devices that hold it; every device converges, nothing twice', async () => {
    const { t, backup, restore } = await start();
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const pushesA = countingPushes();
    const a = await openDevice(t, patient, { createWebSocket: pushesA.factory });
    const b = await openDevice(t, patient, { device: second });
    sessions.push(a, b);

    const before = await a.records.add('Allergy', input('Allergy', { substance: 'before-backup' }));
    const edited = await a.records.add('Allergy', input('Allergy', { substance: 'edited-v1' }));
    await whenAllPushed(a);
    await backup();
    // Written after the backup: the restored store will not hold them (nor the edit's second version).
    const after1 = await a.records.add('Allergy', input('Allergy', { substance: 'after-backup-1' }));
    const after2 = await a.records.add('Allergy', input('Allergy', { substance: 'after-backup-2' }));
    await a.records.update('Allergy', edited.id, { substance: 'edited-v2' });
    await whenAllPushed(a);
    await eventually(async () => (await b.records.query('Allergy')).length === 4, 'b has all four');
    await eventually(
      async () => (await b.records.get<'Allergy'>(edited.id))?.record.substance === 'edited-v2',
      'b has the edit',
    );

    // Stop, restore, start; the devices stay open and reconnect.
    const restored = await restore();
    expect(restored.warnings).toEqual([]);

    const x = await a.records.add('Allergy', input('Allergy', { substance: 'after-restore-x' }));
    const y = await b.records.add('Allergy', input('Allergy', { substance: 'after-restore-y' }));
    await whenAllPushed(a);
    await whenAllPushed(b);
    const expected = [
      { id: before.id, substance: 'before-backup', conflict: false },
      { id: edited.id, substance: 'edited-v2', conflict: false },
      { id: after1.id, substance: 'after-backup-1', conflict: false },
      { id: after2.id, substance: 'after-backup-2', conflict: false },
      { id: x.id, substance: 'after-restore-x', conflict: false },
      { id: y.id, substance: 'after-restore-y', conflict: false },
    ].sort((p, q) => p.id.localeCompare(q.id));
    const sorted = async (s: DeviceSession) => (await allergies(s)).sort((p, q) => p.id.localeCompare(q.id));

    // A third device, new to the account, receives from the server what the first two sent again.
    const third = await addDevice(t, patient);
    const c = await openDevice(t, patient, { device: third });
    sessions.push(c);
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const) {
      await eventually(
        async () => JSON.stringify(await sorted(s)) === JSON.stringify(expected),
        `${name} holds every record once, as last written`,
        30_000,
      ).catch(() => undefined);
      expect({ device: name, records: await sorted(s) }).toEqual({ device: name, records: expected });
    }
    for (const s of [a, b]) {
      const codes = s.sync.state().errors.map((e) => e.code);
      expect(codes.filter((c) => c === 'SERVER_RESTORED')).toHaveLength(1);
      expect(codes.filter((c) => c === 'STALE_VERSION' || c === 'RESTORE_RESYNC_FAILED')).toEqual([]);
      expect(s.sync.unsent()).toEqual([]);
    }

    // Caught up: at the next connection, the same incarnation means nothing is sent again.
    await a.sync.awaitInSync();
    await eventually(async () => {
      const meta = await a.db.getLocal<{ value: { recorded?: string } }>('meta-incarnation');
      return meta?.toJSON().data.value.recorded === restored.incarnation;
    }, 'a recorded the new incarnation');
    // The audit entry of the last writes is appended after a short coalescing delay and pushed on its own:
    // sent before going offline, it is no row sent again.
    await a.audit.flushChanges();
    await eventually(async () => (await a.audit.pendingCount()) === 0, "a's audit entries pushed");
    a.sync.goOffline();
    const rowsBefore = pushesA.rows;
    a.sync.goOnline();
    await whenState(a, (x) => x.status === 'online', 'a online again');
    await a.sync.awaitInSync();
    expect(pushesA.streams.slice(rowsBefore)).toEqual([]);
    expect(a.sync.state().errors.filter((e) => e.code === 'SERVER_RESTORED')).toHaveLength(1);
  }, 180_000);

  it('a record changed on two devices across the restore keeps both sides (a conflict, as any other)', async () => {
    const { t, backup, restore } = await start();
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(a, b);
    const shared = await a.records.add('Allergy', input('Allergy', { substance: 'original' }));
    await whenAllPushed(a);
    await eventually(async () => (await b.records.get(shared.id)) !== null, 'b has it');
    await backup();
    b.sync.goOffline();
    // Taken by the store after the backup: lost with the restore, held only by a.
    await a.records.update('Allergy', shared.id, { substance: 'changed on a' });
    await whenAllPushed(a);
    a.sync.goOffline();
    await restore();
    // b, which never saw a's change, changes the record on the restored store first.
    b.sync.goOnline();
    await whenState(b, (x) => x.status === 'online', 'b online');
    await b.records.update('Allergy', shared.id, { substance: 'changed on b' });
    await whenAllPushed(b);
    a.sync.goOnline();
    const c = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(c);
    const sides = async (s: DeviceSession) => {
      const r = await s.records.get<'Allergy'>(shared.id);
      const other = r?.conflictData as { substance?: string } | null | undefined;
      return { conflict: r?.conflict, substances: [r?.record.substance, other?.substance].sort() };
    };
    const both = { conflict: true, substances: ['changed on a', 'changed on b'] };
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const) {
      await eventually(
        async () => JSON.stringify(await sides(s)) === JSON.stringify(both),
        `${name} holds both sides`,
        20_000,
      ).catch(() => undefined);
      expect({ device: name, ...(await sides(s)) }).toEqual({ device: name, ...both });
    }
  }, 180_000);

  it('a catch-up cut short starts over at the next connection of the same session; its failure then leaves the issues', async () => {
    const { t, backup, restore } = await start();
    const patient = await registerAccount(t);
    let refusing = false;
    const a = await openDevice(t, patient, { createWebSocket: refusingPushesWhile(() => refusing) });
    sessions.push(a);
    await a.records.add('Allergy', input('Allergy', { substance: 'before-backup' }));
    await whenAllPushed(a);
    await backup();
    const lost = await a.records.add('Allergy', input('Allergy', { substance: 'after-backup' }));
    await whenAllPushed(a);

    // The device reconnects to the restored store, but no push gets through: the catch-up fails.
    refusing = true;
    await restore();
    const codes = (): string[] => a.sync.state().errors.map((e) => e.code);
    const reported = (code: string) => (x: { errors: ReadonlyArray<{ code: string }> }) =>
      x.errors.some((e) => e.code === code);
    await whenState(a, reported('RESTORE_RESYNC_FAILED'), 'the catch-up fails', 20_000);

    // Pushes pass again; the next connection of this session starts the catch-up over and finishes it.
    refusing = false;
    a.connection.drop();
    await whenState(a, reported('RESTORE_SYNCED'), 'the catch-up done', 20_000);
    expect(codes()).not.toContain('RESTORE_RESYNC_FAILED');
    expect(codes()).toContain('SERVER_RESTORED');
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(b);
    await eventually(async () => (await b.records.get(lost.id)) !== null, 'the lost record is back', 20_000);
  }, 120_000);

  it('a catch-up cut short starts over at the next start, and only then is the restore recorded', async () => {
    const { t, backup, restore } = await start();
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `restore-resync-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { storage, dbName });
    await first.records.add('Allergy', input('Allergy', { substance: 'before-backup' }));
    await whenAllPushed(first);
    await backup();
    const lost = await first.records.add('Allergy', input('Allergy', { substance: 'after-backup' }));
    await whenAllPushed(first);
    const before = await recordedIncarnation(first);
    expect(before).toBeDefined();
    await first.close();
    const { incarnation } = await restore();

    // The device comes back to the restored store, but no push gets through: the catch-up cannot finish.
    const cut = await openDevice(t, patient, { storage, dbName, createWebSocket: refusingPushes });
    await whenState(cut, (x) => x.errors.some((e) => e.code === 'SERVER_RESTORED'), 'the restore is seen');
    await whenState(
      cut,
      (x) => x.errors.some((e) => e.code === 'RESTORE_RESYNC_FAILED'),
      'the catch-up fails',
    );
    // Caught up with everything else: still, the restore is not recorded as caught up with.
    await whenState(cut, (x) => x.status === 'online', 'cut online');
    // Its pulls caught up. Not `awaitInSync`: that waits for every push too, and the re-send the server
    // refuses may still be pending (pendingWrites 1, refused busy again and again: it hung 2 runs in 15).
    await whenState(
      cut,
      (x) => x.initialSync.total > 0 && x.initialSync.done === x.initialSync.total,
      'cut caught up with its pulls',
    );
    expect(await recordedIncarnation(cut)).toBe(before);
    expect(cut.sync.state().errors.filter((e) => e.code === 'RESTORE_SYNCED')).toEqual([]);
    await cut.close();

    const again = await openDevice(t, patient, { storage, dbName });
    sessions.push(again);
    await eventually(
      async () => (await recordedIncarnation(again)) === incarnation,
      'the restore is recorded',
    );
    expect(again.sync.state().errors.map((e) => e.code)).toEqual(
      expect.arrayContaining(['SERVER_RESTORED', 'RESTORE_SYNCED']),
    );
    const c = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(c);
    await eventually(async () => (await c.records.get(lost.id)) !== null, 'the lost record is back', 20_000);
  }, 180_000);
});
