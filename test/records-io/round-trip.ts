// Import → export → compare leaf by leaf (#63 item 2), over public data no one here wrote: the R4 examples
// (`npm pack hl7.fhir.r4.examples@4.0.1`, fetched once into node_modules/.cache) and the Synthea patients
// of cql-exec-fhir. Per resource type Hale imports: the share of codes, values, units, dates and statuses
// of the source found again in the exported resource — as exported (Hale's fields written over the source
// each imported record keeps, fhir-source.ts) and from Hale's own fields alone (the source left out).
//
// Run: npm run test:round-trip   (prints a table, then one JSON line)
//      HALE_ROUND_TRIP_LOST=MedicationRequest npm run test:round-trip   (also each leaf of that type lost on export)
//
// How a leaf counts as kept: the exported resource holds the same primitive under the same last key (a
// date: under any key). Lenient (a code found elsewhere in the resource counts), so a figure below 100%
// is a loss for sure; 100% is not proof. A resource of an imported type that is not imported keeps none.
// Records are exported as planned (no device): files get a placeholder reference.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { importerOf, planFhirImport, toFhirBundle, validateRecord, type FhirExportItem } from '@hale/model';

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

const keptIn = (target: readonly [string[], string][], at: readonly string[], value: string, c: Category) =>
  target.some(([p, v]) => v === value && (c === 'dates' || p.at(-1) === at.at(-1)));

type Tally = Record<Category, [kept: number, all: number]>;
let byType = new Map<string, Tally>();
const tally = (type: string): Tally => {
  const t = byType.get(type) ?? (Object.fromEntries(CATEGORIES.map((c) => [c, [0, 0]])) as Tally);
  byType.set(type, t);
  return t;
};

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

const placeholderFile = {
  blobId: 'RoundTripBlob000000001',
  fileName: 'file',
  mediaType: 'application/pdf',
  size: 1,
  sha256: '0'.repeat(64),
};

/** Import → export of every file; `ownFields`: without the source each record keeps (Hale's fields only). */
const measure = (ownFields: boolean): Map<string, Tally> => {
  byType = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const sources = sourcesOf(text);
    const plan = planFhirImport(text, { patientId: PATIENT, importedAt: AT, source: path.basename(file) });
    if (!plan.ok) {
      for (const r of sources.values()) {
        if (importerOf(String(r['resourceType'])) === undefined) continue;
        const t = tally(String(r['resourceType']));
        for (const [at, v] of leaves(r)) {
          const c = categoryOf(at, v);
          if (c !== undefined) t[c][1]++;
        }
      }
      continue;
    }
    const items: FhirExportItem[] = [];
    const pathOf = new Map<string, string>();
    for (const p of plan.value.records) {
      const { origin, ...input } = p.input as { origin?: Json };
      const kept =
        ownFields && origin !== undefined
          ? { ...origin, resource: undefined, sourceOnly: undefined }
          : origin;
      const record = {
        ...input,
        ...(kept === undefined ? {} : { origin: JSON.parse(JSON.stringify(kept)) as Json }),
        id: p.id,
        patientId: PATIENT,
        createdAt: AT,
        updatedAt: AT,
        ...(p.files.some((f) => f.field === 'file') ? { file: placeholderFile } : {}),
        ...(p.kind === 'LabResult'
          ? {
              version: 1,
              versions: [],
              provenance: { by: PATIENT, deviceId: 'RoundTripDevice0000001', at: AT },
            }
          : {}),
        ...(p.kind === 'HealthDocument' ? { version: 1, versions: [] } : {}),
      };
      const valid = validateRecord(p.kind, record);
      if (!valid.ok) continue;
      items.push({ kind: p.kind, record: valid.value } as FhirExportItem);
      if (!pathOf.has(p.path)) pathOf.set(p.path, p.id);
    }
    const bundle = toFhirBundle({ patientId: PATIENT, records: items, generatedAt: AT });
    const exported = new Map<string, Json>();
    for (const e of (bundle as unknown as { entry: { resource: Json }[] }).entry)
      exported.set(String(e.resource['id']), e.resource);
    for (const [where, source] of sources) {
      const type = String(source['resourceType']);
      if (importerOf(type) === undefined) continue;
      const id = pathOf.get(where);
      // A Profile exports as the chart's Patient (its id is the account's).
      const resource =
        id === undefined
          ? undefined
          : (exported.get(id) ?? (type === 'Patient' ? exported.get(PATIENT) : undefined));
      const target = leaves(resource ?? {});
      const t = tally(type);
      for (const [at, v] of leaves(source)) {
        const c = categoryOf(at, v);
        if (c === undefined) continue;
        t[c][1]++;
        if (keptIn(target, at, v, c)) t[c][0]++;
        else if (!ownFields && type === LOST)
          console.error(`lost: ${path.basename(file)} ${where} ${c} ${at.join('.')} = ${v.slice(0, 60)}`);
      }
    }
  }
  return byType;
};

const files = [...examples(), ...synthea()];
const exportedTally = measure(false);
const ownTally = measure(true);

const pct = ([kept, all]: [number, number]) => (all === 0 ? '—' : `${((kept / all) * 100).toFixed(0)}%`);
const out: Record<string, Record<string, Record<string, string>>> = {};
for (const [title, tallies] of [
  ['exported (Hale’s fields over the source each record keeps)', exportedTally],
  ['in Hale’s own fields (shown, searchable, edited)', ownTally],
] as const) {
  console.log(`\n${title}\n${'type'.padEnd(24)}${CATEGORIES.map((c) => c.padStart(10)).join('')}`);
  const part: Record<string, Record<string, string>> = {};
  for (const [type, t] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`${type.padEnd(24)}${CATEGORIES.map((c) => pct(t[c]).padStart(10)).join('')}`);
    part[type] = Object.fromEntries(CATEGORIES.map((c) => [c, `${t[c][0]}/${t[c][1]}`]));
  }
  out[tallies === exportedTally ? 'exported' : 'ownFields'] = part;
}
console.log(JSON.stringify(out));
