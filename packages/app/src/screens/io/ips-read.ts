/**
 * An International Patient Summary (a FHIR document Bundle, @hale/model `toIpsBundle`) read for the
 * summary screen: the patient, then each section of the Composition with its entries as rows (name,
 * detail, date). Read defensively: the Bundle is plain JSON; anything unexpected reads as absent.
 *
 * | resource | name | detail |
 * |---|---|---|
 * | AllergyIntolerance | code | reactions, criticality |
 * | MedicationStatement | medication (concept or the referenced Medication) | dosage text |
 * | Condition | code | clinical status |
 * | Immunization | vaccine code | — |
 * | Observation | code | value (quantity, text, concept) or components |
 * | Procedure | code | status |
 *
 * An entry coded from the IPS "absent or unknown" system marks the section as having no information.
 */

type Json = Readonly<Record<string, unknown>>;

const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export const ABSENT_SYSTEM = 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips';

/** A CodeableConcept in words: its text, else its first coding's display, else its code. */
export const conceptText = (concept: unknown): string | undefined => {
  const c = obj(concept);
  if (c === undefined) return undefined;
  const text = str(c['text']);
  if (text !== undefined) return text;
  for (const coding of arr(c['coding'])) {
    const k = obj(coding);
    const shown = str(k?.['display']) ?? str(k?.['code']);
    if (shown !== undefined) return shown;
  }
  return undefined;
};

const isAbsent = (concept: unknown): boolean =>
  arr(obj(concept)?.['coding']).some((k) => obj(k)?.['system'] === ABSENT_SYSTEM);

const quantityText = (q: unknown): string | undefined => {
  const v = obj(q);
  if (v === undefined || typeof v['value'] !== 'number') return undefined;
  const unit = str(v['unit']) ?? str(v['code']);
  return unit === undefined ? String(v['value']) : `${v['value']} ${unit}`;
};

const valueText = (r: Json): string | undefined =>
  quantityText(r['valueQuantity']) ?? str(r['valueString']) ?? conceptText(r['valueCodeableConcept']);

export interface SummaryRow {
  readonly name: string;
  readonly detail: string | undefined;
  readonly date: string | undefined;
  /** A coded status the screen says in the person's language: `key` is its i18n key, `code` the FHIR code. */
  readonly status?: { readonly key: string; readonly code: string };
}

export interface SummarySection {
  /** The section's LOINC code (48765-2 allergies, 10160-0 medications, 11450-4 problems, …). */
  readonly code: string | undefined;
  readonly title: string;
  readonly rows: readonly SummaryRow[];
  /** The section says there is no information (an IPS "absent" entry). */
  readonly absent: boolean;
}

export interface ReadSummary {
  readonly patient: { readonly name: string | undefined; readonly birthDate: string | undefined };
  readonly date: string | undefined;
  readonly sections: readonly SummarySection[];
  readonly resources: number;
}

const dateOf = (r: Json): string | undefined =>
  str(r['effectiveDateTime']) ??
  str(r['occurrenceDateTime']) ??
  str(r['onsetDateTime']) ??
  str(r['performedDateTime']) ??
  str(obj(r['performedPeriod'])?.['start']) ??
  str(obj(r['effectivePeriod'])?.['start']) ??
  str(r['recordedDate']);

const rowOf = (r: Json, byUrl: ReadonlyMap<string, Json>): SummaryRow => {
  const type = str(r['resourceType']) ?? '';
  let name: string | undefined;
  let detail: string | undefined;
  let status: SummaryRow['status'];
  const coded = (key: string, code: string | undefined): void => {
    if (code !== undefined) status = { key: `${key}.${code}`, code };
  };
  switch (type) {
    case 'AllergyIntolerance': {
      name = conceptText(r['code']);
      const reactions = arr(r['reaction'])
        .flatMap((x) => arr(obj(x)?.['manifestation']).map(conceptText))
        .filter((x): x is string => x !== undefined);
      detail = reactions.join(' · ') || undefined;
      coded('summary.criticality', str(r['criticality']));
      break;
    }
    case 'MedicationStatement': {
      const ref = str(obj(r['medicationReference'])?.['reference']);
      name =
        conceptText(r['medicationCodeableConcept']) ??
        (ref === undefined ? undefined : conceptText(byUrl.get(ref)?.['code']));
      detail = arr(r['dosage'])
        .map((d) => str(obj(d)?.['text']))
        .filter(Boolean)
        .join(' · ');
      break;
    }
    case 'Condition':
      name = conceptText(r['code']);
      coded('enum.conditionClinicalStatus', str(obj(arr(obj(r['clinicalStatus'])?.['coding'])[0])?.['code']));
      break;
    case 'Immunization':
      name = conceptText(r['vaccineCode']);
      break;
    case 'Observation': {
      name = conceptText(r['code']);
      const parts = arr(r['component'])
        .map((c) => {
          const part = obj(c) ?? {};
          const v = valueText(part);
          return v === undefined ? undefined : `${conceptText(part['code']) ?? ''}: ${v}`;
        })
        .filter((x): x is string => x !== undefined);
      detail = valueText(r) ?? (parts.length > 0 ? parts.join(' · ') : undefined);
      break;
    }
    case 'Procedure':
      name = conceptText(r['code']);
      coded('enum.procedureStatus', str(r['status']));
      break;
    default:
      name = conceptText(r['code']);
  }
  return {
    name: name ?? type,
    detail: detail === '' ? undefined : detail,
    date: dateOf(r),
    ...(status === undefined ? {} : { status }),
  };
};

export const readSummary = (bundle: unknown): ReadSummary => {
  const entries = arr(obj(bundle)?.['entry'])
    .map(obj)
    .filter((e): e is Json => e !== undefined);
  const byUrl = new Map<string, Json>();
  for (const e of entries) {
    const url = str(e['fullUrl']);
    const resource = obj(e['resource']);
    if (url !== undefined && resource !== undefined) byUrl.set(url, resource);
  }
  const composition = [...byUrl.values()].find((r) => r['resourceType'] === 'Composition');
  const patient = byUrl.get(str(obj(composition?.['subject'])?.['reference']) ?? '');
  const name = obj(arr(patient?.['name'])[0]);
  const patientName =
    str(name?.['text']) ??
    ([...arr(name?.['given']), name?.['family']].filter((x) => typeof x === 'string').join(' ') || undefined);
  const sections = arr(composition?.['section']).map((s): SummarySection => {
    const section = obj(s) ?? {};
    const resources = arr(section['entry'])
      .map((ref) => byUrl.get(str(obj(ref)?.['reference']) ?? ''))
      .filter((r): r is Json => r !== undefined);
    const absent = resources.some((r) => isAbsent(r['code']) || isAbsent(r['medicationCodeableConcept']));
    return {
      code: str(obj(arr(obj(section['code'])?.['coding'])[0])?.['code']),
      title: str(section['title']) ?? '',
      rows: absent ? [] : resources.map((r) => rowOf(r, byUrl)),
      absent,
    };
  });
  return {
    patient: { name: patientName, birthDate: str(patient?.['birthDate']) },
    date: str(composition?.['date']),
    sections,
    resources: byUrl.size,
  };
};
