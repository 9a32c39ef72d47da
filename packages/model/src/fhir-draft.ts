/*
 * Building blocks of the FHIR export (fhir.ts) and of the mappings beside it (fhir-kinds.ts, fhir-ips.ts):
 * Hale's systems and URLs, drafts that `compact` turns into FHIR JSON without empty values, and the small
 * builders every mapping shares. Pure functions; nothing here throws.
 */
import type { Coding, ConceptCoding, Contact, FileRef } from './common-schemas';
import type { FhirJson, FhirJsonObject, FhirResource } from './fhir-types';
import type { RecordKind } from './registry';

// ------------------------------------------------------------------------------------ systems and urls

/** Base of every Hale-defined FHIR artefact; `.invalid` because Hale publishes no FHIR server. */
export const HALE_FHIR_BASE = 'https://hale.invalid/fhir';
export const HALE_EXTENSION_BASE = `${HALE_FHIR_BASE}/StructureDefinition/`;
export const HALE_CODE_SYSTEM_BASE = `${HALE_FHIR_BASE}/CodeSystem/`;
export const HALE_ID_SYSTEM = 'urn:hale:id';
export const HALE_ACCOUNT_SYSTEM = 'urn:hale:account';
export const HALE_DEVICE_SYSTEM = 'urn:hale:device';
export const HALE_THREAD_SYSTEM = 'urn:hale:thread';
export const HALE_STREAM_SYSTEM = 'urn:hale:stream';

/**
 * `meta.tag` of every resource of a record in an unsettled conflict: the version shown and each other
 * side. A receiver must not take any of them as settled.
 */
export const HALE_CONFLICT_TAG = {
  system: `${HALE_CODE_SYSTEM_BASE}record-state`,
  code: 'in-conflict',
  display: 'In conflict, unsettled',
} as const;

export const LOINC = 'http://loinc.org';
export const CVX = 'http://hl7.org/fhir/sid/cvx';
export const UCUM = 'http://unitsofmeasure.org';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const V3_PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const V3_DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
export const PROVENANCE_PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const SIGNATURE_TYPE = 'urn:iso-astm:E1762-95:2013';
export const DICOM = 'http://dicom.nema.org/resources/ontology/DCM';
export const DATA_ABSENT_REASON = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/** FHIR ids allow `[A-Za-z0-9.-]`; base64url account ids use `_`, which becomes `.` (reversible). */
export const fhirId = (accountId: string): string => accountId.replaceAll('_', '.');

/** The fullUrl of a resource in a Hale export; references use it verbatim. */
export const fhirFullUrl = (resourceType: string, id: string): string => `urn:hale:${resourceType}/${id}`;

// Unit spellings people type → UCUM codes; units not listed keep `unit` only (no invented codes).
export const UCUM_CODES: Readonly<Record<string, string>> = {
  '%': '%',
  'mg/dL': 'mg/dL',
  'g/dL': 'g/dL',
  'mg/L': 'mg/L',
  'g/L': 'g/L',
  'ng/mL': 'ng/mL',
  'ng/dL': 'ng/dL',
  'pg/mL': 'pg/mL',
  'ug/L': 'ug/L',
  'µg/L': 'ug/L',
  'mmol/L': 'mmol/L',
  'umol/L': 'umol/L',
  'µmol/L': 'umol/L',
  'mEq/L': 'meq/L',
  'meq/L': 'meq/L',
  'U/L': 'U/L',
  'IU/L': '[IU]/L',
  'mIU/L': 'm[IU]/L',
  'mL/min': 'mL/min',
  '10*3/uL': '10*3/uL',
  '10*6/uL': '10*6/uL',
  fL: 'fL',
  pg: 'pg',
  mg: 'mg',
  g: 'g',
  kg: 'kg',
  ug: 'ug',
  µg: 'ug',
  mcg: 'ug',
  mL: 'mL',
  ml: 'mL',
  L: 'L',
  cm: 'cm',
  mmHg: 'mm[Hg]',
  'mm[Hg]': 'mm[Hg]',
  bpm: '/min',
  '/min': '/min',
};

// --------------------------------------------------------------------------------------------- drafts

// Resources are written as drafts with `undefined` for absent data; `compact` drops those and any empty
// string, array or object, which FHIR JSON forbids.
export type Draft = string | number | boolean | null | undefined | readonly Draft[] | DraftObject;
export interface DraftObject {
  readonly [element: string]: Draft;
}

/**
 * What an R4 string must not hold: code points below 32 but tab, CR and LF (datatypes.html#string). The
 * model's free text takes them (a form feed or a NUL pasted from a PDF); a Bundle holding one is refused
 * whole by strict validators, so the export writes a vertical tab or form feed as a space and the rest as
 * U+FFFD.
 */
// eslint-disable-next-line no-control-regex
export const FHIR_FORBIDDEN_CONTROL_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
export const fhirString = (text: string): string =>
  FHIR_FORBIDDEN_CONTROL_RE.test(text)
    ? text.replace(new RegExp(FHIR_FORBIDDEN_CONTROL_RE.source, 'g'), (c) =>
        c === '\u000B' || c === '\u000C' ? ' ' : '\uFFFD',
      )
    : text;

export const compact = (draft: Draft): FhirJson | undefined => {
  if (draft === undefined || draft === null) return undefined;
  if (typeof draft === 'string') return draft.trim() === '' ? undefined : fhirString(draft);
  if (typeof draft === 'number') return Number.isFinite(draft) ? draft : undefined;
  if (typeof draft === 'boolean') return draft;
  if (isDraftArray(draft)) {
    const items = draft.map(compact).filter((item): item is FhirJson => item !== undefined);
    return items.length > 0 ? items : undefined;
  }
  const out: Record<string, FhirJson> = {};
  for (const [key, value] of Object.entries(draft)) {
    const compacted = compact(value);
    if (compacted !== undefined) out[key] = compacted;
  }
  return Object.keys(out).length > 0 ? out : undefined;
};

export const isDraftArray = (draft: readonly Draft[] | DraftObject): draft is readonly Draft[] =>
  Array.isArray(draft);

export const makeResource = (resourceType: string, id: string, body: DraftObject): FhirResource => {
  const compacted = compact(body);
  const elements = compacted !== undefined && isJsonObject(compacted) ? compacted : {};
  return { resourceType, id, ...elements };
};

export const isJsonObject = (value: FhirJson): value is FhirJsonObject =>
  typeof value === 'object' && !Array.isArray(value);

// ------------------------------------------------------------------------------------ small builders

// FHIR time zones stop at ±14:00; Hale accepts any offset, so rarer ones are restated in UTC.
export const OFFSET_RE = /([+-])(\d{2}):(\d{2})$/;
export const fhirDateTime = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  const offset = OFFSET_RE.exec(value);
  if (offset && value.includes('T')) {
    const minutes = Number(offset[2]) * 60 + Number(offset[3]);
    if (minutes > 14 * 60) return new Date(value).toISOString();
  }
  return value;
};

export const text = (value: string | undefined): DraftObject | undefined =>
  value === undefined ? undefined : { text: value };

/** A Coding; one without a system (R4 allows it: a source's local code) leaves `system` out. */
export const coding = (system: string | undefined, code: string, display?: string): DraftObject => ({
  system,
  code,
  display,
});

export const haleIdentifier = (id: string): DraftObject => ({ system: HALE_ID_SYSTEM, value: id });

/**
 * A reference to version `version` of the resource `type/id` (record `kind`): literal where that version
 * is an entry of the export (`exported`), else logical, as for a record absent from the export. A literal
 * one would dangle, and one without its version would name another text than the one signed, acknowledged
 * or amended.
 */
export const versionRef = (
  type: string,
  id: string,
  kind: RecordKind,
  version: number,
  exported: boolean,
): DraftObject =>
  exported
    ? { reference: `${fhirFullUrl(type, id)}/_history/${version}` }
    : { type, identifier: haleIdentifier(id), display: `${kind} ${id} version ${version}` };

export const extension = (name: string, value: DraftObject | undefined): DraftObject | undefined =>
  value === undefined ? undefined : { url: `${HALE_EXTENSION_BASE}${name}`, ...value };

// Blank text has no FHIR form; an extension left without its value would be malformed, so it goes too.
export const stringExt = (name: string, value: string | undefined) =>
  value === undefined || value.trim() === '' ? undefined : extension(name, { valueString: value });

export const dateTimeExt = (name: string, value: string | undefined) =>
  value === undefined ? undefined : extension(name, { valueDateTime: fhirDateTime(value) });

export const meta = (lastUpdated: string, versionId?: number): DraftObject => ({
  versionId: versionId === undefined ? undefined : String(versionId),
  lastUpdated: fhirDateTime(lastUpdated),
});

export const telecom = (contact: { phone?: string; email?: string } | undefined): Draft[] => [
  contact?.phone === undefined ? undefined : { system: 'phone', value: contact.phone },
  contact?.email === undefined ? undefined : { system: 'email', value: contact.email },
];

export const address = (contact: Contact | undefined): Draft[] => [text(contact?.address)];

export const attachment = (file: FileRef, title: string | undefined, fileNameExt: boolean): DraftObject => {
  // Attachment.size is an unsignedInt (≤ 2^31-1); larger sizes go to an extension instead of overflowing.
  const fitsUnsignedInt = file.size <= 2_147_483_647;
  return {
    extension: [
      extension('sha256', { valueString: file.sha256 }),
      fileNameExt ? stringExt('file-name', file.fileName) : undefined,
      fitsUnsignedInt ? undefined : extension('size', { valueDecimal: file.size }),
    ],
    contentType: file.mediaType,
    url: `hale-blob:${file.blobId}`,
    size: fitsUnsignedInt ? file.size : undefined,
    title: fileNameExt ? title : file.fileName,
  };
};

export const QUANTITY_RE = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-zµ%/[\]*][A-Za-z0-9µ%/[\]*.]*)\s*$/;
/**
 * Words after a number that are no unit of measure: ordinals ("2nd" dose, as vaccination cards print it),
 * "dose(s)" and a multiplier ("2x"). Read as units they would turn a position in a series into an amount.
 */
export const NOT_UNITS = /^(?:st|nd|rd|th|x|doses?)$/i;

/** `10 mg` → a Quantity (UCUM-coded when the unit is known); anything else → undefined. */
export const parseQuantity = (value: string | undefined): DraftObject | undefined => {
  const match = value === undefined ? null : QUANTITY_RE.exec(value);
  if (!match?.[1] || !match[2] || NOT_UNITS.test(match[2])) return undefined;
  return quantity(Number(match[1]), match[2]);
};

export const quantity = (value: number, unit: string | undefined): DraftObject => {
  const code = unit === undefined ? undefined : UCUM_CODES[unit];
  return { value, unit, system: code === undefined ? undefined : UCUM, code };
};

export const escapeXhtml = (value: string): string =>
  value
    // XML 1.0 cannot carry C0 controls other than tab and line breaks, so they are what this removes.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replace(/\r\n|\r|\n/g, '<br/>');

export const narrative = (value: string): DraftObject => ({
  status: 'generated',
  div: `<div xmlns="http://www.w3.org/1999/xhtml">${escapeXhtml(value)}</div>`,
});

export const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** FHIR base64Binary: standard base64 (RFC 4648 §4) with padding. */
export const isFhirBase64Binary = (text: string): boolean => base64.test(text);

// ----------------------------------------------------------------------------------------- context

export type PersonType = 'Patient' | 'Practitioner' | 'RelatedPerson';

export interface Exporter {
  readonly patient: DraftObject;
  /** A reference to the person behind an account, creating a minimal resource later if needed. */
  person(accountId: string, display?: string): DraftObject;
  device(deviceId: string): DraftObject;
  /** A reference to a record of `kind` when the export contains it, else a logical reference. */
  recordRef(kind: RecordKind, id: string): DraftObject;
  /** Whether `name` (an audit entry's entity type) is a record kind's. */
  isRecordKind(name: string): name is RecordKind;
  add(resource: FhirResource): void;
}

export const laboratoryCategory: DraftObject = {
  coding: [coding('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory', 'Laboratory')],
};

/** One Provenance per version of a record that carries its history inside (labs, plans). */

export const authorSignature = (when: string, who: DraftObject, data: string | undefined): DraftObject => ({
  type: [coding(SIGNATURE_TYPE, '1.2.840.10065.1.12.1.1', "Author's Signature")],
  when: fhirDateTime(when),
  who,
  data,
});

// A number as labs print one below or above a limit: `<0.5`, `>= 10`, `≤5`. Plain decimals only (FHIR
// `decimal` has no exponent or thousands separators); anything else is text.
export const COMPARED_NUMBER_RE = /^\s*(<=|>=|<|>|≤|≥)?\s*([+-]?\d{1,15}(?:\.\d{1,15})?)\s*$/;

export const COMPARATORS: Readonly<Record<string, string>> = {
  '<': '<',
  '<=': '<=',
  '>=': '>=',
  '>': '>',
  '≤': '<=',
  '≥': '>=',
};

/** The core rendered-value extension on a primitive `value`: its digits as reported. */
export const renderedValue = (text: string): DraftObject => ({
  _value: {
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/rendered-value', valueString: text }],
  },
});

/**
 * A lab value as Observation.value[x]. A number, or text that is one (optionally after a comparator),
 * is a valueQuantity with the units; other text is a valueString as written, its units in a note:
 * appended to the text they would read as part of the result ("positive ng/mL"). `coded`: the units as a
 * source coded them, written as given while `units` is still their `unit`; `concept`: a coded value,
 * a valueCodeableConcept while `value` is still its text.
 */
export const labValue = (
  value: number | string | undefined,
  units: string | undefined,
  coded?: { readonly unit: string; readonly system?: string; readonly code?: string },
  concept?: { readonly text: string; readonly codes?: readonly (Coding | ConceptCoding)[] },
): DraftObject => {
  if (concept !== undefined && concept.text === value)
    return {
      valueCodeableConcept: {
        text: concept.text,
        coding: concept.codes?.map((c) => coding(c.system, c.code, c.display)),
      },
      note: [units === undefined || units.trim() === '' ? undefined : { text: `Units: ${units}` }],
    };
  const made =
    coded !== undefined && coded.unit === units
      ? (n: number): DraftObject => ({ value: n, unit: coded.unit, system: coded.system, code: coded.code })
      : (n: number): DraftObject => quantity(n, units);
  if (typeof value === 'number') return Number.isFinite(value) ? { valueQuantity: made(value) } : {};
  if (value === undefined) return {};
  const match = COMPARED_NUMBER_RE.exec(value);
  const number = match?.[2] === undefined ? undefined : Number(match[2]);
  if (match?.[2] !== undefined && number !== undefined && Number.isFinite(number)) {
    const comparator = match[1] === undefined ? undefined : COMPARATORS[match[1]];
    // JSON numbers keep no trailing zeros, but a reported "0.010" is more precise than 0.01 (R4 decimal:
    // "the original precision should be preserved"): the digits as reported go beside the value.
    const rendered = String(number) === match[2] ? undefined : renderedValue(match[2]);
    return { valueQuantity: { ...made(number), comparator, ...rendered } };
  }
  return {
    valueString: value,
    note: [units === undefined || units.trim() === '' ? undefined : { text: `Units: ${units}` }],
  };
};

export const CVX_RE = /^\d{1,3}$/;
export const LOINC_RE = /^(\d{1,7})-(\d)$/;

/** CVX codes are 1–3 digits (`115`, `03`). */
export const isCvxCode = (code: string): boolean => CVX_RE.test(code);

/** LOINC codes are digits, a dash and a mod-10 (Luhn) check digit over them: `2345-7`, `718-7`. */
export const isLoincCode = (code: string): boolean => {
  const match = LOINC_RE.exec(code);
  if (!match?.[1] || match[2] === undefined) return false;
  let sum = 0;
  // From the right, every other digit starting with the last is doubled (its digits summed).
  [...match[1]].reverse().forEach((digit, index) => {
    const value = Number(digit) * (index % 2 === 0 ? 2 : 1);
    sum += value > 9 ? value - 9 : value;
  });
  return (10 - (sum % 10)) % 10 === Number(match[2]);
};

/**
 * A CodeableConcept of a named concept and the code a person typed. R4 lets a coding leave out its
 * system, but a code without one means nothing to a receiver, and one under the wrong system means the
 * wrong thing: so the code goes under `system` only when it has that system's form, else into the text.
 */
export const codedConcept = (
  name: string,
  code: string | undefined,
  system: string,
  hasForm: (code: string) => boolean,
): DraftObject => {
  const trimmed = code?.trim();
  if (trimmed === undefined || trimmed === '') return { text: name };
  return hasForm(trimmed)
    ? { coding: [coding(system, trimmed)], text: name }
    : { text: `${name} (code ${trimmed})` };
};
