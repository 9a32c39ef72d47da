/**
 * The clinicians an export or a summary names, filled from the provider directory: a Practitioner that
 * Hale wrote with only the account (`urn:hale:account` identifier) gets the name, professional identifier,
 * contact and specialty of the provider's signed, verified directory profile.
 *
 * Invariants:
 * - only Practitioner entries are read or changed; every other entry is passed on as it is;
 * - identifiers are read as R4 defines them for the resource's type (`identifiersOf`): a list for most
 *   types, one Identifier for the few whose `identifier` is 0..1 (Composition, Bundle, …);
 * - a name is filled when the Practitioner has none, or only the data-absent form a summary gives it;
 *   a name from anywhere else is never replaced;
 * - a provider with no profile, or a lookup that fails (offline), leaves the entry as it was.
 */
import {
  HALE_ACCOUNT_SYSTEM,
  type FhirBundle,
  type FhirBundleEntry,
  type FhirJson,
  type FhirJsonObject,
  type FhirResource,
} from '@hale/model';
import type { ProviderProfile } from '@hale/protocol';

const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/** The R4 resource types whose `identifier` is one Identifier (0..1); every other type's is a list. */
const SINGLE_IDENTIFIER: ReadonlySet<string> = new Set([
  'AdverseEvent',
  'Bundle',
  'Composition',
  'ConceptMap',
  'MedicinalProductIngredient',
  'QuestionnaireResponse',
  'SpecimenDefinition',
  'SubstanceSpecification',
  'TestReport',
  'TestScript',
]);

const isObject = (value: FhirJson | undefined): value is FhirJsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The identifiers of `resource`, read by the cardinality R4 gives its type (a malformed one: none). */
export const identifiersOf = (resource: FhirResource): readonly FhirJsonObject[] => {
  const value = resource['identifier'];
  if (SINGLE_IDENTIFIER.has(resource.resourceType)) return isObject(value) ? [value] : [];
  return Array.isArray(value) ? (value as readonly FhirJson[]).filter(isObject) : [];
};

/** A HumanName that only says the name is unknown (the data-absent-reason extension). */
const isAbsentName = (name: FhirJson): boolean =>
  isObject(name) &&
  Object.keys(name).every((k) => k === 'extension' || k === '_text') &&
  JSON.stringify(name).includes(DATA_ABSENT);

/** The Hale account of a Practitioner Hale named only by account; undefined for anything else. */
const unnamedAccount = (resource: FhirResource): string | undefined => {
  if (resource.resourceType !== 'Practitioner') return undefined;
  const names = resource['name'];
  if (Array.isArray(names) && !(names as readonly FhirJson[]).every(isAbsentName)) return undefined;
  const account = identifiersOf(resource).find((i) => i['system'] === HALE_ACCOUNT_SYSTEM)?.['value'];
  return typeof account === 'string' ? account : undefined;
};

/** A Practitioner named only by account, with what the provider's signed directory profile says. */
const practitionerFrom = (resource: FhirResource, profile: ProviderProfile): FhirResource => ({
  ...resource,
  identifier: [
    ...identifiersOf(resource),
    ...(profile.identifier.trim() === ''
      ? []
      : [{ type: { text: 'Professional identifier' }, value: profile.identifier }]),
  ],
  name: [{ text: profile.displayName }],
  ...(profile.contact === undefined || profile.contact.trim() === ''
    ? {}
    : { telecom: [{ system: 'other', value: profile.contact }] }),
  ...(profile.clinic.trim() === '' && profile.specialty.trim() === ''
    ? {}
    : {
        qualification: [
          { code: { text: [profile.specialty, profile.clinic].filter((t) => t.trim() !== '').join(', ') } },
        ],
      }),
});

/** `bundle` with its Practitioners named only by account filled from the directory (see the header). */
export const withPractitioners = async (
  lookup: ((accountId: string) => Promise<ProviderProfile | null>) | undefined,
  bundle: FhirBundle,
): Promise<FhirBundle> => {
  if (lookup === undefined) return bundle;
  const entry: FhirBundleEntry[] = [];
  for (const e of bundle.entry) {
    const account = unnamedAccount(e.resource);
    const profile = account === undefined ? null : await lookup(account).catch(() => null);
    entry.push(profile === null ? e : { ...e, resource: practitionerFrom(e.resource, profile) });
  }
  return { ...bundle, entry };
};
