/*
 * The source resource an imported record keeps (`origin.resource`, sealed with the record) and how export
 * writes Hale's own resource over it, so that what Hale does not map still leaves as it came.
 *
 * Elements are compared whole; a choice element (`onset[x]`, `value[x]`, …) counts as one element.
 *
 * | element of the kept source | record unchanged since import | record edited in Hale |
 * |---|---|---|
 * | holds a `reference` anywhere | Hale's (Hale writes the export's own references) | Hale's |
 * | names its kept contained Medication (`medicationReference` `#id`) | the source's, with that Medication | Hale's |
 * | a choice of a primitive type not in its R4 format | Hale's | Hale's |
 * | `resourceType`, `id`, `meta`, `contained` | Hale's | Hale's |
 * | `identifier`, `extension` | Hale's, then the source's without references | the same |
 * | `text` (narrative) | the source's (never rendered by Hale) | dropped: it may say what is no longer so |
 * | an element Hale writes too | the source's | Hale's |
 * | an element Hale never reads (`origin.sourceOnly`) | the source's | the source's |
 * | an element Hale reads but did not write | the source's | left out: the edit removed it |
 *
 * Invariants:
 * - An edit in Hale always wins over the source.
 * - A source over MAX_KEPT_SOURCE_BYTES (as JSON) is not kept: the record's `notKept` says so.
 * - A kept source has no `contained` but the Medication its `medicationReference` names (`#id`: a
 *   prescription's ingredients and form), no JSON null and no primitive extension (`_given`).
 * - An export names a contained resource only when it holds it.
 * - Pure: the output depends on the input only.
 */
import type { RecordOrigin } from './common-schemas';
import type { FhirJson, FhirResource } from './fhir-types';

/** The largest source resource a record keeps, as UTF-8 JSON. */
export const MAX_KEPT_SOURCE_BYTES = 32 * 1024;

type Json = Readonly<Record<string, unknown>>;

/** FHIR data type names that end a choice element's key (`onsetDateTime` → `onset`). */
const CHOICE_TYPES =
  /(Boolean|Integer|Decimal|Base64Binary|Instant|String|Uri|Url|Canonical|Date|DateTime|Time|Code|Oid|Id|Markdown|UnsignedInt|PositiveInt|Uuid|Address|Age|Annotation|Attachment|CodeableConcept|Coding|ContactPoint|Count|Distance|Duration|HumanName|Identifier|Money|Period|Quantity|Range|Ratio|Reference|SampledData|Signature|Timing|Dosage|Meta)$/;

/** The element a key belongs to: a choice element's name without its type, else the key. */
const elementOf = (key: string): string => {
  const m = CHOICE_TYPES.exec(key);
  return m !== null && m.index > 0 && /^[a-z]/.test(key) ? key.slice(0, m.index) : key;
};

/** R4's formats of primitive types (the regular expressions of the specification's datatypes page). */
const DATE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?$/;
const ZONE = /(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/;
const PRIMITIVE: Readonly<Record<string, (v: unknown) => boolean>> = {
  Boolean: (v) => typeof v === 'boolean',
  Integer: (v) => Number.isInteger(v),
  PositiveInt: (v) => Number.isInteger(v) && (v as number) > 0,
  UnsignedInt: (v) => Number.isInteger(v) && (v as number) >= 0,
  Decimal: (v) => typeof v === 'number',
  Date: (v) => typeof v === 'string' && DATE.test(v),
  Time: (v) => typeof v === 'string' && TIME.test(v),
  DateTime: (v) =>
    typeof v === 'string' &&
    (DATE.test(v) ||
      (DATE.test(v.slice(0, 10)) && TIME.test(v.slice(11, 19)) && v[10] === 'T' && ZONE.test(v))),
  Instant: (v) => typeof v === 'string' && DATE.test(v.slice(0, 10)) && v[10] === 'T' && ZONE.test(v),
};

/** Whether a choice element's primitive value has its type's format (a source may not: Synthea's `valueTime`). */
const wellFormed = (key: string, value: unknown): boolean => {
  const m = CHOICE_TYPES.exec(key);
  const check = m === null || m.index === 0 ? undefined : PRIMITIVE[m[1] ?? ''];
  return check === undefined || check(value);
};

/** Whether `value` names another resource anywhere inside, other than one of `local` (`#id`s it holds). */
const refers = (value: unknown, local: ReadonlySet<string> = new Set()): boolean =>
  Array.isArray(value)
    ? value.some((v) => refers(v, local))
    : value !== null &&
      typeof value === 'object' &&
      Object.entries(value as Json).some(
        ([k, v]) => (k === 'reference' && typeof v === 'string' && !local.has(v)) || refers(v, local),
      );

/** The contained Medication a source's `medicationReference` names (`#id`), if it holds it. */
const containedMedication = (resource: Json): Json | undefined => {
  const named = (resource['medicationReference'] as Json | undefined)?.['reference'];
  if (typeof named !== 'string' || !named.startsWith('#')) return undefined;
  const contained = Array.isArray(resource['contained']) ? (resource['contained'] as unknown[]) : [];
  return contained.find(
    (c): c is Json =>
      c !== null &&
      typeof c === 'object' &&
      (c as Json)['resourceType'] === 'Medication' &&
      `#${String((c as Json)['id'])}` === named,
  );
};

/** An element's parts that name no other resource (Hale writes the export's own references). */
export const withoutReferences = <V>(value: Readonly<Record<string, V>>): Record<string, V> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => !refers(v)));

const byteLength = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).length;

/** `value` without JSON nulls and primitive extensions (`_given`: never written back, and R4 has no null). */
const clean = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.filter((v) => v !== null).map(clean)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(
          Object.entries(value as Json)
            .filter(([k, v]) => !k.startsWith('_') && v !== null)
            .map(([k, v]) => [k, clean(v)]),
        )
      : value;

/**
 * The source a record keeps, or undefined when it is too large: the resource as read, without its
 * `contained` but the Medication it names (when it names none in the file, export never writes them back),
 * nulls and primitive extensions.
 */
export const keptSource = (resource: Json): Json | undefined => {
  const { contained: _contained, ...rest } = resource;
  const medication = containedMedication(resource);
  const kept = clean(
    medication === undefined || refers(medication) ? rest : { ...rest, contained: [medication] },
  ) as Json;
  return byteLength(kept) <= MAX_KEPT_SOURCE_BYTES ? kept : undefined;
};

/** Keys of `resource` grouped by element. */
const elements = (resource: Json): Map<string, [string, unknown][]> => {
  const out = new Map<string, [string, unknown][]>();
  for (const [key, value] of Object.entries(resource)) {
    if (key.startsWith('_')) continue;
    const element = elementOf(key);
    out.set(element, [...(out.get(element) ?? []), [key, value]]);
  }
  return out;
};

const OWN = new Set(['resourceType', 'id', 'meta', 'contained', 'identifier', 'extension', 'text']);

/**
 * `hale` (the record's main resource as Hale exports it) written over the source the record kept;
 * `edited`: the record's content is no longer what the import wrote.
 */
export const withSource = (hale: FhirResource, origin: RecordOrigin, edited: boolean): FhirResource => {
  const source = origin.resource;
  if (source === undefined || source['resourceType'] !== hale.resourceType) return hale;
  const sourceOnly = new Set((origin.sourceOnly ?? []).map(elementOf));
  const ours = elements(hale);
  const theirs = elements(source);
  const held = Array.isArray(source['contained']) ? (source['contained'] as Json[]) : [];
  const local = new Set(held.map((c) => `#${String(c['id'])}`));
  const out: Record<string, unknown> = {};
  for (const [element, keys] of ours) if (!OWN.has(element)) for (const [k, v] of keys) out[k] = v;
  for (const [element, keys] of theirs) {
    if (OWN.has(element) || keys.some(([k, v]) => refers(v, local) || !wellFormed(k, v))) continue;
    const take = edited ? !ours.has(element) && sourceOnly.has(element) : true;
    if (!take) continue;
    for (const [k] of ours.get(element) ?? []) delete out[k];
    for (const [k, v] of keys) out[k] = v;
  }
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const added = (key: 'identifier' | 'extension'): unknown[] | undefined => {
    const mine = list(hale[key]);
    const seen = new Set(mine.map((v) => JSON.stringify(v)));
    const all = [...mine, ...list(source[key]).filter((v) => !refers(v) && !seen.has(JSON.stringify(v)))];
    return all.length === 0 ? undefined : all;
  };
  const identifier = added('identifier');
  const extension = added('extension');
  const named = JSON.stringify(out);
  const contained = held.filter((c) => named.includes(`"reference":"#${String(c['id'])}"`));
  const text = edited ? hale['text'] : (source['text'] ?? hale['text']);
  return {
    resourceType: hale.resourceType,
    ...(hale.id === undefined ? {} : { id: hale.id }),
    ...(hale['meta'] === undefined ? {} : { meta: hale['meta'] }),
    ...(text === undefined ? {} : { text: text as FhirJson }),
    ...(contained.length === 0 ? {} : { contained: contained as FhirJson[] }),
    ...(identifier === undefined ? {} : { identifier: identifier as FhirJson[] }),
    ...(extension === undefined ? {} : { extension: extension as FhirJson[] }),
    ...(out as Record<string, FhirJson>),
  } as FhirResource;
};
