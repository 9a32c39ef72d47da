// Pushes of records the model accepts but one push frame cannot carry: one sealed record over
// MAX_DOC_BYTES, and a batch whose records together exceed MAX_BATCH_BYTES. Neither may stop the device's
// uploads (RxDB resends a failed batch for ever, and every later write waits behind it), and the device
// never sends a frame the server must refuse for its size.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { exampleRecord, validateRecord } from '@hale/model';
import { MAX_BATCH_BYTES, MAX_BATCH_DOCS, docBytes, type PushFrame } from '@hale/protocol';
import type { WebSocketLike } from '@hale/client';
import { useServer } from '../support/fixture';
import { createWebSocket, eventually, openDevice } from '../support/devices';
import { input } from '../support/records';

const server = useServer();
const onServer = (id: string) =>
  server.t.store.db.prepare('SELECT 1 FROM docs WHERE id = ?').get(id) !== undefined;
/** The write counter of the server's copy of `id` (its `rev`'s first part), or null when it has none. */
const rvOnServer = (id: string): number | null => {
  const row = server.t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(id) as
    { rev: string } | undefined;
  return row === undefined ? null : Number(row.rev.split('-')[0]);
};

/** A socket factory that notes, for every push frame the device sends, its record ids and ciphertext bytes. */
const watchingPushes = () => {
  const frames: Array<{ ids: string[]; revs: string[]; bytes: number }> = [];
  const factory = (url: string): WebSocketLike => {
    const ws = createWebSocket(url);
    const send = ws.send.bind(ws);
    ws.send = (data: string) => {
      const frame = JSON.parse(data) as { t: string };
      if (frame.t === 'push') {
        const { rows } = frame as PushFrame;
        frames.push({
          ids: rows.map((r) => r.doc.id),
          revs: rows.map((r) => `${r.doc.id}@${r.doc.rev.split('-')[0]}`),
          bytes: rows.reduce((n, r) => n + docBytes(r.doc), 0),
        });
      }
      send(data);
    };
    return ws;
  };
  /** Frames over the protocol's limits (the server refuses them whole). */
  const oversize = () => frames.filter((f) => f.ids.length > MAX_BATCH_DOCS || f.bytes > MAX_BATCH_BYTES);
  return { frames, factory, oversize };
};

describe('push: records the model accepts but one frame cannot carry', () => {
  it('one long-lived care plan (valid, 1.2 MB sealed) goes to unsent() and every later record syncs', async () => {
    const { t, sessions } = server;
    const pushes = watchingPushes();
    const p = await openDevice(t, await registerAccount(t), {
      offline: true,
      createWebSocket: pushes.factory,
    });
    sessions.push(p);
    const details = 'Titrate lisinopril by home readings. '.repeat(300).slice(0, 10_000);
    const base = input('TreatmentPlan');
    const versions = Array.from({ length: 120 }, (_, i) => ({
      ...exampleRecord('TreatmentPlan').versions[0]!,
      version: i + 1,
      details,
    }));
    // The records API now refuses a record this large (MAX_RECORD_BYTES); a version an older build wrote,
    // or one grown by the sides of unsettled conflicts, still reaches the push: written here as an
    // older build's `update` wrote it (the plan's next version, noted pending).
    const small = await p.records.add('TreatmentPlan', base);
    const data = { ...small, details, version: 121, versions };
    expect(validateRecord('TreatmentPlan', data).ok).toBe(true);
    const stored = await p.db.records.findOne(small.id).exec();
    await stored!.incrementalModify((d) => ({ ...d, rv: 2, data }));
    p.engine.notePending(small.id, 2);
    const plan = { id: small.id };
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    p.sync.goOnline();
    const synced = await eventually(() => onServer(allergy.id), 'allergy pushed', 8_000).then(
      () => true,
      () => false,
    );
    // The plan is a version the server can never take: it is not pending (nothing will send it as it
    // is) but kept, visible and discardable, in unsent() with the server's code for it.
    await eventually(() => p.sync.state().pendingWrites === 0, 'nothing pending', 8_000).catch(() => {});
    const unsent = p.sync.unsent().map((u) => ({ id: u.id, code: u.code, rv: u.rv }));
    expect({ synced, pending: p.sync.state().pendingWrites, unsent }).toEqual({
      synced: true,
      pending: 0,
      unsent: [{ id: plan.id, code: 'TOO_LARGE', rv: 2 }],
    });
    // The large version never reached the server. Its first, small version may have: RxDB can hand it to
    // the push before the large one replaced it locally (with the crypto worker's slower seals, it does).
    expect(rvOnServer(plan.id)).not.toBe(2);
    // Not even sent: a version over MAX_DOC_BYTES is refused on the device.
    expect(pushes.frames.filter((f) => f.revs.includes(`${plan.id}@2`))).toEqual([]);
    // Reported too (just after it is kept in unsent(), which may be seen first).
    await eventually(
      () => p.sync.state().errors.some((e) => e.code === 'TOO_LARGE' && e.id === plan.id),
      'TOO_LARGE reported',
      8_000,
    );
    // The local copy is still the plan the person wrote.
    expect((await p.records.get(plan.id))?.record).toMatchObject({ version: 121 });
  });

  it.each([
    {
      what: '450 ordinary notes written offline (12 kB each, 5.7 MB together)',
      count: 450,
      phrase: 'Occasional dizziness on standing; BP 138/86; continue lisinopril. ',
      chars: 4000,
    },
    {
      what: '120 long notes (≈50 kB each, 6 MB together; more than one frame even in chunks of 100)',
      count: 120,
      phrase: 'Reviewed home BP log, symptoms and adherence; titration discussed at length. ',
      chars: 16_500,
    },
  ])(
    '$what reach the server',
    async ({ count, phrase, chars }) => {
      const { t, sessions } = server;
      const pushes = watchingPushes();
      const p = await openDevice(t, await registerAccount(t), {
        offline: true,
        createWebSocket: pushes.factory,
      });
      sessions.push(p);
      const text = phrase.repeat(Math.ceil(chars / phrase.length)).slice(0, chars);
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const note = await p.records.add(
          'NoteVersion',
          input('NoteVersion', { subjective: text, objective: text, assessment: text }),
        );
        ids.push(note.id);
      }
      p.sync.goOnline();
      const done = await eventually(() => p.sync.state().pendingWrites === 0, 'all pushed', 15_000).then(
        () => true,
        () => false,
      );
      expect({ done, pending: p.sync.state().pendingWrites, unsent: p.sync.unsent().length }).toEqual({
        done: true,
        pending: 0,
        unsent: 0,
      });
      expect(ids.filter((id) => !onServer(id))).toEqual([]);
      // Packed within the limits: no frame the server had to refuse (and the device to split).
      expect(pushes.oversize()).toEqual([]);
    },
    60_000,
  );

  it('a stored record the server refuses with the whole frame (an older build’s AuditEntry) goes to unsent(), the rest is pushed', async () => {
    const { t, sessions } = server;
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient, { offline: true });
    sessions.push(p);
    const allergies = [];
    for (let i = 0; i < 5; i++) {
      allergies.push(await p.records.add('Allergy', input('Allergy', { substance: `Substance ${i}` })));
    }
    // What an older build's `records.add('AuditEntry', …)` left in the store: an audit-stream document
    // without the audit header, which the protocol refuses for the whole push frame (BAD_MESSAGE).
    const entry = input('AuditEntry', { actorId: patient.accountId, summary: 'viewed notes' });
    const now = new Date().toISOString();
    const auditId = '01J9AUD1T000000000000000AA';
    await p.db.records.insert({
      id: auditId,
      stream: `${patient.accountId}/audit`,
      kind: 'AuditEntry',
      patientId: patient.accountId,
      updatedAt: now,
      rv: 1,
      epoch: 0,
      author: patient.device.deviceId,
      by: patient.accountId,
      conflict: false,
      data: { ...entry, id: auditId, patientId: patient.accountId, createdAt: now, updatedAt: now },
      conflictData: null,
    });
    const later = await p.records.add('Allergy', input('Allergy', { substance: 'Later' }));
    p.sync.goOnline();
    const ids = [...allergies, later].map((a) => a.id);
    const synced = await eventually(() => ids.every(onServer), 'allergies pushed', 8_000).then(
      () => true,
      () => false,
    );
    await eventually(() => p.sync.state().pendingWrites === 0, 'nothing pending', 8_000).catch(() => {});
    expect({
      synced,
      pending: p.sync.state().pendingWrites,
      unsent: p.sync.unsent().map((u) => [u.id, u.code]),
    }).toEqual({ synced: true, pending: 0, unsent: [[auditId, 'BAD_MESSAGE']] });
    expect(onServer(auditId)).toBe(false);
  });
});
