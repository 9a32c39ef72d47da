import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_CAREGIVER_ID,
  EXAMPLE_DEVICE_ID,
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  exampleRecord,
} from './examples';
import { validateFhirBundleShape, type FhirExportItem } from './fhir';
import type { RecordKind, RecordOf } from './registry';
import { assertRecord } from './validate';

import {
  GENERATED_AT,
  LOINC,
  item,
  exportItems,
  allExamples,
  at,
  entriesOf,
  resourceAt,
  only,
  exampleWithout,
  exportOne,
  expectElements,
  haleIds,
  referencesIn,
} from './fhir.test-util';

describe('toFhirBundle with one record of every kind', () => {
  const records = allExamples();
  const bundle = exportItems(records);
  const byKind = <K extends RecordKind>(kind: K): RecordOf<K> => {
    const found = records.find((entry) => entry.kind === kind);
    if (found === undefined) throw new Error(kind);
    return assertRecord(kind, found.record);
  };

  it('is a collection Bundle that passes the shape check', () => {
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('collection');
    expect(bundle.timestamp).toBe(GENERATED_AT);
    const check = validateFhirBundleShape(bundle);
    expect(check.ok ? [] : check.error.issues).toEqual([]);
  });

  it('gives every record exactly one resource of its FHIR type carrying its Hale id', () => {
    const expected: Record<RecordKind, { type: string; id: (r: FhirExportItem) => string }> = {
      Profile: { type: 'Patient', id: () => EXAMPLE_PATIENT_ID },
      EmergencyContact: { type: 'RelatedPerson', id: (r) => r.record.id },
      HealthDocument: { type: 'DocumentReference', id: (r) => r.record.id },
      Allergy: { type: 'AllergyIntolerance', id: (r) => r.record.id },
      Immunization: { type: 'Immunization', id: (r) => r.record.id },
      Medication: { type: 'MedicationStatement', id: (r) => r.record.id },
      LabResult: { type: 'Observation', id: (r) => r.record.id },
      TreatmentPlan: { type: 'CarePlan', id: (r) => r.record.id },
      Appointment: { type: 'Appointment', id: (r) => r.record.id },
      Message: { type: 'Communication', id: (r) => r.record.id },
      Encounter: { type: 'Encounter', id: (r) => r.record.id },
      MedicalNote: { type: 'Composition', id: (r) => r.record.id },
      NoteVersion: { type: 'Provenance', id: (r) => r.record.id },
      NoteSignature: { type: 'Provenance', id: (r) => r.record.id },
      Consent: { type: 'Consent', id: (r) => r.record.id },
      AuditEntry: { type: 'AuditEvent', id: (r) => r.record.id },
      ProviderProfile: { type: 'PractitionerRole', id: (r) => r.record.id },
      Condition: { type: 'Condition', id: (r) => r.record.id },
      Procedure: { type: 'Procedure', id: (r) => r.record.id },
      FamilyHistory: { type: 'FamilyMemberHistory', id: (r) => r.record.id },
      Comment: { type: 'Communication', id: (r) => r.record.id },
      MedicationDose: { type: 'MedicationAdministration', id: (r) => r.record.id },
    };
    for (const record of records) {
      const { type, id } = expected[record.kind];
      const versioned = 'version' in record.record ? record.record.version : undefined;
      const current = record.kind === 'MedicalNote' ? record.record.currentVersionNumber : versioned;
      const resource = resourceAt(bundle, type, id(record), current);
      if (type === 'Provenance' || type === 'AuditEvent') {
        // R4 gives these no identifier: the Hale id is the resource id.
        expect(resource.id, record.kind).toBe(record.record.id);
      } else {
        expect(haleIds(resource), record.kind).toEqual([record.record.id]);
      }
    }
    // The NoteVersion is also a version of its Composition; ProviderProfile also a Practitioner.
    const version = byKind('NoteVersion');
    resourceAt(bundle, 'Composition', version.noteId, version.versionNumber);
    resourceAt(bundle, 'Practitioner', byKind('ProviderProfile').accountId);
  });

  it('has exactly one Patient, built from the Profile', () => {
    const patient = only(bundle, 'Patient');
    expect(patient.id).toBe(EXAMPLE_PATIENT_ID);
    expect(haleIds(patient)).toEqual([byKind('Profile').id]);
    expect(at(patient, 'name[0].text')).toBe('Ada Example');
  });

  it('fills the elements FHIR R4 requires', () => {
    const required: [string, string[]][] = [
      ['RelatedPerson', ['patient']],
      ['DocumentReference', ['status', 'content']],
      ['AllergyIntolerance', ['patient']],
      ['Immunization', ['status', 'vaccineCode', 'patient', 'occurrence[x]']],
      ['MedicationStatement', ['status', 'medication[x]', 'subject']],
      ['Observation', ['status', 'code']],
      ['DiagnosticReport', ['status', 'code']],
      ['ServiceRequest', ['status', 'intent', 'subject']],
      ['CarePlan', ['status', 'intent', 'subject']],
      ['Appointment', ['status', 'participant']],
      ['Communication', ['status']],
      ['Encounter', ['status', 'class']],
      ['Composition', ['status', 'type', 'date', 'author', 'title']],
      ['Consent', ['status', 'scope', 'category']],
      ['AuditEvent', ['type', 'recorded', 'agent', 'source']],
      ['Provenance', ['target', 'recorded', 'agent']],
      ['ImmunizationRecommendation', ['patient', 'date', 'recommendation']],
    ];
    for (const [type, elements] of required) {
      const resources = entriesOf(bundle, type);
      expect(resources.length, type).toBeGreaterThan(0);
      for (const resource of resources) expectElements(resource, elements);
    }
    for (const event of entriesOf(bundle, 'AuditEvent')) {
      expect(at(event, 'agent[0].requestor')).toBe(true);
      expect(at(event, 'source.observer.reference')).toBeTypeOf('string');
    }
    for (const appointment of entriesOf(bundle, 'Appointment')) {
      for (const participant of appointment.participant as unknown[]) {
        expect(at(participant, 'status')).toBe('accepted');
      }
    }
  });

  it('resolves every reference to an entry of the bundle', () => {
    const fullUrls = new Set(bundle.entry.map((entry) => entry.fullUrl));
    const references = referencesIn(bundle.entry);
    expect(references.length).toBeGreaterThan(30);
    // `#id` names a contained resource of its own resource (a plan's goal): fhir-shape.ts checks those.
    for (const reference of references.filter((r) => !r.startsWith('#'))) {
      expect(fullUrls.has(reference.replace(/\/_history\/[^/]+$/, '')), reference).toBe(true);
    }
    // Subjects all point at the one Patient.
    for (const resource of bundle.entry.map((entry) => entry.resource)) {
      for (const element of ['subject', 'patient', 'for']) {
        const ref = at(resource, `${element}.reference`);
        if (ref !== undefined)
          expect(ref, resource.resourceType).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
      }
    }
  });

  it('gives minimal resources to people and devices named only by id', () => {
    const caregiver = resourceAt(bundle, 'RelatedPerson', EXAMPLE_CAREGIVER_ID);
    expect(at(caregiver, 'patient.reference')).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(caregiver, 'identifier[0]')).toEqual({
      system: 'urn:hale:account',
      value: EXAMPLE_CAREGIVER_ID,
    });
    const device = resourceAt(bundle, 'Device', EXAMPLE_DEVICE_ID);
    expect(at(device, 'identifier[0]')).toEqual({ system: 'urn:hale:device', value: EXAMPLE_DEVICE_ID });
    const consent = only(bundle, 'Consent');
    expect(at(consent, 'performer[0].reference')).toBe(`urn:hale:RelatedPerson/${EXAMPLE_CAREGIVER_ID}`);
    expect(at(consent, 'provision.actor[0].reference.reference')).toBe(
      `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`,
    );
  });

  it('is JSON-serialisable and deterministic, whatever the input order', () => {
    const json = JSON.stringify(bundle);
    expect(JSON.parse(json)).toEqual(bundle);
    expect(JSON.stringify(exportItems(records))).toBe(json);
    expect(JSON.stringify(exportItems([...records].reverse()))).toBe(json);
  });

  it('uses no empty strings, arrays or objects', () => {
    const empties: string[] = [];
    const visit = (value: unknown, path: string) => {
      if (typeof value === 'string' && value.trim() === '') empties.push(path);
      else if (Array.isArray(value)) {
        if (value.length === 0) empties.push(path);
        value.forEach((child, index) => visit(child, `${path}[${index}]`));
      } else if (value !== null && typeof value === 'object') {
        if (Object.keys(value).length === 0) empties.push(path);
        for (const [key, child] of Object.entries(value)) visit(child, `${path}.${key}`);
      }
    };
    visit(bundle, 'Bundle');
    expect(empties).toEqual([]);
  });
});

describe('toFhirBundle without a Profile', () => {
  it('adds a minimal Patient so subjects resolve', () => {
    const { bundle } = exportOne('Allergy');
    const patient = only(bundle, 'Patient');
    expect(patient).toEqual({
      resourceType: 'Patient',
      id: EXAMPLE_PATIENT_ID,
      identifier: [{ system: 'urn:hale:account', value: EXAMPLE_PATIENT_ID }],
    });
    expect(bundle.entry[0]?.fullUrl).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(only(bundle, 'AllergyIntolerance'), 'patient.reference')).toBe(
      `urn:hale:Patient/${EXAMPLE_PATIENT_ID}`,
    );
  });

  it('turns _ in account ids into . for FHIR ids', () => {
    const patientId = 'Patient_Account_000001';
    const allergy = exampleRecord('Allergy', { patientId });
    const bundle = exportItems([item('Allergy', allergy)], patientId);
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    expect(only(bundle, 'Patient').id).toBe('Patient.Account.000001');
    expect(at(only(bundle, 'Patient'), 'identifier[0].value')).toBe(patientId);
  });
});

// ---------------------------------------------------------------------------------------- enumerations

describe('enumerations', () => {
  it.each([
    [true, 'active'],
    [false, 'inactive'],
  ] as const)('Allergy active %s → clinicalStatus %s', (active, code) => {
    const { bundle } = exportOne('Allergy', { active });
    expect(at(only(bundle, 'AllergyIntolerance'), 'clinicalStatus.coding[0]')).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
      code,
    });
  });

  it.each([
    ['mild', 'mild'],
    ['moderate', 'moderate'],
    ['severe', 'severe'],
  ] as const)('Allergy severity %s → reaction.severity %s; criticality is its own', (severity, code) => {
    const { bundle } = exportOne('Allergy', { severity, criticality: 'low' });
    const allergy = only(bundle, 'AllergyIntolerance');
    expect(at(allergy, 'reaction[0].severity')).toBe(code);
    expect(allergy.criticality).toBe('low');
  });

  it('Allergy verificationStatus: exported when known, left out when not said', () => {
    const unconfirmed = only(
      exportOne('Allergy', { verificationStatus: 'unconfirmed' }).bundle,
      'AllergyIntolerance',
    );
    expect(at(unconfirmed, 'verificationStatus.coding[0].code')).toBe('unconfirmed');
    const none = only(exportOne('Allergy', {}, ['verificationStatus']).bundle, 'AllergyIntolerance');
    expect(none.verificationStatus).toBeUndefined();
  });

  it.each(['food', 'medication', 'environment', 'biologic'] as const)('Allergy category %s', (category) => {
    const { bundle } = exportOne('Allergy', { category });
    expect(at(only(bundle, 'AllergyIntolerance'), 'category')).toEqual([category]);
  });

  it.each([
    ['registered', 'registered'],
    ['preliminary', 'preliminary'],
    ['final', 'final'],
    ['amended', 'amended'],
    ['corrected', 'corrected'],
    ['cancelled', 'cancelled'],
    ['entered-in-error', 'entered-in-error'],
  ] as const)('LabResult status %s → Observation.status %s', (status, code) => {
    const { record, bundle } = exportOne('LabResult', { status });
    expect(resourceAt(bundle, 'Observation', record.id, record.version).status).toBe(code);
    expect(only(bundle, 'DiagnosticReport').status).toBe(code);
  });

  it.each([
    ['draft', 'draft'],
    ['active', 'active'],
    ['completed', 'completed'],
  ] as const)('TreatmentPlan status %s → CarePlan.status %s, intent plan', (status, code) => {
    const { record, bundle } = exportOne('TreatmentPlan', { status });
    const plan = resourceAt(bundle, 'CarePlan', record.id, record.version);
    expect(plan.status).toBe(code);
    expect(plan.intent).toBe('plan');
  });

  it.each([
    ['scheduled', 'booked'],
    ['canceled', 'cancelled'],
    ['completed', 'fulfilled'],
  ] as const)('Appointment status %s → %s', (status, code) => {
    const { bundle } = exportOne('Appointment', { status });
    expect(only(bundle, 'Appointment').status).toBe(code);
  });

  it.each(['sent', 'delivered', 'read'] as const)('Message status %s → Communication completed', (status) => {
    const { bundle } = exportOne('Message', { status });
    expect(only(bundle, 'Communication').status).toBe('completed');
  });

  it.each([
    ['planned', 'planned'],
    ['in-progress', 'in-progress'],
    ['finished', 'finished'],
    ['cancelled', 'cancelled'],
  ] as const)('Encounter status %s → %s', (status, code) => {
    const { bundle } = exportOne('Encounter', { status });
    expect(only(bundle, 'Encounter').status).toBe(code);
  });

  it.each([
    ['outpatient', 'AMB'],
    ['inpatient', 'IMP'],
    ['emergency', 'EMER'],
    ['telehealth', 'VR'],
  ] as const)('Encounter type %s → class %s', (type, code) => {
    const { bundle } = exportOne('Encounter', { type });
    expect(at(only(bundle, 'Encounter'), 'class')).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code,
    });
  });

  it.each([
    ['draft', 'preliminary'],
    ['under_review', 'preliminary'],
    ['signed', 'final'],
    ['amended', 'amended'],
  ] as const)('MedicalNote status %s → Composition.status %s', (status, code) => {
    const { bundle } = exportOne('MedicalNote', { status });
    expect(only(bundle, 'Composition').status).toBe(code);
  });

  it.each([
    ['progress', '11506-3'],
    ['admission', '34117-2'],
    ['discharge', '18842-5'],
    ['consult', '11488-4'],
    ['procedure', '28570-0'],
  ] as const)('MedicalNote type %s → LOINC %s', (noteType, code) => {
    const { bundle } = exportOne('MedicalNote', { noteType });
    expect(at(only(bundle, 'Composition'), 'type.coding[0]')).toMatchObject({ system: LOINC, code });
  });

  it.each([
    [true, 'active'],
    [false, 'completed'],
  ] as const)('Medication active %s → MedicationStatement.status %s', (active, code) => {
    const { bundle } = exportOne('Medication', { active });
    expect(only(bundle, 'MedicationStatement').status).toBe(code);
  });

  it.each([
    ['active', 'active'],
    ['revoked', 'inactive'],
  ] as const)('Consent status %s → %s', (status, code) => {
    const { bundle } = exportOne('Consent', { status }, status === 'active' ? ['revokedAt'] : []);
    expect(only(bundle, 'Consent').status).toBe(code);
  });

  it.each([
    ['read', ['access']],
    ['write', ['access', 'correct']],
  ] as const)('Consent access %s → actions %j', (access, codes) => {
    const { bundle } = exportOne('Consent', { scope: [{ type: 'medication', access }] });
    const provision = at(only(bundle, 'Consent'), 'provision.provision[0]');
    expect(at(provision, 'type')).toBe('permit');
    expect((at(provision, 'action') as unknown[]).map((action) => at(action, 'coding[0].code'))).toEqual(
      codes,
    );
    // The medication stream holds the medicines (prescriptions imported among them) and the doses marked.
    expect(at(provision, 'class')).toEqual([
      { system: 'http://hl7.org/fhir/resource-types', code: 'MedicationStatement' },
      { system: 'http://hl7.org/fhir/resource-types', code: 'MedicationRequest' },
      { system: 'http://hl7.org/fhir/resource-types', code: 'MedicationAdministration' },
    ]);
  });

  it.each([
    ['female', 'female', 'F'],
    ['male', 'male', 'M'],
    ['other', 'other', 'UNK'],
    ['unknown', 'unknown', 'UNK'],
  ] as const)('Profile sexAtBirth %s → gender %s, us-core-birthsex %s', (sexAtBirth, gender, birthSex) => {
    const { bundle } = exportOne('Profile', { sexAtBirth });
    const patient = only(bundle, 'Patient');
    expect(patient.gender).toBe(gender);
    expect(patient.extension).toContainEqual({
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
      valueCode: birthSex,
    });
  });

  it.each([
    ['active', true],
    ['inactive', false],
    ['archived', false],
  ] as const)('Profile status %s → Patient.active %s', (status, active) => {
    const { bundle } = exportOne('Profile', { status });
    expect(only(bundle, 'Patient').active).toBe(active);
  });

  it.each([
    ['record.create', 'C'],
    ['record.view', 'R'],
    ['stream.pull', 'R'],
    ['record.update', 'U'],
    ['record.delete', 'D'],
    ['consent.grant', 'E'],
    ['export.fhir', 'E'],
  ] as const)('AuditEntry action %s → AuditEvent.action %s', (action, code) => {
    const { bundle } = exportOne('AuditEntry', { action });
    const event = only(bundle, 'AuditEvent');
    expect(event.action).toBe(code);
    expect(at(event, 'subtype[0].code')).toBe(action);
  });

  it.each([
    ['requested', 'Task', 'requested'],
    ['declined', 'Task', 'rejected'],
  ] as const)('NoteSignature %s → %s status %s', (status, type, code) => {
    const { bundle } = exportOne('NoteSignature', { status }, ['signedAt', 'signedVersionNumber']);
    expect(entriesOf(bundle, 'Provenance')).toEqual([]);
    const task = only(bundle, type);
    expect(task.status).toBe(code);
    expect(task.intent).toBe('order');
    expect(at(task, 'code.coding[0].code')).toBe('sign');
    expect(at(task, 'authoredOn')).toBe('2024-05-01T09:30:00.000Z');
  });

  it('NoteSignature signed → Provenance, with no signature element unless a signature is passed', () => {
    const { record, bundle } = exportOne('NoteSignature', { status: 'signed' });
    expect(entriesOf(bundle, 'Task')).toEqual([]);
    const provenance = resourceAt(bundle, 'Provenance', record.id);
    expect(provenance.recorded).toBe(record.signedAt);
    // The signer is what the record says, not a verified signature (data-model.md).
    expect(provenance.signature).toBeUndefined();
    expect(at(provenance, 'agent[0].role[0].text')).toBe('attending');
  });

  it.each([
    ['amendment', 'replaces'],
    ['addendum', 'appends'],
    ['original', undefined],
  ] as const)('NoteVersion kind %s → relatesTo %s', (kind, code) => {
    const { record, bundle } =
      kind === 'original'
        ? exportOne('NoteVersion', { kind, versionNumber: 1 }, ['amendmentReason'])
        : exportOne('NoteVersion', { kind });
    const composition = resourceAt(bundle, 'Composition', record.noteId, record.versionNumber);
    expect(at(composition, 'relatesTo[0].code')).toBe(code);
    if (code !== undefined) {
      // The version before is not in this export: named logically, so no reference dangles.
      expect(at(composition, 'relatesTo[0].targetReference')).toEqual({
        type: 'Composition',
        identifier: { system: 'urn:hale:id', value: record.noteId },
        display: `MedicalNote ${record.noteId} version ${record.versionNumber - 1}`,
      });
      const before = exampleWithout('NoteVersion', ['amendmentReason'], {
        noteId: record.noteId,
        versionNumber: record.versionNumber - 1,
        kind: 'original',
      });
      const both = exportItems([item('NoteVersion', before), item('NoteVersion', record)]);
      expect(validateFhirBundleShape(both).ok).toBe(true);
      expect(
        at(
          resourceAt(both, 'Composition', record.noteId, record.versionNumber),
          'relatesTo[0].targetReference',
        ),
      ).toEqual({ reference: `urn:hale:Composition/${record.noteId}/_history/${record.versionNumber - 1}` });
    }
  });
});

// ---------------------------------------------------------------------------------------------- kinds
