import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_CAREGIVER_ID,
  EXAMPLE_DEVICE_ID,
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  exampleRecord,
} from './examples';
import {
  FhirExportError,
  toFhirBundle,
  validateFhirBundleShape,
  type FhirBundle,
  type FhirExportItem,
  type FhirResource,
} from './fhir';
import { newId } from './ids';
import { RECORD_KINDS, RECORD_KIND_NAMES, toJsonSchema, type RecordKind, type RecordOf } from './registry';
import { assertRecord, validateRecord } from './validate';

const GENERATED_AT = '2024-06-01T12:00:00Z';
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';

const item = <K extends RecordKind>(kind: K, record: RecordOf<K>, signature?: string): FhirExportItem =>
  // The union member for K; TypeScript cannot pick it from a generic K on its own.
  ({ kind, record, ...(signature === undefined ? {} : { signature }) }) as FhirExportItem;

const example = <K extends RecordKind>(kind: K, overrides?: Partial<RecordOf<K>>): FhirExportItem =>
  item(kind, exampleRecord(kind, overrides));

const exportItems = (records: readonly FhirExportItem[], patientId = EXAMPLE_PATIENT_ID): FhirBundle =>
  toFhirBundle({ patientId, records, generatedAt: GENERATED_AT });

/** The detail of the FhirExportError `run` throws; undefined when it throws none. */
const refusal = (run: () => unknown): FhirExportError['detail'] | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof FhirExportError) return error.detail;
    throw error;
  }
  return undefined;
};

/** `make()` on first call, the same value after. */
const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
};

const allExamples = (): FhirExportItem[] => RECORD_KIND_NAMES.map((kind) => example(kind));

/** Reads `a.b[0].c` out of JSON; undefined when any step is missing. */
const at = (value: unknown, path: string): unknown =>
  path
    .split(/\.|(?=\[)/)
    .filter((step) => step !== '')
    .reduce<unknown>((node, step) => {
      if (node === undefined || node === null || typeof node !== 'object') return undefined;
      const index = /^\[(\d+)\]$/.exec(step);
      if (index) return Array.isArray(node) ? node[Number(index[1])] : undefined;
      return (node as Record<string, unknown>)[step];
    }, value);

const entriesOf = (bundle: FhirBundle, resourceType: string): FhirResource[] =>
  bundle.entry.map((entry) => entry.resource).filter((resource) => resource.resourceType === resourceType);

/** The single entry at `urn:hale:{type}/{id}` (and version, when given). */
const resourceAt = (bundle: FhirBundle, type: string, id: string, version?: number): FhirResource => {
  const found = bundle.entry.filter(
    (entry) =>
      entry.fullUrl === `urn:hale:${type}/${id}` &&
      (version === undefined || at(entry.resource, 'meta.versionId') === String(version)),
  );
  expect(found, `${type}/${id}${version === undefined ? '' : ` v${version}`}`).toHaveLength(1);
  const [entry] = found;
  if (entry === undefined) throw new Error('unreachable');
  return entry.resource;
};

const only = (bundle: FhirBundle, resourceType: string): FhirResource => {
  const list = entriesOf(bundle, resourceType);
  expect(list, resourceType).toHaveLength(1);
  const [resource] = list;
  if (resource === undefined) throw new Error('unreachable');
  return resource;
};

/** An example with `omit` fields removed, re-validated so tests only ever feed valid records. */
const exampleWithout = <K extends RecordKind>(
  kind: K,
  omit: readonly string[],
  overrides?: Partial<RecordOf<K>>,
): RecordOf<K> => {
  const copy: Record<string, unknown> = { ...exampleRecord(kind, overrides) };
  for (const key of omit) delete copy[key];
  return assertRecord(kind, copy);
};

const exportOne = <K extends RecordKind>(
  kind: K,
  overrides?: Partial<RecordOf<K>>,
  omit: readonly string[] = [],
) => {
  const record = exampleWithout(kind, omit, overrides);
  const bundle = exportItems([item(kind, record)]);
  const check = validateFhirBundleShape(bundle);
  expect(check.ok ? [] : check.error.issues).toEqual([]);
  return { record, bundle };
};

/** Like exampleWithout, but not validated: for records the export must refuse. */
const exampleWithoutValidation = <K extends RecordKind>(
  kind: K,
  omit: readonly string[],
  overrides: Partial<RecordOf<K>>,
): RecordOf<K> => {
  const copy = { ...exampleRecord(kind, overrides) };
  for (const key of omit) delete (copy as Record<string, unknown>)[key];
  return copy;
};

const expectElements = (resource: FhirResource, elements: readonly string[]) => {
  for (const element of elements) {
    const present = element.endsWith('[x]')
      ? Object.keys(resource).some(
          (key) => key.startsWith(element.slice(0, -3)) && key !== element.slice(0, -3),
        )
      : resource[element] !== undefined;
    expect(present, `${resource.resourceType}.${element}`).toBe(true);
  }
};

const haleIds = (resource: FhirResource): unknown[] => {
  const identifier = resource.identifier;
  const list = Array.isArray(identifier) ? identifier : identifier === undefined ? [] : [identifier];
  return list.filter((id) => at(id, 'system') === 'urn:hale:id').map((id) => at(id, 'value'));
};

const referencesIn = (value: unknown, found: string[] = []): string[] => {
  if (Array.isArray(value)) for (const child of value) referencesIn(child, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') found.push(child);
      else referencesIn(child, found);
    }
  }
  return found;
};

// --------------------------------------------------------------------------------------------- bundle

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
    for (const reference of references) {
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
  ] as const)('Allergy severity %s → reaction.severity %s', (severity, code) => {
    const { bundle } = exportOne('Allergy', { severity });
    const allergy = only(bundle, 'AllergyIntolerance');
    expect(at(allergy, 'reaction[0].severity')).toBe(code);
    expect(allergy.criticality).toBeUndefined();
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
    expect(at(provision, 'class')).toEqual([
      { system: 'http://hl7.org/fhir/resource-types', code: 'MedicationStatement' },
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

describe('per-kind mapping', () => {
  it('LabResult: quantity value, reference range, history with one Provenance per version', () => {
    const { record, bundle } = exportOne('LabResult');
    const current = resourceAt(bundle, 'Observation', record.id, 2);
    expect(current.valueQuantity).toEqual({ value: 98, unit: 'mg/dL', system: UCUM, code: 'mg/dL' });
    expect(at(current, 'referenceRange[0].text')).toBe('70-99 mg/dL');
    expect(at(current, 'code')).toEqual({
      coding: [
        { system: LOINC, code: '2345-7' },
        { system: 'http://snomed.info/sct', code: '33747003', display: 'Glucose measurement, blood' },
      ],
      text: 'Glucose [Mass/volume] in Serum or Plasma',
    });
    expect(at(current, 'component[0].code')).toEqual({
      coding: [{ system: LOINC, code: '2339-0' }],
      text: 'Glucose [Mass/volume] in Blood',
    });
    expect(at(current, 'component[0].valueQuantity.value')).toBe(97);

    expect(current.effectiveDateTime).toBe('2024-05-01T08:10:00Z');
    expect(current.issued).toBe(record.publishedAt);
    const prior = resourceAt(bundle, 'Observation', record.id, 1);
    expect(prior.status).toBe('final');
    expect(at(prior, 'valueQuantity.value')).toBe(89);
    expect(at(prior, 'component')).toBeUndefined();
    const provenances = entriesOf(bundle, 'Provenance');
    expect(provenances.map((p) => at(p, 'target[0].reference')).sort()).toEqual([
      `urn:hale:Observation/${record.id}/_history/1`,
      `urn:hale:Observation/${record.id}/_history/2`,
    ]);
    const latest = provenances.find(
      (p) => at(p, 'target[0].reference') === `urn:hale:Observation/${record.id}/_history/2`,
    );
    expect(at(latest, 'reason[0].text')).toBe('Transcription error in value');
    expect(at(latest, 'agent[0].who.reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
    expect(at(latest, 'agent[1].who.reference')).toBe(`urn:hale:Device/${EXAMPLE_DEVICE_ID}`);
    const report = only(bundle, 'DiagnosticReport');
    expect(at(report, 'result[0].reference')).toBe(`urn:hale:Observation/${record.id}`);
    expect(at(report, 'presentedForm[0].contentType')).toBe('application/pdf');
    expect(at(only(bundle, 'ServiceRequest'), 'requester.reference')).toBe(
      `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`,
    );
  });

  it('LabResult: a text value is a valueString and no valueQuantity', () => {
    const { record, bundle } = exportOne('LabResult', { value: 'positive' }, ['units']);
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(observation.valueString).toBe('positive');
    expect(observation.valueQuantity).toBeUndefined();
  });

  it('LabResult: units without a known UCUM code keep unit only', () => {
    const { record, bundle } = exportOne('LabResult', { units: 'cells/hpf' });
    expect(resourceAt(bundle, 'Observation', record.id, record.version).valueQuantity).toEqual({
      value: 98,
      unit: 'cells/hpf',
    });
  });

  it('TreatmentPlan: versions, period and the acknowledgement of an exact version', () => {
    const { record, bundle } = exportOne('TreatmentPlan');
    const plan = resourceAt(bundle, 'CarePlan', record.id, 2);
    expect(plan.title).toBe('Blood pressure control');
    expect(plan.period).toEqual({ start: '2024-05-01', end: '2024-08-01' });
    expect(plan.created).toBe(record.createdAt);
    expect(resourceAt(bundle, 'CarePlan', record.id, 1).status).toBe('draft');
    const ack = resourceAt(bundle, 'Provenance', `${record.id}-ack`);
    expect(at(ack, 'target[0].reference')).toBe(`urn:hale:CarePlan/${record.id}/_history/2`);
    expect(at(ack, 'agent[0].who.reference')).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(ack, 'activity.text')).toBe('acknowledged');
  });

  it('Immunization: completed, occurrence, lot, CVX code, dose, next dose', () => {
    const { record, bundle } = exportOne('Immunization');
    const immunization = only(bundle, 'Immunization');
    expect(immunization).toMatchObject({
      status: 'completed',
      occurrenceDateTime: '2024-04-12',
      lotNumber: 'TD-88213',
      recorded: record.createdAt,
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '115' }] },
      doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' },
    });
    expect(at(immunization, 'performer[0].actor')).toEqual({
      reference: `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`,
      display: 'Riverside Family Practice',
    });
    const recommendation = only(bundle, 'ImmunizationRecommendation');
    expect(at(recommendation, 'recommendation[0].dateCriterion[0].value')).toBe('2034-04-12');
    expect(at(recommendation, 'recommendation[0].supportingImmunization[0].reference')).toBe(
      `urn:hale:Immunization/${record.id}`,
    );
  });

  it.each([
    ['2 of 3', { protocolApplied: [{ doseNumberPositiveInt: 2, seriesDosesPositiveInt: 3 }] }],
    ['booster', { protocolApplied: [{ doseNumberString: 'booster' }] }],
    ['0.5 mL', { doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' } }],
  ] as const)('Immunization dose %j', (dose, expected) => {
    const { bundle } = exportOne('Immunization', { dose });
    expect(only(bundle, 'Immunization')).toMatchObject(expected);
  });

  it('Immunization: the proof document points back at it', () => {
    const document = exampleRecord('HealthDocument');
    const immunization = exampleRecord('Immunization', { proofDocumentId: document.id });
    const bundle = exportItems([item('HealthDocument', document), item('Immunization', immunization)]);
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    expect(at(resourceAt(bundle, 'DocumentReference', document.id), 'context.related')).toEqual([
      { reference: `urn:hale:Immunization/${immunization.id}` },
    ]);
  });

  it.each([
    ['10 mg', { doseAndRate: [{ doseQuantity: { value: 10, unit: 'mg', system: UCUM, code: 'mg' } }] }],
    ['one tablet', { text: 'one tablet' }],
  ] as const)('Medication dose %j', (dose, expected) => {
    const { bundle } = exportOne('Medication', { dose });
    const statement = only(bundle, 'MedicationStatement');
    expect(at(statement, 'dosage[0]')).toMatchObject(expected);
    expect(at(statement, 'dosage[0].timing.code.text')).toBe('once daily');
    expect(at(statement, 'medicationCodeableConcept.text')).toBe('Lisinopril');
    expect(statement.effectivePeriod).toEqual({ start: '2023-11-01', end: '2025-11-01' });
  });

  it('HealthDocument: prior versions superseded, current replaces the previous one', () => {
    const { record, bundle } = exportOne('HealthDocument');
    const current = resourceAt(bundle, 'DocumentReference', record.id);
    const prior = resourceAt(bundle, 'DocumentReference', `${record.id}-v1`);
    expect(current.status).toBe('current');
    expect(prior.status).toBe('superseded');
    expect(at(current, 'relatesTo[0]')).toEqual({
      code: 'replaces',
      target: { reference: `urn:hale:DocumentReference/${record.id}-v1` },
    });
    expect(at(current, 'content[0].attachment')).toMatchObject({
      contentType: 'application/pdf',
      url: `hale-blob:${record.file.blobId}`,
      size: record.file.size,
      title: record.title,
    });
    expect(at(current, 'content[0].attachment.extension')).toContainEqual({
      url: 'https://hale.invalid/fhir/StructureDefinition/sha256',
      valueString: record.file.sha256,
    });
    expect(at(prior, 'description')).toBe('First scan.');
  });

  it('Message: topic, sender, recipient, receipts, attachments', () => {
    const { record, bundle } = exportOne('Message');
    const message = only(bundle, 'Communication');
    expect(at(message, 'topic.coding[0]')).toEqual({ system: 'urn:hale:thread', code: record.threadId });
    expect(at(message, 'sender.reference')).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(message, 'recipient[0].reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
    expect(message.sent).toBe(record.sentAt);
    expect(message.received).toBe(record.deliveredAt);
    expect(message.extension).toContainEqual({
      url: 'https://hale.invalid/fhir/StructureDefinition/read-at',
      valueDateTime: record.readAt,
    });
    expect(at(message, 'payload[0].contentString')).toBe(record.body);
    expect(at(message, 'payload[1].contentAttachment.title')).toBe('readings.csv');
  });

  it('Message: an empty body with no attachments exports no payload', () => {
    const { bundle } = exportOne('Message', { body: '', attachments: [] });
    expect(only(bundle, 'Communication').payload).toBeUndefined();
  });

  it('Allergy without a known reaction says the manifestation is unknown', () => {
    const { bundle } = exportOne('Allergy', {}, ['reaction']);
    expect(at(only(bundle, 'AllergyIntolerance'), 'reaction[0]')).toEqual({
      manifestation: [
        {
          extension: [
            { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' },
          ],
        },
      ],
      severity: 'moderate',
    });
  });

  it('AuditEntry written by the server names the sync server as observer', () => {
    const { bundle } = exportOne('AuditEntry', {}, ['actorDeviceId']);
    expect(at(only(bundle, 'AuditEvent'), 'source.observer.reference')).toBe(
      'urn:hale:Device/hale-sync-server',
    );
    expect(at(only(bundle, 'Device'), 'deviceName[0].name')).toBe('Hale sync server');
  });

  it('AuditEntry about a record in the export references its resource', () => {
    const lab = exampleRecord('LabResult');
    const audit = exampleRecord('AuditEntry', { entityType: 'LabResult', entityId: lab.id });
    const bundle = exportItems([item('LabResult', lab), item('AuditEntry', audit)]);
    expect(at(only(bundle, 'AuditEvent'), 'entity[0].what')).toEqual({
      reference: `urn:hale:Observation/${lab.id}`,
    });
  });

  it('restates instants with offsets beyond ±14:00 in UTC', () => {
    const { bundle } = exportOne('Appointment', {
      startAt: '2024-06-03T15:00:00+15:00',
      endAt: '2024-06-03T15:30:00+15:00',
    });
    expect(only(bundle, 'Appointment')).toMatchObject({
      start: '2024-06-03T00:00:00.000Z',
      end: '2024-06-03T00:30:00.000Z',
    });
  });
});

describe('notes', () => {
  const noteId = newId();
  const note = exampleRecord('MedicalNote', { id: noteId, currentVersionNumber: 2, status: 'signed' });
  const v1 = exampleWithout('NoteVersion', ['amendmentReason'], {
    noteId,
    versionNumber: 1,
    kind: 'original',
    subjective: 'Line one\n<script>alert(1)</script> & more',
  });
  const v2 = exampleRecord('NoteVersion', { noteId, versionNumber: 2, kind: 'amendment' });
  const SUPERVISOR_ID = 'SupervisorAccount00001';
  const signature = exampleRecord('NoteSignature', {
    noteId,
    noteVersionId: v2.id,
    signedVersionNumber: 2,
    signerId: SUPERVISOR_ID,
    signerRole: 'attending',
  });
  const authorSignature = exampleRecord('NoteSignature', {
    noteId,
    noteVersionId: v2.id,
    signedVersionNumber: 2,
    signerId: note.authorId,
    signerRole: 'author',
    signedAt: '2024-05-02T10:00:00.000Z',
  });
  const records = [
    item('MedicalNote', note),
    item('NoteVersion', v1),
    item('NoteVersion', v2, 'c2lnbmVkIGJ5IHRoZSBlZGl0b3I='),
    item('NoteSignature', signature, 'AAECAwQFBgcICQ=='),
    item('NoteSignature', authorSignature),
  ];
  const bundle = exportItems(records);

  it('merges the note and its current version into one Composition, older versions as history', () => {
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    expect(entriesOf(bundle, 'Composition')).toHaveLength(2);
    const current = resourceAt(bundle, 'Composition', noteId, 2);
    expect(current.status).toBe('final');
    expect(current.title).toBe(note.title);
    expect((current.section as unknown[]).map((section) => at(section, 'code.coding[0].code'))).toEqual([
      '61150-9',
      '61149-1',
      '51848-0',
      '18776-5',
    ]);
    // Version 1 was amended by version 2, so it had been final.
    expect(resourceAt(bundle, 'Composition', noteId, 1).status).toBe('final');
  });

  it('escapes section text into XHTML narrative', () => {
    expect(at(resourceAt(bundle, 'Composition', noteId, 1), 'section[0].text.div')).toBe(
      '<div xmlns="http://www.w3.org/1999/xhtml">Line one<br/>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</div>',
    );
  });

  it('records the co-signature as attester and as a signed Provenance of that version', () => {
    const current = resourceAt(bundle, 'Composition', noteId, 2);
    // The author signs legally, a co-signer professionally; ordered by signing time.
    expect(current.attester).toEqual([
      {
        mode: 'legal',
        time: authorSignature.signedAt,
        party: { reference: `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}` },
      },
      {
        mode: 'professional',
        time: signature.signedAt,
        party: { reference: `urn:hale:Practitioner/${SUPERVISOR_ID}` },
      },
    ]);
    const signed = resourceAt(bundle, 'Provenance', signature.id);
    expect(at(signed, 'target[0].reference')).toBe(`urn:hale:Composition/${noteId}/_history/2`);
    expect(at(signed, 'signature[0]')).toMatchObject({
      type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.5' }],
      when: signature.signedAt,
      who: { reference: `urn:hale:Practitioner/${SUPERVISOR_ID}` },
      data: 'AAECAwQFBgcICQ==',
    });
    // Passed no signature: no signature element, only the attester the record names (data-model.md).
    const byAuthor = resourceAt(bundle, 'Provenance', authorSignature.id);
    expect(byAuthor.signature).toBeUndefined();
    expect(at(byAuthor, 'agent[0].who.reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
  });

  it('gives each NoteVersion a Provenance with editor, reason and its author signature', () => {
    const provenance = resourceAt(bundle, 'Provenance', v2.id);
    expect(at(provenance, 'target[0].reference')).toBe(`urn:hale:Composition/${noteId}/_history/2`);
    expect(at(provenance, 'reason[0].text')).toBe(v2.amendmentReason);
    expect(at(provenance, 'activity.text')).toBe(v2.changeSummary);
    expect(at(provenance, 'signature[0].data')).toBe('c2lnbmVkIGJ5IHRoZSBlZGl0b3I=');
    expect(at(resourceAt(bundle, 'Provenance', v1.id), 'signature')).toBeUndefined();
  });

  it('points a signature request at the version asked for', () => {
    const request = exampleWithout('NoteSignature', ['signedAt', 'signedVersionNumber'], {
      noteId,
      noteVersionId: v1.id,
      status: 'requested',
    });
    const withRequest = exportItems([...records, item('NoteSignature', request)]);
    expect(validateFhirBundleShape(withRequest).ok).toBe(true);
    expect(at(resourceAt(withRequest, 'Task', request.id), 'focus.reference')).toBe(
      `urn:hale:Composition/${noteId}/_history/1`,
    );
  });

  // Two clinicians amending version 1 offline both write a version 2: sync keeps both, so must the export.
  describe('two versions with the same number', () => {
    const twin = exampleRecord('NoteVersion', {
      noteId,
      versionNumber: 2,
      kind: 'amendment',
      assessment: 'A concurrent assessment',
      // Newer than v2, yet v2 keeps the number: v2 is the version two signatures attest.
      updatedAt: '2024-05-09T08:00:00.000Z',
    });
    const withTwin = [...records, item('NoteVersion', twin, 'dHdpbiBzaWduYXR1cmU=')];
    // Exported on first use, so a refusal fails these tests rather than the whole file.
    const twinned = once(() => exportItems(withTwin));
    const twinUrl = `urn:hale:Composition/${twin.id}`;

    it('exports a valid bundle instead of failing the whole export', () => {
      expect(validateFhirBundleShape(twinned())).toMatchObject({ ok: true });
    });

    it('keeps the signed version in the note history and the other as its own Composition', () => {
      const numbered = resourceAt(twinned(), 'Composition', noteId, 2);
      expect(at(numbered, 'section[2].text.div')).toContain(v2.assessment);
      expect(numbered.attester).toHaveLength(2);
      const concurrent = resourceAt(twinned(), 'Composition', twin.id);
      expect(at(concurrent, 'meta.versionId')).toBeUndefined();
      expect(at(concurrent, 'identifier')).toEqual({ system: 'urn:hale:id', value: twin.id });
      expect(at(concurrent, 'section[2].text.div')).toContain('A concurrent assessment');
      expect(concurrent.status).toBe('preliminary');
      expect(concurrent.attester).toBeUndefined();
      // It amends the same version 1 as the numbered one.
      expect(concurrent.relatesTo).toEqual([
        { code: 'replaces', targetReference: { reference: `urn:hale:Composition/${noteId}/_history/1` } },
      ]);
    });

    it('links the two both ways with the concurrent-version extension', () => {
      const url = 'https://hale.invalid/fhir/StructureDefinition/concurrent-version';
      const links = (resource: FhirResource) =>
        ((resource.extension ?? []) as { url: string; valueReference?: { reference: string } }[])
          .filter((ext) => ext.url === url)
          .map((ext) => ext.valueReference?.reference);
      expect(links(resourceAt(twinned(), 'Composition', noteId, 2))).toEqual([twinUrl]);
      expect(links(resourceAt(twinned(), 'Composition', twin.id))).toEqual([
        `urn:hale:Composition/${noteId}/_history/2`,
      ]);
    });

    it("gives the concurrent version its own Provenance with its editor's signature", () => {
      const provenance = resourceAt(twinned(), 'Provenance', twin.id);
      expect(at(provenance, 'target[0].reference')).toBe(twinUrl);
      expect(at(provenance, 'signature[0].data')).toBe('dHdpbiBzaWduYXR1cmU=');
      expect(at(resourceAt(twinned(), 'Provenance', v2.id), 'target[0].reference')).toBe(
        `urn:hale:Composition/${noteId}/_history/2`,
      );
    });

    it('attaches a signature of the concurrent version to it, not to the numbered one', () => {
      // Both signed now: the latest edit keeps the number, so this twin is the older one.
      const earlier = { ...twin, id: newId(), updatedAt: '2024-05-02T10:00:00.000Z' };
      const signedTwin = exampleRecord('NoteSignature', {
        noteId,
        noteVersionId: earlier.id,
        signedVersionNumber: 2,
        signerId: SUPERVISOR_ID,
        signerRole: 'attending',
      });
      const bundle = exportItems([
        ...records,
        item('NoteVersion', earlier),
        item('NoteSignature', signedTwin),
      ]);
      expect(validateFhirBundleShape(bundle)).toMatchObject({ ok: true });
      const earlierUrl = `urn:hale:Composition/${earlier.id}`;
      expect(at(resourceAt(bundle, 'Provenance', signedTwin.id), 'target[0].reference')).toBe(earlierUrl);
      expect(resourceAt(bundle, 'Composition', noteId, 2).attester).toHaveLength(2);
      const concurrent = resourceAt(bundle, 'Composition', earlier.id);
      expect(concurrent.status).toBe('final');
      expect(at(concurrent, 'attester[0].party.reference')).toBe(`urn:hale:Practitioner/${SUPERVISOR_ID}`);
    });

    it('without signatures keeps the latest edit in the history, then the greater id', () => {
      const a = exampleRecord('NoteVersion', { noteId, versionNumber: 2, kind: 'amendment' });
      // 10:00+02:00 is 08:00Z: an hour before b although it sorts after it as text.
      const older = { ...a, updatedAt: '2024-05-03T10:00:00+02:00' };
      const b = exampleRecord('NoteVersion', {
        noteId,
        versionNumber: 2,
        kind: 'amendment',
        updatedAt: '2024-05-03T09:00:00Z',
      });
      const base = [item('MedicalNote', note), item('NoteVersion', v1)];
      const chosen = (versions: RecordOf<'NoteVersion'>[]) => {
        const bundle = exportItems([...base, ...versions.map((v) => item('NoteVersion', v))]);
        return at(resourceAt(bundle, 'Provenance', versions[0]!.id), 'target[0].reference') ===
          `urn:hale:Composition/${noteId}/_history/2`
          ? versions[0]!.id
          : versions[1]!.id;
      };
      expect(chosen([older, b])).toBe(b.id);
      expect(chosen([b, older])).toBe(b.id);
      const tied = { ...b, id: newId(), updatedAt: older.updatedAt };
      const greater = tied.id > older.id ? tied.id : older.id;
      expect(chosen([older, tied])).toBe(greater);
      expect(chosen([tied, older])).toBe(greater);
    });

    it('does not depend on the order of the input', () => {
      expect(exportItems([...withTwin].reverse())).toEqual(twinned());
    });

    it('still refuses one NoteVersion listed twice', () => {
      expect(refusal(() => exportItems([...records, item('NoteVersion', v2)]))).toMatchObject({
        code: 'DUPLICATE_RESOURCE',
        recordId: v2.id,
      });
    });
  });
});

// Each device of a new patient may create the Profile before the first sync: the patient then has two.
describe('two Profiles for one patient', () => {
  const patientUrl = `urn:hale:Patient/${EXAMPLE_PATIENT_ID}`;
  const older = exampleRecord('Profile', {
    fullName: 'Ada Example',
    bloodType: 'O+',
    updatedAt: '2024-05-02T14:05:00.000Z',
  });
  const newer = exampleRecord('Profile', {
    fullName: 'Ada M. Example',
    bloodType: 'A+',
    contact: { phone: '+1 555 0199' },
    updatedAt: '2024-05-03T09:00:00.000Z',
  });
  const audit = exampleRecord('AuditEntry', { entityType: 'Profile', entityId: older.id });
  const input = [
    item('Profile', older),
    item('Profile', newer),
    item('AuditEntry', audit),
    ...allExamples().filter((example) => example.kind !== 'Profile'),
  ];
  const bundle = once(() => exportItems(input));

  it('exports a valid bundle instead of failing the whole export', () => {
    expect(validateFhirBundleShape(bundle())).toMatchObject({ ok: true });
    expect(entriesOf(bundle(), 'Patient')).toHaveLength(2);
  });

  it("makes the latest edited Profile the export's Patient, which every record references", () => {
    const patient = resourceAt(bundle(), 'Patient', EXAMPLE_PATIENT_ID);
    expect(at(patient, 'name[0].text')).toBe('Ada M. Example');
    expect(patient.identifier).toContainEqual({ system: 'urn:hale:account', value: EXAMPLE_PATIENT_ID });
    expect(patient.identifier).toContainEqual({ system: 'urn:hale:id', value: newer.id });
    expect(at(only(bundle(), 'AllergyIntolerance'), 'patient.reference')).toBe(patientUrl);
  });

  it('keeps the other Profile as a Patient of its own id, linked both ways with seealso', () => {
    const other = resourceAt(bundle(), 'Patient', older.id);
    expect(at(other, 'name[0].text')).toBe('Ada Example');
    expect(other.identifier).toContainEqual({ system: 'urn:hale:id', value: older.id });
    expect(other.identifier).not.toContainEqual(expect.objectContaining({ system: 'urn:hale:account' }));
    expect(other.link).toEqual([{ other: { reference: patientUrl }, type: 'seealso' }]);
    expect(resourceAt(bundle(), 'Patient', EXAMPLE_PATIENT_ID).link).toEqual([
      { other: { reference: `urn:hale:Patient/${older.id}` }, type: 'seealso' },
    ]);
  });

  it('keeps both blood types, so a contradiction stays visible', () => {
    const bloodTypes = entriesOf(bundle(), 'Observation')
      .filter((resource) => at(resource, 'code.coding[0].code') === '882-1')
      .map((resource) => [
        resource.id,
        at(resource, 'valueCodeableConcept.text'),
        at(resource, 'subject.reference'),
      ]);
    expect(bloodTypes).toEqual(
      expect.arrayContaining([
        [`${older.id}-blood-type`, 'O+', patientUrl],
        [`${newer.id}-blood-type`, 'A+', patientUrl],
      ]),
    );
  });

  it('points a reference to the other Profile at its own Patient', () => {
    expect(at(resourceAt(bundle(), 'AuditEvent', audit.id), 'entity[0].what.reference')).toBe(
      `urn:hale:Patient/${older.id}`,
    );
  });

  it('chooses the same Profile whatever the input order; equal times go to the greater id', () => {
    expect(exportItems([...input].reverse())).toEqual(bundle());
    const tie = { ...older, id: newId(), updatedAt: newer.updatedAt };
    const winner = tie.id > newer.id ? tie : newer;
    for (const order of [
      [newer, tie],
      [tie, newer],
    ]) {
      const tied = exportItems(order.map((profile) => item('Profile', profile)));
      expect(at(resourceAt(tied, 'Patient', EXAMPLE_PATIENT_ID), 'name[0].text')).toBe(winner.fullName);
    }
  });

  it('still refuses one Profile listed twice', () => {
    expect(refusal(() => exportItems([item('Profile', older), item('Profile', older)]))).toMatchObject({
      code: 'DUPLICATE_RESOURCE',
      recordId: older.id,
    });
  });
});

// -------------------------------------------------------------------------------------------- inputs

const optionalFields = (kind: RecordKind): string[] => {
  const schema = toJsonSchema(kind);
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.keys(schema.properties as object).filter((field) => !required.has(field));
};

describe('optional fields', () => {
  it.each(RECORD_KIND_NAMES)(
    '%s exports a valid bundle with each optional field left out or empty',
    (kind) => {
      let exported = 0;
      for (const field of optionalFields(kind)) {
        const full: Record<string, unknown> = { ...exampleRecord(kind) };
        const value = full[field];
        const without = { ...full };
        delete without[field];
        const variants = [without];
        if (typeof value === 'string') variants.push({ ...full, [field]: '' });
        if (Array.isArray(value)) variants.push({ ...full, [field]: [] });
        for (const variant of variants) {
          const checked = validateRecord(kind, variant);
          if (!checked.ok) continue; // a cross-field rule needs it (e.g. signedAt when signed)
          const bundle = exportItems([item(kind, checked.value)]);
          const shape = validateFhirBundleShape(bundle);
          expect(shape.ok ? [] : shape.error.issues, `${kind} without ${field}`).toEqual([]);
          exported += 1;
        }
      }
      expect(exported).toBeGreaterThan(0);
    },
  );
});

describe('input errors', () => {
  const code = (run: () => unknown): string | undefined => {
    try {
      run();
    } catch (error) {
      if (error instanceof FhirExportError) return error.code;
      throw error;
    }
    return undefined;
  };

  it('refuses a record of another patient', () => {
    const foreign = exampleRecord('Allergy', { patientId: 'SomeoneElse00000000001' });
    expect(code(() => exportItems([item('Allergy', foreign)]))).toBe('PATIENT_MISMATCH');
  });

  it('refuses an invalid record and says which field', () => {
    const bad = exampleRecord('Allergy', { severity: 'fatal' as 'severe' });
    try {
      exportItems([item('Allergy', bad)]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FhirExportError);
      const detail = (error as FhirExportError).detail;
      expect(detail).toMatchObject({ code: 'INVALID_RECORD', kind: 'Allergy', recordId: bad.id });
      expect(detail.issues?.map((issue) => issue.field)).toContain('severity');
    }
  });

  it('refuses a record listed twice', () => {
    const allergy = exampleRecord('Allergy');
    expect(code(() => exportItems([item('Allergy', allergy), item('Allergy', allergy)]))).toBe(
      'DUPLICATE_RESOURCE',
    );
  });

  it('refuses a bad patient id, timestamp or signature', () => {
    expect(code(() => toFhirBundle({ patientId: 'short', records: [], generatedAt: GENERATED_AT }))).toBe(
      'INVALID_INPUT',
    );
    expect(
      code(() =>
        toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records: [], generatedAt: '2024-06-01 12:00' }),
      ),
    ).toBe('INVALID_INPUT');
    expect(code(() => exportItems([item('Allergy', exampleRecord('Allergy'), 'not base64!')]))).toBe(
      'INVALID_INPUT',
    );
    expect(
      code(() =>
        toFhirBundle({
          patientId: EXAMPLE_PATIENT_ID,
          records: [{ kind: 'Nope', record: exampleRecord('Allergy') } as unknown as FhirExportItem],
          generatedAt: GENERATED_AT,
        }),
      ),
    ).toBe('INVALID_INPUT');
  });

  it('exports an empty record list as a bundle holding only the Patient', () => {
    const bundle = exportItems([]);
    expect(bundle.entry.map((entry) => entry.resource.resourceType)).toEqual(['Patient']);
  });

  it('maps every kind in the registry', () => {
    // A kind added to RECORD_KINDS without a mapping would throw or export nothing of its type.
    for (const kind of RECORD_KIND_NAMES) {
      const bundle = exportItems([example(kind)]);
      const types = bundle.entry.map((entry) => entry.resource.resourceType);
      const expected = kind === 'ProviderProfile' ? 'PractitionerRole' : RECORD_KINDS[kind].fhirResource;
      expect(types, kind).toContain(kind === 'Profile' ? 'Patient' : expected);
    }
  });
});

// ------------------------------------------------------------------------------------------ validator

describe('validateFhirBundleShape', () => {
  const fresh = (): FhirBundle => JSON.parse(JSON.stringify(exportItems(allExamples()))) as FhirBundle;
  type Mutable = Record<string, unknown>;
  const mutate = (change: (resources: Mutable[], bundle: Mutable) => void): unknown => {
    const bundle = fresh() as unknown as Mutable & { entry: { fullUrl: string; resource: Mutable }[] };
    change(
      bundle.entry.map((entry) => entry.resource),
      bundle,
    );
    return bundle;
  };
  const find = (resources: Mutable[], type: string): Mutable => {
    const found = resources.find((resource) => resource.resourceType === type);
    if (found === undefined) throw new Error(type);
    return found;
  };
  const reasons = (bundle: unknown): string[] => {
    const result = validateFhirBundleShape(bundle);
    return result.ok ? [] : result.error.issues.map((issue) => `${issue.path}: ${issue.reason}`);
  };

  it('accepts the export', () => {
    expect(reasons(fresh())).toEqual([]);
  });

  it.each<[string, (resources: Mutable[], bundle: Mutable) => void, RegExp]>([
    [
      'a missing required element',
      (r) => delete find(r, 'AllergyIntolerance').patient,
      /\.patient: is required/,
    ],
    [
      'a missing choice element',
      (r) => delete find(r, 'Immunization').occurrenceDateTime,
      /occurrence\[x\]: is required/,
    ],
    [
      'a timestamp in a zone FHIR does not have (beyond ±14:00)',
      (_r, b) => (b.timestamp = '2024-05-01T09:30:00-14:30'),
      /^timestamp: must be an instant$/,
    ],
    [
      'a nested required element',
      (r) => delete (find(r, 'AuditEvent').agent as Mutable[])[0]?.requestor,
      /agent\[0\]\.requestor: is required/,
    ],
    [
      'a code outside its value set',
      (r) => (find(r, 'Appointment').status = 'scheduled'),
      /\.status: must be one of/,
    ],
    [
      'a severity outside its value set',
      (r) => ((find(r, 'AllergyIntolerance').reaction as Mutable[])[0]!.severity = 'fatal'),
      /reaction\[0\]\.severity: must be one of mild, moderate, severe/,
    ],
    [
      'a dangling reference',
      (r) => (find(r, 'Encounter').subject = { reference: 'urn:hale:Patient/Nobody' }),
      /does not resolve/,
    ],
    ['an empty string', (r) => (find(r, 'Encounter').serviceType = { text: '' }), /must not be empty/],
    ['an empty array', (r) => (find(r, 'Encounter').reasonCode = []), /must not be an empty array/],
    [
      'an extension without a value',
      (r) => (find(r, 'Patient').extension = [{ url: 'https://hale.invalid/x' }]),
      /exactly one value\[x\]/,
    ],
    ['a bad id', (r) => (find(r, 'Encounter').id = 'has space'), /must be a FHIR id/],
    [
      'a fullUrl naming another resource',
      (r) => (find(r, 'Encounter').id = 'OTHER'),
      /does not name Encounter\/OTHER/,
    ],
    [
      'a duplicated fullUrl without versions',
      (_r, b) => {
        const entries = b.entry as Mutable[];
        entries.push(JSON.parse(JSON.stringify(entries[1])) as Mutable);
      },
      /appears more than once/,
    ],
    [
      'an unknown resource type',
      (r) => (find(r, 'Encounter').resourceType = 'Encountr'),
      /not a resource type/,
    ],
    ['a wrong bundle type', (_r, b) => (b.type = 'bag'), /^type: must be one of/],
    [
      'a Patient link of an unknown type',
      (r) => (find(r, 'Patient').link = [{ other: { reference: 'urn:hale:Patient/X' }, type: 'twin' }]),
      /link\[0\]\.type: must be one of replaced-by, replaces, refer, seealso/,
    ],
    [
      'a Patient link without its other',
      (r) => (find(r, 'Patient').link = [{ type: 'seealso' }]),
      /link\[0\]\.other: is required/,
    ],
  ])('rejects %s', (_name, change, expected) => {
    const found = reasons(mutate(change));
    expect(
      found.some((reason) => expected.test(reason)),
      found.join('\n'),
    ).toBe(true);
  });

  describe('Bundle.signature', () => {
    const patientUrl = (bundle: Mutable): string =>
      (bundle.entry as { fullUrl: string; resource: Mutable }[]).find(
        (entry) => entry.resource.resourceType === 'Patient',
      )?.fullUrl ?? '';
    const signed = (change: (signature: Mutable) => void = () => {}): unknown =>
      mutate((_r, bundle) => {
        const signature: Mutable = {
          type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.14' }],
          when: '2026-11-23T10:00:00.000Z',
          who: { reference: patientUrl(bundle) },
          targetFormat: 'application/fhir+json',
          sigFormat: 'application/vnd.hale.fhir-export-signature.v1',
          data: 'AAECAw==',
        };
        change(signature);
        bundle.signature = signature;
      });

    it('accepts a well-formed signature', () => {
      expect(reasons(signed())).toEqual([]);
    });

    it.each<[string, (signature: Mutable) => void, string]>([
      ['no type', (s) => delete s.type, 'signature.type: is required (at least one Coding)'],
      ['an empty type', (s) => (s.type = []), 'signature.type: is required (at least one Coding)'],
      [
        'a type without a code',
        (s) => (s.type = [{ system: 'urn:x' }]),
        'signature.type[0]: must be a Coding with system and code',
      ],
      ['no when', (s) => delete s.when, 'signature.when: is required (an instant)'],
      [
        'a when that is no instant',
        (s) => (s.when = 'yesterday'),
        'signature.when: is required (an instant)',
      ],
      [
        'a when in a zone FHIR does not have (beyond ±14:00)',
        (s) => (s.when = '2024-05-01T09:30:00+15:00'),
        'signature.when: is required (an instant)',
      ],
      ['no who', (s) => delete s.who, 'signature.who: is required (a Reference)'],
      [
        'a who naming nothing',
        (s) => (s.who = { display: 'me' }),
        'signature.who: is required (a Reference)',
      ],
      [
        'a sigFormat that is no MIME type',
        (s) => (s.sigFormat = 'ed25519'),
        'signature.sigFormat: must be a MIME type',
      ],
      ['data that is not base64', (s) => (s.data = 'not base64!'), 'signature.data: must be base64Binary'],
      ['an empty value', (s) => (s.targetFormat = ''), 'signature.targetFormat: must not be empty'],
      [
        'a who.reference to no entry',
        (s) => (s.who = { reference: 'urn:hale:Patient/nobody' }),
        'signature.who.reference: urn:hale:Patient/nobody does not resolve to an entry of the bundle',
      ],
    ])('rejects %s', (_name, change, expected) => {
      expect(reasons(signed(change))).toContain(expected);
    });

    it('rejects a signature that is not an object', () => {
      expect(reasons(mutate((_r, bundle) => (bundle.signature = 'signed')))).toEqual([
        'signature: must be an object',
      ]);
    });
  });

  it('rejects what is not a Bundle', () => {
    expect(reasons(null)).toEqual(['resourceType: must be Bundle']);
    expect(reasons({ resourceType: 'Patient' })).toEqual(['resourceType: must be Bundle']);
  });

  it('summarises issues in the message', () => {
    const result = validateFhirBundleShape(mutate((r) => delete find(r, 'Observation').status));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('FHIR_SHAPE_INVALID');
      expect(result.error.message).toMatch(/^Bundle is not valid FHIR: .*status: is required/);
    }
  });
});

// ------------------------------------------------------------------------------- values and codings

describe('lab values written as text', () => {
  const observationOf = (overrides: Partial<RecordOf<'LabResult'>>, omit: readonly string[] = []) => {
    const { record, bundle } = exportOne('LabResult', overrides, omit);
    return resourceAt(bundle, 'Observation', record.id, record.version);
  };

  it.each([
    ['<0.5', 'ng/mL', { value: 0.5, comparator: '<', unit: 'ng/mL', system: UCUM, code: 'ng/mL' }],
    ['< 0.5', 'ng/mL', { value: 0.5, comparator: '<', unit: 'ng/mL', system: UCUM, code: 'ng/mL' }],
    ['>=10', 'cells/hpf', { value: 10, comparator: '>=', unit: 'cells/hpf' }],
    ['≤ 5', 'mmol/L', { value: 5, comparator: '<=', unit: 'mmol/L', system: UCUM, code: 'mmol/L' }],
    ['> 1000', 'U/L', { value: 1000, comparator: '>', unit: 'U/L', system: UCUM, code: 'U/L' }],
    ['12.5', 'mg/dL', { value: 12.5, unit: 'mg/dL', system: UCUM, code: 'mg/dL' }],
  ] as const)('%j with units %j is a valueQuantity keeping the unit', (value, units, expected) => {
    const observation = observationOf({ value, units });
    expect(observation.valueQuantity).toEqual(expected);
    expect(observation.valueString).toBeUndefined();
    expect(observation.note).toBeUndefined();
  });

  it('a comparator without units is a valueQuantity without a unit', () => {
    expect(observationOf({ value: '<0.5' }, ['units']).valueQuantity).toEqual({
      value: 0.5,
      comparator: '<',
    });
  });

  it('other text keeps its words in valueString and says the units in a note, not glued to the value', () => {
    const observation = observationOf({ value: 'positive', units: 'ng/mL' });
    expect(observation.valueString).toBe('positive');
    expect(observation.valueQuantity).toBeUndefined();
    expect(observation.note).toEqual([{ text: 'Units: ng/mL' }]);
  });

  it('maps earlier versions the same way', () => {
    const [prior] = exampleRecord('LabResult').versions;
    const { record, bundle } = exportOne('LabResult', {
      versions: [{ ...prior!, value: '<0.5', units: 'ng/mL' }],
    });
    expect(resourceAt(bundle, 'Observation', record.id, 1).valueQuantity).toEqual({
      value: 0.5,
      comparator: '<',
      unit: 'ng/mL',
      system: UCUM,
      code: 'ng/mL',
    });
  });

  it('refuses a comparator outside the R4 value set in the shape check', () => {
    const bundle = exportItems([example('LabResult', { value: '<0.5' })]);
    const observation = entriesOf(bundle, 'Observation').at(-1) as Record<string, unknown>;
    (observation.valueQuantity as Record<string, unknown>).comparator = '=<';
    const shape = validateFhirBundleShape(bundle);
    expect(shape.ok ? [] : shape.error.issues.map((issue) => issue.reason)).toEqual([
      'must be one of <, <=, >=, >',
    ]);
  });
});

describe('codes and their systems', () => {
  const CVX = 'http://hl7.org/fhir/sid/cvx';

  it.each([
    ['115', { coding: [{ system: CVX, code: '115' }], text: 'Tdap' }],
    ['03', { coding: [{ system: CVX, code: '03' }], text: 'Tdap' }],
    ['59267-1000-1', { text: 'Tdap (code 59267-1000-1)' }],
    ['1150', { text: 'Tdap (code 1150)' }],
    ['J07CA', { text: 'Tdap (code J07CA)' }],
  ] as const)('vaccineCode %j', (vaccineCode, expected) => {
    const { bundle } = exportOne('Immunization', { vaccineName: 'Tdap', vaccineCode });
    expect(only(bundle, 'Immunization').vaccineCode).toEqual(expected);
    expect(at(only(bundle, 'ImmunizationRecommendation'), 'recommendation[0].vaccineCode[0]')).toEqual(
      expected,
    );
  });

  it.each([
    ['2345-7', { coding: [{ system: LOINC, code: '2345-7' }], text: 'Glucose' }],
    ['718-7', { coding: [{ system: LOINC, code: '718-7' }], text: 'Glucose' }],
    ['2345-8', { text: 'Glucose (code 2345-8)' }], // wrong check digit
    ['GLU', { text: 'Glucose (code GLU)' }],
    ['12345', { text: 'Glucose (code 12345)' }],
  ] as const)('testCode %j', (testCode, expected) => {
    const { record, bundle } = exportOne('LabResult', { testName: 'Glucose', testCode, codes: [] });
    expect(resourceAt(bundle, 'Observation', record.id, record.version).code).toEqual(expected);
    expect(only(bundle, 'ServiceRequest').code).toEqual(expected);
    expect(only(bundle, 'DiagnosticReport').code).toEqual(expected);
  });
});

describe('what patients may leave out', () => {
  it('an allergy without severity exports its reaction without one', () => {
    const { bundle } = exportOne('Allergy', {}, ['severity']);
    expect(only(bundle, 'AllergyIntolerance').reaction).toEqual([{ manifestation: [{ text: 'Hives' }] }]);
  });

  it('an allergy without severity or reaction exports no reaction', () => {
    const { bundle } = exportOne('Allergy', {}, ['severity', 'reaction']);
    expect(only(bundle, 'AllergyIntolerance').reaction).toBeUndefined();
  });

  it('a year or a month is exported as the FHIR partial dateTime it is', () => {
    expect(only(exportOne('Immunization', { administeredAt: '1995' }).bundle, 'Immunization')).toMatchObject({
      occurrenceDateTime: '1995',
    });
    expect(
      only(exportOne('Allergy', { onsetDate: '2009-06' }).bundle, 'AllergyIntolerance').onsetDateTime,
    ).toBe('2009-06');
  });

  it('refuses, rather than exports without a code, a test or vaccine named only in blanks', () => {
    const lab = exampleWithoutValidation('LabResult', ['testCode'], { testName: ' ' });
    expect(refusal(() => exportItems([item('LabResult', lab)]))).toMatchObject({
      code: 'INVALID_RECORD',
      issues: [{ field: 'testName', reason: 'must not be empty' }],
    });
    const shot = exampleWithoutValidation('Immunization', ['vaccineCode'], { vaccineName: '\u200b' });
    expect(refusal(() => exportItems([item('Immunization', shot)]))).toMatchObject({
      code: 'INVALID_RECORD',
      issues: [{ field: 'vaccineName', reason: 'must not be empty' }],
    });
  });
});

// Two devices that edit a record offline both keep their edit: sync shows one version and keeps the
// others beside it until a person decides (the client's `conflictData`). An export must not hand a
// clinician one of them as settled.
describe('a record in an unsettled conflict', () => {
  const TAG = {
    system: 'https://hale.invalid/fhir/CodeSystem/record-state',
    code: 'in-conflict',
    display: 'In conflict, unsettled',
  };
  const LINK = 'https://hale.invalid/fhir/StructureDefinition/conflicting-version';
  const LATER = '2024-06-01T09:30:00.000Z';
  const links = (resource: FhirResource) =>
    ((resource.extension ?? []) as { url: string; valueReference?: { reference: string } }[])
      .filter((ext) => ext.url === LINK)
      .map((ext) => ext.valueReference?.reference);
  const tags = (resource: FhirResource) => (at(resource, 'meta.tag') as unknown[] | undefined) ?? [];
  const valid = (bundle: FhirBundle) => {
    const check = validateFhirBundleShape(bundle);
    expect(check.ok ? [] : check.error.issues).toEqual([]);
  };
  const conflicted = <K extends RecordKind>(
    kind: K,
    record: RecordOf<K>,
    sides: readonly ({ record: RecordOf<K> } | { deletion: { by: string; at: string } })[],
  ): FhirExportItem =>
    // The union member for K, as `item` above.
    ({ kind, record, conflict: { sides } }) as FhirExportItem;

  it('exports the other side as its own resource beside the record, both tagged and linked', () => {
    const shown = exampleRecord('Medication', { dose: '5 mg' });
    const other = { ...shown, dose: '20 mg', updatedAt: LATER };
    const bundle = exportItems([conflicted('Medication', shown, [{ record: other }])]);
    valid(bundle);
    const main = resourceAt(bundle, 'MedicationStatement', shown.id);
    const side = resourceAt(bundle, 'MedicationStatement', `${shown.id}-conflict-1`);
    expect(at(main, 'dosage[0].doseAndRate[0].doseQuantity.value')).toBe(5);
    expect(at(side, 'dosage[0].doseAndRate[0].doseQuantity.value')).toBe(20);
    // Both are the one Hale record: the same identifier.
    expect(haleIds(side)).toEqual([shown.id]);
    for (const resource of [main, side]) expect(tags(resource)).toEqual([TAG]);
    expect(links(main)).toEqual([`urn:hale:MedicationStatement/${shown.id}-conflict-1`]);
    expect(links(side)).toEqual([`urn:hale:MedicationStatement/${shown.id}`]);
  });

  it('a settled record is exported untagged, as before', () => {
    const bundle = exportItems([example('Medication')]);
    expect(tags(only(bundle, 'MedicationStatement'))).toEqual([]);
    expect(JSON.stringify(bundle)).not.toContain('conflict');
  });

  it('a versioned record: the shared history is not repeated, the side has its own version and Provenance', () => {
    const shown = exampleRecord('LabResult', { value: 98 });
    const other: RecordOf<'LabResult'> = {
      ...shown,
      value: 112,
      updatedAt: LATER,
      provenance: { ...shown.provenance, at: LATER, reason: 'Re-run' },
    };
    const bundle = exportItems([conflicted('LabResult', shown, [{ record: other }])]);
    valid(bundle);
    const sideId = `${shown.id}-conflict-1`;
    // Version 1 both sides share stays once, under the record's id.
    expect(bundle.entry.filter((e) => e.fullUrl === `urn:hale:Observation/${sideId}`)).toHaveLength(1);
    const side = resourceAt(bundle, 'Observation', sideId, 2);
    expect(at(side, 'valueQuantity.value')).toBe(112);
    expect(tags(side)).toEqual([TAG]);
    expect(links(side)).toEqual([`urn:hale:Observation/${shown.id}/_history/2`]);
    const main = resourceAt(bundle, 'Observation', shown.id, 2);
    expect(tags(main)).toEqual([TAG]);
    expect(links(main)).toEqual([`urn:hale:Observation/${sideId}/_history/2`]);
    expect(tags(resourceAt(bundle, 'Observation', shown.id, 1))).toEqual([]);
    // The side's Provenance names the side's version; the shared version 1 keeps its one Provenance.
    expect(at(resourceAt(bundle, 'Provenance', `${shown.id}-prov-2-conflict-1`), 'target[0].reference')).toBe(
      `urn:hale:Observation/${sideId}/_history/2`,
    );
    expect(at(resourceAt(bundle, 'Provenance', `${shown.id}-prov-2-conflict-1`), 'reason[0].text')).toBe(
      'Re-run',
    );
    expect(bundle.entry.filter((e) => e.fullUrl.includes(`${shown.id}-prov-1-conflict`))).toEqual([]);
    // Its report shows its own result.
    expect(
      at(resourceAt(bundle, 'DiagnosticReport', `${shown.id}-report-conflict-1`), 'result[0].reference'),
    ).toBe(`urn:hale:Observation/${sideId}`);
  });

  it('a deletion on another device exports as a Provenance of a deletion not applied', () => {
    const shown = exampleRecord('Allergy');
    const bundle = exportItems([
      conflicted('Allergy', shown, [{ deletion: { by: EXAMPLE_CAREGIVER_ID, at: LATER } }]),
    ]);
    valid(bundle);
    const deletion = resourceAt(bundle, 'Provenance', `${shown.id}-conflict-1`);
    expect(at(deletion, 'activity.coding[0].code')).toBe('DELETE');
    expect(at(deletion, 'target[0].reference')).toBe(`urn:hale:AllergyIntolerance/${shown.id}`);
    expect(at(deletion, 'recorded')).toBe(LATER);
    expect(at(deletion, 'agent[0].who.reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_CAREGIVER_ID}`);
    expect(tags(deletion)).toEqual([TAG]);
    const main = resourceAt(bundle, 'AllergyIntolerance', shown.id);
    expect(tags(main)).toEqual([TAG]);
    expect(links(main)).toEqual([`urn:hale:Provenance/${shown.id}-conflict-1`]);
  });

  it('a conflict whose sides the caller could not give still marks the record disputed', () => {
    const shown = exampleRecord('Medication');
    const bundle = exportItems([conflicted('Medication', shown, [])]);
    valid(bundle);
    expect(tags(only(bundle, 'MedicationStatement'))).toEqual([TAG]);
  });

  it.each(RECORD_KIND_NAMES.map((kind) => [kind]))(
    'a %s side exports beside the record in a valid bundle',
    (kind) => {
      const records = allExamples();
      const index = records.findIndex((r) => r.kind === kind);
      const shown = records[index]!;
      // Another edit of the same record: a later write, changing what every kind exports of it.
      const other = { ...shown.record, updatedAt: LATER };
      records[index] = conflicted(kind, shown.record, [{ record: other }]);
      const bundle = exportItems(records);
      valid(bundle);
      const sides = bundle.entry.filter((e) => e.resource.id.endsWith('-conflict-1'));
      expect(sides.length).toBeGreaterThan(0);
      for (const side of sides) expect(tags(side.resource)).toEqual([TAG]);
      const tagged = bundle.entry.filter((e) => tags(e.resource).length > 0);
      const ownTagged = tagged.filter((e) => !e.resource.id.endsWith('-conflict-1'));
      // The record's shown version is marked, and only the record's resources are: its main one and any
      // other a side says otherwise in (e.g. a recommendation dated by the edit), each linked to the side's.
      expect(ownTagged.length).toBeGreaterThan(0);
      expect(tagged.length).toBe(sides.length + ownTagged.length);
      for (const own of ownTagged) {
        expect(links(own.resource).length).toBe(1);
        expect(links(own.resource)[0]).toMatch(/-conflict-1(\/_history\/\d+)?$/);
      }
      expect(tagged.flatMap((e) => links(e.resource))).toHaveLength(2 * ownTagged.length);
    },
  );

  it('does not depend on the order of the input', () => {
    const shown = exampleRecord('Medication', { dose: '5 mg' });
    const other = { ...shown, dose: '20 mg', updatedAt: LATER };
    const input = [
      ...allExamples().filter((e) => e.kind !== 'Medication'),
      conflicted('Medication', shown, [{ record: other }]),
    ];
    expect(exportItems([...input].reverse())).toEqual(exportItems(input));
  });

  it('refuses a side that is another record, invalid, or a malformed deletion', () => {
    const shown = exampleRecord('Medication');
    const cases: Array<[FhirExportItem, Partial<FhirExportError['detail']>]> = [
      [conflicted('Medication', shown, [{ record: { ...shown, id: newId() } }]), { code: 'INVALID_INPUT' }],
      [
        conflicted('Medication', shown, [{ record: { ...shown, name: ' ' } }]),
        { code: 'INVALID_RECORD', recordId: shown.id },
      ],
      [
        conflicted('Medication', shown, [{ record: { ...shown, patientId: EXAMPLE_PROVIDER_ID } }]),
        { code: 'PATIENT_MISMATCH' },
      ],
      [
        conflicted('Medication', shown, [{ deletion: { by: 'someone', at: LATER } }]),
        { code: 'INVALID_INPUT' },
      ],
      [
        conflicted('Medication', shown, [{ deletion: { by: EXAMPLE_PROVIDER_ID, at: 'now' } }]),
        { code: 'INVALID_INPUT' },
      ],
    ];
    for (const [input, expected] of cases)
      expect(refusal(() => exportItems([input]))).toMatchObject(expected);
  });
});
