/*
 * Small readers the FHIR import's mappings share: a concept's name and codes, Hale's own code-in-text form,
 * dates as Hale keeps them, quantities as text, people's names, contact points, notes.
 *
 * Invariants: pure; every reader answers undefined for what is absent or not of the form Hale keeps (a
 * mapping then leaves the field out or lists the record as not imported); nothing throws.
 */
import type { Coding, ConceptCoding } from './common-schemas';
import type { Concept } from './record-schemas';
import { MAX_CODINGS } from './common-schemas';
import { isIsoDate, isIsoDateTime } from './formats';

export type Json = Readonly<Record<string, unknown>>;

export const isJson = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/** `text` cut to `max` code points (a schema's bound). */
export const clip = (text: string, max: number): string => {
  const points = [...text];
  return points.length <= max ? text : points.slice(0, max).join('');
};

/** Concepts (CodeableConcepts) as Hale keeps them: named ones, at most `max`; undefined when none. */
export const conceptsOf = (values: unknown, max = 10): Concept[] | undefined => {
  const out = list(values)
    .flatMap((v): Concept[] => {
      const name = conceptName(v);
      const codes = conceptCodings(v);
      return name === undefined ? [] : [{ text: clip(name, 200), ...(codes === undefined ? {} : { codes }) }];
    })
    .slice(0, max);
  return out.length === 0 ? undefined : out;
};

export const list = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);

export const first = (value: unknown): Json | undefined => {
  const item = list(value)[0];
  return isJson(item) ? item : undefined;
};

export const LOINC_SYSTEM = 'http://loinc.org';
export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const HALE_ID = 'urn:hale:id';
export const HALE_ACCOUNT = 'urn:hale:account';
export const HALE_EXT = 'https://hale.invalid/fhir/StructureDefinition/';

export interface InputCoding {
  system?: string;
  code?: string;
  display?: string;
}

export const codingsOf = (concept: unknown): InputCoding[] =>
  list(isJson(concept) ? concept['coding'] : undefined).flatMap((c) => {
    if (!isJson(c)) return [];
    const out: InputCoding = {};
    const system = str(c['system']);
    const code = str(c['code']);
    const display = str(c['display']);
    if (system !== undefined) out.system = system;
    if (code !== undefined) out.code = code;
    if (display !== undefined) out.display = display;
    return [out];
  });

/** The name of a concept: its text, else the first coding's display, else its code. */
export const conceptName = (concept: unknown): string | undefined => {
  if (!isJson(concept)) return undefined;
  const text = str(concept['text']);
  if (text !== undefined) return text;
  const codings = codingsOf(concept);
  return codings.find((c) => c.display !== undefined)?.display ?? codings.find((c) => c.code)?.code;
};

/** The codings of a concept Hale keeps (`codes`): those with a system and a code, at most MAX_CODINGS. */
export const conceptCodes = (concept: unknown, except?: (c: Coding) => boolean): Coding[] | undefined => {
  const codes = codingsOf(concept)
    .flatMap((c): Coding[] =>
      c.system !== undefined && c.code !== undefined && c.code.length <= 64 && c.system.length <= 200
        ? [
            {
              system: c.system,
              code: c.code,
              ...(c.display === undefined ? {} : { display: c.display.slice(0, 500) }),
            },
          ]
        : [],
    )
    .filter((c) => except === undefined || !except(c))
    .slice(0, MAX_CODINGS);
  return codes.length > 0 ? codes : undefined;
};

/** A concept's codings as a Concept keeps them (`Concept.codes`): those with a code, a system or not. */
export const conceptCodings = (concept: unknown): ConceptCoding[] | undefined => {
  const codes = codingsOf(concept)
    .flatMap((c): ConceptCoding[] =>
      c.code !== undefined && c.code.length <= 64 && (c.system?.length ?? 0) <= 200
        ? [
            {
              ...(c.system === undefined ? {} : { system: c.system }),
              code: c.code,
              ...(c.display === undefined ? {} : { display: clip(c.display, 500) }),
            },
          ]
        : [],
    )
    .slice(0, MAX_CODINGS);
  return codes.length > 0 ? codes : undefined;
};

const CODE_IN_TEXT_RE = /^(.+) \(code ([^()]+)\)$/s;

/**
 * A name and code from a concept as Hale writes one whose code is not of its system's form
 * (`{name} (code {code})`, fhir.ts `codedConcept`), else its name and the code of `system`.
 */
export const namedCode = (
  concept: unknown,
  system: string,
): { name: string | undefined; code: string | undefined } => {
  const codings = codingsOf(concept);
  const code = codings.find((c) => c.system === system && c.code !== undefined)?.code;
  const text = isJson(concept) ? str(concept['text']) : undefined;
  const inText = code === undefined && text !== undefined ? CODE_IN_TEXT_RE.exec(text) : null;
  if (inText?.[1] !== undefined && inText[2] !== undefined) return { name: inText[1], code: inText[2] };
  return { name: conceptName(concept), code };
};

const PARTIAL_RE = /^\d{4}(-\d{2})?$/;

/** A FHIR date or dateTime as Hale keeps a date or instant (partial dates only where `partial`). */
export const dateOrInstant = (value: unknown, partial = false): string | undefined => {
  const text = str(value);
  if (text === undefined) return undefined;
  if (isIsoDate(text) || isIsoDateTime(text)) return text;
  return partial && PARTIAL_RE.test(text) ? text : undefined;
};

/** An instant (date-time with zone); a FHIR dateTime of a day only is no instant. */
export const instant = (value: unknown): string | undefined => {
  const text = str(value);
  return text !== undefined && isIsoDateTime(text) ? text : undefined;
};

/** A Quantity as Hale's text: `0.5 mL`, `<5 mg/dL`. */
export const quantityText = (quantity: unknown): string | undefined => {
  if (!isJson(quantity) || typeof quantity['value'] !== 'number') return undefined;
  const unit = str(quantity['unit']) ?? str(quantity['code']);
  return `${str(quantity['comparator']) ?? ''}${quantity['value']}${unit === undefined ? '' : ` ${unit}`}`;
};

/** A Range as text: `70-99 mg/dL`, `>= 40`. */
export const rangeText = (range: unknown): string | undefined => {
  if (!isJson(range)) return undefined;
  const text = str(range['text']);
  if (text !== undefined) return text;
  const low = isJson(range['low']) ? range['low'] : undefined;
  const high = isJson(range['high']) ? range['high'] : undefined;
  const unit = str(high?.['unit']) ?? str(low?.['unit']);
  const lowValue = typeof low?.['value'] === 'number' ? low['value'] : undefined;
  const highValue = typeof high?.['value'] === 'number' ? high['value'] : undefined;
  const suffix = unit === undefined ? '' : ` ${unit}`;
  if (lowValue !== undefined && highValue !== undefined) return `${lowValue}-${highValue}${suffix}`;
  if (lowValue !== undefined) return `>= ${lowValue}${suffix}`;
  if (highValue !== undefined) return `<= ${highValue}${suffix}`;
  return undefined;
};

/** A HumanName as one line: its text, else prefix, given names, family, suffix. */
export const personName = (name: unknown): string | undefined => {
  if (!isJson(name)) return undefined;
  const text = str(name['text']);
  if (text !== undefined) return text;
  const parts = [
    ...list(name['prefix']),
    ...list(name['given']),
    name['family'],
    ...list(name['suffix']),
  ].flatMap((part) => (str(part) === undefined ? [] : [String(part)]));
  return parts.length > 0 ? parts.join(' ') : undefined;
};

export const telecomOf = (telecom: unknown, system: 'phone' | 'email'): string | undefined =>
  list(telecom)
    .filter(isJson)
    .map((c) => (c['system'] === system ? str(c['value']) : undefined))
    .find((v) => v !== undefined);

export const addressText = (address: unknown): string | undefined => {
  if (!isJson(address)) return undefined;
  const text = str(address['text']);
  if (text !== undefined) return text;
  const parts = [
    ...list(address['line']),
    address['city'],
    address['state'],
    address['postalCode'],
    address['country'],
  ].flatMap((part) => (str(part) === undefined ? [] : [String(part)]));
  return parts.length > 0 ? parts.join(', ') : undefined;
};

/** All annotations' text, one paragraph each. */
export const notesOf = (notes: unknown): string | undefined => {
  const texts = list(notes).flatMap((n) =>
    isJson(n) && str(n['text']) !== undefined ? [String(n['text'])] : [],
  );
  return texts.length > 0 ? texts.join('\n\n') : undefined;
};

/** A Hale extension's value of `name` (valueString, valueDateTime, valueReference…). */
export const haleExtension = (resource: Json, name: string): unknown => {
  const found = list(resource['extension']).find((e) => isJson(e) && e['url'] === `${HALE_EXT}${name}`);
  if (!isJson(found)) return undefined;
  const key = Object.keys(found).find((k) => k.startsWith('value'));
  return key === undefined ? undefined : found[key];
};

/** The Hale record id an exported resource carries (identifier system urn:hale:id). */
export const haleIdOf = (resource: Json): string | undefined =>
  list(resource['identifier'])
    .filter(isJson)
    .map((i) => (i['system'] === HALE_ID ? str(i['value']) : undefined))
    .find((v) => v !== undefined);

/** The Hale account a person resource carries (identifier system urn:hale:account). */
export const haleAccountOf = (resource: Json | undefined): string | undefined =>
  resource === undefined
    ? undefined
    : list(resource['identifier'])
        .filter(isJson)
        .map((i) => (i['system'] === HALE_ACCOUNT ? str(i['value']) : undefined))
        .find((v) => v !== undefined);

/** The code of the first coding of a concept. */
export const codeOf = (concept: unknown): string | undefined => codingsOf(concept).find((c) => c.code)?.code;
