/*
 * Standard references for a Hale FHIR export, and how references in any Bundle resolve.
 *
 * `toFhirBundle` names entries `urn:hale:{Type}/{id}` and references them so (its internal form, kept by
 * exports made before). `standardFhirBundle` restates that as FHIR's RESTful form: every fullUrl
 * `{base}/{Type}/{id}` (base HALE_EXPORT_BASE unless given) and every reference relative, `{Type}/{id}` or
 * `{Type}/{id}/_history/{version}`, which R4 resolves against the fullUrl's base (bundle.html#references).
 * Relative references, not `urn:uuid:`: a version-specific reference (a Provenance's target, a signature's
 * version) has no `urn:uuid:` form.
 *
 * Invariants: pure; only fullUrls and `reference` strings of the internal form change (a logical reference,
 * an identifier or an extension's URL is left as it is); the Bundle signature is not touched (sign after).
 * `resolveReference` follows R4's rules: an absolute reference is itself; a relative one resolves against
 * the base of the referring entry's fullUrl when that fullUrl is RESTful, else it stays relative.
 */
import type { FhirBundle, FhirBundleEntry, FhirJson, FhirJsonObject, FhirResource } from './fhir-types';
import { HALE_FHIR_BASE } from './fhir-draft';

/** Base of the fullUrls of a standard Hale export (`.invalid`: Hale publishes no FHIR server). */
export const HALE_EXPORT_BASE = HALE_FHIR_BASE;

const INTERNAL_RE =
  /^urn:hale:([A-Z][A-Za-z]{1,63}\/[A-Za-z0-9.-]{1,64})((?:\/_history\/[A-Za-z0-9.-]{1,64})?)$/;
const RELATIVE_RE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9.-]{1,64})((?:\/_history\/[A-Za-z0-9.-]{1,64})?)$/;
const RESTFUL_RE = /^(https?:\/\/\S+\/)([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9.-]{1,64})$/;

/** The fullUrl a standard export gives `{type}/{id}`. */
export const standardFullUrl = (resourceType: string, id: string, base = HALE_EXPORT_BASE): string =>
  `${base}/${resourceType}/${id}`;

const restate = (value: FhirJson, key: string | undefined): FhirJson => {
  if (typeof value === 'string') {
    if (key !== 'reference') return value;
    const match = INTERNAL_RE.exec(value);
    return match === null ? value : `${match[1]}${match[2] ?? ''}`;
  }
  if (Array.isArray(value)) return (value as readonly FhirJson[]).map((item) => restate(item, key));
  if (typeof value === 'object') {
    const out: Record<string, FhirJson> = {};
    for (const [name, child] of Object.entries(value as FhirJsonObject)) out[name] = restate(child, name);
    return out;
  }
  return value;
};

/** `bundle` (toFhirBundle's internal form) with RESTful fullUrls under `base` and relative references. */
export const standardFhirBundle = (bundle: FhirBundle, base = HALE_EXPORT_BASE): FhirBundle => ({
  ...bundle,
  entry: bundle.entry.map((e): FhirBundleEntry => {
    const match = INTERNAL_RE.exec(e.fullUrl);
    return {
      ...e,
      fullUrl: match === null ? e.fullUrl : `${base}/${match[1]}`,
      resource: restate(e.resource, undefined) as FhirResource,
    };
  }),
});

/**
 * The absolute form of `reference` made in the entry whose fullUrl is `entryFullUrl` (R4 bundle
 * resolution): a relative `{Type}/{id}[/_history/{v}]` made in an entry with a RESTful fullUrl takes that
 * fullUrl's base; anything else is returned as it is.
 */
export const resolveReference = (reference: string, entryFullUrl: string | undefined): string => {
  if (entryFullUrl === undefined || !RELATIVE_RE.test(reference)) return reference;
  const restful = RESTFUL_RE.exec(entryFullUrl);
  return restful === null ? reference : `${restful[1]}${reference}`;
};

/** `{ type, id }` of a relative or RESTful absolute reference (no version); undefined for any other form. */
export const referenceTarget = (reference: string): { type: string; id: string } | undefined => {
  const relative = RELATIVE_RE.exec(reference);
  if (relative?.[1] !== undefined && relative[2] !== undefined) return { type: relative[1], id: relative[2] };
  const restful = RESTFUL_RE.exec(reference);
  if (restful?.[2] !== undefined && restful[3] !== undefined) return { type: restful[2], id: restful[3] };
  const internal = INTERNAL_RE.exec(reference);
  const parts = internal?.[1]?.split('/');
  return parts?.[0] !== undefined && parts[1] !== undefined ? { type: parts[0], id: parts[1] } : undefined;
};
