import { describe, expect, it } from 'vitest';
import { EXAMPLE_CAREGIVER_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import type { FhirExportError } from './fhir';
import { validateFhirBundleShape, type FhirBundle, type FhirExportItem, type FhirResource } from './fhir';
import { newId } from './ids';
import { RECORD_KIND_NAMES, type RecordKind, type RecordOf } from './registry';

import { example, exportItems, refusal, allExamples, at, resourceAt, only, haleIds } from './fhir.test-util';

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
