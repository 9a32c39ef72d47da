// A result (FHIR Observation, with its DiagnosticReport and order), versioned: a correction keeps the value before.
import type { KindDescription } from '../kind-description';
import { exportLabResult } from '../fhir-export-records';
import { mapDiagnosticReport, mapObservation } from '../fhir-import-map-results';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { LAB_RESULT_STATUSES, LabResultSchema, OBSERVATION_CATEGORIES } from '../record-schemas';

const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';

export const LAB_RESULT = {
  slug: 'labs',
  schema: LabResultSchema,
  streamType: 'lab-result',
  authorship: 'author',
  fhir: {
    resource: 'Observation',
    alsoExports: ['DiagnosticReport', 'ServiceRequest'],
    export: exportLabResult,
    import: [
      { resourceType: 'Observation', shape: IMPORT_SCHEMAS.Observation, map: mapObservation },
      { resourceType: 'DiagnosticReport', shape: IMPORT_SCHEMAS.DiagnosticReport, map: mapDiagnosticReport },
    ],
  },
  clinicalDate: ['effectiveAt'],
  search: {
    testName: 3,
    testCode: 0.8,
    performer: 1,
    interpretation: 1,
    bodySite: 1,
    notes: 1,
    units: 0.5,
    status: 0.5,
  },
  screen: {
    section: 'chart',
    order: 70,
    icon: 'activity',
    title: 'testName',
    summary: ['effectiveAt', 'status'],
    versioned: true,
    takesReason: true,
    form: [
      { name: 'testName', type: 'text', required: true },
      { name: 'testCode', type: 'text' },
      { name: 'value', type: 'labValue' },
      { name: 'units', type: 'text' },
      { name: 'referenceRange', type: 'text' },
      { name: 'effectiveAt', type: 'instant', required: true },
      {
        name: 'status',
        type: 'select',
        options: LAB_RESULT_STATUSES,
        enumName: 'labStatus',
        required: true,
        initial: 'final',
      },
      { name: 'category', type: 'select', options: OBSERVATION_CATEGORIES, enumName: 'observationCategory' },
      { name: 'performer', type: 'text' },
      { name: 'interpretation', type: 'text' },
      { name: 'bodySite', type: 'text' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    testCode: '2345-7',
    testName: 'Glucose [Mass/volume] in Serum or Plasma',
    codes: [{ system: 'http://snomed.info/sct', code: '33747003', display: 'Glucose measurement, blood' }],
    category: 'laboratory',
    status: 'corrected',
    value: 98,
    // Read as a coded value, then corrected to a number in Hale: the number wins (not exported beside it).
    valueConcept: { text: 'Normal', codes: [{ system: SNOMED, code: '17621005', display: 'Normal' }] },
    units: 'mg/dL',
    unitsCoded: { unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    interpretation: 'Normal',
    interpretations: [{ text: 'Normal', codes: [{ system: INTERPRETATION, code: 'N', display: 'Normal' }] }],
    bodySite: 'Left arm',
    bodySites: [
      {
        text: 'Left arm',
        codes: [{ system: SNOMED, code: '368208006', display: 'Left upper arm structure' }],
      },
    ],
    notes: 'Fasting sample.',
    referenceRange: '70-99 mg/dL',
    referenceRangeCoded: {
      text: '70-99 mg/dL',
      low: { value: 70, unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
      high: { value: 99, unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    },
    effectiveAt: '2024-05-01T08:10:00Z',
    publishedAt: p.updated,
    orderedBy: p.providerId,
    performer: 'Riverside Lab',
    attachments: [p.file('glucose-report.pdf', 'application/pdf', 20_480)],
    components: [
      {
        testCode: '2339-0',
        testName: 'Glucose [Mass/volume] in Blood',
        codes: [{ system: SNOMED, code: '444780001', display: 'Glucose measurement, blood' }],
        value: 97,
        valueConcept: { text: 'Normal', codes: [{ system: SNOMED, code: '17621005', display: 'Normal' }] },
        units: 'mg/dL',
        unitsCoded: { unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
        referenceRange: '70-99 mg/dL',
        // Said by the source, then a value typed in Hale: the value wins (not exported beside it).
        dataAbsentReason: {
          text: 'Not performed',
          codes: [{ system: DATA_ABSENT, code: 'not-performed', display: 'Not Performed' }],
        },
        // The same for samples the source sent: the value typed wins.
        sampledData: {
          origin: { value: 0, unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
          period: 60_000,
          factor: 1,
          lowerLimit: 20,
          upperLimit: 600,
          dimensions: 1,
          data: '96 97 97',
        },
      },
      {
        testCode: '32016-8',
        testName: 'Glucose [Mass/volume] in Capillary blood',
        dataAbsentReason: {
          text: 'Not performed',
          codes: [{ system: DATA_ABSENT, code: 'not-performed', display: 'Not Performed' }],
        },
      },
      {
        // A part whose value is samples (an ECG lead, as a device sends it), with a local code.
        testName: 'MDC_ECG_ELEC_POTL_I',
        codes: [{ system: 'urn:oid:2.16.840.1.113883.6.24', code: '131329', display: 'MDC_ECG_ELEC_POTL_I' }],
        sampledData: {
          origin: { value: 2048, unit: 'uV' },
          period: 10,
          factor: 1.612,
          lowerLimit: -3300,
          upperLimit: 3300,
          dimensions: 1,
          data: '2041 2043 2037 2047 2060 E U L',
        },
      },
    ],
    version: 2,
    provenance: p.provenance(p.updated, 'Transcription error in value'),
    versions: [
      {
        version: 1,
        status: 'final',
        value: 89,
        units: 'mg/dL',
        referenceRange: '70-99 mg/dL',
        effectiveAt: '2024-05-01T08:10:00Z',
        publishedAt: p.created,
        provenance: p.provenance(p.created, 'Initial result'),
      },
    ],
  }),
} as const satisfies KindDescription<typeof LabResultSchema>;
