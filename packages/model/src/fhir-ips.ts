/*
 * The International Patient Summary (HL7 IPS, FHIR R4 document Bundle) of a chart, built on the device from
 * the same mapping as the export (fhir.ts): the current version of each allergy, medication, problem,
 * immunization, result and procedure, the Patient, and what they reference (the clinicians named).
 *
 * | section | LOINC | entries | required |
 * |---|---|---|---|
 * | Allergies and intolerances | 48765-2 | AllergyIntolerance | ✓ (none known: an AllergyIntolerance `no-allergy-info`) |
 * | Medication summary | 10160-0 | MedicationStatement, MedicationRequest (a prescription imported) | ✓ (`no-medication-info`) |
 * | Problem list | 11450-4 | Condition | ✓ (`no-problem-info`) |
 * | Immunizations | 11369-6 | Immunization | when any |
 * | Results | 30954-2 | Observation | when any |
 * | History of procedures | 47519-4 | Procedure | when any |
 *
 * Invariants: pure (ids through the caller's `uuidOf`, time through `generatedAt`); every fullUrl is
 * `urn:uuid:` and every reference one of them; the Composition is the first entry and the Patient the
 * second; "no information" entries say that Hale does not know, never that there is none; an element the
 * IPS profiles require and the chart does not hold is in the absent-data form (`IPS_REQUIRED`: the
 * data-absent-reason extension, `unknown`), never a guessed value.
 * `checkIpsRules` checks what the IPS asks that an R4 validator does not (header comment of the function).
 */
import type {
  FhirBundle,
  FhirBundleEntry,
  FhirExportItem,
  FhirJson,
  FhirJsonObject,
  FhirResource,
} from './fhir';
import { toFhirBundle } from './fhir';
import { escapeXhtml, fhirFullUrl, fhirId } from './fhir-draft';

export const IPS_ABSENT_SYSTEM = 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips';
const LOINC = 'http://loinc.org';
const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

interface SectionSpec {
  readonly code: string;
  readonly title: string;
  readonly resourceType: string;
  /** Other types the section's entries may be. */
  readonly alsoTypes?: readonly string[];
  readonly required: boolean;
  /** The "no information" entry a required section carries when it has none. */
  readonly absent?: { readonly code: string; readonly display: string };
}

/** The resource types a section's entries may be. */
const typesOf = (spec: SectionSpec): readonly string[] => [spec.resourceType, ...(spec.alsoTypes ?? [])];

export const IPS_SECTIONS: readonly SectionSpec[] = [
  {
    code: '48765-2',
    title: 'Allergies and intolerances',
    resourceType: 'AllergyIntolerance',
    required: true,
    absent: { code: 'no-allergy-info', display: 'No information about allergies' },
  },
  {
    code: '10160-0',
    title: 'Medication summary',
    resourceType: 'MedicationStatement',
    alsoTypes: ['MedicationRequest'],
    required: true,
    absent: { code: 'no-medication-info', display: 'No information about medications' },
  },
  {
    code: '11450-4',
    title: 'Problem list',
    resourceType: 'Condition',
    required: true,
    absent: { code: 'no-problem-info', display: 'No information about problems' },
  },
  { code: '11369-6', title: 'Immunizations', resourceType: 'Immunization', required: false },
  { code: '30954-2', title: 'Results', resourceType: 'Observation', required: false },
  { code: '47519-4', title: 'History of procedures', resourceType: 'Procedure', required: false },
];

/** Record kinds the summary reads. */
export const IPS_KINDS = [
  'Profile',
  'Allergy',
  'Medication',
  'Condition',
  'Immunization',
  'LabResult',
  'Procedure',
] as const;

export interface IpsInput {
  readonly patientId: string;
  readonly records: readonly FhirExportItem[];
  /** Bundle.timestamp and Composition.date (an instant with zone). */
  readonly generatedAt: string;
  /** A `urn:uuid:` for a name (deterministic on the device: the same chart gives the same ids). */
  readonly uuidOf: (name: string) => string;
  /** Which kinds to include (default: all of IPS_KINDS); required sections are present regardless. */
  readonly kinds?: readonly string[];
}

const isObject = (value: FhirJson | undefined): value is FhirJsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The absent-data form: the data-absent-reason extension, `unknown`. */
const ABSENT = { extension: [{ url: DATA_ABSENT, valueCode: 'unknown' }] };

/**
 * What the IPS 2.0.0 profiles require of each resource type beyond R4, and its absent-data form when the
 * chart does not hold it: `present` says whether it is there (a choice element under any of its types).
 *
 * | type | element | profile | absent form |
 * |---|---|---|---|
 * | Patient | name, birthDate | Patient-uv-ips (ips-pat-1: a name has text, family or given) | `name[0]._text`, `_birthDate` |
 * | Practitioner | name | Practitioner-uv-ips | `name[0]._text` (the client fills it from the directory) |
 * | MedicationStatement | effective[x] | MedicationStatement-uv-ips | `_effectiveDateTime` |
 * | Procedure | performed[x] | Procedure-uv-ips | `_performedDateTime` |
 * | Observation (every result) | effective[x], performer, a value (ips-2) | Observation-results-*-uv-ips | `_effectiveDateTime`, `performer[0].extension`, `dataAbsentReason` |
 */
export const IPS_REQUIRED: Readonly<
  Record<string, readonly { readonly present: readonly string[]; readonly absent: FhirJsonObject }[]>
> = {
  Patient: [
    { present: ['name'], absent: { name: [{ _text: ABSENT }] } },
    { present: ['birthDate', '_birthDate'], absent: { _birthDate: ABSENT } },
  ],
  Practitioner: [{ present: ['name'], absent: { name: [{ _text: ABSENT }] } }],
  MedicationStatement: [
    {
      present: ['effectiveDateTime', 'effectivePeriod', '_effectiveDateTime'],
      absent: { _effectiveDateTime: ABSENT },
    },
  ],
  Procedure: [
    {
      present: [
        'performedDateTime',
        'performedPeriod',
        'performedString',
        'performedAge',
        'performedRange',
        '_performedDateTime',
      ],
      absent: { _performedDateTime: ABSENT },
    },
  ],
  Observation: [
    {
      present: [
        'effectiveDateTime',
        'effectivePeriod',
        'effectiveTiming',
        'effectiveInstant',
        '_effectiveDateTime',
      ],
      absent: { _effectiveDateTime: ABSENT },
    },
    { present: ['performer'], absent: { performer: [ABSENT] } },
    {
      present: [
        'valueQuantity',
        'valueCodeableConcept',
        'valueString',
        'valueBoolean',
        'valueInteger',
        'valueRange',
        'valueRatio',
        'valueSampledData',
        'valueTime',
        'valueDateTime',
        'valuePeriod',
        'dataAbsentReason',
        'hasMember',
        'component',
      ],
      absent: {
        dataAbsentReason: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
              code: 'unknown',
              display: 'Unknown',
            },
          ],
        },
      },
    },
  ],
};

/** `resource` with what the IPS requires and the chart does not hold in the absent-data form. */
const withAbsentData = (resource: FhirResource): FhirResource => {
  let out = resource;
  for (const rule of IPS_REQUIRED[resource.resourceType] ?? []) {
    if (!rule.present.some((key) => out[key] !== undefined)) out = { ...out, ...rule.absent };
  }
  return out;
};

/** A `urn:uuid:` reference says its target's type too, so a validator checks it without the Bundle. */
const rewrite = (
  value: FhirJson,
  urls: ReadonlyMap<string, string>,
  types: ReadonlyMap<string, string>,
): FhirJson => {
  if (Array.isArray(value)) return (value as readonly FhirJson[]).map((v) => rewrite(v, urls, types));
  if (!isObject(value)) return value;
  const out: Record<string, FhirJson> = {};
  for (const [key, child] of Object.entries(value)) {
    // A contained resource's (`#id`) rides with its resource.
    if (key === 'reference' && typeof child === 'string' && child.startsWith('#')) out[key] = child;
    else if (key === 'reference' && typeof child === 'string') {
      const bare = child.replace(/\/_history\/[^/]+$/, '');
      const mapped = urls.get(bare);
      const type = types.get(bare);
      if (mapped !== undefined) out[key] = mapped;
      if (mapped !== undefined && type !== undefined && value['type'] === undefined) out['type'] = type;
    } else out[key] = rewrite(child, urls, types);
  }
  // A reference whose target is left out keeps only what it says in words.
  return Object.keys(out).length === 0 ? { display: 'not in this summary' } : out;
};

const referencesOf = (value: FhirJson, out: string[] = []): string[] => {
  if (Array.isArray(value)) for (const v of value as readonly FhirJson[]) referencesOf(v, out);
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') out.push(child.replace(/\/_history\/[^/]+$/, ''));
      else referencesOf(child, out);
    }
  }
  return out;
};

/** The resources `resource` contains, by the `#id` that names each. */
const containedOf = (resource: FhirResource): Map<string, FhirJsonObject> => {
  const out = new Map<string, FhirJsonObject>();
  const list: FhirJson | undefined = resource['contained'];
  if (Array.isArray(list))
    for (const c of list as readonly FhirJson[])
      if (isObject(c) && typeof c['id'] === 'string') out.set(`#${c['id']}`, c);
  return out;
};

/** The code of the contained Medication a resource's `medicationReference` names (`#id`). */
const containedMedicationCode = (resource: FhirResource): FhirJson | undefined => {
  const ref: FhirJson | undefined = resource['medicationReference'];
  const named = isObject(ref) ? ref['reference'] : undefined;
  return typeof named === 'string' ? containedOf(resource).get(named)?.['code'] : undefined;
};

const displayOf = (resource: FhirResource): string => {
  const concept = [
    ...(['code', 'vaccineCode', 'medicationCodeableConcept'] as const).map((k) => resource[k]),
    containedMedicationCode(resource),
  ].find(isObject);
  const text = concept?.['text'];
  const coding = Array.isArray(concept?.['coding']) ? (concept['coding'] as FhirJson[])[0] : undefined;
  const name =
    typeof text === 'string'
      ? text
      : isObject(coding) && typeof coding['display'] === 'string'
        ? coding['display']
        : resource.resourceType;
  const value = resource['valueQuantity'];
  const valueText =
    isObject(value) && typeof value['value'] === 'number'
      ? `: ${value['value']} ${typeof value['unit'] === 'string' ? value['unit'] : ''}`.trimEnd()
      : typeof resource['valueString'] === 'string'
        ? `: ${resource['valueString']}`
        : '';
  const clinical = isObject(resource['clinicalStatus']) ? resource['clinicalStatus']['coding'] : undefined;
  const first = Array.isArray(clinical) ? (clinical as readonly FhirJson[])[0] : undefined;
  const code = isObject(first) && typeof first['code'] === 'string' ? first['code'] : undefined;
  const status = code === undefined ? '' : ` (${code})`;
  return `${name}${valueText}${status}`;
};

const narrative = (items: readonly string[]) => ({
  status: 'generated',
  div: `<div xmlns="http://www.w3.org/1999/xhtml"><ul>${items.map((i) => `<li>${escapeXhtml(i)}</li>`).join('')}</ul></div>`,
});

/** The IPS document Bundle of `records` (see the header). */
export const toIpsBundle = (input: IpsInput): FhirBundle => {
  const wanted = new Set(input.kinds ?? IPS_KINDS);
  wanted.add('Profile');
  const records = input.records.filter(
    (item) => wanted.has(item.kind) && (IPS_KINDS as readonly string[]).includes(item.kind),
  );
  const full = toFhirBundle({ patientId: input.patientId, records, generatedAt: input.generatedAt });
  // Current versions only: the highest meta.versionId of each fullUrl.
  const current = new Map<string, FhirBundleEntry>();
  const version = (e: FhirBundleEntry) =>
    Number((isObject(e.resource.meta) ? e.resource.meta['versionId'] : undefined) ?? 0);
  for (const entry of full.entry) {
    const held = current.get(entry.fullUrl);
    if (held === undefined || version(entry) > version(held)) current.set(entry.fullUrl, entry);
  }
  const patientUrl = fhirFullUrl('Patient', fhirId(input.patientId));
  const sectionTypes = new Set(IPS_SECTIONS.flatMap(typesOf));
  // The blood type (an Observation of the Profile) goes in with the results.
  const chosen = [...current.values()].filter((e) => sectionTypes.has(e.resource.resourceType));
  const included = new Map<string, FhirBundleEntry>();
  const include = (entry: FhirBundleEntry): void => {
    if (included.has(entry.fullUrl)) return;
    included.set(entry.fullUrl, entry);
    for (const ref of referencesOf(entry.resource)) {
      const target = current.get(ref);
      // Provenance, reports and orders stay out: the summary is the current state, not its history.
      if (
        target !== undefined &&
        ['Patient', 'Practitioner', 'RelatedPerson', 'Device'].includes(target.resource.resourceType)
      )
        include(target);
    }
  };
  const patient = current.get(patientUrl);
  if (patient !== undefined) include(patient);
  for (const entry of chosen) include(entry);

  const urls = new Map<string, string>();
  for (const url of included.keys()) urls.set(url, input.uuidOf(`${input.patientId}|${url}`));
  const types = new Map([...included].map(([url, e]) => [url, e.resource.resourceType]));
  const subject = { reference: urls.get(patientUrl) ?? '', type: 'Patient' };

  const absentEntries: FhirBundleEntry[] = [];
  const sections = IPS_SECTIONS.flatMap((spec) => {
    const members = chosen.filter((e) => typesOf(spec).includes(e.resource.resourceType));
    if (members.length === 0 && !spec.required) return [];
    let refs = members.map((e) => urls.get(e.fullUrl) ?? '');
    let lines = members.map((e) => displayOf(e.resource));
    if (members.length === 0 && spec.absent !== undefined) {
      const id = `ips-${spec.absent.code}`;
      const fullUrl = input.uuidOf(`${input.patientId}|${id}`);
      const concept = {
        coding: [{ system: IPS_ABSENT_SYSTEM, code: spec.absent.code, display: spec.absent.display }],
      };
      // A required status no one knows: R4's absent-data form for a required binding (ait-1).
      const resource: FhirResource =
        spec.resourceType === 'AllergyIntolerance'
          ? {
              resourceType: 'AllergyIntolerance',
              id,
              clinicalStatus: ABSENT,
              code: concept,
              patient: subject,
            }
          : spec.resourceType === 'MedicationStatement'
            ? {
                resourceType: 'MedicationStatement',
                id,
                status: 'unknown',
                medicationCodeableConcept: concept,
                subject,
                _effectiveDateTime: ABSENT,
              }
            : { resourceType: 'Condition', id, code: concept, subject };
      absentEntries.push({ fullUrl, resource });
      refs = [fullUrl];
      lines = [spec.absent.display];
    }
    return [
      {
        title: spec.title,
        code: { coding: [{ system: LOINC, code: spec.code }] },
        text: narrative(lines),
        entry: refs.map((reference) => ({ reference })),
      },
    ];
  });

  const compositionUrl = input.uuidOf(`${input.patientId}|composition|${input.generatedAt}`);
  const composition: FhirResource = {
    resourceType: 'Composition',
    id: compositionUrl.replace('urn:uuid:', ''),
    status: 'final',
    type: { coding: [{ system: LOINC, code: '60591-5', display: 'Patient summary Document' }] },
    subject,
    date: input.generatedAt,
    author: [subject],
    title: 'International Patient Summary',
    confidentiality: 'N',
    section: sections,
  };
  const entries: FhirBundleEntry[] = [
    { fullUrl: compositionUrl, resource: composition },
    ...[...included.values()].map((e): FhirBundleEntry => {
      const resource = withAbsentData(rewrite(e.resource, urls, types) as FhirResource);
      return {
        fullUrl: urls.get(e.fullUrl) ?? e.fullUrl,
        resource: { ...resource, id: (urls.get(e.fullUrl) ?? e.fullUrl).replace('urn:uuid:', '') },
      };
    }),
    ...absentEntries.map((e) => ({
      ...e,
      resource: { ...e.resource, id: e.fullUrl.replace('urn:uuid:', '') },
    })),
  ];
  const bundleUrl = input.uuidOf(`${input.patientId}|bundle|${input.generatedAt}`);
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: bundleUrl },
    type: 'document',
    timestamp: input.generatedAt,
    entry: entries,
  } as unknown as FhirBundle;
};

export interface IpsIssue {
  readonly path: string;
  readonly reason: string;
}

/**
 * The IPS rules an R4 validator does not check, checked without the IG's validator: a document Bundle with
 * identifier and timestamp; the Composition first, of LOINC 60591-5, its subject a Patient of the Bundle;
 * the three required sections (48765-2, 10160-0, 11450-4) present, each section coded with LOINC, with a
 * narrative and entries of its resource type; every reference resolving to a fullUrl of the Bundle; and
 * every resource's subject or patient being the Composition's subject.
 */
export const checkIpsRules = (bundle: unknown): IpsIssue[] => {
  const issues: IpsIssue[] = [];
  const b = bundle as FhirJsonObject;
  if (b['resourceType'] !== 'Bundle' || b['type'] !== 'document')
    issues.push({ path: 'Bundle.type', reason: 'must be a document Bundle' });
  if (!isObject(b['identifier']))
    issues.push({ path: 'Bundle.identifier', reason: 'is required in a document' });
  if (typeof b['timestamp'] !== 'string')
    issues.push({ path: 'Bundle.timestamp', reason: 'is required in a document' });
  const entries = (Array.isArray(b['entry']) ? b['entry'] : []) as FhirBundleEntry[];
  const byUrl = new Map(entries.map((e) => [e.fullUrl, e.resource]));
  const composition = entries[0]?.resource;
  if (composition?.resourceType !== 'Composition') {
    issues.push({ path: 'Bundle.entry[0]', reason: 'must be the Composition' });
    return issues;
  }
  const type = isObject(composition['type'])
    ? (composition['type']['coding'] as FhirJsonObject[] | undefined)
    : undefined;
  if (!type?.some((c) => c['system'] === LOINC && c['code'] === '60591-5'))
    issues.push({ path: 'Composition.type', reason: 'must be LOINC 60591-5' });
  const subjectRef = isObject(composition['subject']) ? composition['subject']['reference'] : undefined;
  if (typeof subjectRef !== 'string' || byUrl.get(subjectRef)?.resourceType !== 'Patient')
    issues.push({ path: 'Composition.subject', reason: 'must name a Patient of the Bundle' });
  const sections = (Array.isArray(composition['section']) ? composition['section'] : []) as FhirJsonObject[];
  const codeOf = (s: FhirJsonObject) =>
    isObject(s['code'])
      ? (s['code']['coding'] as FhirJsonObject[] | undefined)?.find((c) => c['system'] === LOINC)?.['code']
      : undefined;
  for (const spec of IPS_SECTIONS.filter((s) => s.required)) {
    if (!sections.some((s) => codeOf(s) === spec.code))
      issues.push({
        path: 'Composition.section',
        reason: `the required section ${spec.title} (${spec.code}) is missing`,
      });
  }
  sections.forEach((section, index) => {
    const path = `Composition.section[${index}]`;
    const spec = IPS_SECTIONS.find((s) => s.code === codeOf(section));
    if (spec === undefined)
      return void issues.push({ path: `${path}.code`, reason: 'is no IPS section code (LOINC)' });
    if (!isObject(section['text']))
      issues.push({ path: `${path}.text`, reason: 'a section needs its narrative' });
    const refs = (Array.isArray(section['entry']) ? section['entry'] : []) as FhirJsonObject[];
    if (refs.length === 0) issues.push({ path: `${path}.entry`, reason: 'has no entries' });
    refs.forEach((r, i) => {
      const target = typeof r['reference'] === 'string' ? byUrl.get(r['reference']) : undefined;
      if (target === undefined || !typesOf(spec).includes(target.resourceType))
        issues.push({
          path: `${path}.entry[${i}]`,
          reason: `must name a ${typesOf(spec).join(' or ')} of the Bundle`,
        });
    });
  });
  entries.forEach((entry, index) => {
    const contained = containedOf(entry.resource);
    for (const ref of referencesOf(entry.resource)) {
      if (ref.startsWith('#') ? !contained.has(ref) : !byUrl.has(ref))
        issues.push({ path: `Bundle.entry[${index}]`, reason: `${ref} resolves to no entry` });
    }
    for (const field of ['subject', 'patient']) {
      const value = entry.resource[field];
      if (
        entry.resource.resourceType !== 'Composition' &&
        isObject(value) &&
        value['reference'] !== subjectRef
      ) {
        issues.push({
          path: `Bundle.entry[${index}].resource.${field}`,
          reason: 'must be the summary’s patient',
        });
      }
    }
  });
  return issues;
};
