/**
 * The import benchmarks' files (`bench:import` in Node, the import phase of `bench:app` in Chromium):
 * `observationsFile`, one Patient and N heart rates; `grownPatient`, a Synthea patient of `cql-exec-fhir`
 * grown to about `target` resources by repeating its encounters, each with every resource that names it.
 *
 * - One Patient, Organization and Practitioner (and whatever names no encounter), as in the source.
 * - Copy k of an encounter's group: every id replaced by a UUID derived from (k, old id), every reference
 *   among the group rewritten, every date and dateTime moved k × 3 days later (its time zone kept).
 * - A Bundle (the source's references are `urn:uuid:` full URLs) of whole groups: at most `target`
 *   resources (the import takes at most MAX_IMPORT_RESOURCES), as many as fit.
 * - Deterministic: the same target gives the same file.
 * The grown patient alone: `node --import tsx test/bench/import-files.ts 20000 > grown.json`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DateTime } from 'luxon';

const require = createRequire(import.meta.url);
export const SYNTHEA_PATIENT = path.join(
  path.dirname(require.resolve('cql-exec-fhir/package.json')),
  'test/fixtures/r4/Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json',
);
const SHIFT_DAYS = 3;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const UUID = /urn:uuid:([0-9a-f-]{36})/g;

/** One Patient and `n` heart-rate Observations, one a minute, as NDJSON. */
export const observationsFile = (n: number): string => {
  const lines = [
    JSON.stringify({
      resourceType: 'Patient',
      id: 'bench-patient',
      identifier: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-4711' }],
      name: [{ family: 'Bench', given: ['Ada'] }],
      birthDate: '1970-01-01',
    }),
  ];
  const start = Date.parse('2020-01-01T00:00:00Z');
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        resourceType: 'Observation',
        id: `hr-${i}`,
        status: 'final',
        category: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/observation-category',
                code: 'vital-signs',
              },
            ],
          },
        ],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
        subject: { reference: 'Patient/bench-patient' },
        effectiveDateTime: new Date(start + i * 60_000).toISOString(),
        valueQuantity: {
          value: 60 + (i % 40),
          unit: '/min',
          system: 'http://unitsofmeasure.org',
          code: '/min',
        },
      }),
    );
  }
  return lines.join('\n');
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Entry {
  readonly fullUrl: string;
  readonly resource: { readonly resourceType: string; readonly id: string } & Record<string, Json>;
  readonly request?: Json;
}

const uuidOf = (seed: string): string => {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

const shifted = (value: string, days: number): string => {
  const at = DateTime.fromISO(value, { setZone: true });
  if (!at.isValid) return value;
  const moved = at.plus({ days });
  return value.length === 10 ? moved.toISODate() : moved.toISO({ suppressMilliseconds: true });
};

/** `value` with its dates moved `days` later and each id of `ids` (old → new) replaced. */
const copied = (value: Json, days: number, ids: ReadonlyMap<string, string>): Json => {
  if (typeof value === 'string') {
    if (DATE.test(value)) return shifted(value, days);
    return value.replace(UUID, (whole, id: string) => {
      const now = ids.get(id);
      return now === undefined ? whole : `urn:uuid:${now}`;
    });
  }
  if (Array.isArray(value)) return value.map((v) => copied(v, days, ids));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'id' ? v : copied(v, days, ids)]),
    );
  return value;
};

/**
 * The grown patient as a Bundle of the source's type (its references are `urn:uuid:` full URLs, which only
 * a Bundle resolves), with its count and its resources by type.
 */
export function grownPatient(target: number): {
  json: string;
  resources: number;
  byType: Record<string, number>;
} {
  const bundle = JSON.parse(readFileSync(SYNTHEA_PATIENT, 'utf8')) as { type: string; entry: Entry[] };
  const encounters = bundle.entry.filter((e) => e.resource.resourceType === 'Encounter');
  const groupOf = (e: Entry): string | undefined =>
    e.resource.resourceType === 'Encounter'
      ? e.fullUrl
      : encounters.find((enc) => JSON.stringify(e.resource).includes(enc.fullUrl))?.fullUrl;
  const once: Entry[] = [];
  const groups = new Map<string, Entry[]>(encounters.map((e) => [e.fullUrl, []]));
  for (const e of bundle.entry) {
    const g = groupOf(e);
    if (g === undefined) once.push(e);
    else groups.get(g)!.push(e);
  }
  const entries: Entry[] = [...once, ...[...groups.values()].flat()];
  const byType: Record<string, number> = {};
  for (const e of bundle.entry) byType[e.resource.resourceType] = (byType[e.resource.resourceType] ?? 0) + 1;
  for (let k = 1, added = true; added; k++) {
    added = false;
    for (const group of groups.values()) {
      if (entries.length + group.length > target) continue;
      added = true;
      const ids = new Map(group.map((e) => [e.resource.id, uuidOf(`${k}:${e.resource.id}`)]));
      for (const e of group) {
        const id = ids.get(e.resource.id)!;
        const resource = { ...(copied(e.resource, k * SHIFT_DAYS, ids) as Entry['resource']), id };
        entries.push({ ...e, fullUrl: `urn:uuid:${id}`, resource });
        byType[e.resource.resourceType] = (byType[e.resource.resourceType] ?? 0) + 1;
      }
    }
  }
  const json = JSON.stringify({ resourceType: 'Bundle', type: bundle.type, entry: entries });
  return { json, resources: entries.length, byType };
}

if (process.argv[1] === import.meta.filename) {
  const grown = grownPatient(Number(process.argv[2] ?? 20_000));
  process.stdout.write(`${grown.json}\n`);
  console.error(`${grown.resources} resources: ${JSON.stringify(grown.byType)}`);
}
