// A server restored onto an empty disk (nothing carried from the lost store: stream positions restart from
// the backup's) under devices that had been served far higher positions before it. Versions stored after
// the catch-up take seqs those devices had already passed, for other documents. Each device must still
// receive every one of them — live while connected, and after a reconnect and a restart — each once: the
// positions it saw before the restore say nothing about the restored store.
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { gatedStorage } from '../support/gated-storage';
import { useRestorableServer } from '../support/restorable-server';
import {
  allPushed,
  codesNow,
  createdDevice,
  input,
  joinedDevice,
  online,
  reconnected,
  restarted,
  tappedPlatform,
  until,
  useHaleSessions,
  when,
  whenReported,
} from './restore-parties';

/** Versions of one record pushed after the backup, one by one: each takes a position of its own. */
const EDITS = 24;
/** Records written after the catch-up while every device is connected: all at positions seen before. */
const ROUND_BELOW = 8;
/** Then records whose positions run from below the highest one seen before the restore to past it. */
const ROUND_ACROSS = 24;

/** Of `ids` (records of `patientId`'s chart), those `s` does not hold (sorted); waits up to `ms` for it to hold them all. */
const missing = async (
  s: HaleSession,
  patientId: string,
  ids: readonly string[],
  ms = 15_000,
): Promise<string[]> => {
  const lacking = async () => {
    const held = new Set(
      (await s.records.query('Allergy', { patientId, ids })).items.map((r) => r.record.id),
    );
    return ids.filter((id) => !held.has(id)).sort();
  };
  await until(async () => (await lacking()).length === 0, 'all held', ms).catch(() => undefined);
  return lacking();
};

/** The patient's allergies `s` lists (a provider's device too: it holds the patient's chart). */
const allergyIds = async (s: HaleSession, patientId: string): Promise<string[]> =>
  (await s.records.query('Allergy', { patientId })).items.map((r) => r.record.id).sort();

/**
 * What b's last batch from the store before the restore was, and what b and d do between the catch-up
 * and a's writes: `records` (a's edits), both stay connected; `echo` (the echo of b's own push, which
 * hands RxDB nothing: only the pull floor moves), b restarts and d reconnects; `held-frame` (a live frame
 * with a record of a's, served before the restore, whose application b holds until its pull from 0 has
 * begun), both stay.
 */
type Variant = 'records' | 'echo' | 'held-frame';

describe('a server restored onto an empty disk, positions reused after the restore', () => {
  const { start } = useRestorableServer('hale-restore-known-', { lostDisk: true, inProcess: true });
  const sessions = useHaleSessions();

  const scenario = async (variant: Variant) => {
    const { t, backup, restore, positions } = await start();
    const gate = gatedStorage();
    // Set for the `held-frame` variant: b's first pull after the restore (its pull from 0) lets the held
    // frame go on, while b catches up (RxDB's awaitInSync waits for the held look-up).
    let releaseAtPull = false;
    // b's device: its store (gated) and vault kept across its restarts.
    const bDevice = tappedPlatform(
      { storage: gate.storage },
      {
        sent: (text, send) => {
          if (releaseAtPull && (JSON.parse(text) as { t: string }).t === 'pull') {
            releaseAtPull = false;
            gate.release();
          }
          send(text);
        },
      },
    );
    const { session: a, loginName } = await createdDevice(t.url, sessions);
    const { session: d, device: dDevice } = await createdDevice(t.url, sessions, { role: 'provider' });
    let { session: b } = await joinedDevice(t.url, sessions, loginName, { device: bDevice });
    const patientId = a.account.accountId;
    const providerId = d.account.accountId;
    await Promise.all([online(a), online(b), online(d)]);
    await a.consent.verifyProvider(providerId);
    await a.consent.grant({
      granteeId: providerId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 3_600_000,
      purpose: 'follow-up',
    });
    const base = await a.records.add('Allergy', input('Allergy', { substance: 'base' }));
    const own = await b.records.add('Allergy', input('Allergy', { substance: 'b-0' }));
    await allPushed(a);
    await allPushed(b);
    await backup();

    // After the backup: positions well past it, which the restored store will not have.
    const edited = await a.records.add('Allergy', input('Allergy', { substance: 'edit-0' }));
    await allPushed(a);
    for (let i = 1; i <= EDITS; i++) {
      await a.records.update('Allergy', edited.id, { substance: `edit-${i}` });
      await allPushed(a);
    }
    const lastEdit = `edit-${EDITS}`;
    for (const s of [b, d]) {
      await until(
        async () => (await s.records.get<'Allergy'>(edited.id))?.record.substance === lastEdit,
        'the last edit reached every device',
        15_000,
      );
    }
    const extra: string[] = [];
    if (variant === 'echo') {
      await b.records.update('Allergy', own.id, { substance: 'b-1' });
      await allPushed(b);
      for (const s of [a, d]) {
        await until(
          async () => (await s.records.get<'Allergy'>(own.id))?.record.substance === 'b-1',
          'b-1 reached a and d',
          15_000,
        );
      }
    }
    await Promise.all([a.sync.awaitInSync(), b.sync.awaitInSync(), d.sync.awaitInSync()]);
    if (variant === 'held-frame') {
      // b's application of the live frame bringing `late` stops at its look-up of local copies.
      gate.holdNextLookup();
      extra.push((await a.records.add('Allergy', input('Allergy', { substance: 'late' }))).id);
      await allPushed(a);
      await until(() => gate.holding(), "b is applying a's last record", 15_000);
      releaseAtPull = true;
    }
    const stream = `${patientId}/allergy`;
    const seenBefore = positions(stream).head;

    const restored = await restore();
    expect(restored.carried).toBeNull();
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['d', d],
    ] as const) {
      await whenReported(s, 'RESTORE_SYNCED', `${name} caught up with the restore`, 60_000);
    }
    if (variant === 'held-frame') expect(releaseAtPull).toBe(false);
    await Promise.all([a.sync.awaitInSync(), b.sync.awaitInSync(), d.sync.awaitInSync()]);
    if (variant === 'echo') {
      await b.close();
      b = await restarted(t.url, sessions, bDevice);
      await online(b);
      await b.sync.awaitInSync();
      await reconnected(d, dDevice, 'd');
      await d.sync.awaitInSync();
    }

    const write = async (n: number, tag: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        ids.push((await a.records.add('Allergy', input('Allergy', { substance: `${tag}-${i}` }))).id);
      }
      await allPushed(a);
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
    seen['b']!['live'] = await missing(b, patientId, written);
    seen['d']!['live'] = await missing(d, patientId, written);
    for (const [name, s, device] of [
      ['b', b, bDevice],
      ['d', d, dDevice],
    ] as const) {
      await reconnected(s, device, name);
      await s.sync.awaitInSync();
      seen[name]!['reconnect'] = await missing(s, patientId, written, 5_000);
    }
    // b restarts (its store kept); a writes once more.
    await b.close();
    b = await restarted(t.url, sessions, bDevice);
    await online(b);
    await b.sync.awaitInSync();
    seen['b']!['restart'] = await missing(b, patientId, written, 5_000);
    const last = await write(ROUND_BELOW, 'last');
    seen['b']!['live after restart'] = await missing(b, patientId, last);
    seen['d']!['live after reconnect'] = await missing(d, patientId, last);
    expect(seen).toEqual({
      b: { live: [], reconnect: [], restart: [], 'live after restart': [] },
      d: { live: [], reconnect: [], 'live after reconnect': [] },
    });

    // Each record once, as last written, everywhere; a device new to the account agrees.
    const { session: c } = await joinedDevice(t.url, sessions, loginName);
    const all = [base.id, own.id, edited.id, ...extra, ...written, ...last].sort();
    await when(c.records.list('Allergy'), (p) => p.total === all.length, 'c has everything', 30_000);
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['c', c],
      ['d', d],
    ] as const) {
      expect({ device: name, ids: await allergyIds(s, patientId) }).toEqual({
        device: name,
        ids: all,
      });
      expect((await s.records.get<'Allergy'>(edited.id))?.record.substance).toBe(lastEdit);
      const codes = codesNow(s);
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
