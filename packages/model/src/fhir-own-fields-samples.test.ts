// What a result part keeps in Hale's own fields beyond a number or words (#63 item 2): its value as
// samples at a fixed interval (an ECG lead's SampledData), and a coded value whose coding has no system
// (R4 allows one: a local answer code). Each is read into the part's fields and exported from them.
import { describe, expect, it } from 'vitest';
import { at, exportOne, importOne, only } from './fhir.test-util';
import { planFhirImport } from './fhir-import';
import type { RecordOf } from './registry';

const subject = { reference: 'Patient/p1' };
const MDC = 'urn:oid:2.16.840.1.113883.6.24';
const lead = {
  origin: { value: 2048 },
  period: 10,
  factor: 1.612,
  lowerLimit: -3300,
  upperLimit: 3300,
  dimensions: 1,
  data: '2041 2043 2037 2047 2060 2062 E U L',
};
const ekg = (valueSampledData: unknown) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: MDC, code: '131328', display: 'MDC_ECG_ELEC_POTL' }] },
  subject,
  effectiveDateTime: '2015-02-19T09:30:35+01:00',
  component: [
    { code: { coding: [{ system: MDC, code: '131329', display: 'MDC_ECG_ELEC_POTL_I' }] }, valueSampledData },
  ],
});
/** A result of the imported fields alone (no source kept, no earlier versions): export writes them. */
const exported = (own: Record<string, unknown>) =>
  only(
    exportOne('LabResult', {
      ...own,
      origin: undefined,
      versions: [],
      version: 1,
    } as unknown as Partial<RecordOf<'LabResult'>>).bundle,
    'Observation',
  );
const partsOf = (own: Record<string, unknown>) => own['components'] as Record<string, unknown>[];

describe('a result part whose value is samples (SampledData)', () => {
  it('import keeps them whole in the part’s field, the data as sent', () => {
    const own = importOne(ekg(lead));
    expect(partsOf(own)[0]).toMatchObject({ testName: 'MDC_ECG_ELEC_POTL_I', sampledData: lead });
  });

  it('export writes them as the part’s valueSampledData; a value typed since wins', () => {
    const own = importOne(ekg(lead));
    expect(at(exported(own), 'component[0].valueSampledData')).toEqual(lead);
    const [part] = partsOf(own);
    const typed = exported({ ...own, components: [{ ...part, value: 42, units: 'uV' }] });
    expect(at(typed, 'component[0].valueSampledData')).toBeUndefined();
    expect(at(typed, 'component[0].valueQuantity.value')).toBe(42);
  });

  it('samples missing what R4 requires, or longer than Hale keeps, stay in the source and are said', () => {
    const { period: _period, ...noPeriod } = lead;
    expect(partsOf(importOne(ekg(noPeriod)))[0]).not.toHaveProperty('sampledData');
    const long = { ...lead, data: '2041 '.repeat(5000) };
    expect(partsOf(importOne(ekg(long)))[0]).not.toHaveProperty('sampledData');
    const plan = planFhirImport(JSON.stringify(ekg(long)), {
      patientId: 'FreshAccount0000000001',
      importedAt: '2026-11-27T10:00:00.000Z',
    });
    if (!plan.ok) throw new Error(plan.error.message);
    expect(plan.value.records[0]?.notKept.some((n) => n.startsWith('component.valueSampledData'))).toBe(true);
  });
});

describe('a coded value whose coding has no system', () => {
  it('import keeps its code and display; export writes them back', () => {
    const own = importOne({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '55233-1' }], text: 'Genetic analysis' },
      subject,
      issued: '2013-04-03T15:30:10+01:00',
      component: [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '53037-8' }], text: 'Interpretation' },
          valueCodeableConcept: { coding: [{ code: 'LA6669-1', display: 'Pathogenic' }] },
        },
      ],
    });
    expect(partsOf(own)[0]).toMatchObject({
      value: 'Pathogenic',
      valueConcept: { text: 'Pathogenic', codes: [{ code: 'LA6669-1', display: 'Pathogenic' }] },
    });
    expect(at(exported(own), 'component[0].valueCodeableConcept')).toEqual({
      text: 'Pathogenic',
      coding: [{ code: 'LA6669-1', display: 'Pathogenic' }],
    });
  });
});
