// The export keeps one of two Profiles (each device may create one before the first sync) by the latest
// `updatedAt`. The model takes an `updatedAt` with any offset and 1–9 fraction digits, and another build
// or a provider's device may write one so: the latest must be the latest instant, also within one
// millisecond, and never depend on how the engine's Date.parse reads forms ECMA-262 leaves to it.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, type FhirExportItem } from './fhir';

/** Two Profiles, `later` edited after `earlier`, whose ids favour `earlier` should times tie. */
const profiles = (earlier: string, later: string) => {
  const first = exampleRecord('Profile', {
    id: '01J0000000000000000000ZZZZ',
    fullName: 'Earlier Edit',
    updatedAt: earlier,
  });
  const second = exampleRecord('Profile', {
    id: '01J00000000000000000000001',
    fullName: 'Later Edit',
    updatedAt: later,
  });
  return [first, second];
};

/** The name on the export's Patient (the Profile kept as the patient), for the Profiles in either order. */
const keptNames = (earlier: string, later: string): string[] =>
  [profiles(earlier, later), profiles(earlier, later).reverse()].map((listed) => {
    const bundle = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: listed.map((record): FhirExportItem => ({ kind: 'Profile', record })),
      generatedAt: '2026-06-01T12:00:00Z',
    });
    const patient = bundle.entry.find((entry) => entry.fullUrl === `urn:hale:Patient/${EXAMPLE_PATIENT_ID}`)
      ?.resource as { name?: Array<{ text?: string }> } | undefined;
    return patient?.name?.[0]?.text ?? '(none)';
  });

describe('FHIR export: the Profile kept is the latest edit by instant', () => {
  const pairs: Array<[string, string, string]> = [
    [
      'four fraction digits, within one millisecond',
      '2026-01-01T10:00:00.1231Z',
      '2026-01-01T10:00:00.1239Z',
    ],
    [
      'nine fraction digits, one nanosecond apart',
      '2026-01-01T10:00:00.123456788Z',
      '2026-01-01T10:00:00.123456789Z',
    ],
    ['three digits against six', '2026-01-01T10:00:00.123Z', '2026-01-01T10:00:00.123001Z'],
    ['offsets, within one millisecond', '2026-01-01T12:00:00.1234+02:00', '2026-01-01T07:00:00.12345-03:00'],
    ['an offset, a second apart', '2026-01-01T11:00:00+02:00', '2026-01-01T09:00:01Z'],
    ['one and two digits', '2026-01-01T10:00:00.1Z', '2026-01-01T10:00:00.12Z'],
  ];
  it.each(pairs)('%s', (_name, earlier, later) => {
    expect(keptNames(earlier, later)).toEqual(['Later Edit', 'Later Edit']);
  });

  it('one instant written two ways ties, and the greater id keeps the place as before', () => {
    for (const [a, b] of [
      ['2026-01-01T10:00:00.5Z', '2026-01-01T10:00:00.500000000Z'],
      ['2026-01-01T10:00:00Z', '2026-01-01T12:00:00+02:00'],
    ] as const) {
      expect(keptNames(a, b)).toEqual(['Earlier Edit', 'Earlier Edit']);
      expect(keptNames(b, a)).toEqual(['Earlier Edit', 'Earlier Edit']);
    }
  });
});
