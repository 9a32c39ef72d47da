/*
 * The source resource an imported record keeps (`origin.resource`, sealed with the record) and how export
 * writes Hale's resource over it, so that what Hale does not map still leaves as it came. Elements are
 * compared whole (a choice element `value[x]` is one). At import its references become markers export
 * writes as its own (`hale:patient`, `hale:record:<Kind>:<id>`, `hale:account:<id>`), or `hale:elsewhere`
 * with their words for a resource not imported; a source kept before that holds the file's references.
 *
 * | element of the kept source | record unchanged since import | record edited in Hale |
 * |---|---|---|
 * | holds a file's reference (not a marker), or a primitive not in its R4 format | Hale's | Hale's |
 * | names a resource not imported where Hale's names one | Hale's | Hale's |
 * | names a kept contained resource (`#id`) | the source's, with what it names | Hale's |
 * | an attachment whose data Hale stores (`url` `hale:file`) | the source's, with Hale's file | Hale's |
 * | `resourceType`, `id`, `meta`, `contained` | Hale's | Hale's |
 * | `identifier`, `extension` | Hale's, then the source's | the same |
 * | `text` (narrative, never rendered by Hale) | the source's | dropped |
 * | an element Hale writes too | the source's | Hale's |
 * | an element Hale never reads (`origin.sourceOnly`) | the source's | the source's |
 * | an element Hale reads but did not write | the source's | left out: the edit removed it |
 *
 * Invariants:
 * - Pure. An edit in Hale always wins; a source over MAX_KEPT_SOURCE_BYTES is not kept (`notKept` says so).
 * - A kept source holds no file data, no `contained` but what it names (a Patient excepted), no JSON null
 *   and no primitive extension (`_given`); an export names a contained resource only when it holds it.
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

/** What a marker of a kept source names (see the header); `elsewhere`: a resource not imported. */
export type KeptTarget =
  | { readonly patient: true }
  | { readonly kind: string; readonly id: string }
  | { readonly account: string }
  | { readonly elsewhere: true };

const MARKER_RE =
  /^hale:(patient|elsewhere|record:([A-Za-z]{1,40}):([A-Za-z0-9_-]{1,64})|account:([A-Za-z0-9_-]{1,64}))$/;

/** The marker a kept source holds for a reference to `target`. */
export const keptMarker = (target: KeptTarget): string =>
  'patient' in target
    ? 'hale:patient'
    : 'elsewhere' in target
      ? 'hale:elsewhere'
      : 'account' in target
        ? `hale:account:${target.account}`
        : `hale:record:${target.kind}:${target.id}`;

/** What a marker names; undefined for any other reference. */
export const keptTargetOf = (reference: string): KeptTarget | undefined => {
  const m = MARKER_RE.exec(reference);
  if (m === null) return undefined;
  if (m[1] === 'patient') return { patient: true };
  if (m[1] === 'elsewhere') return { elsewhere: true };
  return m[4] !== undefined ? { account: m[4] } : { kind: m[2] ?? '', id: m[3] ?? '' };
};

const ELSEWHERE = 'hale:elsewhere';

/** Whether `value` holds a reference to a resource not imported (`hale:elsewhere`). */
const namesElsewhere = (value: unknown): boolean =>
  JSON.stringify(value).includes('"reference":"hale:elsewhere"');

/** Whether `value` names another resource anywhere inside, other than one of `local` (`#id`s it holds, markers). */
const refers = (value: unknown, local: (reference: string) => boolean = () => false): boolean =>
  Array.isArray(value)
    ? value.some((v) => refers(v, local))
    : value !== null &&
      typeof value === 'object' &&
      Object.entries(value as Json).some(
        ([k, v]) => (k === 'reference' && typeof v === 'string' && !local(v)) || refers(v, local),
      );

/** Each Reference in `value` (an object with a string `reference`) replaced by `replace`'s answer. */
const mapReferences = (value: unknown, replace: (ref: Json & { reference: string }) => Json): unknown =>
  Array.isArray(value)
    ? value.map((v) => mapReferences(v, replace))
    : value !== null && typeof value === 'object'
      ? typeof (value as Json)['reference'] === 'string'
        ? replace(value as Json & { reference: string })
        : Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, mapReferences(v, replace)]))
      : value;

const TYPE_ID_RE = /(?:^|\/)([A-Z][A-Za-z]{1,63})\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/;

/**
 * A kept source with portable references: a local one (`#id`) as it is; one `targetOf` names as its
 * marker; any other as `hale:elsewhere` with its display, identifier and type (`about`: what it names in
 * the file, for a reference without them), or dropped when it has none, with an object holding only it.
 */
export const portableReferences = (
  kept: Json,
  targetOf: (reference: string) => KeptTarget | undefined,
  about: (reference: string) => { readonly type?: string; readonly display?: string } | undefined,
): Json => {
  const replace = (ref: Json & { reference: string }): Json => {
    const { reference, ...rest } = ref;
    if (reference.startsWith('#')) return ref;
    const target = targetOf(reference);
    if (target !== undefined) return { reference: keptMarker(target), ...rest };
    const named = about(reference);
    const type =
      typeof rest['type'] === 'string' ? rest['type'] : (TYPE_ID_RE.exec(reference)?.[1] ?? named?.type);
    const display = typeof rest['display'] === 'string' ? rest['display'] : named?.display;
    const said = {
      ...rest,
      ...(type === undefined ? {} : { type }),
      ...(display === undefined ? {} : { display }),
    };
    return Object.keys(said).length === 0 ? {} : { reference: keptMarker({ elsewhere: true }), ...said };
  };
  return pruned(mapReferences(kept, replace)) as Json;
};

/** `value` without empty objects and lists (what dropping a reference may leave). */
const pruned = (value: unknown): unknown => {
  if (Array.isArray(value)) {
    const items = value.map(pruned).filter((v) => v !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Json)
    .map(([k, v]) => [k, pruned(v)] as const)
    .filter(([, v]) => v !== undefined);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
};

/** The contained resources `value` names (`#id`), and those they name in turn. */
const namedContained = (value: unknown, contained: readonly Json[]): Json[] => {
  const named = new Set<Json>();
  const queue = [value];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    const text = JSON.stringify(next);
    for (const c of contained)
      if (!named.has(c) && text.includes(`"reference":"#${String(c['id'])}"`)) {
        named.add(c);
        queue.push(c);
      }
  }
  return contained.filter((c) => named.has(c));
};

/**
 * An element's parts that name no other resource (Hale writes the export's own references); one not
 * imported (`hale:elsewhere`) is written as its words.
 */
export const withoutReferences = <V>(value: Readonly<Record<string, V>>): Record<string, V> =>
  Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => !refers(v, (r) => r === ELSEWHERE))
      .map(([k, v]) => [
        k,
        mapReferences(v, ({ reference, ...rest }) =>
          reference === ELSEWHERE ? rest : { reference, ...rest },
        ) as V,
      ]),
  );

/** Whether `value` as JSON is at most `max` UTF-8 bytes (a UTF-16 unit is at most 3 bytes: most need no encoding). */
const fitsBytes = (value: unknown, max: number): boolean => {
  const text = JSON.stringify(value);
  return text.length * 3 <= max || new TextEncoder().encode(text).length <= max;
};

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

/** Elements whose Attachment data an import stores as a file. */
const FILE_ELEMENTS = new Set(['attachment', 'presentedForm', 'contentAttachment']);
/** The `url` a kept attachment has in place of its data. */
const KEPT_FILE = 'hale:file';

/** `value` with each file's data of its attachments left out (`url` KEPT_FILE in its place). */
const withoutFileData = (value: unknown, key = ''): unknown => {
  if (Array.isArray(value)) return value.map((v) => withoutFileData(v, key));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Json;
  if (FILE_ELEMENTS.has(key) && typeof object['data'] === 'string') {
    const { data: _data, ...rest } = object;
    return { ...rest, url: KEPT_FILE };
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, withoutFileData(v, k)]));
};

/** `value` with each kept attachment given the next of Hale's `files` (its url, size and hash). */
const withFiles = (value: unknown, files: Json[]): unknown => {
  if (Array.isArray(value)) return value.map((v) => withFiles(v, files));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Json;
  if (object['url'] === KEPT_FILE) {
    const { url: _url, ...rest } = object;
    const file = files.shift();
    if (file === undefined) return rest;
    const { title: _title, contentType: _type, ...stored } = file;
    return { ...rest, ...stored };
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, withFiles(v, files)]));
};

/** The attachments of `value` that name a stored file (Hale's export writes them), in order. */
const storedFiles = (value: unknown, out: Json[] = []): Json[] => {
  if (Array.isArray(value)) for (const v of value) storedFiles(v, out);
  else if (value !== null && typeof value === 'object') {
    const object = value as Json;
    if (typeof object['url'] === 'string' && object['url'].startsWith('hale-blob:')) out.push(object);
    else for (const v of Object.values(object)) storedFiles(v, out);
  }
  return out;
};

/**
 * The source a record keeps, or undefined when it is too large: the resource as read, with the contained
 * resources it names but a Patient, without file data, nulls and primitive extensions.
 */
export const keptSource = (resource: Json): Json | undefined => {
  const { contained: all, ...rest } = resource;
  const candidates = (Array.isArray(all) ? (all as unknown[]) : []).filter(
    (c): c is Json => c !== null && typeof c === 'object' && (c as Json)['resourceType'] !== 'Patient',
  );
  const contained = namedContained(rest, candidates);
  const kept = clean(withoutFileData(contained.length === 0 ? rest : { ...rest, contained })) as Json;
  return fitsBytes(kept, MAX_KEPT_SOURCE_BYTES) ? kept : undefined;
};

/** `kept` when it is within MAX_KEPT_SOURCE_BYTES as JSON, else undefined. */
export const withinKeptBytes = (kept: Json): Json | undefined =>
  fitsBytes(kept, MAX_KEPT_SOURCE_BYTES) ? kept : undefined;

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
export const withSource = (
  hale: FhirResource,
  origin: RecordOrigin,
  edited: boolean,
  resolve: (target: KeptTarget) => Json | undefined = () => undefined,
): FhirResource => {
  const kept = origin.resource;
  if (kept === undefined || kept['resourceType'] !== hale.resourceType) return hale;
  // The markers as the export's references; one it cannot write keeps its other parts.
  const source = mapReferences(kept, (ref) => {
    const target = keptTargetOf(ref.reference);
    if (target === undefined) return ref;
    const { reference: _marker, ...rest } = ref;
    const to = resolve(target);
    // An export reference may hold an empty display (`display: undefined`): never written.
    const written = Object.entries(to ?? {}).filter(([, v]) => v !== undefined);
    return { ...Object.fromEntries(written), ...rest };
  }) as Json;
  const sourceOnly = new Set((origin.sourceOnly ?? []).map(elementOf));
  const ours = elements(hale);
  const theirs = elements(source);
  // Checked as kept: a marker is the export's own reference, a file's reference is not; a contained
  // resource naming a file's resource is not written, nor what names it.
  const all = Array.isArray(kept['contained']) ? (kept['contained'] as Json[]) : [];
  const allIds = new Set(all.map((c) => `#${String(c['id'])}`));
  const fine = all.filter((c) => !refers(c, (r) => allIds.has(r) || keptTargetOf(r) !== undefined));
  const localIds = new Set(fine.map((c) => `#${String(c['id'])}`));
  const local = (reference: string) => localIds.has(reference) || keptTargetOf(reference) !== undefined;
  const held = (Array.isArray(source['contained']) ? (source['contained'] as Json[]) : []).filter((c) =>
    localIds.has(`#${String(c['id'])}`),
  );
  const out: Record<string, unknown> = {};
  for (const [element, keys] of ours) if (!OWN.has(element)) for (const [k, v] of keys) out[k] = v;
  for (const [element, keys] of elements(kept)) {
    if (OWN.has(element) || keys.some(([k, v]) => refers(v, local) || !wellFormed(k, v))) continue;
    // Hale names a resource where the source names one it could not bring: Hale's reference wins.
    if (namesElsewhere(keys) && (ours.get(element) ?? []).some(([, v]) => refers(v))) continue;
    const take = edited ? !ours.has(element) && sourceOnly.has(element) : true;
    if (!take) continue;
    const files = storedFiles((ours.get(element) ?? []).map(([, v]) => v));
    for (const [k] of ours.get(element) ?? []) delete out[k];
    for (const [k, v] of theirs.get(element) ?? []) out[k] = withFiles(v, files);
  }
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const added = (key: 'identifier' | 'extension'): unknown[] | undefined => {
    const mine = list(hale[key]);
    const seen = new Set(mine.map((v) => JSON.stringify(v)));
    const asKept = list(kept[key]);
    const theirsOf = list(source[key]).filter(
      (v, i) => !refers(asKept[i], local) && !seen.has(JSON.stringify(v)),
    );
    const all = [...mine, ...theirsOf];
    return all.length === 0 ? undefined : all;
  };
  const identifier = added('identifier');
  const extension = added('extension');
  const contained = namedContained(out, held);
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
