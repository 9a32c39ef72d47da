// A server restored onto an empty disk (nothing carried: stream positions restart from the backup's) while
// one device (a) holds edits of a record the backup lacks. Another device (b), which never saw them, edits
// the backup's version on the restored store first; its version takes a position a was served before the
// restore. When a catches up, b's version must be neither taken for one kept from before the restore and
// older than a's (an ancestor to overwrite) nor for a later one a had not pulled yet (to take in place of
// a's copy): both edits stay, as a conflict, on every device and on the server. The same holds for a
// device whose catch-up is backed off (a second restore within hours): meanwhile it syncs and pushes on,
// and its pushes must not take such a version for one it saw before the restore either. Devices are
// sessions as the app opens them.
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { useRestorableServer } from '../support/restorable-server';
import {
  allPushed,
  createdDevice,
  input,
  joinedDevice,
  online,
  reports,
  until,
  useHaleSessions,
  whenReported,
} from './restore-parties';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every substance a device's copy of the record holds: its own and each side kept in `conflictData`. */
const substances = async (s: HaleSession, id: string): Promise<string[]> => {
  const r = await s.records.get<'Allergy'>(id);
  if (r === null) return [];
  const top = r.conflictData ?? {};
  const earlier: unknown = top['_earlierConflicts'];
  const sides: unknown[] = Array.isArray(earlier) ? [top, ...(earlier as unknown[])] : [top];
  const kept = sides.map((side) => (isObject(side) ? side['substance'] : undefined));
  return [r.record.substance, ...kept].filter((x): x is string => typeof x === 'string').sort();
};

/**
 * What each device shows of record `id` once it holds `both` (or after 20 s): every substance it keeps, the
 * record's and its conflict sides'. Asserted whole, so a failure names each device's view.
 */
const viewsOnceBoth = async (devices: Record<string, HaleSession>, id: string, both: string[]) => {
  const seen: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(devices)) {
    await until(
      async () => JSON.stringify(await substances(s, id)) === JSON.stringify(both),
      `${name} holds both edits`,
      20_000,
    ).catch(() => undefined);
    seen[name] = await substances(s, id);
  }
  return seen;
};

const has = async (s: HaleSession, id: string): Promise<boolean> => (await s.records.get(id)) !== null;

describe('a server restored onto an empty disk, a record edited on both sides of the restore', () => {
  const { start } = useRestorableServer('hale-restore-fork-', { lostDisk: true, inProcess: true });
  const sessions = useHaleSessions();

  /**
   * `aEdits` versions of the record by a after the backup (and `aOthers` other records, which only move
   * the stream's position on), then `bEdits` by b after the restore.
   */
  const scenario = async (aEdits: number, aOthers: number, bEdits: number) => {
    const { t, backup, restore, positions } = await start();
    const { session: a, loginName } = await createdDevice(t.url, sessions);
    const { session: b } = await joinedDevice(t.url, sessions, loginName);
    const shared = await a.records.add('Allergy', input('Allergy', { substance: 'original' }));
    await allPushed(a);
    await until(() => has(b, shared.id), 'b has it', 15_000);
    await backup();
    b.sync.goOffline();
    // Lost with the restore, held only by a.
    for (let i = 0; i < aOthers; i++)
      await a.records.add('Allergy', input('Allergy', { substance: `other-${i}` }));
    for (let i = 2; i <= aEdits + 1; i++) {
      await a.records.update('Allergy', shared.id, { substance: `a-${i}` });
      await allPushed(a);
    }
    await allPushed(a);
    await a.sync.awaitInSync();
    const stream = `${a.account.accountId}/allergy`;
    const seenBefore = positions(stream).head;
    a.sync.goOffline();

    const restored = await restore();
    expect(restored.carried).toBeNull();
    b.sync.goOnline();
    await online(b);
    for (let i = 2; i <= bEdits + 1; i++) {
      await b.records.update('Allergy', shared.id, { substance: `b-${i}` });
      await allPushed(b);
    }
    // The premise: b's version sits at a position a was served before the restore.
    expect(positions(stream).seqs.get(shared.id) ?? Number.MAX_SAFE_INTEGER).toBeLessThanOrEqual(seenBefore);
    const rvA = (await a.records.get(shared.id))?.rv;
    const rvB = (await b.records.get(shared.id))?.rv;

    a.sync.goOnline();
    await whenReported(a, 'RESTORE_SYNCED', 'a caught up with the restore', 60_000);
    await Promise.all([a.sync.awaitInSync(), b.sync.awaitInSync()]);
    // A device new to the account reads what the server holds.
    const { session: c } = await joinedDevice(t.url, sessions, loginName);
    const both = [`a-${aEdits + 1}`, `b-${bEdits + 1}`].sort();
    expect(await viewsOnceBoth({ a, b, c }, shared.id, both)).toEqual({ a: both, b: both, c: both });
    for (const s of [a, b, c]) expect((await s.records.get(shared.id))?.conflict).toBe(true);
    return { rvA, rvB };
  };

  it("keeps b's edit when its revision number is below a's (not an ancestor of a's copy)", async () => {
    const { rvA, rvB } = await scenario(2, 0, 1);
    expect(rvB).toBeLessThan(rvA ?? 0);
  }, 180_000);

  it("keeps a's edit when b's revision number is above a's (not a later version a had not pulled)", async () => {
    const { rvA, rvB } = await scenario(1, 2, 2);
    expect(rvB).toBeGreaterThan(rvA ?? 0);
  }, 180_000);

  it('keeps the edit of a device new since the restore when a device whose catch-up is backed off edits the record', async () => {
    const { t, backup, restore, positions } = await start();
    const { session: a, loginName } = await createdDevice(t.url, sessions);
    const shared = await a.records.add('Allergy', input('Allergy', { substance: 'original' }));
    await allPushed(a);
    // A first restore, which a catches up with: a second one within hours is backed off (`resyncDelay`).
    await backup();
    await restore();
    // RESTORE_SYNCED is reported once the restore's incarnation is recorded (sync/reset.ts).
    await whenReported(a, 'RESTORE_SYNCED', 'a caught up with the first restore', 60_000);
    await backup();
    for (const substance of ['a-2', 'a-3']) {
      await a.records.update('Allergy', shared.id, { substance });
      await allPushed(a);
    }
    await a.sync.awaitInSync();
    const stream = `${a.account.accountId}/allergy`;
    const seenBefore = positions(stream).head;
    await restore();
    await whenReported(a, 'SERVER_RESTORES_REPEATED', 'a backs off its catch-up');
    // A device added since edits the backup's version; a, syncing on from its old positions, edits its own.
    const { session: c } = await joinedDevice(t.url, sessions, loginName);
    await until(() => has(c, shared.id), 'c has the record', 15_000);
    await c.records.update('Allergy', shared.id, { substance: 'c-2' });
    await allPushed(c);
    expect(positions(stream).seqs.get(shared.id) ?? Number.MAX_SAFE_INTEGER).toBeLessThanOrEqual(seenBefore);
    await a.records.update('Allergy', shared.id, { substance: 'a-4' });
    await allPushed(a);
    const { session: d } = await joinedDevice(t.url, sessions, loginName);
    const both = ['a-4', 'c-2'];
    expect(await viewsOnceBoth({ a, c, d }, shared.id, both)).toEqual({ a: both, c: both, d: both });
    // Still backed off: what a did was a push of the version it builds on, not a catch-up (none recorded
    // since the first restore's).
    expect(reports(a, 'RESTORE_SYNCED')).toHaveLength(1);
  }, 180_000);
});
