/**
 * An International Patient Summary (a FHIR document Bundle, @hale/model `toIpsBundle`) read for the
 * summary screen: the patient, then each section of the Composition with its entries as rows (name,
 * facts, a labelled date). Read defensively: the Bundle is plain JSON; anything unexpected reads as absent.
 *
 * | resource | name | facts | date |
 * |---|---|---|---|
 * | AllergyIntolerance | code | reactions, the gravest severity, criticality, verification | onset, else recorded |
 * | MedicationStatement | medication (concept, or the Medication named: in the Bundle or contained) | dose, frequency, route | started, else recorded |
 * | MedicationRequest (a prescription imported) | the same | the same, of its dosage instruction | prescribed, else valid from |
 * | Condition | code | clinical status | onset, else recorded |
 * | Immunization | vaccine code | — | given |
 * | Observation | code (the blood type: Hale's words) | value (quantity, text, concept) or components | date |
 * | Procedure | code | status | performed |
 *
 * Invariants: a date keeps the precision it was recorded with (`2009` stays a year: the screen formats
 * it); a date is labelled with what it is, so a recorded date never reads as an onset; a coded fact goes
 * to the screen as an i18n key with its code, never as FHIR's English word. An entry coded from the IPS
 * "absent or unknown" system marks the section as having no information.
 */

import { bloodTypeOf } from '@hale/model';

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

/** What a fact is, said by the screen in the person's language; none: the value speaks for itself. */
export type FactLabel = 'dose' | 'frequency' | 'route' | 'reaction' | 'severity';

export interface SummaryFact {
  readonly label?: FactLabel;
  /** As recorded (the person's or the source's words), or the code of a coded fact. */
  readonly value: string;
  /** A coded fact: its i18n key (the screen says it in the person's language; `value` is the FHIR code). */
  readonly key?: string;
}

/** What a row's date is: when it began, when it was written down, given, taken or done. */
export type DateLabel = 'onset' | 'recorded' | 'started' | 'prescribed' | 'given' | 'date' | 'performed';

export interface SummaryDate {
  readonly label: DateLabel;
  /** A FHIR date or dateTime, as precise as recorded (`2009`, `2015-03`, a day, an instant). */
  readonly value: string;
}

export interface SummaryRow {
  readonly name: string;
  /** A name Hale words itself (the blood type): its i18n key, said in the person's language over `name`. */
  readonly nameKey?: string;
  readonly facts: readonly SummaryFact[];
  readonly date: SummaryDate | undefined;
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

const SEVERITIES = ['mild', 'moderate', 'severe'] as const;

/** The first of `candidates` (label and value) that holds a value. */
const firstDate = (...candidates: readonly [DateLabel, unknown][]): SummaryDate | undefined => {
  for (const [label, value] of candidates) {
    const held = str(value);
    if (held !== undefined) return { label, value: held };
  }
  return undefined;
};

const start = (period: unknown): unknown => obj(period)?.['start'];

/** A fact when it holds a value, else nothing. */
const fact = (label: FactLabel | undefined, value: string | undefined, key?: string): SummaryFact[] =>
  value === undefined
    ? []
    : [{ ...(label === undefined ? {} : { label }), value, ...(key === undefined ? {} : { key }) }];

const coded = (label: FactLabel | undefined, keys: string, code: string | undefined): SummaryFact[] =>
  fact(label, code, `${keys}.${code}`);

const allergyFacts = (r: Json): SummaryFact[] => {
  const reactions = arr(r['reaction']).map((x) => obj(x) ?? {});
  // The gravest severity of any reaction: a severe reaction once is what a clinician must know.
  const severity = SEVERITIES.findLast((s) => reactions.some((x) => x['severity'] === s));
  return [
    ...reactions.flatMap((x) => arr(x['manifestation']).flatMap((m) => fact('reaction', conceptText(m)))),
    ...coded('severity', 'enum.severity', severity),
    ...coded(undefined, 'summary.criticality', str(r['criticality'])),
    // Said only when known: an allergy's confirmation is never guessed (the export leaves it out).
    ...coded(
      undefined,
      'enum.allergyVerification',
      str(obj(arr(obj(r['verificationStatus'])?.['coding'])[0])?.['code']),
    ),
  ];
};

/**
 * Each dosage's dose (a quantity, else its text: Hale writes there a dose that is no quantity, "1 tablet"),
 * frequency (the timing's code) and route.
 */
const dosageFacts = (dosages: unknown): SummaryFact[] =>
  arr(dosages).flatMap((d) => {
    const dosage = obj(d) ?? {};
    const doses = arr(dosage['doseAndRate']).flatMap((x) =>
      fact('dose', quantityText(obj(x)?.['doseQuantity'])),
    );
    return [
      ...(doses.length > 0 ? doses : fact('dose', str(dosage['text']))),
      ...fact('frequency', conceptText(obj(dosage['timing'])?.['code'])),
      ...fact('route', conceptText(dosage['route'])),
    ];
  });

const rowOf = (r: Json, byUrl: ReadonlyMap<string, Json>): SummaryRow => {
  const type = str(r['resourceType']) ?? '';
  let name: string | undefined;
  let facts: SummaryFact[] = [];
  let date: SummaryDate | undefined;
  switch (type) {
    case 'AllergyIntolerance':
      name = conceptText(r['code']);
      facts = allergyFacts(r);
      date = firstDate(
        ['onset', r['onsetDateTime']],
        ['onset', start(r['onsetPeriod'])],
        ['recorded', r['recordedDate']],
      );
      break;
    case 'MedicationStatement':
    case 'MedicationRequest': {
      const ref = str(obj(r['medicationReference'])?.['reference']);
      // The Medication named: one of the Bundle, or contained in the entry (`#id`).
      const named =
        ref === undefined
          ? undefined
          : ref.startsWith('#')
            ? arr(r['contained'])
                .map(obj)
                .find((c) => c !== undefined && `#${str(c['id']) ?? ''}` === ref)
            : byUrl.get(ref);
      name = conceptText(r['medicationCodeableConcept']) ?? conceptText(named?.['code']);
      facts = dosageFacts(type === 'MedicationRequest' ? r['dosageInstruction'] : r['dosage']);
      date =
        type === 'MedicationRequest'
          ? firstDate(
              ['prescribed', r['authoredOn']],
              ['started', start(obj(r['dispenseRequest'])?.['validityPeriod'])],
            )
          : firstDate(
              ['started', r['effectiveDateTime']],
              ['started', start(r['effectivePeriod'])],
              ['recorded', r['dateAsserted']],
            );
      break;
    }
    case 'Condition':
      name = conceptText(r['code']);
      facts = coded(
        undefined,
        'enum.conditionClinicalStatus',
        str(obj(arr(obj(r['clinicalStatus'])?.['coding'])[0])?.['code']),
      );
      date = firstDate(
        ['onset', r['onsetDateTime']],
        ['onset', start(r['onsetPeriod'])],
        ['recorded', r['recordedDate']],
      );
      break;
    case 'Immunization':
      name = conceptText(r['vaccineCode']);
      date = firstDate(['given', r['occurrenceDateTime']], ['recorded', r['recorded']]);
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
      const value = valueText(r) ?? (parts.length > 0 ? parts.join(' · ') : undefined);
      facts = fact(undefined, value);
      date = firstDate(
        ['date', r['effectiveDateTime']],
        ['date', start(r['effectivePeriod'])],
        ['date', r['effectiveInstant']],
      );
      break;
    }
    case 'Procedure':
      name = conceptText(r['code']);
      facts = coded(undefined, 'enum.procedureStatus', str(r['status']));
      date = firstDate(['performed', r['performedDateTime']], ['performed', start(r['performedPeriod'])]);
      break;
    default:
      name = conceptText(r['code']);
  }
  const bloodType = type === 'Observation' && bloodTypeOf(r) !== undefined;
  return { name: name ?? type, ...(bloodType ? { nameKey: 'fields.bloodType' } : {}), facts, date };
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
