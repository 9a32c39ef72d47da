import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import {
  toFhirBundle,
  validateFhirBundleShape,
  type FhirBundle,
  type FhirExportItem,
  type FhirResource,
} from './fhir';
import { RECORD_KIND_NAMES, type RecordKind } from './registry';

// A record in an unsettled conflict may export as several resources (a Profile: the Patient and its
// blood-type Observation; a lab result: Observation, Provenance, report). Each one whose content the
// other side contests must say so, not only the record's main resource: a clinician reading the shown
// blood type must not take it as settled while the other side holds another one.

const PATIENT = 'PatientAccount00000001';
const LATER = '2024-06-01T09:30:00.000Z';
const TAG_CODE = 'in-conflict';
const LINK = 'https://hale.invalid/fhir/StructureDefinition/conflicting-version';

const byUrl = (bundle: FhirBundle, fullUrl: string, version?: string): FhirResource => {
  const found = bundle.entry.filter(
    (entry) =>
      entry.fullUrl === fullUrl &&
      (version === undefined ||
        (entry.resource.meta as { versionId?: string } | undefined)?.versionId === version),
  );
  expect(found, fullUrl).toHaveLength(1);
  return found[0]!.resource;
};
const tagCodes = (resource: FhirResource): string[] =>
  ((resource.meta as { tag?: { code: string }[] } | undefined)?.tag ?? []).map((tag) => tag.code);
const links = (resource: FhirResource): (string | undefined)[] =>
  ((resource.extension ?? []) as { url: string; valueReference?: { reference: string } }[])
    .filter((ext) => ext.url === LINK)
    .map((ext) => ext.valueReference?.reference);

describe('a record in conflict: every contested resource is marked', () => {
  it('the shown blood type is tagged in conflict and linked to the other side’s', () => {
    const shown = exampleRecord('Profile', { bloodType: 'O+' });
    const other = { ...shown, bloodType: 'A-' as const, updatedAt: LATER };
    const bundle = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [{ kind: 'Profile', record: shown, conflict: { sides: [{ record: other }] } }],
    });
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    const shownUrl = `urn:hale:Observation/${shown.id}-blood-type`;
    const sideUrl = `urn:hale:Observation/${shown.id}-blood-type-conflict-1`;
    const shownType = byUrl(bundle, shownUrl);
    const sideType = byUrl(bundle, sideUrl);
    expect((shownType.valueCodeableConcept as { text: string }).text).toBe('O+');
    expect((sideType.valueCodeableConcept as { text: string }).text).toBe('A-');
    expect(tagCodes(sideType)).toEqual([TAG_CODE]);
    expect(tagCodes(shownType)).toEqual([TAG_CODE]);
    expect(links(shownType)).toEqual([sideUrl]);
    expect(links(sideType)).toEqual([shownUrl]);
  });

  it('a resource both sides export alike stays untagged; one tag however many sides contest it', () => {
    const shown = exampleRecord('Profile', { bloodType: 'O+', fullName: 'Ada' });
    const sameType = { ...shown, fullName: 'Ada B.', updatedAt: LATER };
    const bundle = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [{ kind: 'Profile', record: shown, conflict: { sides: [{ record: sameType }] } }],
    });
    expect(tagCodes(byUrl(bundle, `urn:hale:Observation/${shown.id}-blood-type`))).toEqual([]);

    const b = { ...shown, bloodType: 'A-' as const, updatedAt: LATER };
    const c = { ...shown, bloodType: 'B+' as const, updatedAt: LATER };
    const twice = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [{ kind: 'Profile', record: shown, conflict: { sides: [{ record: b }, { record: c }] } }],
    });
    expect(validateFhirBundleShape(twice).ok).toBe(true);
    const shownType = byUrl(twice, `urn:hale:Observation/${shown.id}-blood-type`);
    expect(tagCodes(shownType)).toEqual([TAG_CODE]);
    expect(links(shownType)).toEqual([
      `urn:hale:Observation/${shown.id}-blood-type-conflict-1`,
      `urn:hale:Observation/${shown.id}-blood-type-conflict-2`,
    ]);
    expect(tagCodes(byUrl(twice, `urn:hale:Patient/${shown.patientId}`.replaceAll('_', '.')))).toEqual([
      TAG_CODE,
    ]);
  });

  it('a lab result: the shown version’s Provenance is contested with the other side’s', () => {
    const shown = exampleRecord('LabResult', { value: 98 });
    const other = {
      ...shown,
      value: 112,
      updatedAt: LATER,
      provenance: { ...shown.provenance, at: LATER, reason: 'Re-run' },
    };
    const bundle = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [{ kind: 'LabResult', record: shown, conflict: { sides: [{ record: other }] } }],
    });
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    const prov = byUrl(bundle, `urn:hale:Provenance/${shown.id}-prov-${shown.version}`);
    expect(tagCodes(prov)).toEqual([TAG_CODE]);
    expect(links(prov)).toEqual([`urn:hale:Provenance/${shown.id}-prov-${shown.version}-conflict-1`]);
    // The version both share is history, not contested.
    expect(tagCodes(byUrl(bundle, `urn:hale:Observation/${shown.id}`, '1'))).toEqual([]);
    expect(tagCodes(byUrl(bundle, `urn:hale:Provenance/${shown.id}-prov-1`))).toEqual([]);
  });
});

describe('a record in conflict with a deletion: all it exports is marked', () => {
  it('an immunization deleted on another device: its next-dose recommendation is disputed too', () => {
    const shown = exampleRecord('Immunization', { nextDoseDate: '2025-01-01' });
    const bundle = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [
        {
          kind: 'Immunization',
          record: shown,
          conflict: { sides: [{ deletion: { by: 'CaregiverAccount000001', at: LATER } }] },
        },
      ],
    });
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    const deletion = `urn:hale:Provenance/${shown.id}-conflict-1`;
    const due = byUrl(bundle, `urn:hale:ImmunizationRecommendation/${shown.id}-next-dose`);
    expect(tagCodes(due)).toEqual([TAG_CODE]);
    expect(links(due)).toEqual([deletion]);
    expect(links(byUrl(bundle, `urn:hale:Immunization/${shown.id}`))).toEqual([deletion]);
  });

  it('a lab result deleted on another device: its report and order are disputed too, once', () => {
    const shown = exampleRecord('LabResult');
    const bundle = toFhirBundle({
      patientId: PATIENT,
      generatedAt: LATER,
      records: [
        {
          kind: 'LabResult',
          record: shown,
          conflict: { sides: [{ deletion: { by: 'CaregiverAccount000001', at: LATER } }] },
        },
      ],
    });
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    for (const url of [
      `urn:hale:DiagnosticReport/${shown.id}-report`,
      `urn:hale:ServiceRequest/${shown.id}-order`,
    ]) {
      expect(tagCodes(byUrl(bundle, url)), url).toEqual([TAG_CODE]);
    }
  });
});

/**
 * What a deletion side disputes, per kind: every resource the record exports (`{id}` the record's id,
 * `{patient}` the patient's, `{note}` a NoteVersion's note), the deletion's own Provenance not listed. A
 * resource listed twice is exported in two versions (a lab result's earlier one, a plan's acknowledged one).
 * A NoteVersion's note is not deleted with it: only its main resource (the note's Composition) is.
 */
const DISPUTED_BY_DELETION: Record<Exclude<RecordKind, 'ProviderProfile'>, readonly string[]> = {
  Profile: ['Patient/{patient}', 'Observation/{id}-blood-type'],
  EmergencyContact: ['RelatedPerson/{id}'],
  HealthDocument: ['DocumentReference/{id}', 'DocumentReference/{id}-v1'],
  Allergy: ['AllergyIntolerance/{id}'],
  Immunization: ['Immunization/{id}', 'ImmunizationRecommendation/{id}-next-dose'],
  Medication: ['MedicationStatement/{id}'],
  LabResult: [
    'DiagnosticReport/{id}-report',
    'Observation/{id}',
    'Observation/{id}',
    'Provenance/{id}-prov-1',
    'Provenance/{id}-prov-2',
    'ServiceRequest/{id}-order',
  ],
  TreatmentPlan: [
    'CarePlan/{id}',
    'CarePlan/{id}',
    'Provenance/{id}-ack',
    'Provenance/{id}-prov-1',
    'Provenance/{id}-prov-2',
  ],
  Appointment: ['Appointment/{id}'],
  Message: ['Communication/{id}'],
  Encounter: ['Encounter/{id}'],
  MedicalNote: ['Composition/{id}'],
  NoteVersion: ['Composition/{note}'],
  NoteSignature: ['Provenance/{id}'],
  AuditEntry: ['AuditEvent/{id}'],
  Consent: ['Consent/{id}'],
  Condition: ['Condition/{id}'],
  Procedure: ['Procedure/{id}'],
  FamilyHistory: ['FamilyMemberHistory/{id}'],
  Comment: ['Communication/{id}'],
  MedicationDose: ['MedicationAdministration/{id}'],
};

describe('every kind in conflict with a deletion', () => {
  it.each(RECORD_KIND_NAMES.filter((kind) => kind !== 'ProviderProfile').map((kind) => [kind]))(
    '%s: a valid bundle, exactly the record’s resources and the deletion tagged, each linked',
    (kind) => {
      const records = RECORD_KIND_NAMES.filter((k) => k !== 'ProviderProfile').map(
        (k) => ({ kind: k, record: exampleRecord(k) }) as FhirExportItem,
      );
      const index = records.findIndex((r) => r.kind === kind);
      records[index] = {
        ...records[index]!,
        conflict: { sides: [{ deletion: { by: 'CaregiverAccount000001', at: LATER } }] },
      };
      const bundle = toFhirBundle({ patientId: PATIENT, generatedAt: LATER, records });
      const shape = validateFhirBundleShape(bundle);
      expect(shape.ok ? [] : shape.error.issues).toEqual([]);
      const record = records[index].record;
      const disputed = DISPUTED_BY_DELETION[kind];
      expect(disputed, `no expectation for ${kind}`).toBeDefined();
      const url = (path: string) =>
        `urn:hale:${path
          .replace('{id}', record.id)
          .replace('{patient}', PATIENT)
          .replace('{note}', 'noteId' in record ? record.noteId : '')}`;
      const deletion = url('Provenance/{id}-conflict-1');
      const tagged = bundle.entry.filter((e) => tagCodes(e.resource).includes(TAG_CODE));
      expect(tagged.map((e) => e.fullUrl).sort()).toEqual([...disputed.map(url), deletion].sort());
      for (const entry of tagged) {
        expect(links(entry.resource), entry.fullUrl).toEqual([
          entry.fullUrl === deletion ? expect.any(String) : deletion,
        ]);
      }
    },
  );
});
