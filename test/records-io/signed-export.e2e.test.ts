// A FHIR export leaves the device signed by the exporting account: a clinician handed the file (USB stick,
// e-mail) checks who made it and that nothing in it changed, offline, with verifyFhirExport alone.
import { describe, expect, it } from 'vitest';
import { verifyFhirExport } from '@hale/client';
import { validateFhirBundleShape } from '@hale/model';
import { useServer } from '../support/fixture';
import { patientWithAuditedGrant } from '../support/devices';
import { input } from '../support/records';

/** The file as the recipient gets it: JSON text, parsed by someone else's code. */
const asFile = (bundle: unknown): unknown => JSON.parse(JSON.stringify(bundle, null, 2));

describe('a signed FHIR export from a real session', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('verifies for the patient’s own export and for a provider’s export of the records it holds', async () => {
    const { patient, provider, p, d, allergy } = await patientWithAuditedGrant(server.t, sessions);
    await p.records.add('Medication', input('Medication'));

    const own = asFile(await p.exportFhir());
    expect(validateFhirBundleShape(own).ok).toBe(true);
    const ownChecked = await verifyFhirExport(own);
    expect(ownChecked).toMatchObject({ ok: true, signer: patient.accountId, patientId: patient.accountId });

    const held = asFile(await d.exportFhir(patient.accountId));
    expect(validateFhirBundleShape(held).ok).toBe(true);
    const checked = await verifyFhirExport(held);
    expect(checked).toMatchObject({ ok: true, signer: provider.accountId, patientId: patient.accountId });
    expect(JSON.stringify(held)).toContain(allergy.id);

    // The allergy's substance changed on the way: refused.
    const altered: unknown = JSON.parse(
      JSON.stringify(held).replace(`"${input('Allergy').substance}"`, '"Nothing"'),
    );
    expect(JSON.stringify(altered)).not.toBe(JSON.stringify(held));
    expect(await verifyFhirExport(altered)).toMatchObject({ ok: false, code: 'CONTENT_ALTERED' });
  });
});
