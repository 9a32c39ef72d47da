// A FHIR export of a record in an unsettled conflict carries every side, marked as in conflict: a
// clinician reading it must not take the dose one device happens to show as the settled one.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { HALE_CONFLICT_TAG, validateFhirBundleShape, type FhirBundle } from '@hale/model';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openTwoDevices } from '../support/devices';
import { input } from '../support/records';

/** Each MedicationStatement of the bundle: its id, dose value and whether it is tagged as in conflict. */
const statements = (bundle: FhirBundle) =>
  bundle.entry
    .map((e) => e.resource)
    .filter((r) => r.resourceType === 'MedicationStatement')
    .map((r) => {
      const json = JSON.stringify(r);
      return {
        id: r.id,
        dose: /"doseQuantity":\{"value":(\d+)/.exec(json)?.[1],
        inConflict: json.includes(`"code":"${HALE_CONFLICT_TAG.code}"`),
      };
    })
    .sort((x, y) => (x.id < y.id ? -1 : 1));

describe('the FHIR export of a record in conflict', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('carries both sides, tagged as in conflict, until a person settles it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, sessions);
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');
    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.update('Medication', med.id, { dose: '20 mg' });
    await new Promise((r) => setTimeout(r, 20));
    await b.records.update('Medication', med.id, { dose: '5 mg' });
    a.sync.goOnline();
    await allPushed(a);
    b.sync.goOnline();
    await allPushed(b);
    await eventually(async () => (await a.records.get(med.id))?.conflict === true, 'a holds the merge');

    const disputed = await a.exportFhir();
    expect(validateFhirBundleShape(disputed)).toMatchObject({ ok: true });
    expect(statements(disputed)).toEqual([
      { id: med.id, dose: '5', inConflict: true },
      { id: `${med.id}-conflict-1`, dose: '20', inConflict: true },
    ]);

    const shown = (await a.records.get(med.id))!;
    await a.records.resolveConflict(med.id, 'keep', { expectedRv: shown.rv });
    const settled = await a.exportFhir();
    expect(validateFhirBundleShape(settled)).toMatchObject({ ok: true });
    expect(statements(settled)).toEqual([{ id: med.id, dose: '5', inConflict: false }]);
  });
});
