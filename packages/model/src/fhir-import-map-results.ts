/*
 * FHIR import mappings of results and files (see fhir-import-map.ts): Observation of any category →
 * LabResult (the ABO/Rh result → the Profile's blood type), DocumentReference and DiagnosticReport with an
 * embedded file → HealthDocument, a report of one result → that result's files.
 */
import type { Coding } from './common-schemas';
import {
  BLOOD_TYPES,
  LAB_RESULT_STATUSES,
  OBSERVATION_CATEGORIES,
  MAX_SAMPLED_DATA,
  type CodedRange,
  type CodedUnits,
  type Concept,
  type SampledData,
} from './record-schemas';
import { conceptsText } from './concepts';
import {
  LOINC_SYSTEM,
  clip,
  codingsOf,
  conceptsOf,
  notesOf,
  conceptCodes,
  conceptName,
  dateOrInstant,
  first,
  haleExtension,
  instant,
  isJson,
  list,
  namedCode,
  rangeText,
  str,
  type Json,
} from './fhir-import-read';
import {
  bodySitesOf,
  declaredOf,
  defined,
  oneOf,
  record,
  type MapContext,
  type MapOutcome,
  type PendingFile,
} from './fhir-import-map-base';

// ------------------------------------------------------------------------------------------ results

/** `text` cut to `max` characters; when cut, `partly` says so under `element`'s name. */
const clipped = (text: string | undefined, max: number, element: string, partly: string[]) => {
  if (text === undefined || [...text].length <= max) return text;
  partly.push(`${element} (cut to ${max} characters: the source keeps it whole)`);
  return clip(text, max);
};

const BLOOD_TYPE_LOINC = '882-1';
const RH_RE = /^\s*(AB|A|B|O)\s*(\+|-|pos(?:itive)?|neg(?:ative)?|Rh\(D\) positive|Rh\(D\) negative)/i;

/** A blood type (`O+`) from an ABO/Rh Observation's value, when it reads as one. */
export const bloodTypeOf = (r: Json): string | undefined => {
  if (!codingsOf(r['code']).some((c) => c.system === LOINC_SYSTEM && c.code === BLOOD_TYPE_LOINC))
    return undefined;
  const text = conceptName(r['valueCodeableConcept']) ?? str(r['valueString']);
  if (text === undefined) return undefined;
  if ((BLOOD_TYPES as readonly string[]).includes(text)) return text;
  const match = RH_RE.exec(text.replace(/^Blood group /i, ''));
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const sign = /^(\+|pos|Rh\(D\) pos)/i.test(match[2]) ? '+' : '-';
  return `${match[1].toUpperCase()}${sign}`;
};

const RENDERED = 'http://hl7.org/fhir/StructureDefinition/rendered-value';

/** A Quantity's units as the source coded them, when it coded them (and they fit Hale's bounds). */
const codedUnitsOf = (q: Json, units: string | undefined): CodedUnits | undefined => {
  const system = str(q['system']);
  const code = str(q['code']);
  if (units === undefined || (system === undefined && code === undefined)) return undefined;
  if ([...units].length > 64 || (system?.length ?? 0) > 200 || (code?.length ?? 0) > 64) return undefined;
  return defined({ unit: units, system, code }) as CodedUnits;
};

const limitOf = (q: unknown): CodedRange['low'] => {
  if (!isJson(q) || typeof q['value'] !== 'number' || q['comparator'] !== undefined) return undefined;
  const unit = str(q['unit']);
  const system = str(q['system']);
  const code = str(q['code']);
  if ([...(unit ?? '')].length > 64 || (system?.length ?? 0) > 200 || (code?.length ?? 0) > 64)
    return undefined;
  return defined({ value: q['value'], unit, system, code }) as CodedRange['low'];
};

/** A reference range's limits as numbers, with the text Hale reads it as; undefined without limits. */
const codedRangeOf = (range: unknown): CodedRange | undefined => {
  const text = rangeText(range);
  if (!isJson(range) || text === undefined || [...text].length > 200) return undefined;
  const low = limitOf(range['low']);
  const high = limitOf(range['high']);
  return low === undefined && high === undefined ? undefined : (defined({ text, low, high }) as CodedRange);
};

/** An Observation's (or component's) value and units as Hale keeps them. */
const valueOf = (
  r: Json,
): {
  value?: number | string;
  valueConcept?: Concept;
  units?: string;
  unitsCoded?: CodedUnits;
  unitsNote?: string;
} => {
  const q = isJson(r['valueQuantity']) ? r['valueQuantity'] : undefined;
  if (q !== undefined && typeof q['value'] === 'number') {
    const units = str(q['unit']) ?? str(q['code']);
    const unitsCoded = codedUnitsOf(q, units);
    const rendered = isJson(q['_value'])
      ? list(q['_value']['extension']).find((e) => isJson(e) && e['url'] === RENDERED)
      : undefined;
    const digits = isJson(rendered) ? str(rendered['valueString']) : undefined;
    const comparator = str(q['comparator']);
    const value =
      comparator === undefined && digits === undefined
        ? q['value']
        : `${comparator ?? ''}${digits ?? q['value']}`;
    return defined({ value, units, unitsCoded });
  }
  // A value in words has its units in a note (Hale's own export writes one).
  const unitsNote = list(r['note'])
    .filter(isJson)
    .map((n) => /^Units: (.+)$/s.exec(String(n['text']))?.[1])
    .find((u) => u !== undefined);
  if (typeof r['valueString'] === 'string') {
    return defined({ value: r['valueString'], units: unitsNote, unitsNote });
  }
  if (r['valueCodeableConcept'] !== undefined) {
    const name = conceptName(r['valueCodeableConcept']);
    return name === undefined
      ? {}
      : defined({
          value: name,
          valueConcept: conceptsOf([r['valueCodeableConcept']])?.[0],
          units: unitsNote,
          unitsNote,
        });
  }
  if (typeof r['valueInteger'] === 'number') return { value: r['valueInteger'] };
  if (typeof r['valueBoolean'] === 'boolean') return { value: r['valueBoolean'] ? 'yes' : 'no' };
  if (typeof r['valueDateTime'] === 'string') return { value: r['valueDateTime'] };
  // As written, also when not in R4's format (Synthea's carries a zone): export then writes it as text.
  if (typeof r['valueTime'] === 'string') return { value: r['valueTime'] };
  return {};
};

/** A SampledData as a result part keeps it; undefined when it is not whole (no origin value, period or
 * dimensions) or its data is longer than Hale keeps (the source then keeps it, said as not kept). */
const sampledDataOf = (d: unknown): SampledData | undefined => {
  if (!isJson(d)) return undefined;
  const origin = limitOf(d['origin']);
  const { period, dimensions } = d;
  if (origin === undefined || typeof period !== 'number' || period < 0) return undefined;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > 1000)
    return undefined;
  const data = str(d['data']);
  if (data !== undefined && [...data].length > MAX_SAMPLED_DATA) return undefined;
  const number = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return defined({
    origin,
    period,
    factor: number(d['factor']),
    lowerLimit: number(d['lowerLimit']),
    upperLimit: number(d['upperLimit']),
    dimensions,
    data,
  }) as SampledData;
};

const componentOf = (c: Json) => {
  const { name, code } = namedCode(c['code'], LOINC_SYSTEM);
  const { value, valueConcept, units, unitsCoded } = valueOf(c);
  const sampledData = value === undefined ? sampledDataOf(c['valueSampledData']) : undefined;
  return defined({
    testCode: code,
    testName: name ?? 'Component',
    codes: conceptCodes(c['code'], (k: Coding) => k.system === LOINC_SYSTEM && k.code === code),
    value,
    valueConcept,
    units,
    unitsCoded,
    referenceRange: rangeText(first(c['referenceRange'])),
    dataAbsentReason: value === undefined ? conceptsOf([c['dataAbsentReason']])?.[0] : undefined,
    sampledData,
  });
};

export const mapObservation = (r: Json, x: MapContext): MapOutcome => {
  if (x.profileImported && bloodTypeOf(r) !== undefined)
    return { absorbed: 'blood type, kept in the profile' };
  const { name, code } = namedCode(r['code'], LOINC_SYSTEM);
  if (name === undefined) return { skip: 'a result that names no test' };
  const status = oneOf(LAB_RESULT_STATUSES, r['status']);
  if (status === undefined) return { skip: `${name}: status ${String(r['status'])} has no Hale equivalent` };
  const period = isJson(r['effectivePeriod']) ? r['effectivePeriod'] : undefined;
  const effectiveAt =
    dateOrInstant(r['effectiveDateTime']) ??
    dateOrInstant(r['effectiveInstant']) ??
    dateOrInstant(period?.['start']) ??
    instant(r['issued']);
  if (effectiveAt === undefined) return { skip: `${name}: no date it was taken` };
  const categories = list(r['category']).flatMap((c) => codingsOf(c).map((coding) => coding.code));
  const category = categories.map((c) => oneOf(OBSERVATION_CATEGORIES, c)).find((c) => c !== undefined);
  const { value, valueConcept, units, unitsCoded, unitsNote } = valueOf(r);
  const interpretations = conceptsOf(r['interpretation']);
  // A note that only gives a text value's units (Hale's own export writes one) is read as the units.
  const notes = notesOf(
    list(r['note']).filter(
      (n) => !(isJson(n) && unitsNote !== undefined && n['text'] === `Units: ${unitsNote}`),
    ),
  );
  const order = x.resolve(first(r['basedOn'])?.['reference']);
  const requester = isJson(order?.['requester']) ? order['requester'] : undefined;
  const attachments = x.attachmentsOf(r);
  const files: PendingFile[] = [];
  const missing: string[] = [];
  for (const a of attachments) {
    const data = str(a['data']);
    if (data === undefined) missing.push(str(a['title']) ?? 'attachment');
    else
      files.push({
        field: 'attachments',
        data,
        mediaType: str(a['contentType']) ?? 'application/octet-stream',
        fileName: str(a['title']) ?? 'attachment',
        ...declaredOf(a),
      });
  }
  const sourceComponents = list(r['component']).filter(isJson);
  const components = sourceComponents.map(componentOf);
  /** What was read but not kept whole (said, so no one takes the record for the whole of the source). */
  const partly: string[] = sourceComponents.some(
    (c, i) => c['valueSampledData'] !== undefined && i < 20 && components[i]?.['sampledData'] === undefined,
  )
    ? ['component.valueSampledData (incomplete, or longer than Hale keeps: the source keeps it whole)']
    : [];
  const outcome = record(
    'LabResult',
    r,
    [
      'status',
      'category',
      'code',
      'subject',
      'basedOn',
      'effectiveDateTime',
      'effectiveInstant',
      'effectivePeriod',
      'issued',
      'performer',
      'valueQuantity',
      'valueString',
      'valueCodeableConcept',
      'valueInteger',
      'valueBoolean',
      'valueDateTime',
      'valueTime',
      'referenceRange',
      'component',
      'note',
      'encounter',
      'interpretation',
      'bodySite',
    ],
    {
      testCode: code,
      testName: name,
      codes: conceptCodes(r['code'], (c: Coding) => c.system === LOINC_SYSTEM && c.code === code),
      category: category === 'laboratory' ? undefined : category,
      status,
      value,
      valueConcept,
      units,
      unitsCoded,
      interpretation: interpretations === undefined ? undefined : conceptsText(interpretations, 200),
      interpretations,
      ...bodySitesOf(r),
      notes: notes === undefined ? undefined : clip(notes, 4000),
      referenceRange: clipped(rangeText(first(r['referenceRange'])), 200, 'referenceRange', partly),
      referenceRangeCoded: codedRangeOf(first(r['referenceRange'])),
      effectiveAt,
      publishedAt: instant(r['issued']),
      orderedBy: requester === undefined ? undefined : x.accountOf(requester['reference']),
      performer: str(first(r['performer'])?.['display']),
      components: components.length > 0 ? components.slice(0, 20) : undefined,
    },
    files,
  );
  if (!('kind' in outcome)) return outcome;
  const extra = [...partly, ...missing.map((m) => `${m} (not embedded in the file)`)];
  return extra.length === 0 ? outcome : { ...outcome, notKept: [...outcome.notKept, ...extra] };
};

const DOCUMENT_TYPES: Readonly<Record<string, string>> = {
  '11502-2': 'lab-report',
  '18748-4': 'imaging',
  '57833-6': 'prescription',
  '18842-5': 'discharge-summary',
};

/** A file an Attachment embeds, or why not. */
const embedded = (attachment: unknown, title: string): PendingFile | string => {
  if (!isJson(attachment)) return 'no file';
  const data = str(attachment['data']);
  if (data === undefined) {
    return str(attachment['url']) === undefined ? 'no file' : 'the file is only linked, not in the import';
  }
  const fileName = str(haleExtension(attachment, 'file-name')) ?? str(attachment['title']) ?? title;
  return {
    field: 'file',
    data,
    mediaType: str(attachment['contentType']) ?? 'application/octet-stream',
    fileName,
    ...declaredOf(attachment),
  };
};

export const mapDocumentReference = (r: Json, x: MapContext): MapOutcome => {
  const status = str(r['status']);
  if (status === 'superseded')
    return { skip: 'an earlier version of a document (the current one is imported)' };
  if (status === 'entered-in-error') return { skip: 'a document entered in error' };
  const attachment = first(r['content'])?.['attachment'];
  const title =
    (isJson(attachment) ? str(attachment['title']) : undefined) ??
    str(r['description']) ??
    conceptName(r['type']) ??
    'Document';
  const file = embedded(attachment, title);
  if (typeof file === 'string') return { skip: `${title}: ${file}` };
  const typeCode = codingsOf(r['type']).find((c) => c.system === LOINC_SYSTEM)?.code;
  const typeText = isJson(r['type']) ? str(r['type']['text']) : undefined;
  return alsoNotKept(
    list(r['content']).length > 1 ? ['content (only the first file is imported)'] : [],
    record(
      'HealthDocument',
      r,
      [
        'status',
        'type',
        'category',
        'subject',
        'date',
        'author',
        'description',
        'relatesTo',
        'content',
        'context',
      ],
      {
        title,
        documentType:
          typeText ?? (typeCode === undefined ? undefined : DOCUMENT_TYPES[typeCode]) ?? 'document',
        description: str(r['description']),
        tags: list(r['category']).flatMap((c) => (conceptName(c) === undefined ? [] : [conceptName(c)])),
        uploadedAt: instant(r['date']) ?? x.importedAt,
        serviceDate:
          isJson(r['context']) && isJson(r['context']['period'])
            ? dateOrInstant(r['context']['period']['start'], true)
            : undefined,
      },
      [file],
    ),
  );
};

/** `outcome` with more it does not keep. */
const alsoNotKept = (more: readonly string[], outcome: MapOutcome): MapOutcome =>
  more.length === 0 || !('kind' in outcome)
    ? outcome
    : { ...outcome, notKept: [...outcome.notKept, ...more] };

export const mapDiagnosticReport = (r: Json, x: MapContext): MapOutcome => {
  const name = conceptName(r['code']) ?? 'Report';
  const forms = list(r['presentedForm']).filter(isJson);
  const results = list(r['result']).length;
  if (forms.length === 0) {
    return str(r['conclusion']) !== undefined
      ? {
          skip: `${name}: a report with a conclusion but no file; its ${results} result(s) are imported one by one`,
        }
      : { skip: `${name}: a report grouping ${results} result(s), which are imported one by one` };
  }
  const file = embedded(forms[0], name);
  if (typeof file === 'string') return { skip: `${name}: ${file}` };
  const lab = list(r['category']).some((c) => codingsOf(c).some((coding) => coding.code === 'LAB'));
  return alsoNotKept(
    forms.length > 1 ? ['presentedForm (only the first file is imported)'] : [],
    record(
      'HealthDocument',
      r,
      [
        'status',
        'category',
        'code',
        'subject',
        'effectiveDateTime',
        'issued',
        'result',
        'conclusion',
        'presentedForm',
      ],
      {
        title: name,
        documentType: lab ? 'lab-report' : 'report',
        description: str(r['conclusion']),
        uploadedAt: instant(r['issued']) ?? x.importedAt,
        serviceDate: dateOrInstant(r['effectiveDateTime'], true),
      },
      [file],
    ),
  );
};
