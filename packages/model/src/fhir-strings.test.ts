import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, validateFhirBundleShape } from './fhir';

// An R4 string holds no code point below 32 but tab, CR and LF (datatypes.html#string); the model's free
// text takes them (a form feed or a NUL pasted from a PDF), and a strict validator refuses a Bundle
// holding one as a whole.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/; // eslint-disable-line no-control-regex

const strings = (value: unknown): string[] =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value)
      ? value.flatMap(strings)
      : typeof value === 'object' && value !== null
        ? Object.values(value).flatMap(strings)
        : [];

describe('FHIR export: free text is written as R4 strings', () => {
  it('a form feed or vertical tab becomes a space, other control characters U+FFFD; tab, CR and LF stay', () => {
    const allergy = exampleRecord('Allergy', { notes: 'page 1\fpage 2\u000Bline\u0000end\ttab\r\nnext' });
    const bundle = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: [{ kind: 'Allergy', record: allergy }],
      generatedAt: '2024-06-01T12:00:00Z',
    });
    expect(strings(bundle).filter((s) => CONTROL.test(s))).toEqual([]);
    expect(strings(bundle)).toContain('page 1 page 2 line\uFFFDend\ttab\r\nnext');
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
  });

  it('the shape check refuses a string holding one, naming its path', () => {
    const bundle = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: [{ kind: 'Allergy', record: exampleRecord('Allergy') }],
      generatedAt: '2024-06-01T12:00:00Z',
    });
    const altered = JSON.parse(JSON.stringify(bundle)) as { entry: { resource: Record<string, unknown> }[] };
    const resource = altered.entry.find((e) => e.resource['resourceType'] === 'AllergyIntolerance')!.resource;
    resource['language'] = 'en\u0007';
    const result = validateFhirBundleShape(altered);
    expect(result.ok).toBe(false);
    const issues = result.ok ? [] : result.error.issues;
    expect(issues.filter((i) => i.path.endsWith('.language'))).toEqual([
      {
        path: expect.stringMatching(/\.language$/) as string,
        reason: 'must not hold control characters other than tab, CR and LF',
      },
    ]);
  });
});
