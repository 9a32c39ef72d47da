// Import → export → compare leaf by leaf (#63 item 2), over public data no one here wrote: the R4 examples
// (`npm pack hl7.fhir.r4.examples@4.0.1`, fetched once into node_modules/.cache) and the Synthea patients
// of cql-exec-fhir. Per resource type Hale imports, of the resources imported: the share of codes, values,
// units, dates and statuses of the source found again in the exported resource — as exported (Hale's
// fields written over the source each imported record keeps, fhir-source.ts) and from Hale's own fields
// alone (the source left out); then the elements #63 item 2 names, from Hale's own fields. Resources of
// those types the import lists as not imported are counted apart, with the import's reason. Last: a second
// import of every file under another name, against what the first planned (records it would add).
//
// Run: npm run test:round-trip   (prints the tables, then one JSON line)
//      HALE_ROUND_TRIP_LOST=MedicationRequest npm run test:round-trip   (also each leaf of that type lost:
//      on export, and of the named elements in Hale's own fields)
//
// How a leaf counts as kept: the exported resource holds the same primitive under the same last key (a
// date: under any key; a time not in R4's format, which R4 cannot write as a time: under any type of its
// element, as Synthea's `valueTime` with a zone leaves as a `valueString`); a named element's leaf: under
// the same path. Lenient, so a figure below 100% is a loss for sure; 100% is not proof. A contained
// resource a record leaves out (the import lists it, with why: a contained Patient is the chart's person)
// is counted apart, its leaves not in the figures. Records are exported as planned (no device): files get
// a placeholder reference.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  importerOf,
  originKey,
  planFhirImport,
  recordContentDigest,
  toFhirBundle,
  validateRecord,
  type FhirExportItem,
  type HeldImport,
  type RecordKind,
} from '@hale/model';

type Json = Record<string, unknown>;
const CATEGORIES = ['codes', 'values', 'units', 'dates', 'statuses'] as const;
type Category = (typeof CATEGORIES)[number];
const PATIENT = 'RoundTripPatient000001';
const AT = '2026-11-27T00:00:00.000Z';
/** A resource type whose lost leaves are listed, one line each. */
const LOST = process.env['HALE_ROUND_TRIP_LOST'];
const DATE_RE = /^\d{4}(-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

const cache = path.join(process.cwd(), 'node_modules/.cache/hale-round-trip');
const examples = (): string[] => {
  const dir = path.join(cache, 'package');
  if (!existsSync(dir)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['pack', 'hl7.fhir.r4.examples@4.0.1', '--silent'], { cwd: cache });
    execFileSync('tar', ['xzf', 'hl7.fhir.r4.examples-4.0.1.tgz'], { cwd: cache });
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && importerOf(f.split('-')[0] ?? '') !== undefined)
    .map((f) => path.join(dir, f));
};
const require = createRequire(import.meta.url);
const synthea = (): string[] => {
  const dir = path.join(path.dirname(require.resolve('cql-exec-fhir/package.json')), 'test/fixtures/r4');
  return readdirSync(dir)
    .filter((f) => /_[0-9a-f-]{36}\.json$/.test(f))
    .map((f) => path.join(dir, f));
};

/** Each primitive leaf of a resource: its path (indices dropped) and value. */
const leaves = (value: unknown, at: string[] = [], out: [string[], string][] = []): [string[], string][] => {
  if (Array.isArray(value)) for (const v of value) leaves(v, at, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Json))
      if (!['text', 'meta', 'extension', 'id', 'reference', 'display', 'div'].includes(k))
        leaves(v, [...at, k], out);
  } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    out.push([at, String(value)]);
  return out;
};

const categoryOf = (at: readonly string[], value: string): Category | undefined => {
  const last = at.at(-1) ?? '';
  const inQuantity = at.some((k) => /Quantity$|^quantity$|^dose$/.test(k));
  if (last === 'status' || at.some((k) => /Status$/.test(k))) return 'statuses';
  if (inQuantity && (last === 'unit' || last === 'code')) return 'units';
  if (last === 'code' && at.includes('coding')) return 'codes';
  if (at.some((k) => k.startsWith('value'))) return 'values';
  if (DATE_RE.test(value) && !/^(code|value|version|system)$/.test(last)) return 'dates';
  return undefined;
};

/** R4's `time`; a choice element's time not in it is written by Hale under another type of the element. */
const R4_TIME = /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?$/;
const elementOfTime = (key: string, value: string) =>
  /[a-z]Time$/.test(key) && !key.endsWith('DateTime') && !R4_TIME.test(value) ? key.slice(0, -4) : undefined;

const keptIn = (target: readonly [string[], string][], at: readonly string[], value: string, c: Category) => {
  const key = at.at(-1) ?? '';
  const element = elementOfTime(key, value);
  return target.some(
    ([p, v]) =>
      v === value &&
      (c === 'dates' ||
        p.at(-1) === key ||
        (element !== undefined && new RegExp(`^${element}[A-Z]`).test(p.at(-1) ?? ''))),
  );
};

/** The elements #63 item 2 names, by resource type: which a leaf of the source belongs to. */
const NAMED: readonly [string, (type: string, at: readonly string[], value: string) => boolean][] = [
  // A record's own statuses (not a marital status or a status history).
  ['statuses', (_t, at) => ['status', 'clinicalStatus', 'verificationStatus'].includes(at[0] ?? '')],
  // The dates a record is about (onset, recorded, taken, prescribed, born…) given without a time.
  ['partial dates', (_t, at, v) => isRecordDate(at) && /^\d{4}(-\d{2}){0,2}$/.test(v)],
  ['reactions', (t, at) => t === 'AllergyIntolerance' && at[0] === 'reaction'],
  [
    'dosage',
    (t, at) =>
      ((t === 'MedicationRequest' && at[0] === 'dosageInstruction') ||
        (t === 'MedicationStatement' && at[0] === 'dosage')) &&
      ['text', 'route', 'additionalInstruction', 'patientInstruction'].includes(at[1] ?? ''),
  ],
  ['notes', (_t, at) => at[0] === 'note'],
  ['interpretations', (t, at) => t === 'Observation' && at[0] === 'interpretation'],
  [
    'components',
    (t, at) =>
      t === 'Observation' && at[0] === 'component' && /^(code|value|dataAbsentReason)/.test(at[1] ?? ''),
  ],
  [
    'units',
    (t, at) =>
      t === 'Observation' &&
      at.includes('valueQuantity') &&
      ['unit', 'system', 'code'].includes(at.at(-1) ?? ''),
  ],
  ['encounter types', (t, at) => t === 'Encounter' && at[0] === 'type'],
  ['body sites', (_t, at) => at[0] === 'bodySite'],
  ['names', (t, at) => PEOPLE.has(t) && at[0] === 'name'],
  ['addresses', (t, at) => PEOPLE.has(t) && at[0] === 'address'],
  ['telecoms', (t, at) => PEOPLE.has(t) && at[0] === 'telecom'],
  ['identifiers', (t, at) => PEOPLE.has(t) && at[0] === 'identifier'],
];
const PEOPLE = new Set(['Patient', 'RelatedPerson']);
/** A choice element's name without its type (`onsetDateTime` → `onset`). */
const elementOf = (key: string) =>
  key.replace(/(DateTime|Date|Period|Instant|String|Age|Range|Boolean)$/, '');
const RECORD_DATES = new Set([
  ...['onset', 'abatement', 'recorded', 'lastOccurrence', 'occurrence', 'effective', 'dateAsserted'],
  ...['authoredOn', 'issued', 'performed', 'birth', 'deceased', 'born', 'date', 'period'],
]);
const isRecordDate = (at: readonly string[]) =>
  RECORD_DATES.has(elementOf(at[0] ?? '')) || (at[0] === 'dispenseRequest' && at[1] === 'validityPeriod');
/** Where a named element's leaf is found again: its path; a record date's, its element (`effective[x]`). */
const namedKey = (element: string, at: readonly string[], v: string) =>
  element === 'partial dates' ? `${elementOf(at[0] ?? '')}=${v}` : `${at.join('.')}=${v}`;

/** Each primitive leaf of a resource for the named elements: words too (`text`), but not the narrative. */
const namedLeaves = (resource: Json): [string[], string][] => {
  const out: [string[], string][] = [];
  const walk = (value: unknown, at: string[]) => {
    if (Array.isArray(value)) for (const v of value) walk(v, at);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Json))
        if (
          !['meta', 'extension', 'id', 'reference', 'display', 'div'].includes(k) &&
          !(at.length === 0 && k === 'text')
        )
          walk(v, [...at, k]);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      out.push([at, String(value)]);
  };
  walk(resource, []);
  return out;
};

type Tally = Record<Category, [kept: number, all: number]>;
type Pair = [kept: number, all: number];
interface Measured {
  /** Per type, the leaves of the resources imported. */
  readonly leaves: Map<string, Tally>;
  /** Per type, resources imported and read. */
  readonly resources: Map<string, Pair>;
  /** Per type, why resources were not imported (reason → count). */
  readonly notImported: Map<string, Map<string, number>>;
  /** Per type, the contained resources records leave out (the import's reason → count). */
  readonly leftOut: Map<string, Map<string, number>>;
  /** Per type, the named elements' leaves kept. */
  readonly named: Map<string, Map<string, Pair>>;
  /** Of a second import under another name: records it would add, of those the first planned. */
  readonly again: Pair;
}

const at = <K, V>(map: Map<K, V>, key: K, init: () => V): V => {
  const v = map.get(key) ?? init();
  map.set(key, v);
  return v;
};
const emptyTally = (): Tally => Object.fromEntries(CATEGORIES.map((c) => [c, [0, 0]])) as Tally;

const sourcesOf = (text: string): Map<string, Json> => {
  const doc = JSON.parse(text) as Json;
  const out = new Map<string, Json>();
  if (doc['resourceType'] === 'Bundle')
    (doc['entry'] as Json[] | undefined)?.forEach((e, i) => {
      if (e['resource'] !== undefined) out.set(`entry[${i}]`, e['resource'] as Json);
    });
  else out.set('the file', doc);
  return out;
};

/** A stored file's reference in place of a pending upload (its name and type as planned). */
const placeholderFile = (f: { fileName: string; mediaType: string }) => ({
  blobId: 'RoundTripBlob000000001',
  fileName: f.fileName,
  mediaType: f.mediaType,
  size: 1,
  sha256: '0'.repeat(64),
});

/** A planned record as the records API would write it. */
const recordOf = (
  p: {
    id: string;
    kind: RecordKind;
    input: Readonly<Record<string, unknown>>;
    files: readonly { field: string; fileName: string; mediaType: string }[];
  },
  ownFields: boolean,
) => {
  const { origin, ...input } = p.input as { origin?: Json };
  const kept =
    ownFields && origin !== undefined ? { ...origin, resource: undefined, sourceOnly: undefined } : origin;
  const file = p.files.find((f) => f.field === 'file');
  const attachments = p.files.filter((f) => f.field === 'attachments');
  return {
    ...input,
    ...(kept === undefined ? {} : { origin: JSON.parse(JSON.stringify(kept)) as Json }),
    id: p.id,
    patientId: PATIENT,
    createdAt: AT,
    updatedAt: AT,
    ...(file === undefined ? {} : { file: placeholderFile(file) }),
    ...(attachments.length === 0 ? {} : { attachments: attachments.map(placeholderFile) }),
    ...(p.kind === 'LabResult'
      ? {
          version: 1,
          versions: [],
          provenance: { by: PATIENT, deviceId: 'RoundTripDevice0000001', at: AT },
        }
      : {}),
    ...(p.kind === 'HealthDocument' ? { version: 1, versions: [] } : {}),
  };
};

const contained = (resource: Json | undefined): Json[] =>
  Array.isArray(resource?.['contained']) ? (resource['contained'] as Json[]) : [];

/** A source's contained resources (by id) its kept source leaves out and its record's notKept lists. */
const containedLeftOut = (
  source: Json | undefined,
  kept: Json | undefined,
  notKept: readonly string[],
): Map<string, string> => {
  const out = new Map<string, string>();
  if (kept === undefined) return out;
  const held = new Set(contained(kept).map((c) => c['id']));
  for (const c of contained(source)) {
    const reason = notKept.find((n) => n.startsWith(`contained ${String(c['resourceType'])} (`));
    if (!held.has(c['id']) && reason !== undefined) out.set(String(c['id']), reason);
  }
  return out;
};

const withoutContained = (source: Json, left: Map<string, string>): Json => ({
  ...source,
  contained: contained(source).filter((c) => !left.has(String(c['id']))),
});

/** Import → export of every file; `ownFields`: without the source each record keeps (Hale's fields only). */
const measure = (ownFields: boolean): Measured => {
  const m: Measured = {
    leaves: new Map(),
    resources: new Map(),
    notImported: new Map(),
    leftOut: new Map(),
    named: new Map(),
    again: [0, 0],
  };
  const notImported = (type: string, reason: string) => {
    const reasons = at(m.notImported, type, () => new Map<string, number>());
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  };
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const sources = sourcesOf(text);
    const plan = planFhirImport(text, { patientId: PATIENT, importedAt: AT, source: path.basename(file) });
    for (const r of sources.values())
      if (importerOf(String(r['resourceType'])) !== undefined)
        at(m.resources, String(r['resourceType']), (): Pair => [0, 0])[1]++;
    if (!plan.ok) {
      for (const r of sources.values())
        if (importerOf(String(r['resourceType'])) !== undefined)
          notImported(String(r['resourceType']), `the file is refused: ${plan.error.message.slice(0, 80)}`);
      continue;
    }
    const items: FhirExportItem[] = [];
    const pathOf = new Map<string, string>();
    /** Per source, the contained resources its record leaves out, with the import's reason. */
    const leftOutOf = new Map<string, Map<string, string>>();
    const held = new Map<string, HeldImport>();
    for (const p of plan.value.records) {
      const valid = validateRecord(p.kind, recordOf(p, ownFields));
      if (!valid.ok) {
        notImported(p.origin.resourceType, `invalid as planned: ${valid.error.message.slice(0, 80)}`);
        continue;
      }
      items.push({ kind: p.kind, record: valid.value } as FhirExportItem);
      // The record read from the resource itself (a Patient's contact is read into a record of its own).
      if (!pathOf.has(p.path) && !p.origin.originalId.includes('#contact')) {
        pathOf.set(p.path, p.id);
        leftOutOf.set(p.path, containedLeftOut(sources.get(p.path), p.origin.resource, p.notKept));
      }
      const digest = recordContentDigest(valid.value);
      for (const key of p.origin.identity ?? [])
        held.set(key, {
          id: p.id,
          kind: p.kind,
          digest: p.origin.digest,
          recordDigest: p.origin.recordDigest,
          currentDigest: digest,
        });
    }
    const listed = [
      ...plan.value.skipped,
      ...plan.value.absorbed.map((a) => ({ ...a, reason: `read into another record: ${a.reason}` })),
    ];
    for (const s of listed)
      if (
        importerOf(s.resourceType) !== undefined &&
        !pathOf.has(s.path) &&
        s.originalId.indexOf('#contact') < 0
      )
        notImported(
          s.resourceType,
          s.reason.replace(/^[^:]{0,300}: (?=(status|no |marked|entered|a |an ))/, ''),
        );
    if (!ownFields) {
      // The same file again, under another name, against what the first import planned.
      const second = planFhirImport(text, {
        patientId: PATIENT,
        importedAt: AT,
        source: `${path.basename(file)} (again)`,
        existing: {
          originKeys: new Set(plan.value.records.map((p) => originKey(p.origin))),
          ids: new Set(plan.value.records.map((p) => p.id)),
          held,
        },
        hasProfile: plan.value.records.some((p) => p.kind === 'Profile'),
      });
      m.again[1] += plan.value.records.length;
      if (second.ok) m.again[0] += second.value.records.length + second.value.updates.length;
    }
    const bundle = toFhirBundle({ patientId: PATIENT, records: items, generatedAt: AT });
    const exported = new Map<string, Json>();
    for (const e of (bundle as unknown as { entry: { resource: Json }[] }).entry)
      exported.set(String(e.resource['id']), e.resource);
    for (const [where, source] of sources) {
      const type = String(source['resourceType']);
      if (importerOf(type) === undefined) continue;
      const id = pathOf.get(where);
      if (id === undefined) continue;
      at(m.resources, type, (): Pair => [0, 0])[0]++;
      const left = leftOutOf.get(where) ?? new Map<string, string>();
      for (const reason of left.values()) {
        const reasons = at(m.leftOut, type, () => new Map<string, number>());
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      const counted = left.size === 0 ? source : withoutContained(source, left);
      // A Profile exports as the chart's Patient (its id is the account's).
      const resource = exported.get(id) ?? (type === 'Patient' ? exported.get(PATIENT) : undefined) ?? {};
      const target = leaves(resource);
      const t = at(m.leaves, type, emptyTally);
      for (const [path_, v] of leaves(counted)) {
        const c = categoryOf(path_, v);
        if (c === undefined) continue;
        t[c][1]++;
        if (keptIn(target, path_, v, c)) t[c][0]++;
        else if (!ownFields && type === LOST)
          console.error(`lost: ${path.basename(file)} ${where} ${c} ${path_.join('.')} = ${v.slice(0, 60)}`);
      }
      const named = at(m.named, type, () => new Map<string, Pair>());
      const targetLeaves = namedLeaves(resource);
      const targetNamed = new Set([
        ...targetLeaves.map(([p, v]) => namedKey('', p, v)),
        ...targetLeaves.map(([p, v]) => namedKey('partial dates', p, v)),
      ]);
      for (const [path_, v] of namedLeaves(counted)) {
        const element = NAMED.find(([, test]) => test(type, path_, v))?.[0];
        if (element === undefined) continue;
        const pair = at(named, element, () => [0, 0] as Pair);
        pair[1]++;
        if (targetNamed.has(namedKey(element, path_, v))) pair[0]++;
        else if (ownFields && type === LOST)
          console.error(
            `not in Hale's fields: ${path.basename(file)} ${where} ${element} ${path_.join('.')} = ${v.slice(0, 60)}`,
          );
      }
    }
  }
  return m;
};

const files = [...examples(), ...synthea()];
const exported = measure(false);
const own = measure(true);

const pct = ([kept, all]: Pair) => (all === 0 ? '—' : `${Math.floor((kept / all) * 100)}%`);
const types = [...exported.resources.keys()].sort((a, b) => a.localeCompare(b));
const out: Record<string, unknown> = {};
for (const [key, title, m] of [
  [
    'exported',
    'exported (Hale’s fields over the source each record keeps), of the resources imported',
    exported,
  ],
  ['ownFields', 'in Hale’s own fields (shown, searchable, edited), of the resources imported', own],
] as const) {
  console.log(
    `\n${title}\n${'type'.padEnd(26)}${'imported'.padStart(10)}${CATEGORIES.map((c) => c.padStart(10)).join('')}`,
  );
  const part: Record<string, Record<string, string>> = {};
  for (const type of types) {
    const t = m.leaves.get(type) ?? emptyTally();
    const [n, all] = m.resources.get(type) ?? [0, 0];
    console.log(
      `${type.padEnd(26)}${`${n}/${all}`.padStart(10)}${CATEGORIES.map((c) => pct(t[c]).padStart(10)).join('')}`,
    );
    part[type] = {
      imported: `${n}/${all}`,
      ...Object.fromEntries(CATEGORIES.map((c) => [c, `${t[c][0]}/${t[c][1]}`])),
    };
  }
  out[key] = part;
}

console.log('\nthe elements #63 item 2 names, in Hale’s own fields, of the resources imported');
const namedOut: Record<string, Record<string, string>> = {};
for (const type of types) {
  const named = own.named.get(type);
  if (named === undefined || named.size === 0) continue;
  const cells = NAMED.map(([e]) => e)
    .filter((e) => named.has(e))
    .map((e) => {
      const pair = named.get(e) as Pair;
      return `${e} ${pct(pair)} (${pair[0]}/${pair[1]})`;
    });
  console.log(`${type.padEnd(26)}${cells.join(', ')}`);
  namedOut[type] = Object.fromEntries([...named].map(([e, [k, a]]) => [e, `${k}/${a}`]));
}
out['named'] = namedOut;

console.log('\nnot imported, listed by the import with its reason (resources of the types above)');
const notOut: Record<string, Record<string, number>> = {};
for (const type of types) {
  const reasons = exported.notImported.get(type);
  if (reasons === undefined) continue;
  for (const [reason, n] of [...reasons].sort(([, a], [, b]) => b - a))
    console.log(`${type.padEnd(26)}${String(n).padStart(4)}  ${reason}`);
  notOut[type] = Object.fromEntries(reasons);
}
out['notImported'] = notOut;

console.log(
  '\ncontained resources the records leave out, listed by the import (their leaves not counted above)',
);
const leftOut: Record<string, Record<string, number>> = {};
for (const type of types) {
  const reasons = exported.leftOut.get(type);
  if (reasons === undefined) continue;
  for (const [reason, n] of reasons) console.log(`${type.padEnd(26)}${String(n).padStart(4)}  ${reason}`);
  leftOut[type] = Object.fromEntries(reasons);
}
out['leftOut'] = leftOut;

console.log(
  `\na second import of every file under another name adds ${exported.again[0]} records (the first: ${exported.again[1]})`,
);
out['secondImportAdds'] = exported.again[0];
console.log(JSON.stringify(out));
