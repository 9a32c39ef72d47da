// Comment ↔ Communication: exported with `about` naming the commented record, read back as a comment on
// the record imported from it; a message and a comment about a record Hale does not import are skipped.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from '../examples';
import { toFhirBundle, type FhirExportItem } from '../fhir';
import { standardFhirBundle } from '../fhir-references';
import { planFhirImport } from '../fhir-import';
import { validateRecord } from '../validate';

const FRESH = 'FreshAccount0000000001';

const exported = (records: readonly FhirExportItem[]) =>
  standardFhirBundle(
    toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records, generatedAt: '2026-11-24T09:00:00Z' }),
  );

const plan = (bundle: unknown) => {
  const planned = planFhirImport(JSON.stringify(bundle), {
    patientId: FRESH,
    importedAt: '2026-11-25T10:00:00.000Z',
  });
  if (!planned.ok) throw new Error(planned.error.message);
  return planned.value;
};

const resources = (bundle: unknown): Record<string, unknown>[] =>
  (bundle as { entry: { resource: Record<string, unknown> }[] }).entry.map((e) => e.resource);

describe('Comment', () => {
  const allergy = exampleRecord('Allergy');
  const comment = exampleRecord('Comment', {
    about: allergy.id,
    aboutKind: 'Allergy',
    text: 'It was the cashews, not the peanuts.',
  });

  it('is valid as the example has it', () => {
    expect(validateRecord('Comment', exampleRecord('Comment')).ok).toBe(true);
    expect(validateRecord('Comment', { ...comment, text: '' }).ok).toBe(false);
    expect(validateRecord('Comment', { ...comment, text: 'x'.repeat(4001) }).ok).toBe(false);
  });

  it('exports as a completed Communication about the commented resource, from the patient', () => {
    const bundle = exported([
      { kind: 'Allergy', record: allergy },
      { kind: 'Comment', record: comment },
    ] as FhirExportItem[]);
    const communication = resources(bundle).find((r) => r['resourceType'] === 'Communication')!;
    const intolerance = resources(bundle).find((r) => r['resourceType'] === 'AllergyIntolerance')!;
    expect(communication).toMatchObject({
      status: 'completed',
      payload: [{ contentString: comment.text }],
      about: [{ identifier: { system: 'urn:hale:id', value: allergy.id } }],
      sent: comment.writtenAt,
    });
    const patient = (communication['subject'] as { reference: string }).reference;
    expect((communication['sender'] as { reference: string }).reference).toBe(patient);
    const about = (communication['about'] as { reference: string }[])[0]!.reference;
    expect(about.endsWith(`AllergyIntolerance/${intolerance['id'] as string}`)).toBe(true);
  });

  it('imports back as a comment on the record imported from the commented resource (round trip)', () => {
    const bundle = exported([
      { kind: 'Allergy', record: allergy },
      { kind: 'Comment', record: comment },
    ] as FhirExportItem[]);
    const { records, skipped } = plan(bundle);
    expect(skipped.filter((s) => s.resourceType === 'Communication')).toEqual([]);
    const newAllergy = records.find((r) => r.kind === 'Allergy')!;
    const read = records.find((r) => r.kind === 'Comment')!;
    expect(read.input).toMatchObject({
      about: newAllergy.id,
      aboutKind: 'Allergy',
      text: comment.text,
      writtenAt: comment.writtenAt,
    });
    expect(read.notKept).toEqual([]);
  });

  it('skips a message (about nothing) and a comment about a record Hale does not import (a note)', () => {
    const note = exampleRecord('MedicalNote');
    const onNote = exampleRecord('Comment', { about: note.id, aboutKind: 'MedicalNote' });
    const { records, skipped } = plan(
      exported([
        { kind: 'Allergy', record: allergy },
        { kind: 'MedicalNote', record: note },
        { kind: 'Comment', record: onNote },
        { kind: 'Message', record: exampleRecord('Message') },
      ] as FhirExportItem[]),
    );
    expect(records.some((r) => r.kind === 'Comment')).toBe(false);
    const reasons = skipped.filter((s) => s.resourceType === 'Communication').map((s) => s.reason);
    expect(reasons.sort()).toEqual([
      'a comment about a record this file does not bring into Hale',
      'a message belongs to the conversation it was sent in',
    ]);
  });
});
