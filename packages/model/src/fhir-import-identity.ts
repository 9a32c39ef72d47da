/*
 * Who an imported record is in its source, and whether it changed (fhir-import.ts, #63 item 3).
 *
 * - Identity: each business identifier of the resource (type + system + value); a resource without one is
 *   named by the patient's identifier in the file (else the patient's id, else none) + type + id (else
 *   its `urn:` fullUrl, else its content). Never the file's name or the import's time, so the same data
 *   under another name is found again.
 * - Digests are for change detection, not security (a collision only misses an update): 106 bits of two
 *   seeded 53-bit string hashes over canonical JSON (keys sorted).
 */
import { isJson, list, str, type Json } from './fhir-import-read';

/** JSON with object keys sorted: the same value always gives the same text. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

/** cyrb53 (public domain): a 53-bit hash of a string. */
const hash53 = (text: string, seed: number): number => {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
};

/** A digest of a JSON value (28 hex digits). */
export const jsonDigest = (value: unknown): string => {
  const text = canonical(value);
  return [hash53(text, 1), hash53(text, 2)].map((h) => h.toString(16).padStart(14, '0')).join('');
};

/** Fields of a record that are no content of it: who stored it, when, and where it came from. */
const NOT_CONTENT = new Set([
  'id',
  'patientId',
  'createdAt',
  'updatedAt',
  'origin',
  'version',
  'versions',
  'provenance',
  'uploadedAt',
  'uploadedBy',
]);

/** A record's content as imported or as held now, files by name and type (their blob ids differ). */
export const recordContentDigest = (record: Readonly<Record<string, unknown>>): string => {
  const fileOf = (f: unknown) => (isJson(f) ? { fileName: f['fileName'], mediaType: f['mediaType'] } : f);
  return jsonDigest(
    Object.fromEntries(
      Object.entries(record)
        .filter(([key]) => !NOT_CONTENT.has(key))
        .map(([key, value]) =>
          key === 'file'
            ? [key, fileOf(value)]
            : key === 'attachments'
              ? [key, list(value).map(fileOf)]
              : [key, value],
        ),
    ),
  );
};

/** The source resource's content: without `meta` (a server's version and time change on every read). */
export const sourceDigest = (resource: Json): string => {
  const { meta: _meta, ...content } = resource;
  return jsonDigest(content);
};

/** `system|value` of each identifier with both; a Composition's one `identifier` object too. */
export const businessIdentifiers = (resource: Json): string[] =>
  list(resource['identifier'])
    .filter(isJson)
    .flatMap((i) => {
      const system = str(i['system']);
      const value = str(i['value']);
      return system === undefined || value === undefined ? [] : [`${system}|${value}`];
    });

/** Identity keys of a resource (see the header), at most 10, each at most 600 characters. */
export const identityKeys = (
  resource: Json & { readonly resourceType: string },
  patientKey: string | undefined,
  fullUrl: string | undefined,
): string[] => {
  const type = resource.resourceType;
  const business = businessIdentifiers(resource).map((b) => `${type}|${b}`);
  if (business.length > 0) return business.slice(0, 10).map((k) => k.slice(0, 600));
  const id = str(resource['id']);
  const local =
    id !== undefined
      ? `${type}/${id}`
      : fullUrl !== undefined && /^urn:(uuid|oid):/.test(fullUrl)
        ? fullUrl
        : `${type}#${sourceDigest(resource)}`;
  return [`${patientKey ?? '-'}|${local}`.slice(0, 600)];
};
