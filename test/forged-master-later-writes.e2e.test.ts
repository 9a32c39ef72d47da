// Once the server holds a version of a patient's record that the patient's devices set aside
// BAD_TRANSITION (a grantee with write consent forged it), the patient's later local write to that record
// meets it as the server's side of a conflict. It is never merged in, neither as the record nor as a
// conflict side. Where the refusal is sure to hold for its writer (one write after the state the patient's
// device holds as the server's, signed by another account), the patient's write is sent over it, so the
// server's copy is the patient's again and the patient's other devices take it; the forged version stays
// set aside. Otherwise (a version further on, or one of the patient's own account) the write is kept
// unsent and reported, as before. An honest concurrent edit is merged as any conflict, both sides kept.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client';
import type { RecordOf } from '@hale/model';
import { parseRevTag } from '@hale/protocol';
import { useServer } from './support/fixture';
import {
  allPushed,
  eventually,
  newDevice,
  openDevice,
  providerWithLabWrite,
  waitOnline,
} from './support/devices';
import { input } from './support/records';

type Lab = RecordOf<'LabResult'>;

/**
 * A modified client's write: `change(held data)` as revision `rv + skip` (one write further by default),
 * sealed with its keys.
 */
const forge = async (
  d: DeviceSession,
  id: string,
  change: (lab: Lab) => Record<string, unknown>,
  skip = 1,
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
  /** A patient with a lab result, a second device of the patient holding it, and a provider with write. */
  const setUp = async () => {
    const opened = await providerWithLabWrite(server.t, server.sessions, {
      lab: input('LabResult', { value: 98 }),
    });
    const p2 = await openDevice(server.t, opened.patient, {
      device: await newDevice(server.t, opened.patient),
    });
    server.sessions.push(p2);
    await eventually(async () => (await p2.records.get(opened.lab.id)) !== null, 'p2 holds the lab');
    await Promise.all([waitOnline(opened.p), waitOnline(p2), waitOnline(opened.d)]);
    return { ...opened, p2 };
  };

  it('the patient’s later write goes over a version one write further; every patient device takes it', async () => {
    const { p, p2, d, lab } = await setUp();
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
});
