// Writes ips-2.0.0.ndjson: the StructureDefinitions of the IPS 2.0.0 profiles a Hale summary can carry,
// from the npm package `hl7.fhir.uv.ips@2.0.0` (`npm pack`: its own dependencies are not on the registry,
// so it cannot be installed), one per line, what a validator reads of them kept.
//
// Run: npx tsx test/records-io/fetch-ips-profiles.ts
//
// Invariants:
// - the tarball is checked against the registry's published integrity before anything is read from it;
// - kept: every snapshot element with its ids, paths, cardinalities, types, slicing, fixed and pattern
//   values, bindings and constraints; dropped: narrative, differential, mappings, the documentation
//   strings of elements (definition, comment, short, requirements, alias, examples), and the copies of
//   ele-1 and ext-1 (R4's Element and Extension rules, on every element: the R4 check has them);
// - the output is the same for the same package (no dates, stable order).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'hl7.fhir.uv.ips@2.0.0';
const INTEGRITY =
  'sha512-4PWToJ9b1FgXsm9DIvHiU6HO9Z5m75jxk0e0MXOmhFlf2m2slk/d6RoiSYIChKJlvmtJ7GbRftt7PphlwmZcbQ==';
const TARBALL = 'hl7.fhir.uv.ips-2.0.0.tgz';

/** The profiles of the resource types a Hale summary or emergency card has (fhir-ips.ts maps them). */
export const IPS_PROFILES = [
  'Bundle-uv-ips',
  'Composition-uv-ips',
  'Patient-uv-ips',
  'AllergyIntolerance-uv-ips',
  'MedicationStatement-uv-ips',
  'MedicationRequest-uv-ips',
  'Condition-uv-ips',
  'Immunization-uv-ips',
  'Observation-results-laboratory-pathology-uv-ips',
  'Observation-results-radiology-uv-ips',
  // The Bundle's Observation slices told apart by a fixed code (pregnancy EDD and outcome need value sets).
  'Observation-pregnancy-status-uv-ips',
  'Observation-alcoholuse-uv-ips',
  'Observation-tobaccouse-uv-ips',
  'Procedure-uv-ips',
  'Practitioner-uv-ips',
] as const;

const DOCUMENTATION = new Set([
  'short',
  'definition',
  'comment',
  'requirements',
  'alias',
  'mapping',
  'example',
  'meaningWhenMissing',
  'orderMeaning',
  'isModifierReason',
  'mustSupport',
  'isSummary',
  'extension',
  'condition',
]);
/** Constraints every element inherits from R4 (Element, Extension): checked with the base definitions. */
const INHERITED = new Set(['ele-1', 'ext-1']);

type Json = Record<string, unknown>;

const trimElement = (element: Json): Json =>
  Object.fromEntries(
    Object.entries(element)
      .filter(([key]) => !DOCUMENTATION.has(key))
      .filter(
        ([key, value]) =>
          key !== 'constraint' || (value as Json[]).some((c) => !INHERITED.has(c['key'] as string)),
      )
      .map(([key, value]) =>
        key === 'constraint'
          ? [
              key,
              (value as Json[])
                .filter((c) => !INHERITED.has(c['key'] as string))
                .map(({ key: k, severity, human, expression }) => ({ key: k, severity, human, expression })),
            ]
          : key === 'type'
            ? [key, (value as Json[]).map(({ extension: _e, ...type }) => type)]
            : key === 'binding'
              ? [key, { strength: (value as Json)['strength'], valueSet: (value as Json)['valueSet'] }]
              : [key, value],
      ),
  );

const trim = (sd: Json): Json => ({
  resourceType: 'StructureDefinition',
  url: sd['url'],
  version: sd['version'],
  name: sd['name'],
  status: sd['status'],
  kind: sd['kind'],
  abstract: sd['abstract'],
  type: sd['type'],
  baseDefinition: sd['baseDefinition'],
  derivation: sd['derivation'],
  snapshot: { element: ((sd['snapshot'] as Json)['element'] as Json[]).map(trimElement) },
});

const main = (): void => {
  const work = mkdtempSync(path.join(tmpdir(), 'ips-'));
  try {
    execFileSync('npm', ['pack', PACKAGE, '--pack-destination', work, '--silent'], { stdio: 'inherit' });
    const tarball = path.join(work, TARBALL);
    const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (digest !== INTEGRITY) throw new Error(`${TARBALL}: integrity ${digest}, expected ${INTEGRITY}`);
    execFileSync('tar', ['xzf', tarball, '-C', work]);
    const lines = IPS_PROFILES.map((name) => {
      const file = path.join(work, 'package', `StructureDefinition-${name}.json`);
      return JSON.stringify(trim(JSON.parse(readFileSync(file, 'utf8')) as Json));
    });
    const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ips-2.0.0.ndjson');
    writeFileSync(out, `${lines.join('\n')}\n`);
    console.log(`wrote ${lines.length} profiles to ${out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
