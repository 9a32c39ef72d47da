// Once the server holds a version of a patient's record that the patient's devices set aside
// BAD_TRANSITION (a grantee with write consent forged it), the patient's later local write to that record
// meets it as the server's side of a conflict. It is never merged in, neither as the record nor as a
// conflict side. Where the refusal is sure to hold for its writer (one write after the state the patient's
// device holds as the server's, signed by another account), the patient's write is sent over it, so the
// server's copy is the patient's again and the patient's other devices take it; the overwrite is reported
// (OVERWROTE_REFUSED) and the forged version stays set aside on that device, later versions too.
// Otherwise (a version further on, a merge, one of the patient's own account, a restore being caught up
// with, a write made on a version the server refused) the write is kept unsent and reported, as before.
// An honest concurrent edit is merged as any conflict, both sides kept.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import type { RecordOf } from '@hale/model';
import { parseRevTag } from '@hale/protocol';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  interceptedWebSocket,
  newDevice,
  openDevice,
  providerWithLabWrite,
  waitOnline,
} from '../support/devices';
import { gatedStorage } from '../support/gated-storage';
import { input } from '../support/records';

type Lab = RecordOf<'LabResult'>;

/**
 * A modified client's write: `change(held data)` as revision `rv + skip` (one write further by default),
 * with `stamp` over the record's own fields (e.g. a conflict), sealed with its keys.
 */
const forge = async (
  d: DeviceSession,
  id: string,
  change: (lab: Lab) => Record<string, unknown>,
  skip = 1,
  stamp: Record<string, unknown> = {},
) => {
  const doc = await d.db.records.findOne(id).exec();
  if (!doc) throw new Error(`the device does not hold ${id}`);
  const now = new Date().toISOString();
  await doc.incrementalModify((stored) => ({
    ...stored,
    rv: stored.rv + skip,
    updatedAt: now,
    author: d.account.device.deviceId,
    by: d.account.accountId,
    data: { ...change(stored.data as unknown as Lab), updatedAt: now },
    ...stamp,
  }));
};

/** History rewritten: the first version's value changed in place. */
const rewritten = (held: Lab) => ({ ...held, value: 140, version: 1, versions: [] });

describe('a forged server version set aside stays out of the patient’s later writes', () => {
  const server = useServer({ realClock: true });
  const stored = (id: string) =>
    server.t.store.db.prepare('SELECT rev, author FROM docs WHERE id = ?').get(id) as {
      rev: string;
      author: string;
    };
  const setAsideBy = async (sessions: DeviceSession[], id: string) => {
    for (const s of sessions) {
      await eventually(() => s.sync.quarantine().some((q) => q.id === id), 'the forgery is set aside');
    }
  };
  /**
   * A patient with a lab result, a second device of the patient holding it (opened with `p2Options`), and
   * a provider with write.
   */
  const setUp = async (p2Options: Omit<Parameters<typeof openDevice>[2], 'device'> = {}) => {
    const opened = await providerWithLabWrite(server.t, server.sessions, {
      lab: input('LabResult', { value: 98 }),
    });
    const device = await newDevice(server.t, opened.patient);
    const p2 = await openDevice(server.t, opened.patient, { ...p2Options, device });
    server.sessions.push(p2);
    await eventually(async () => (await p2.records.get(opened.lab.id)) !== null, 'p2 holds the lab');
    await Promise.all([waitOnline(opened.p), waitOnline(p2), waitOnline(opened.d)]);
    return { ...opened, p2, device };
  };
  /** `s` writes the lab result; its write is kept unsent and the server still holds `rev`. */
  const keptUnsent = async (s: DeviceSession, id: string, rev: string, performer: string) => {
    await s.records.update('LabResult', id, { performer }, { reason: performer });
    await eventually(
      () => s.sync.unsent().some((u) => u.id === id && u.data['performer'] === performer),
      `the edit to ${performer} is kept unsent`,
    );
    expect(s.sync.unsent().find((u) => u.data['performer'] === performer)?.code).toBe('CONFLICT_UNREADABLE');
    expect(stored(id).rev).toBe(rev);
    expect(s.sync.state().errors.filter((e) => e.code === 'OVERWROTE_REFUSED')).toEqual([]);
  };

  it('the patient’s later write goes over a version one write further; every patient device takes it', async () => {
    const { p, p2, d, lab, stream } = await setUp();
    await forge(d, lab.id, rewritten);
    await allPushed(d);
    await setAsideBy([p, p2], lab.id);
    const forged = stored(lab.id);

    await p.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    await allPushed(p);
    await eventually(() => stored(lab.id).rev !== forged.rev, 'the server holds the patient’s version');
    const restored = stored(lab.id);
    expect({ author: restored.author, n: parseRevTag(restored.rev)?.n }).toEqual({
      author: p.account.device.deviceId,
      n: (parseRevTag(forged.rev)?.n ?? 0) + 1,
    });
    // RxDB stores what the server took as the local copy once the push handler returned.
    const rv = parseRevTag(restored.rev)?.n;
    await eventually(async () => (await p.records.get(lab.id))?.rv === rv, 'the patient holds it');
    const held = await p.records.get<'LabResult'>(lab.id);
    const shown = (h: typeof held) => ({
      rv: h?.rv,
      conflict: h?.conflict,
      value: h?.record.value,
      performer: h?.record.performer,
      history: h?.record.versions.map((v) => v.value),
    });
    expect(shown(held)).toEqual({
      rv,
      conflict: false,
      value: 98,
      performer: 'Lab B',
      history: [98],
    });
    // Nothing of the patient's is left unsent; the forged version stays set aside on this device.
    expect(p.sync.unsent().filter((u) => u.id === lab.id)).toEqual([]);
    expect(
      p.sync
        .quarantine()
        .filter((q) => q.id === lab.id)
        .map((q) => [q.rev, q.reason]),
    ).toEqual([[forged.rev, 'BAD_TRANSITION']]);
    const codes = p.sync
      .state()
      .errors.filter((e) => e.id === lab.id)
      .map((e) => e.code);
    expect(codes).toContain('QUARANTINED');
    expect(codes).not.toContain('CONFLICT_UNREADABLE');
    // The overwrite is reported once, naming the replaced version and its writer, nothing of its content.
    const overwrote = p.sync.state().errors.filter((e) => e.code === 'OVERWROTE_REFUSED');
    expect(overwrote.map((e) => [e.stream, e.id])).toEqual([[stream, lab.id]]);
    expect(overwrote[0]?.message).toContain(forged.rev);
    expect(overwrote[0]?.message).toContain(d.account.accountId);
    // Without the names it gives (a revision tag or an id may hold "140" by chance: hex and base64url).
    const told = (overwrote[0]?.message ?? '')
      .replace(forged.rev, '<rev>')
      .replace(stream, '<stream>')
      .replace(d.account.accountId, '<account>');
    for (const content of ['140', 'Lab B']) expect(told).not.toContain(content);

    // The patient's other device, which set the forgery aside too, takes the patient's version.
    await eventually(async () => (await p2.records.get(lab.id))?.rv === held?.rv, 'p2 takes it');
    expect(shown(await p2.records.get<'LabResult'>(lab.id))).toEqual(shown(held));
    expect(p2.sync.unsent()).toEqual([]);

    // The record is not blocked: the next write is an ordinary one, on the patient's version.
    await p.records.update('LabResult', lab.id, { performer: 'Lab C' }, { reason: 'two' });
    await allPushed(p);
    await eventually(
      async () => (await p2.records.get<'LabResult'>(lab.id))?.record.performer === 'Lab C',
      'p2 takes the next write',
    );
    expect(shown(await p2.records.get<'LabResult'>(lab.id))).toMatchObject({
      conflict: false,
      value: 98,
      history: [98, 98],
    });
    expect(p.sync.unsent()).toEqual([]);
    // A later served version (the patient's other device's edit) does not end the trace of the replaced
    // version on the device that replaced it: it stays in quarantine, marked as written over.
    await p2.records.update('LabResult', lab.id, { performer: 'Lab D' }, { reason: 'three' });
    await allPushed(p2);
    await eventually(
      async () => (await p.records.get<'LabResult'>(lab.id))?.record.performer === 'Lab D',
      'p takes p2’s write',
    );
    // Entries a stored version answers leave a macrotask after RxDB reports it (gathered per page).
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      p.sync
        .quarantine()
        .filter((q) => q.id === lab.id)
        .map((q) => [q.rev, q.reason, q.overwritten?.by]),
    ).toEqual([[forged.rev, 'BAD_TRANSITION', d.account.accountId]]);
    expect(p.sync.state().errors.filter((e) => e.code === 'OVERWROTE_REFUSED')).toHaveLength(1);
    // Audited as the patient's edits they are, one entry each: sending one over the forgery adds none.
    await p.audit.flushChanges();
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'the audit outbox drains');
    const changes = (await p.audit.entries()).flatMap((e) =>
      e.author === p.account.device.deviceId &&
      e.body.kind === 'AuditEntry' &&
      e.body.action === 'records-changed'
        ? (e.body.changes ?? []).filter((c) => c.id === lab.id).map((c) => c.action)
        : [],
    );
    expect(changes).toEqual(['create', 'update', 'update']);
  });

  // The server takes the version sent over the forgery; RxDB writes it into the local copy only after the
  // push handler returned. Until then the device's copy is a version the server does not hold.
  it('the device that writes over a forgery counts its write pending until it holds what the server took', async () => {
    const gate = gatedStorage();
    const { p2, d, lab } = await setUp({ storage: gate.storage });
    await forge(d, lab.id, rewritten);
    await allPushed(d);
    await setAsideBy([p2], lab.id);
    const forged = stored(lab.id);

    gate.holdNextConflictWrite();
    await p2.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    await eventually(() => gate.holding(), 'RxDB holds what the server took');
    expect(stored(lab.id).rev).not.toBe(forged.rev);
    const whileHeld = {
      pending: p2.sync.state().pendingWrites,
      rv: (await p2.records.get(lab.id))?.rv,
    };
    gate.release();
    await allPushed(p2);
    const taken = parseRevTag(stored(lab.id).rev)?.n;
    expect(whileHeld).toEqual({ pending: 1, rv: parseRevTag(forged.rev)?.n });
    expect((await p2.records.get(lab.id))?.rv).toBe(taken);
    expect(p2.sync.state().errors.filter((e) => e.code === 'OVERWROTE_REFUSED')).toHaveLength(1);
  });

  it('an honest concurrent edit by the grantee is merged, both sides kept, nothing set aside', async () => {
    const { p, p2, d, lab } = await setUp();
    p.sync.goOffline();
    await d.records.update('LabResult', lab.id, { value: 140 }, { reason: 'corrected' });
    await allPushed(d);
    await p.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    p.sync.goOnline();
    await allPushed(p);
    await eventually(
      async () => (await p.records.get(lab.id))?.conflict === true,
      'the patient holds a merge',
    );
    const merged = await p.records.get<'LabResult'>(lab.id);
    // Both edits are there: one as the record, the other as the kept side.
    const values = [merged?.record.value, merged?.conflictData?.['value']];
    const performers = [merged?.record.performer, merged?.conflictData?.['performer']];
    expect(values).toContain(140);
    expect(performers).toContain('Lab B');
    for (const s of [d, p2]) {
      await eventually(async () => (await s.records.get(lab.id))?.rv === merged?.rv, 'the merge reaches all');
      expect((await s.records.get(lab.id))?.conflict).toBe(true);
    }
    for (const s of [p, p2, d]) {
      expect([s.sync.quarantine(), s.sync.unsent()]).toEqual([[], []]);
    }
  });

  it('a forged version numbered past one write stays on the server; the patient’s write is kept unsent', async () => {
    const { p, d, lab } = await setUp();
    // Versions in between may have been merges and settlements this device missed: the refusal could be
    // its own limit, so nothing is sent over it.
    await forge(d, lab.id, rewritten, 2);
    await allPushed(d);
    await setAsideBy([p], lab.id);
    const forged = stored(lab.id);

    await p.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    await eventually(
      () => p.sync.unsent().some((u) => u.id === lab.id && u.data['performer'] === 'Lab B'),
      'the edit is kept unsent',
    );
    expect(stored(lab.id).rev).toBe(forged.rev);
    expect((await p.records.get<'LabResult'>(lab.id))?.record.value).toBe(98);
    expect(p.sync.unsent().find((u) => u.id === lab.id)?.code).toBe('CONFLICT_UNREADABLE');
  });

  it('a version of the patient’s own account set aside is written over neither by the patient nor by a grantee', async () => {
    const { p, p2, d, lab } = await setUp();
    // Another device of the patient's (a modified build): the patient's own versions are not replaced,
    // and a grantee replaces nothing of the patient's record.
    await forge(p2, lab.id, rewritten);
    await allPushed(p2);
    await setAsideBy([p, d], lab.id);
    const forged = stored(lab.id);

    for (const [s, performer] of [
      [p, 'Lab B'],
      [d, 'Lab D'],
    ] as const) {
      await s.records.update('LabResult', lab.id, { performer }, { reason: 'one' });
      await eventually(
        () => s.sync.unsent().some((u) => u.id === lab.id && u.data['performer'] === performer),
        `the edit to ${performer} is kept unsent`,
      );
      expect(s.sync.unsent().find((u) => u.id === lab.id)?.code).toBe('CONFLICT_UNREADABLE');
    }
    expect(stored(lab.id).rev).toBe(forged.rev);
  });

  // Each guard of the overwrite, tried alone: with it removed from forgedOver (engine.ts), the server's
  // version would be replaced.
  describe('no overwrite where the refusal may not hold for the writer', () => {
    it('a forged merge (conflict) one write further', async () => {
      const { p, d, lab } = await setUp();
      await forge(d, lab.id, rewritten, 1, {
        conflict: true,
        conflictData: { ...rewritten({ ...(await d.records.get<'LabResult'>(lab.id))!.record }), value: 150 },
      });
      await allPushed(d);
      await setAsideBy([p], lab.id);
      await keptUnsent(p, lab.id, stored(lab.id).rev, 'Lab B');
    });

    it('while a restore of the server’s store is caught up with', async () => {
      const announced: { incarnation?: string } = {};
      const factory = interceptedWebSocket({
        received: (text, deliver) => {
          const frame = JSON.parse(text) as { t: string };
          if (frame.t === 'ready' && announced.incarnation !== undefined)
            deliver(JSON.stringify({ ...frame, incarnation: announced.incarnation }));
          else deliver();
        },
      });
      const { p2, d, lab } = await setUp({ createWebSocket: factory });
      await forge(d, lab.id, rewritten);
      await allPushed(d);
      await setAsideBy([p2], lab.id);
      // The edit waits offline; the next connection announces a restore, and the push meets the forgery
      // while the catch-up runs.
      p2.sync.goOffline();
      await eventually(() => p2.sync.state().status === 'stopped', 'p2 is offline');
      announced.incarnation = 'restored-incarnation-0001';
      const rev = stored(lab.id).rev;
      const edit = keptUnsent(p2, lab.id, rev, 'Lab B');
      p2.sync.goOnline();
      await edit;
      await eventually(
        () => p2.sync.state().errors.some((e) => e.code === 'RESTORE_SYNCED'),
        'the catch-up ends',
      );
      expect(stored(lab.id).rev).toBe(rev);
    });

    /**
     * p2's write is refused (a forgery two writes further), so RxDB assumes that refused version, one
     * write below the forgery, for p2's next write.
     */
    const assumingRefused = async (p2Options: Omit<Parameters<typeof openDevice>[2], 'device'> = {}) => {
      const set = await setUp(p2Options);
      await forge(set.d, set.lab.id, rewritten, 2);
      await allPushed(set.d);
      await setAsideBy([set.p2], set.lab.id);
      const rev = stored(set.lab.id).rev;
      await keptUnsent(set.p2, set.lab.id, rev, 'Lab B');
      return { ...set, rev };
    };

    it('a write made on a version the server refused (diverged), its unsent copy discarded', async () => {
      const { p2, lab, stream, rev } = await assumingRefused();
      expect(await p2.sync.discardUnsent(stream, lab.id)).toBe(true);
      await keptUnsent(p2, lab.id, rev, 'Lab C');
    });

    it('a write made on a version kept unsent, its diverged mark gone (dropped beyond the cap)', async () => {
      const gate = gatedStorage();
      const dbName = `forged-unsent-${Date.now()}`;
      const { patient, device, lab, rev, p2 } = await assumingRefused({ storage: gate.storage, dbName });
      // The marks are read at start: the next session of p2 holds none, its unsent list is kept.
      await p2.db.upsertLocal('meta-diverged', { value: [] });
      server.sessions.splice(server.sessions.indexOf(p2), 1);
      await p2.close();
      const again = await openDevice(server.t, patient, { device, storage: gate.storage, dbName });
      server.sessions.push(again);
      await waitOnline(again);
      expect(again.sync.unsent().map((u) => u.data['performer'])).toEqual(['Lab B']);
      await keptUnsent(again, lab.id, rev, 'Lab C');
    });
  });
});
