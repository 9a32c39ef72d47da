import { describe, expect, it } from 'vitest';
import { validateFhirBundleShape } from '@hale/model';
import { useServer } from '../support/fixture';
import { eventually, patientWithAuditedGrant } from '../support/devices';
import { input } from '../support/records';

describe('audit trail end to end', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('records writes, consent and access; verifies; answers who saw what and the accounting of disclosures', async () => {
    const t = server.t;
    const { patient, provider, p, d, allergy } = await patientWithAuditedGrant(t, sessions);

    const verification = await p.audit.verify();
    expect(verification.ok).toBe(true);
    expect(verification.authors).toBeGreaterThanOrEqual(2); // the patient's device and the server

    const entries = await p.audit.entries();
    const actions = entries.map((e) => e.body.action);
    expect(actions).toEqual(
      expect.arrayContaining(['device-sign-in', 'records-changed', 'consent-grant', 'pull', 'key-fetch']),
    );
    const changed = entries.find((e) => e.body.action === 'records-changed')?.body;
    const changes = changed?.kind === 'AuditEntry' ? changed.changes : undefined;
    expect(changes).toEqual(expect.arrayContaining([{ action: 'create', kind: 'Allergy', id: allergy.id }]));

    const who = await p.audit.whoAccessed();
    expect(
      who.some(
        (w) =>
          w.actorId === provider.accountId &&
          w.action === 'pull' &&
          w.stream === `${patient.accountId}/allergy`,
      ),
    ).toBe(true);

    const disclosures = await p.audit.disclosures();
    expect(disclosures).toEqual([
      expect.objectContaining({
        recipient: provider.accountId,
        recordTypes: ['allergy'],
        purpose: 'pre-operative assessment',
      }),
    ]);
    expect(disclosures[0]!.accesses).toBeGreaterThan(0);

    // The provider cannot read the patient's audit log; it keeps the log of its own actions.
    await expect(d.audit.fetchAll(patient.accountId)).rejects.toThrow(/FORBIDDEN/);
    expect((await d.audit.ownActions()).map((e) => e.body.action)).toContain('device-sign-in');

    // Export is a standard FHIR Bundle, and exporting is itself audited.
    await p.records.add('Medication', input('Medication'));
    const bundle = await p.exportFhir();
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    const types = bundle.entry.map((e) => (e.resource as { resourceType: string }).resourceType);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'AllergyIntolerance', 'MedicationStatement']));
    await eventually(
      async () => (await p.audit.entries()).some((e) => e.body.action === 'export'),
      'export audited',
    );

    // Nobody can change or delete an entry: the server refuses, even from the patient's own device.
    const [first] = await p.audit.fetchAll(patient.accountId);
    const reply = await p.connection.request({
      t: 'push',
      rows: [
        { doc: { ...first!, seq: undefined, at: undefined, deleted: true } as never, assumedRev: first!.rev },
      ],
    });
    expect(reply).toMatchObject({ t: 'pushed', results: [{ status: 'error', code: 'APPEND_ONLY' }] });
    expect((await p.audit.verify()).ok).toBe(true);
  });
});
