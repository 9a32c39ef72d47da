// The records API against sync: what add and update answer is a copy, and a purge in progress shows
// no empty record.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  newDevice,
  openDevice,
  openPatientAndProvider,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

describe('records against sync', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('observe never shows a provider an emptied record while a revoked stream is purged', async () => {
    const { patient, provider, p, d } = await openPatientAndProvider(server.t, sessions);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'provider pulls');

    const emitted: Array<Array<{ id: unknown; substance: unknown }>> = [];
    const sub = d.records
      .observe('Allergy', { patientId: patient.accountId })
      .subscribe((list) =>
        emitted.push(list.map((s) => ({ id: s.record.id, substance: s.record.substance }))),
      );
    try {
      await eventually(() => emitted.at(-1)?.length === 1, 'the list shows the allergy');
      const [grant] = await p.consent.list();
      await p.consent.revoke(grant!.grant.grantId);
      await eventually(() => emitted.at(-1)?.length === 0, 'the list empties when access ends');
      // Every state the list showed is a record as stored, or nothing: never a record with no content.
      const shown = emitted.flat();
      expect(shown.filter((r) => r.id !== allergy.id || r.substance !== 'Latex')).toEqual([]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a record object add() answered, changed by the caller afterwards, is not what syncs to the other device', async () => {
    const patient = await registerAccount(server.t);
    const second = await newDevice(server.t, patient);
    const a = await openDevice(server.t, patient, { offline: true });
    const b = await openDevice(server.t, patient, { device: second });
    sessions.push(a, b);
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    // A UI edits its form state in place (the typed result is no readonly object); nothing is saved.
    added.substance = 'Peanut (never saved)';
    a.sync.goOnline();
    await allPushed(a);
    await eventually(async () => (await b.records.get(added.id)) !== null, 'the other device pulls');
    expect((await b.records.get<'Allergy'>(added.id))?.record.substance).toBe('Latex');
  });

  it('a record object update() answered, changed by the caller afterwards, is not what get() and query() show', async () => {
    const patient = await registerAccount(server.t);
    const a = await openDevice(server.t, patient, { offline: true });
    sessions.push(a);
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const updated = await a.records.update('Allergy', added.id, { reaction: 'Rash' });
    updated.reaction = 'Anaphylaxis (never saved)';
    expect((await a.records.get<'Allergy'>(added.id))?.record.reaction).toBe('Rash');
    expect((await a.records.query('Allergy')).map((s) => s.record.reaction)).toEqual(['Rash']);
  });
});
