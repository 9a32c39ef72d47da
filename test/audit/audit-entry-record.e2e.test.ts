// An AuditEntry is written only by the audit log (numbered, linked, signed, with the header the server
// requires): `records.add('AuditEntry', …)` is refused at once, and does not hold up the device's uploads.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const server = useServer();

describe('records: AuditEntry is not a record the app can add', () => {
  it('is refused at once, and does not hold up the sync of later records', async () => {
    const { t, sessions } = server;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const p = await openDevice(t, patient);
    const q = await openDevice(t, patient, { device: second });
    sessions.push(p, q);
    await waitOnline(p);
    const added = await p.records
      .add(
        'AuditEntry',
        input('AuditEntry', { actorId: patient.accountId, summary: 'provider X viewed your notes' }),
      )
      .then(
        () => 'stored',
        (e: unknown) => `refused ${(e as { code?: string }).code}`,
      );
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const reached = await eventually(
      async () => (await q.records.get(allergy.id)) !== null,
      'allergy elsewhere',
      5_000,
    ).then(
      () => true,
      () => false,
    );
    // Pending on p until the server's answer reaches it, which q may show the allergy before.
    await eventually(() => p.sync.state().pendingWrites === 0, 'the answer taken').catch(() => undefined);
    const fhir = await p.exportFhir();
    expect({
      added,
      reached,
      pending: p.sync.state().pendingWrites,
      unsent: p.sync.unsent(),
      exportedAuditEvents: fhir.entry.filter((e) => e.resource.resourceType === 'AuditEvent').length,
    }).toEqual({
      added: 'refused NOT_STORABLE',
      reached: true,
      pending: 0,
      unsent: [],
      exportedAuditEvents: 0,
    });
  });
});
