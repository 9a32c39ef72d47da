// A server restored onto an empty disk (nothing carried from the lost store: stream positions restart from
// the backup's) under devices that had been served far higher positions before it. Versions stored after
// the catch-up take seqs those devices had already passed, for other documents. Each device must still
// receive every one of them — live while connected, and after a reconnect and a restart — each once: the
// positions it saw before the restore say nothing about the restored store.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import {
  eventually,
  grantRead,
  interceptedWebSocket,
  openDevice,
  waitOnline,
  whenAllPushed,
  whenState,
} from '../support/devices';
import { input } from '../support/records';
import { gatedStorage } from '../support/gated-storage';
import { useRestorableServer } from '../support/restorable-server';

/** Versions of one record pushed after the backup, one by one: each takes a position of its own. */
const EDITS = 24;
/** Records written after the catch-up while every device is connected: all at positions seen before. */
const ROUND_BELOW = 8;
/** Then records whose positions run from below the highest one seen before the restore to past it. */
const ROUND_ACROSS = 24;

/** Of `ids`, those `s` does not hold (sorted); waits up to `ms` for it to hold them all. */
const missing = async (s: DeviceSession, ids: readonly string[], ms = 15_000): Promise<string[]> => {
  const lacking = async () => {
    const held = await s.db.records.findByIds([...ids]).exec();
    return ids.filter((id) => !held.has(id)).sort();
  };
  await eventually(async () => (await lacking()).length === 0, 'all held', ms).catch(() => undefined);
  return lacking();
};

/** The patient's allergies `s` lists (a provider's device too: it holds the patient's chart). */
const allergyIds = async (s: DeviceSession, patientId: string): Promise<string[]> =>
  (await s.records.query('Allergy', { patientId })).map((r) => r.record.id).sort();

const restoreSynced = (state: ReturnType<DeviceSession['sync']['state']>): boolean =>
  state.errors.some((e) => e.code === 'RESTORE_SYNCED');

/**
 * What b's last batch from the store before the restore was, and what b and d do between the catch-up
 * and a's writes: `records` (a's edits), both stay connected; `echo` (the echo of b's own push, which
 * hands RxDB nothing: only the pull floor moves), b restarts and d reconnects; `held-frame` (a live frame
 * with a record of a's, served before the restore, whose application b holds until its pull from 0 has
 * begun), both stay.
 */
type Variant = 'records' | 'echo' | 'held-frame';

describe('a server restored onto an empty disk, positions reused after the restore', () => {
  const { sessions, start } = useRestorableServer('hale-restore-known-', { lostDisk: true, inProcess: true });

  const scenario = async (variant: Variant) => {
    const { t, backup, restore, positions } = await start();
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const second = await addDevice(t, patient);
    const gate = gatedStorage();
    const bName = `restore-known-${variant}-${Date.now()}`;
    // Set for the `held-frame` variant: b's first pull after the restore (its pull from 0) lets the held
    // frame go on, while b catches up (RxDB's awaitInSync waits for the held look-up).
    let releaseAtPull = false;
    const socket = interceptedWebSocket({
      sent: (text, send) => {
        if (releaseAtPull && (JSON.parse(text) as { t: string }).t === 'pull') {
          releaseAtPull = false;
          gate.release();
        }
        send(text);
      },
    });
    const openB = () =>
      openDevice(t, patient, {
        device: second,
        storage: gate.storage,
        dbName: bName,
        createWebSocket: socket,
      });
    const a = await openDevice(t, patient);
    const d = await openDevice(t, provider);
    sessions.push(a, d);
    let b = await openB();
    await Promise.all([waitOnline(a), waitOnline(b), waitOnline(d)]);
    await a.consent.verifyProvider(provider.accountId);
    await grantRead(a, provider.accountId, 'allergy', 3_600_000, 'follow-up');
    const base = await a.records.add('Allergy', input('Allergy', { substance: 'base' }));
    const own = await b.records.add('Allergy', input('Allergy', { substance: 'b-0' }));
    await whenAllPushed(a);
    await whenAllPushed(b);
    await backup();

    // After the backup: positions well past it, which the restored store will not have.
    const edited = await a.records.add('Allergy', input('Allergy', { substance: 'edit-0' }));
    await whenAllPushed(a);
    for (let i = 1; i <= EDITS; i++) {
      await a.records.update('Allergy', edited.id, { substance: `edit-${i}` });
      await whenAllPushed(a);
    }
    const lastEdit = `edit-${EDITS}`;
    for (const s of [b, d]) {
      await eventually(
        async () => (await s.records.get<'Allergy'>(edited.id))?.record.substance === lastEdit,
        'the last edit reached every device',
      );
    }
    const extra: string[] = [];
    if (variant === 'echo') {
      await b.records.update('Allergy', own.id, { substance: 'b-1' });
      await whenAllPushed(b);
      for (const s of [a, d]) {
        await eventually(
          async () => (await s.records.get<'Allergy'>(own.id))?.record.substance === 'b-1',
          'b-1 reached a and d',
        );
      }
    }
    await Promise.all([a.sync.awaitInSync(), b.sync.awaitInSync(), d.sync.awaitInSync()]);
    if (variant === 'held-frame') {
      // b's application of the live frame bringing `late` stops at its look-up of local copies.
      gate.holdNextLookup();
      extra.push((await a.records.add('Allergy', input('Allergy', { substance: 'late' }))).id);
      await whenAllPushed(a);
      await eventually(() => gate.holding(), "b is applying a's last record");
      releaseAtPull = true;
    }
    const stream = `${patient.accountId}/allergy`;
    const seenBefore = positions(stream).head;

    const restored = await restore();
    expect(restored.carried).toBeNull();
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['d', d],
    ] as const) {
      await whenState(s, restoreSynced, `${name} caught up with the restore`, 60_000);
    }
    if (variant === 'held-frame') expect(releaseAtPull).toBe(false);
    await Promise.all([a.sync.awaitInSync(), b.sync.awaitInSync(), d.sync.awaitInSync()]);
    if (variant === 'echo') {
      await b.close();
      b = await openB();
      await waitOnline(b);
      await b.sync.awaitInSync();
      d.connection.drop();
      await eventually(() => d.connection.status() !== 'ready', 'd dropped');
      await waitOnline(d);
      await d.sync.awaitInSync();
    }

    const write = async (n: number, tag: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        ids.push((await a.records.add('Allergy', input('Allergy', { substance: `${tag}-${i}` }))).id);
      }
      await whenAllPushed(a);
      return ids;
    };
    const below = await write(ROUND_BELOW, 'below');
    const afterBelow = positions(stream);
    const across = await write(ROUND_ACROSS, 'across');
    const afterAcross = positions(stream);
    const seqsOf = (ids: readonly string[], at: typeof afterAcross) => ids.map((id) => at.seqs.get(id) ?? 0);
    // The premise: the restored store reused positions these devices had been served before it.
    expect(Math.max(...seqsOf(below, afterBelow))).toBeLessThanOrEqual(seenBefore);
    expect(Math.min(...seqsOf(across, afterAcross))).toBeLessThanOrEqual(seenBefore);
    expect(Math.max(...seqsOf(across, afterAcross))).toBeGreaterThan(seenBefore);

    const written = [...below, ...across];
    const seen: Record<string, Record<string, string[]>> = { b: {}, d: {} };
    // Live: connected since the catch-up (b and d through the restore, but for the `echo` variant).
    seen['b']!['live'] = await missing(b, written);
    seen['d']!['live'] = await missing(d, written);
    for (const [name, s] of [
      ['b', b],
      ['d', d],
    ] as const) {
      s.connection.drop();
      await eventually(() => s.connection.status() !== 'ready', `${name} dropped`);
      await waitOnline(s);
      await s.sync.awaitInSync();
      seen[name]!['reconnect'] = await missing(s, written, 5_000);
    }
    // b restarts (its store kept); a writes once more.
    await b.close();
    b = await openB();
    sessions.push(b);
    await waitOnline(b);
    await b.sync.awaitInSync();
    seen['b']!['restart'] = await missing(b, written, 5_000);
    const last = await write(ROUND_BELOW, 'last');
    seen['b']!['live after restart'] = await missing(b, last);
    seen['d']!['live after reconnect'] = await missing(d, last);
    expect(seen).toEqual({
      b: { live: [], reconnect: [], restart: [], 'live after restart': [] },
      d: { live: [], reconnect: [], 'live after reconnect': [] },
    });

    // Each record once, as last written, everywhere; a device new to the account agrees.
    const c = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(c);
    const all = [base.id, own.id, edited.id, ...extra, ...written, ...last].sort();
    await eventually(
      async () => (await allergyIds(c, patient.accountId)).length === all.length,
      'c has everything',
      30_000,
    );
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['c', c],
      ['d', d],
    ] as const) {
      expect({ device: name, ids: await allergyIds(s, patient.accountId) }).toEqual({
        device: name,
        ids: all,
      });
      expect((await s.records.get<'Allergy'>(edited.id))?.record.substance).toBe(lastEdit);
      const codes = s.sync.state().errors.map((e) => e.code);
      expect({ device: name, codes: codes.filter((x) => x === 'STALE_VERSION' || x === 'ID_CLASH') }).toEqual(
        {
          device: name,
          codes: [],
        },
      );
    }
  };

  it('a device and a grantee connected through it get every later record, live and after a reconnect and a restart, once', async () => {
    await scenario('records');
  }, 300_000);

  it('so do they when their last batch before it handed RxDB nothing and they restart or reconnect after the catch-up', async () => {
    await scenario('echo');
  }, 300_000);

  it('a live frame of the store before it, applied only after the catch-up, moves no position', async () => {
    await scenario('held-frame');
  }, 300_000);
});
