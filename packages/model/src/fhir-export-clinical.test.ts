// What the FHIR export must keep of what a clinician reads: a dose written as an ordinal stays a position
// in the series, a lab value keeps its reported digits, and a co-signature passed no signature is no
// signature claim. Each states what docs/data-model.md (or FHIR R4) says.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, type FhirBundle, type FhirResource } from './fhir';
import type { RecordKind, RecordOf } from './registry';
import { assertRecord } from './validate';

const exportOne = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>>): FhirBundle =>
  toFhirBundle({
    patientId: EXAMPLE_PATIENT_ID,
    records: [{ kind, record: assertRecord(kind, exampleRecord(kind, overrides)) } as never],
    generatedAt: '2024-06-01T12:00:00Z',
  });

const ofType = (bundle: FhirBundle, type: string): FhirResource[] =>
  bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === type);

describe('Immunization dose written as an ordinal (as vaccination cards print it)', () => {
  // data-model.md, Immunization: dose → `protocolApplied[0].doseNumberString` ("2 of 3") or
  // `doseQuantity` ("0.5 mL"): free text as written on the card.
  it.each(['2nd', '1st', '3rd'])('"%s" is the dose number, not an amount of vaccine', (dose) => {
    const [imm] = ofType(exportOne('Immunization', { dose }), 'Immunization');
    expect(imm?.doseQuantity).toBeUndefined();
    expect(imm?.protocolApplied).toEqual([{ doseNumberString: dose }]);
  });
});

describe('lab value written as a decimal with trailing zeros', () => {
  // FHIR R4 datatypes, decimal: "The precision of the decimal value has significance: e.g. 0.010 is
  // regarded as different to 0.01, and the original precision should be preserved". fhir.ts header:
  // "Nothing of a value is dropped".
  it.each(['0.010', '1.10', '5.0', '<0.50'])('"%s" keeps its reported precision', (value) => {
    const bundle = exportOne('LabResult', { value, version: 1, versions: [] });
    const [obs] = ofType(bundle, 'Observation').filter(
      (r) => r.id !== undefined && !r.id.endsWith('-blood-type'),
    );
    const digits = value.replace(/^[<>=≤≥\s]+/, '');
    // Somewhere in the exported Observation the reported digits must survive, as JSON text of the value.
    expect(JSON.stringify(obs)).toContain(digits);
  });
});

describe('signed NoteSignature exported without an author signature', () => {
  // data-model.md, NoteSignature: "A signed NoteSignature exports as a Provenance naming `signerId` as its
  // agent; it carries no `Provenance.signature` ... the signer is what the record says, not a verified
  // signature." and "exportFhir passes none ... so an export has no `Provenance.signature` at all".
  it('has no Provenance.signature (no E1762 signature claim without a signature)', () => {
    const bundle = exportOne('NoteSignature', { status: 'signed' });
    const provenances = ofType(bundle, 'Provenance');
    expect(provenances).toHaveLength(1);
    expect(provenances[0]?.signature).toBeUndefined();
  });
});

describe('a record read from a prescription whose source was too large to keep', () => {
  // fhir-export-records.ts: a medication exports as the MedicationRequest it came from; the origin says so.
  it('still leaves as a MedicationRequest', () => {
    const origin = {
      source: 'portal.json',
      resourceType: 'MedicationRequest',
      originalId: 'MedicationRequest/rx1',
      importedAt: '2024-05-01T00:00:00Z',
    };
    const bundle = exportOne('Medication', { origin });
    expect(ofType(bundle, 'MedicationRequest')).toHaveLength(1);
    expect(ofType(bundle, 'MedicationStatement')).toHaveLength(0);
  });
});
