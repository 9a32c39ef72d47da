import { describe, expect, it } from 'vitest';
import {
  IMPORTED_KINDS,
  KIND_DESCRIPTIONS,
  NOTE_VERSION_FIELDS,
  SCREEN_KINDS,
  SEARCHED_KINDS,
  SEARCH_BOOSTS,
  STREAM_RESOURCE_TYPES,
  importerOf,
  kindDescription,
  kindOfSlug,
  streamSlug,
  translationKeys,
} from './kind-descriptions';
import { RECORD_KINDS, RECORD_KIND_NAMES, toJsonSchema, type RecordKind } from './registry';
import { STREAM_TYPES } from './stream-types';

type Json = Readonly<Record<string, unknown>>;
const propertiesOf = (schema: unknown): Json => {
  const s = schema as Json;
  const items = s['items'] as Json | undefined;
  return ((items ?? s)['properties'] as Json | undefined) ?? {};
};
/** The JSON Schema at a path of `kind` (`contact.phone`, `attachments.fileName`), undefined when none. */
const schemaAt = (kind: RecordKind, path: string): Json | undefined => {
  const [head = '', tail] = path.split('.', 2);
  const top = propertiesOf(toJsonSchema(kind))[head] as Json | undefined;
  return tail === undefined || top === undefined ? top : (propertiesOf(top)[tail] as Json | undefined);
};
/** The values an enum schema allows (`anyOf` of `const`s), undefined for any other schema. */
const enumOf = (schema: Json | undefined): unknown[] | undefined => {
  const anyOf = schema?.['anyOf'];
  if (!Array.isArray(anyOf) || !anyOf.every((s) => 'const' in (s as Json))) return undefined;
  return anyOf.map((s) => (s as Json)['const']);
};

describe('the kind descriptions', () => {
  it('name only fields their schema has', () => {
    for (const kind of RECORD_KIND_NAMES) {
      const d = kindDescription(kind);
      const paths = [
        ...d.clinicalDate,
        ...Object.keys(d.search),
        ...(d.screen === null ? [] : [d.screen.title, ...d.screen.summary, ...(d.screen.stampedOnAdd ?? [])]),
        ...(d.screen?.form ?? [])
          .map((f) => f.name)
          // A note's form edits its current version's text too.
          .filter(
            (name) => kind !== 'MedicalNote' || !(NOTE_VERSION_FIELDS as readonly string[]).includes(name),
          ),
      ];
      expect(
        paths.filter((p) => schemaAt(kind, p) === undefined),
        kind,
      ).toEqual([]);
    }
    for (const name of NOTE_VERSION_FIELDS) expect(schemaAt('NoteVersion', name)).toBeDefined();
  });

  it('offer in a form exactly the values the schema accepts', () => {
    for (const kind of RECORD_KIND_NAMES) {
      for (const field of kindDescription(kind).screen?.form ?? []) {
        const allowed = enumOf(schemaAt(kind, field.name));
        if (field.type === 'select' && allowed !== undefined)
          expect(field.options, field.name).toEqual(allowed);
        if (allowed !== undefined) expect(field.type, `${kind}.${field.name}`).toBe('select');
      }
    }
  });

  it('give each kind its own slug, lower-case words with dashes, found back from it', () => {
    const slugs = RECORD_KIND_NAMES.map((kind) => KIND_DESCRIPTIONS[kind].slug);
    expect(new Set(slugs).size).toBe(slugs.length);
    for (const kind of RECORD_KIND_NAMES) {
      expect(KIND_DESCRIPTIONS[kind].slug).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(kindOfSlug(KIND_DESCRIPTIONS[kind].slug)).toBe(kind);
    }
  });

  it('name every stream by its first kind, the note stream as notes', () => {
    for (const type of STREAM_TYPES) expect(kindOfSlug(streamSlug(type))).toBeDefined();
    expect(streamSlug('note')).toBe('notes');
    expect(streamSlug('encounter')).toBe('encounters');
  });

  it('place each screen once in its section', () => {
    for (const section of ['chart', 'care'] as const) {
      const orders = SCREEN_KINDS.flatMap((kind) => {
        const screen = kindDescription(kind).screen;
        return screen?.section === section ? [screen.order] : [];
      });
      expect(orders).toEqual([...orders].sort((a, b) => a - b));
      expect(new Set(orders).size).toBe(orders.length);
    }
    expect(SCREEN_KINDS.slice(0, 4)).toEqual(['Profile', 'EmergencyContact', 'Allergy', 'Condition']);
  });

  it('search every kind a person writes text in, Conditions and Procedures too', () => {
    expect([...SEARCHED_KINDS].sort()).toEqual(
      RECORD_KIND_NAMES.filter((k) => !['AuditEntry', 'Consent', 'ProviderProfile'].includes(k)).sort(),
    );
    for (const kind of SEARCHED_KINDS) {
      for (const path of Object.keys(kindDescription(kind).search)) {
        const schema = schemaAt(kind, path);
        const text =
          schema?.['type'] === 'string' || (schema?.['items'] as Json | undefined)?.['type'] === 'string';
        expect(text || enumOf(schema) !== undefined, `${kind}.${path}`).toBe(true);
      }
    }
  });

  it('agree on the boost of a search path whatever kind has it', () => {
    for (const kind of RECORD_KIND_NAMES) {
      for (const [path, boost] of Object.entries(kindDescription(kind).search)) {
        expect({ kind, path, boost }).toEqual({ kind, path, boost: SEARCH_BOOSTS[path] });
      }
    }
    expect(SEARCH_BOOSTS['name']).toBe(3);
  });

  it('read each FHIR resource type into one kind', () => {
    const types = RECORD_KIND_NAMES.flatMap((kind) =>
      kindDescription(kind).fhir.import.map((i) => i.resourceType),
    );
    expect(new Set(types).size).toBe(types.length);
    expect(importerOf('MedicationRequest')?.kind).toBe('Medication');
    expect(importerOf('CarePlan')).toBeUndefined();
    expect(IMPORTED_KINDS).toContain('Condition');
    expect(IMPORTED_KINDS).not.toContain('TreatmentPlan');
  });

  it('export each consented stream as its kinds’ resources', () => {
    expect(STREAM_RESOURCE_TYPES).toMatchObject({
      immunization: ['Immunization', 'ImmunizationRecommendation'],
      'lab-result': ['Observation', 'DiagnosticReport', 'ServiceRequest'],
      note: ['Composition'],
      'note-signature': ['Provenance', 'Task'],
      condition: ['Condition'],
    });
    expect(Object.keys(STREAM_RESOURCE_TYPES)).toEqual(STREAM_TYPES.filter((t) => t !== 'audit'));
    for (const kind of RECORD_KIND_NAMES) {
      expect(RECORD_KINDS[kind].fhirResource).toBe(kindDescription(kind).fhir.resource);
    }
  });

  it('list the words a kind needs: its names, its screens’, a label per field and choice', () => {
    expect(translationKeys('Message')).toEqual(['kinds.messages.title', 'kinds.messages.one']);
    const allergy = translationKeys('Allergy');
    expect(allergy).toEqual(
      expect.arrayContaining(['kinds.allergies.emptyHint', 'fields.substance', 'enum.severity.moderate']),
    );
    expect(translationKeys('Profile')).toContain('fields.contact.phone');
  });
});
