/*
 * FHIR R4 export of the kinds added with FHIR import (Condition, Procedure) and of what import adds to
 * every kind: codings a source system sent (`codes`) and the record's origin (`origin`).
 *
 * | Hale | FHIR |
 * |---|---|
 * | Condition | Condition (`clinicalStatus` left out when `verificationStatus` is entered-in-error: con-5) |
 * | Procedure | Procedure (`performedDateTime`, or `performedPeriod` when `performedEndAt` is given) |
 * | `codes` | further `coding` entries of the concept's CodeableConcept, after any Hale puts there |
 * | `origin` | Hale extension `origin` on the record's main resource: `source`, `resourceType`, `originalId`, `importedAt` |
 *
 * Pure, like fhir.ts: the output depends on the input only.
 */
import type { Coding, ConceptCoding, RecordOrigin } from './common-schemas';
import type { FhirJson, FhirResource } from './fhir-types';
import {
  HALE_EXTENSION_BASE,
  coding,
  dateTimeExt,
  fhirDateTime,
  haleIdentifier,
  makeResource,
  meta,
  stringExt,
  text,
  type DraftObject,
  type Exporter,
} from './fhir-draft';
import type { Concept, Condition, Procedure } from './record-schemas';
import { conceptsInForce } from './concepts';

const SNOMED = 'http://snomed.info/sct';
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const CONDITION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';

/** SNOMED CT codes of the three severities (the R4 condition-severity value set). */
export const CONDITION_SEVERITY_SNOMED: Readonly<Record<NonNullable<Condition['severity']>, string>> = {
  mild: '255604002',
  moderate: '6736007',
  severe: '24484000',
};

const CATEGORY_DISPLAY: Readonly<Record<NonNullable<Condition['category']>, string>> = {
  'problem-list-item': 'Problem List Item',
  'encounter-diagnosis': 'Encounter Diagnosis',
};

/** `concept` (a CodeableConcept draft) with `codes` appended to its codings; one already there is not repeated. */
export const withCodes = (
  concept: DraftObject,
  codes: readonly (Coding | ConceptCoding)[] | undefined,
): DraftObject => {
  if (codes === undefined || codes.length === 0) return concept;
  const existing = Array.isArray(concept['coding']) ? (concept['coding'] as readonly DraftObject[]) : [];
  const key = (c: DraftObject) =>
    `${typeof c['system'] === 'string' ? c['system'] : ''}|${typeof c['code'] === 'string' ? c['code'] : ''}`;
  const seen = new Set(existing.map(key));
  const added = codes
    .filter((c) => !seen.has(`${c.system ?? ''}|${c.code}`))
    .map((c) => coding(c.system, c.code, c.display));
  return { ...concept, coding: [...existing, ...added] };
};

/** A text field and the concepts a source sent beside it: the concepts while in force (concepts.ts), else the text. */
export const conceptsOut = (
  words: string | undefined,
  concepts: readonly Concept[] | undefined,
  max: number,
): (DraftObject | undefined)[] => {
  const inForce = conceptsInForce(words, concepts, max);
  return inForce === undefined ? [text(words)] : inForce.map((c) => withCodes({ text: c.text }, c.codes));
};

/** The Hale extension `origin` carrying where an imported record came from. */
export const originExtension = (origin: RecordOrigin) => ({
  url: `${HALE_EXTENSION_BASE}origin`,
  extension: [
    { url: 'source', valueString: origin.source },
    { url: 'resourceType', valueString: origin.resourceType },
    { url: 'originalId', valueString: origin.originalId },
    { url: 'importedAt', valueDateTime: fhirDateTime(origin.importedAt) ?? origin.importedAt },
  ],
});

/** `resource` with the `origin` extension appended (what `exportItem` does to a record's main resource). */
export const originOf = (resource: FhirResource, origin: RecordOrigin): FhirResource => {
  const existing: readonly FhirJson[] = Array.isArray(resource['extension'])
    ? (resource['extension'] as readonly FhirJson[])
    : [];
  return { ...resource, extension: [...existing, originExtension(origin)] };
};

export const exportCondition = (x: Exporter, r: Condition, signature: string | undefined): void => {
  const enteredInError = r.verificationStatus === 'entered-in-error';
  x.add(
    makeResource('Condition', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      clinicalStatus: enteredInError ? undefined : { coding: [coding(CONDITION_CLINICAL, r.clinicalStatus)] },
      verificationStatus:
        r.verificationStatus === undefined
          ? undefined
          : { coding: [coding(CONDITION_VERIFICATION, r.verificationStatus)] },
      category: [
        r.category === undefined
          ? undefined
          : { coding: [coding(CONDITION_CATEGORY, r.category, CATEGORY_DISPLAY[r.category])] },
      ],
      severity:
        r.severity === undefined
          ? undefined
          : { coding: [coding(SNOMED, CONDITION_SEVERITY_SNOMED[r.severity], r.severity)], text: r.severity },
      code: withCodes({ text: r.name }, r.codes),
      bodySite: conceptsOut(r.bodySite, r.bodySites, 200),
      subject: x.patient,
      onsetDateTime: fhirDateTime(r.onsetDate),
      abatementDateTime: fhirDateTime(r.abatementDate),
      recordedDate: fhirDateTime(r.recordedAt),
      note: [text(r.notes)],
    }),
  );
};

export const exportProcedure = (x: Exporter, r: Procedure, signature: string | undefined): void => {
  const period = r.performedEndAt !== undefined;
  x.add(
    makeResource('Procedure', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: r.status,
      code: withCodes({ text: r.name }, r.codes),
      subject: x.patient,
      performedDateTime: period ? undefined : fhirDateTime(r.performedAt),
      performedPeriod: period
        ? { start: fhirDateTime(r.performedAt), end: fhirDateTime(r.performedEndAt) }
        : undefined,
      performer: [r.performer === undefined ? undefined : { actor: { display: r.performer } }],
      location: r.location === undefined ? undefined : { display: r.location },
      reasonCode: [text(r.reason)],
      bodySite: conceptsOut(r.bodySite, r.bodySites, 200),
      outcome: text(r.outcome),
      note: [text(r.notes)],
    }),
  );
};
