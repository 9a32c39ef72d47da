// Practitioners filled from the directory: identifiers read by the cardinality R4 gives each type (a
// Composition's is one object), only account-only Practitioners filled, a lookup failure harmless.
import { describe, expect, it } from 'vitest';
import { HALE_ACCOUNT_SYSTEM, type FhirBundle, type FhirResource } from '@hale/model';
import type { ProviderProfile } from '@hale/protocol';
import { identifiersOf, withPractitioners } from './practitioners';

const ACCOUNT = 'ProviderAccount0000001';
const profile: ProviderProfile = {
  accountId: ACCOUNT,
  displayName: 'Dr. Lin Lee',
  specialty: 'Family medicine',
  clinic: 'Riverside',
  identifier: 'NPI 1234567893',
};
const absent = {
  extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }],
};
const practitioner = (extra: object = {}): FhirResource => ({
  resourceType: 'Practitioner',
  id: ACCOUNT,
  identifier: [{ system: HALE_ACCOUNT_SYSTEM, value: ACCOUNT }],
  ...extra,
});
const bundleOf = (...resources: FhirResource[]): FhirBundle => ({
  resourceType: 'Bundle',
  type: 'collection',
  timestamp: '2026-11-26T10:00:00Z',
  entry: resources.map((resource, i) => ({
    fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${i}`,
    resource,
  })),
});

describe('identifiersOf', () => {
  it('reads one Identifier where R4 has 0..1 (Composition, Bundle) and a list elsewhere', () => {
    const one = { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:00000000-0000-4000-8000-000000000001' };
    expect(identifiersOf({ resourceType: 'Composition', id: 'c', identifier: one })).toEqual([one]);
    expect(identifiersOf({ resourceType: 'Bundle', id: 'b', identifier: one })).toEqual([one]);
    expect(identifiersOf({ resourceType: 'Practitioner', id: 'p', identifier: [one] })).toEqual([one]);
    // A shape R4 does not give the type reads as none, not as a crash.
    expect(identifiersOf({ resourceType: 'Practitioner', id: 'p', identifier: one })).toEqual([]);
    expect(identifiersOf({ resourceType: 'Composition', id: 'c', identifier: [one] })).toEqual([]);
  });
});

describe('withPractitioners', () => {
  it('fills an account-only Practitioner beside a Composition with its one identifier', async () => {
    const note: FhirResource = {
      resourceType: 'Composition',
      id: 'note',
      identifier: { system: 'urn:hale:id', value: 'note' },
    };
    const out = await withPractitioners(async () => profile, bundleOf(note, practitioner()));
    expect(out.entry[0]!.resource).toEqual(note);
    expect(out.entry[1]!.resource).toMatchObject({
      name: [{ text: 'Dr. Lin Lee' }],
      identifier: [
        { system: HALE_ACCOUNT_SYSTEM, value: ACCOUNT },
        { type: { text: 'Professional identifier' }, value: 'NPI 1234567893' },
      ],
      qualification: [{ code: { text: 'Family medicine, Riverside' } }],
    });
  });

  it('replaces a name no one knew, keeps a name given, and leaves the entry when the lookup fails', async () => {
    const unknown = await withPractitioners(
      async () => profile,
      bundleOf(practitioner({ name: [{ _text: absent }] })),
    );
    expect(unknown.entry[0]!.resource['name']).toEqual([{ text: 'Dr. Lin Lee' }]);
    const named = practitioner({ name: [{ text: 'Dr. Imported' }] });
    expect((await withPractitioners(async () => profile, bundleOf(named))).entry[0]!.resource).toEqual(named);
    const offline = await withPractitioners(
      () => Promise.reject(new TypeError('fetch failed')),
      bundleOf(practitioner()),
    );
    expect(offline.entry[0]!.resource).toEqual(practitioner());
    expect(await withPractitioners(async () => null, bundleOf(practitioner()))).toEqual(
      bundleOf(practitioner()),
    );
  });
});
