// Crash points: a device is killed after the k-th completed write of its store (k over a seeded range),
// in the middle of a mix of adds, updates and deletes made offline and online, or in the middle of the
// initial sync of a fresh device. After the restart on the same store the device syncs, and another device
// of the patient syncs too. Offline first (the TSDoc of @hale/client/advanced, Records, Sync state, Conflicts, Audit): every
// write the records API resolved before the kill is on both devices once, in its latest version (a write
// not resolved may be missing, never half-applied or doubled); `pendingWrites` reaches 0; no conflict
// without a concurrent edit; the server holds each record once; the audit log lists every resolved change,
// and none twice.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount, type TestAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice } from '../support/devices';
import { crashableStorage } from '../support/crash-storage';
import { input } from '../support/records';

type Server = ReturnType<typeof useServer>;

/** The server's rows for record `id`: how many, and whether the (one) row is a deletion. */
const serverRows = (server: Server, id: string): { n: number; deleted: number | null } => {
  const rows = server.t.store.db.prepare('SELECT deleted FROM docs WHERE id = ?').all(id) as {
    deleted: number;
  }[];
  return { n: rows.length, deleted: rows.length === 1 ? rows[0]!.deleted : null };
};

/**
 * `disk.storage` counting the writes that completed since `arm(k)`; the k-th one completed, the device
 * dies (`disk.crash()`), and `crashed` resolves.
 */
const crashAfterWrites = (disk: ReturnType<typeof crashableStorage>) => {
  let left = Infinity;
  let dead = false;
  let onCrash = (): void => undefined;
  const crashed = new Promise<'crashed'>((r) => (onCrash = () => r('crashed')));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrap = (instance: RxStorageInstance<any, any, any>) =>
    new Proxy(instance, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'bulkWrite' || typeof value !== 'function') return value;
        return async (rows: unknown, context: string) => {
          const result: unknown = await (value as (r: unknown, c: string) => Promise<unknown>).call(
            target,
            rows,
            context,
          );
          if (!dead && --left <= 0) {
            dead = true;
            disk.crash();
            onCrash();
          }
          return result;
        };
      },
    });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...disk.storage,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      return wrap(await disk.storage.createStorageInstance(params));
    },
  };
  return {
    storage,
    crashed,
    arm: (k: number): void => void (left = k),
    isDead: (): boolean => dead,
  };
};

/** `reader`'s served `records-changed` audit entries by `deviceId`, as `action:id` per change. */
const auditedChanges = async (reader: DeviceSession, deviceId: string): Promise<string[]> =>
  (await reader.audit.entries()).flatMap((e) =>
    e.author === deviceId && e.body.kind === 'AuditEntry' && e.body.action === 'records-changed'
      ? (e.body.changes ?? []).map((c) => `${c.action}:${c.id}`)
      : [],
  );

/**
 * Lets go of a killed session's collections (RxDB's free build counts 13 open per process): its close never
 * completes (no write does any more), so its collections are closed too, which frees their count at once.
 */
const release = (dead: DeviceSession): void => {
  void dead.close().catch(() => undefined);
  for (const c of Object.values(dead.db.collections) as { close: () => Promise<unknown> }[])
    void c.close().catch(() => undefined);
};

/** The content marker of a record, or `null` when it is deleted (absent). */
type State = string | null;

interface Expectation {
  /** States the record may show after the restart (one, unless its last write was cut by the kill). */
  allowed: Set<State>;
}

/** A deterministic series of crash points (k = writes completed after arming). */
const seeded = (seed: number, count: number, max: number): number[] => {
  let x = seed;
  const ks = new Set<number>([1, 2, 3]);
  while (ks.size < count) {
    x = (x * 1103515245 + 12345) % 2147483648;
    ks.add(1 + (x % max));
  }
  return [...ks].sort((a, b) => a - b);
};

// Writes the script below makes, measured without a crash: about 115 after arming (varies with timing).
const SCRIPT_POINTS = seeded(20240611, 24, 115);
// A fresh device makes about 70 writes to open and pull 24 records in pages of 5.
const INITIAL_SYNC_POINTS = [1, 4, 9, 14, 18, 22, 27, 32, 37, 42, 48, 54, 60, 66];

const open = async (
  server: Server,
  patient: TestAccount,
  options: Parameters<typeof openDevice>[2] = {},
): Promise<DeviceSession> => {
  const s = await openDevice(server.t, patient, options);
  server.sessions.push(s);
  return s;
};

/** Both devices hold exactly the records `expected` allows, each once, with no conflict. */
const checkRecords = async (
  s: DeviceSession,
  expected: Map<string, Expectation>,
  label: string,
  cutAdd: State = null,
): Promise<void> => {
  const listed = (await s.records.query('Allergy')).map((r) => r.record);
  const ids = listed.map((r) => r.id);
  expect(new Set(ids).size, `${label}: no record listed twice`).toBe(ids.length);
  // Besides those expected, only the add the kill cut, whole.
  const others = listed.filter((r) => !expected.has(r.id)).map((r) => r.substance);
  expect(others, `${label}: records not written`).toEqual(
    cutAdd === null ? [] : others.length ? [cutAdd] : [],
  );
  for (const [id, exp] of expected) {
    const got = listed.find((r) => r.id === id);
    const state: State = got ? got.substance : null;
    expect([...exp.allowed], `${label}: ${id}`).toContain(state);
    const single = await s.records.get<'Allergy'>(id);
    expect(single?.record.substance ?? null, `${label}: get ${id}`).toBe(state);
  }
  expect(
    (await s.records.conflicts()).map((c) => c.record.id),
    `${label}: conflicts`,
  ).toEqual([]);
};

// On both projects. Resolved writes missing from the audit log (found first on the crypto-worker project,
// then on both once this checked for them) were changes whose note was saved a macrotask after the write
// resolved: the awaited writes of a burst ran with no macrotask between them, so a kill anywhere in the
// burst lost all its notes. A write now resolves once its note is kept (audit-log.ts, NOTED).
describe('a device killed at many points of a mix of writes', () => {
  const server = useServer({ realClock: true });

  for (const k of SCRIPT_POINTS) {
    it(`killed after write ${k}: resolved writes once, in their latest version, everywhere`, async () => {
      const t = server.t;
      const disk = crashableStorage();
      const counter = crashAfterWrites(disk);
      const dbName = `crash-points-${k}-${Date.now()}`;
      const patient = await registerAccount(t);
      const a = await openDevice(t, patient, { storage: counter.storage, dbName });
      const deviceId = patient.device.deviceId;

      const expected = new Map<string, Expectation>();
      const seeds: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await a.records.add('Allergy', input('Allergy', { substance: `s${i}` }));
        seeds.push(r.id);
        expected.set(r.id, { allowed: new Set([`s${i}`]) });
      }
      await allPushed(a);
      await a.audit.flushChanges();
      await eventually(async () => (await a.audit.pendingCount()) === 0, 'seed audit sent');

      let stopped = false;
      /** Runs one write unless the device died; `from`/`to`: the record's state before and after. */
      let cutAdd: State = null;
      /** Every change the records API resolved before the kill, as `action:id`. */
      const resolved: string[] = [];
      const write = async (
        id: string | undefined,
        run: () => Promise<string>,
        action: 'create' | 'update' | 'delete',
        to: State,
      ): Promise<void> => {
        if (stopped) return;
        const outcome = await Promise.race([run(), counter.crashed]);
        if (outcome === 'crashed') {
          stopped = true;
          // Cut by the kill: the state before or after it, never anything else.
          if (id === undefined) cutAdd = to;
          else expected.get(id)?.allowed.add(to);
          return;
        }
        expected.set(outcome, { allowed: new Set([to]) });
        resolved.push(`${action}:${outcome}`);
      };
      const wait = async (check: () => boolean, what: string): Promise<void> => {
        if (stopped) return;
        const done = await Promise.race([
          eventually(check, what).then(() => 'done' as const),
          counter.crashed,
        ]);
        if (done === 'crashed') stopped = true;
      };
      let n0 = '';
      let n1 = '';

      counter.arm(k);
      a.sync.goOffline();
      await write(
        seeds[0],
        async () => (await a.records.update('Allergy', seeds[0]!, { substance: 's0-u' })).id,
        'update',
        's0-u',
      );
      await write(
        undefined,
        async () => (n0 = (await a.records.add('Allergy', input('Allergy', { substance: 'n0' }))).id),
        'create',
        'n0',
      );
      await write(
        seeds[1],
        async () => {
          await a.records.remove(seeds[1]!);
          return seeds[1]!;
        },
        'delete',
        null,
      );
      await write(
        n0,
        async () => (await a.records.update('Allergy', n0, { substance: 'n0-u' })).id,
        'update',
        'n0-u',
      );
      if (!stopped) a.sync.goOnline();
      await write(
        undefined,
        async () => (n1 = (await a.records.add('Allergy', input('Allergy', { substance: 'n1' }))).id),
        'create',
        'n1',
      );
      await write(
        seeds[2],
        async () => (await a.records.update('Allergy', seeds[2]!, { substance: 's2-u' })).id,
        'update',
        's2-u',
      );
      await wait(() => a.sync.state().pendingWrites === 0, 'first push');
      await write(
        n1,
        async () => {
          await a.records.remove(n1);
          return n1;
        },
        'delete',
        null,
      );
      await write(
        undefined,
        async () => (await a.records.add('Allergy', input('Allergy', { substance: 'n2' }))).id,
        'create',
        'n2',
      );
      await write(
        seeds[3],
        async () => (await a.records.update('Allergy', seeds[3]!, { substance: 's3-u' })).id,
        'update',
        's3-u',
      );
      await write(
        seeds[0],
        async () => {
          await a.records.remove(seeds[0]!);
          return seeds[0]!;
        },
        'delete',
        null,
      );
      await wait(() => a.sync.state().pendingWrites === 0, 'second push');
      if (!stopped) await Promise.race([new Promise((r) => setTimeout(r, 300)), counter.crashed]);
      if (!counter.isDead()) {
        // Past the last point of this run: kill it here.
        disk.crash();
      }
      a.sync.goOffline();
      release(a);

      const again = await open(server, patient, { storage: disk.afterCrash(), dbName });
      await allPushed(again, 'pending writes drained after the restart');
      await again.sync.awaitInSync();
      expect(again.sync.state().pendingWrites).toBe(0);
      await checkRecords(again, expected, 'restarted device', cutAdd);

      const second = await addDevice(t, patient);
      const b = await open(server, patient, { device: second });
      await b.sync.awaitInSync();
      await checkRecords(b, expected, 'second device', cutAdd);
      // Both show the same records.
      const listA = (await again.records.query('Allergy')).map((r) => `${r.record.id}=${r.record.substance}`);
      const listB = (await b.records.query('Allergy')).map((r) => `${r.record.id}=${r.record.substance}`);
      expect(listB.sort()).toEqual(listA.sort());

      for (const [id] of expected) {
        const rows = serverRows(server, id);
        const shown = (await again.records.get(id)) !== null;
        if (shown) expect(rows, `server row of ${id}`).toEqual({ n: 1, deleted: 0 });
        else expect(rows.n, `server rows of ${id}`).toBeLessThanOrEqual(1);
        if (!shown && rows.n === 1) expect(rows.deleted, `server row of ${id} deleted`).toBe(1);
      }

      await again.audit.flushChanges();
      await eventually(async () => (await again.audit.pendingCount()) === 0, 'audit outbox drained');
      const changes = await auditedChanges(b, deviceId);
      const twice = changes.filter((c, i) => changes.indexOf(c) !== i);
      expect(twice, 'audit changes listed twice').toEqual([]);
      expect(
        resolved.filter((c) => !changes.includes(c)),
        'resolved changes missing from the audit log',
      ).toEqual([]);
    }, 60_000);
  }
});

describe('a fresh device killed during its initial sync', () => {
  const server = useServer({ realClock: true });

  for (const k of INITIAL_SYNC_POINTS) {
    it(`killed after write ${k}: converges to the full set, each once`, async () => {
      const t = server.t;
      const patient = await registerAccount(t);
      const a = await open(server, patient);
      const expected = new Map<string, Expectation>();
      for (let i = 0; i < 24; i++) {
        const r = await a.records.add('Allergy', input('Allergy', { substance: `r${i}` }));
        expected.set(r.id, { allowed: new Set([`r${i}`]) });
      }
      await allPushed(a);

      const second = await addDevice(t, patient);
      const disk = crashableStorage();
      const counter = crashAfterWrites(disk);
      counter.arm(k);
      const dbName = `crash-initial-${k}-${Date.now()}`;
      const opening = openDevice(t, patient, {
        device: second,
        storage: counter.storage,
        dbName,
        batchSize: 5,
      });
      const first = await Promise.race([opening, counter.crashed]);
      if (first !== 'crashed') {
        await Promise.race([first.sync.awaitInSync(), counter.crashed]);
        if (!counter.isDead()) disk.crash();
        first.sync.goOffline();
        release(first);
      } else {
        void opening.then(release).catch(() => undefined);
      }

      const again = await open(server, patient, {
        device: second,
        storage: disk.afterCrash(),
        dbName,
        batchSize: 5,
      });
      await again.sync.awaitInSync();
      expect(again.sync.state().pendingWrites).toBe(0);
      await checkRecords(again, expected, 'restarted device');
      for (const [id] of expected) expect(serverRows(server, id)).toEqual({ n: 1, deleted: 0 });
      await again.audit.flushChanges();
      await eventually(async () => (await again.audit.pendingCount()) === 0, 'audit outbox drained');
      // A pulled record is no change of this device's.
      expect(await auditedChanges(a, second.deviceId)).toEqual([]);
    }, 60_000);
  }
});
