/*
 * Family history: a condition a relative has or had (FHIR R4 FamilyMemberHistory), one record per relative
 * and condition ("mother, breast cancer at 52").
 *
 * | Hale | FamilyMemberHistory |
 * |---|---|
 * | `relationship` | `relationship` (v3 RoleCode: MTH, FTH, …; `other` is FAMMEMB) |
 * | `relativeName` | `name` |
 * | `condition`, `codes` | `condition[0].code` (text, then the codings) |
 * | `onsetAge` | `condition[0].onsetAge` in years (UCUM `a`); 0 is `onsetString` "at birth" (an Age is > 0) |
 * | `deceased` | `deceasedBoolean` |
 * | `notes` | `note` |
 * | `recordedAt` | `date` (when the history was recorded: a day, an instant, or only a year or month) |
 * | (none) | `status` completed on export (R4 requires it); an entered-in-error one is not imported |
 *
 * Invariants (import): one resource makes one record, of its first condition that names one; the other
 * conditions, a relationship Hale has no word for (read as `other`), a side of the family (a maternal
 * aunt is an aunt), a death's age or date (read as deceased) are listed as not kept, never dropped unsaid.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  CodingsSchema,
  PartialDateOrDateTimeSchema,
  StringEnum,
  boundedText,
  patientRecordFields,
} from '../common-schemas';
import {
  UCUM,
  coding,
  dateTimeExt,
  fhirDateTime,
  haleIdentifier,
  makeResource,
  meta,
  stringExt,
  text,
} from '../fhir-draft';
import type { Exporter } from '../fhir-draft';
import { withCodes } from '../fhir-kinds';
import { defined, notKept, type MapOutcome } from '../fhir-import-map-base';
import {
  codingsOf,
  conceptCodes,
  conceptName,
  dateOrInstant,
  isJson,
  list,
  notesOf,
  str,
  type Json,
} from '../fhir-import-read';
import {
  AnnotationInput,
  COMMON_INPUT,
  ConceptInput,
  QuantityInput,
  ReferenceInput,
} from '../fhir-import-schemas';
import type { KindDescription } from '../kind-description';

const V3_ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const V3_ROLE_CODE_OID = 'urn:oid:2.16.840.1.113883.5.111';

/** Relatives, each with its v3 RoleCode code and display. Append-only. */
const RELATIVES = {
  mother: ['MTH', 'mother'],
  father: ['FTH', 'father'],
  sister: ['SIS', 'sister'],
  brother: ['BRO', 'brother'],
  'half-sister': ['HSIS', 'half-sister'],
  'half-brother': ['HBRO', 'half-brother'],
  daughter: ['DAUC', 'daughter'],
  son: ['SONC', 'son'],
  grandmother: ['GRMTH', 'grandmother'],
  grandfather: ['GRFTH', 'grandfather'],
  'maternal-grandmother': ['MGRMTH', 'maternal grandmother'],
  'maternal-grandfather': ['MGRFTH', 'maternal grandfather'],
  'paternal-grandmother': ['PGRMTH', 'paternal grandmother'],
  'paternal-grandfather': ['PGRFTH', 'paternal grandfather'],
  aunt: ['AUNT', 'aunt'],
  uncle: ['UNCLE', 'uncle'],
  cousin: ['COUSN', 'cousin'],
  niece: ['NIECE', 'niece'],
  nephew: ['NEPHEW', 'nephew'],
  grandchild: ['GRNDCHILD', 'grandchild'],
  other: ['FAMMEMB', 'family member'],
} as const;
type Relative = keyof typeof RELATIVES;

export const FAMILY_RELATIONSHIPS = Object.keys(RELATIVES) as readonly Relative[];

export const FamilyHistorySchema = Type.Object(
  {
    ...patientRecordFields,
    relationship: StringEnum(Object.keys(RELATIVES) as Relative[]),
    /** The relative's name, when the person gives it. */
    relativeName: Type.Optional(boundedText(200)),
    condition: boundedText(200, 1),
    /** Codes of the condition (SNOMED CT, ICD-10, …). */
    codes: Type.Optional(CodingsSchema),
    /** The relative's age in whole years when it began; 0: from birth. */
    onsetAge: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
    /** Whether the relative has died. */
    deceased: Type.Optional(Type.Boolean()),
    notes: Type.Optional(boundedText(4000)),
    /** When the history was recorded (FHIR `date`): a day, an instant, or only the year or month. */
    recordedAt: Type.Optional(PartialDateOrDateTimeSchema),
  },
  { additionalProperties: false, title: 'FamilyHistory' },
);
export type FamilyHistory = Static<typeof FamilyHistorySchema>;

// ------------------------------------------------------------------------------------------------ export

const AT_BIRTH = 'at birth';

export const exportFamilyHistory = (x: Exporter, r: FamilyHistory, signature: string | undefined): void => {
  const [code, display] = RELATIVES[r.relationship];
  x.add(
    makeResource('FamilyMemberHistory', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: 'completed',
      patient: x.patient,
      date: fhirDateTime(r.recordedAt),
      name: r.relativeName,
      relationship: { coding: [coding(V3_ROLE_CODE, code, display)], text: display },
      deceasedBoolean: r.deceased,
      condition: [
        {
          code: withCodes({ text: r.condition }, r.codes),
          onsetAge:
            r.onsetAge === undefined || r.onsetAge === 0
              ? undefined
              : { value: r.onsetAge, unit: r.onsetAge === 1 ? 'year' : 'years', system: UCUM, code: 'a' },
          onsetString: r.onsetAge === 0 ? AT_BIRTH : undefined,
        },
      ],
      note: [text(r.notes)],
    }),
  );
};

// ------------------------------------------------------------------------------------------------ import

/** Codes read as a relative Hale names, losing nothing (a natural daughter is a daughter)… */
const SAME: Readonly<Record<string, Relative>> = {
  DAU: 'daughter',
  SON: 'son',
  NMTH: 'mother',
  NFTH: 'father',
};
/** …and losing the side of the family, which is then listed as not kept. */
const SIDED: Readonly<Record<string, Relative>> = {
  MAUNT: 'aunt',
  PAUNT: 'aunt',
  MUNCLE: 'uncle',
  PUNCLE: 'uncle',
  MCOUSN: 'cousin',
  PCOUSN: 'cousin',
};
const BY_CODE: Readonly<Record<string, Relative>> = Object.fromEntries(
  Object.entries(RELATIVES).map(([relative, [code]]) => [code, relative as Relative]),
);

/** The relative a relationship names, and whether all of it was kept. */
const relativeOf = (concept: unknown): { relative: Relative; whole: boolean } => {
  for (const c of codingsOf(concept)) {
    if (
      c.code === undefined ||
      (c.system !== undefined && c.system !== V3_ROLE_CODE && c.system !== V3_ROLE_CODE_OID)
    )
      continue;
    const relative = BY_CODE[c.code] ?? SAME[c.code];
    if (relative !== undefined) return { relative, whole: true };
    const sided = SIDED[c.code];
    if (sided !== undefined) return { relative: sided, whole: false };
  }
  return { relative: 'other', whole: false };
};

const YEARS_PER: Readonly<Record<string, number>> = { a: 1, mo: 12, wk: 52, d: 365 };

/** Whole years of an Age (`a`, `mo`, `wk`, `d`), or 0 for "at birth"; undefined when it says neither. */
const onsetYears = (condition: Json): number | undefined => {
  const age = isJson(condition['onsetAge']) ? condition['onsetAge'] : undefined;
  const value = age?.['value'];
  const per = YEARS_PER[str(age?.['code']) ?? str(age?.['unit']) ?? ''];
  if (typeof value === 'number' && per !== undefined && value >= 0) {
    const years = Math.floor(value / per);
    return years <= 150 ? years : undefined;
  }
  return str(condition['onsetString'])?.trim().toLowerCase() === AT_BIRTH ? 0 : undefined;
};

export const mapFamilyMemberHistory = (r: Json): MapOutcome => {
  if (r['status'] === 'entered-in-error') return { skip: 'a family history entered in error' };
  const conditions = list(r['condition']).filter(isJson);
  const index = conditions.findIndex((c) => conceptName(c['code']) !== undefined);
  const first = conditions[index];
  const name = first === undefined ? undefined : conceptName(first['code']);
  if (first === undefined || name === undefined)
    return { skip: 'a relative’s history that names no condition' };
  const { relative, whole } = relativeOf(r['relationship']);
  const onsetAge = onsetYears(first);
  const read = [
    'status',
    'patient',
    'date',
    'name',
    'deceasedBoolean',
    'condition',
    'note',
    ...(whole ? ['relationship'] : []),
  ];
  const deceased = typeof r['deceasedBoolean'] === 'boolean' ? r['deceasedBoolean'] : undefined;
  return {
    kind: 'FamilyHistory',
    input: defined({
      relationship: relative,
      relativeName: str(r['name'])?.slice(0, 200),
      condition: name.slice(0, 200),
      codes: conceptCodes(first['code']),
      onsetAge,
      // A death told by its age, date or words is a death.
      deceased: deceased ?? (Object.keys(r).some((k) => k.startsWith('deceased')) ? true : undefined),
      notes: notesOf(r['note']),
      recordedAt: dateOrInstant(r['date'], true),
    }),
    notKept: [
      ...notKept(r, read),
      ...conditions.flatMap((_, i) => (i === index ? [] : [`condition[${i}]`])),
      ...Object.keys(first)
        .filter((k) => k !== 'code' && !(onsetAge !== undefined && (k === 'onsetAge' || k === 'onsetString')))
        .map((k) => `condition.${k}`),
    ],
  };
};

const FamilyMemberHistoryInput = Type.Object({
  ...COMMON_INPUT,
  status: Type.Optional(Type.String({ maxLength: 32 })),
  patient: Type.Optional(ReferenceInput),
  date: Type.Optional(Type.String({ maxLength: 64 })),
  name: Type.Optional(Type.String({ maxLength: 2000 })),
  relationship: Type.Optional(ConceptInput),
  deceasedBoolean: Type.Optional(Type.Boolean()),
  condition: Type.Optional(
    Type.Array(
      Type.Object({
        code: Type.Optional(ConceptInput),
        onsetAge: Type.Optional(QuantityInput),
        onsetString: Type.Optional(Type.String({ maxLength: 2000 })),
        note: Type.Optional(Type.Array(AnnotationInput, { maxItems: 50 })),
      }),
      { maxItems: 100 },
    ),
  ),
});

// ------------------------------------------------------------------------------------------- description

export const FAMILY_HISTORY = {
  slug: 'family-history',
  schema: FamilyHistorySchema,
  streamType: 'family-history',
  authorship: 'shared',
  fhir: {
    resource: 'FamilyMemberHistory',
    export: exportFamilyHistory,
    import: [
      { resourceType: 'FamilyMemberHistory', shape: FamilyMemberHistoryInput, map: mapFamilyMemberHistory },
    ],
    shapes: {
      FamilyMemberHistory: {
        required: ['status', 'patient', 'relationship', 'condition.code'],
        codes: { status: ['partial', 'completed', 'entered-in-error', 'health-unknown'] },
      },
    },
  },
  clinicalDate: [],
  search: { condition: 3, relativeName: 1, relationship: 1, notes: 1 },
  screen: {
    section: 'chart',
    order: 45,
    icon: 'people',
    title: 'condition',
    summary: ['relationship', 'onsetAge', 'relativeName'],
    versioned: false,
    takesReason: false,
    form: [
      {
        name: 'relationship',
        type: 'select',
        options: FAMILY_RELATIONSHIPS,
        enumName: 'familyRelationship',
        required: true,
        initial: 'mother',
      },
      { name: 'relativeName', type: 'text' },
      { name: 'condition', type: 'text', required: true },
      { name: 'onsetAge', type: 'age' },
      { name: 'deceased', type: 'boolean', initial: false },
      { name: 'recordedAt', type: 'partialDate' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    relationship: 'mother',
    relativeName: 'Mary Example',
    condition: 'Breast cancer',
    codes: [{ system: 'http://snomed.info/sct', code: '254837009', display: 'Malignant neoplasm of breast' }],
    onsetAge: 52,
    deceased: true,
    notes: 'Treated at Riverside Hospital.',
    recordedAt: '2011-03',
  }),
} as const satisfies KindDescription<typeof FamilyHistorySchema>;
