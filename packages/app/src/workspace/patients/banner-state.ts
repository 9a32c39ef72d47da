/**
 * What the chart's safety banner says of each part (allergies, active medications, active problems), from
 * whether the grant shares the kind and the records this device holds of it. Pure: the banner
 * (safety-banner.tsx) reads the grant and the records through @hale/react and asks these.
 *
 * | state | when |
 * |---|---|
 * | `not-shared` | the grant does not include the kind (never shown as empty) |
 * | `loading` | shared, nothing active held yet, and the store has not answered or the sync is catching up |
 * | `no-known` | allergies only: the patient recorded that there are none known, and no active allergy |
 * | `none` | shared, and no active record of it |
 * | `list` | the active records; allergies the most dangerous first (high criticality, severe, moderate, mild) |
 *
 * "No known allergies" has no field of its own in @hale/model: it is an Allergy whose code says so, as
 * FHIR and the IPS write it (SNOMED CT 716186003, or the IPS absent-unknown `no-known-allergies`), and
 * arrives that way from an import. A narrower statement (no known drug allergy) is not taken for it; a
 * "no information" entry (IPS `no-allergy-info`) is not an allergy and says nothing known.
 * Invariants: a kind outside the grant is `not-shared` whatever the store holds; an active allergy
 * outweighs a "no known allergies" statement beside it.
 */
import type { RecordOf } from '@hale/model';
import { isActiveCondition } from '../../records/clinical';

/** The states a part is in other than its list (each said in words: `workspace.banner.state.<state>`). */
export const WORDED_STATES = ['not-shared', 'loading', 'none', 'no-known'] as const;

export type Part<T> =
  | { readonly state: 'not-shared' }
  | { readonly state: 'loading' }
  | { readonly state: 'no-known' }
  | { readonly state: 'none' }
  | { readonly state: 'list'; readonly items: readonly T[] };

/** What the banner is given of one kind: shared or not, and the store's answer. */
export interface Held<T> {
  readonly shared: boolean;
  readonly items: readonly T[];
  /** Not known in full yet: the store has not answered, or the sync is catching up. */
  readonly loading?: boolean;
}

type Coded = { readonly codes?: readonly { readonly system?: string; readonly code: string }[] };

const SNOMED = 'http://snomed.info/sct';
const IPS_ABSENT = 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips';

const hasCode = (r: Coded, system: string, codes: readonly string[]): boolean =>
  (r.codes ?? []).some((c) => c.system === system && codes.includes(c.code));

/** The patient's statement that no allergy is known (of any kind). */
export const isNoKnownAllergy = (a: Coded): boolean =>
  hasCode(a, SNOMED, ['716186003']) || hasCode(a, IPS_ABSENT, ['no-known-allergies']);

/** A statement about allergies that is not an allergy: none known (of a kind), or nothing known. */
const isStatement = (a: Coded): boolean =>
  isNoKnownAllergy(a) ||
  hasCode(a, SNOMED, ['409137002', '429625007', '428607008']) ||
  hasCode(a, IPS_ABSENT, [
    'no-allergy-info',
    'no-known-medication-allergies',
    'no-known-environmental-allergies',
    'no-known-food-allergies',
  ]);

/** Order in the list: high criticality, then by severity, then those whose severity is not recorded. */
const SEVERITY_RANK: Readonly<Record<string, number>> = { severe: 1, moderate: 2, mild: 3 };

type Risk = Pick<RecordOf<'Allergy'>, 'severity' | 'criticality'>;

/** Marked in red: a severe reaction recorded, or a high criticality (the risk of one, FHIR `criticality`). */
export const isSevere = (a: Risk): boolean => a.severity === 'severe' || a.criticality === 'high';

const rank = (a: Risk): number =>
  a.criticality === 'high' ? 0 : a.severity === undefined ? 4 : (SEVERITY_RANK[a.severity] ?? 4);

const partOf = <T>(held: Held<T>, active: readonly T[]): Part<T> => {
  if (!held.shared) return { state: 'not-shared' };
  if (active.length > 0) return { state: 'list', items: active };
  return held.loading === true ? { state: 'loading' } : { state: 'none' };
};

type AllergyFields = Pick<RecordOf<'Allergy'>, 'active' | 'substance'> & Risk & Coded;

export function allergyPart<T extends AllergyFields>(held: Held<T>): Part<T> {
  const active = held.items.filter((a) => a.active);
  const allergies = active
    .filter((a) => !isStatement(a))
    .sort((a, b) => rank(a) - rank(b) || a.substance.localeCompare(b.substance));
  const part = partOf(held, allergies);
  const noneYet = part.state === 'none' || part.state === 'loading';
  return noneYet && active.some(isNoKnownAllergy) ? { state: 'no-known' } : part;
}

export const medicationPart = <T extends Pick<RecordOf<'Medication'>, 'active' | 'name'>>(
  held: Held<T>,
): Part<T> =>
  partOf(
    held,
    held.items.filter((m) => m.active).sort((a, b) => a.name.localeCompare(b.name)),
  );

export const problemPart = <
  T extends Pick<RecordOf<'Condition'>, 'clinicalStatus' | 'verificationStatus' | 'name'>,
>(
  held: Held<T>,
): Part<T> =>
  partOf(
    held,
    held.items.filter(isActiveCondition).sort((a, b) => a.name.localeCompare(b.name)),
  );

/** The parts' severe allergies (shown even when the banner is folded on a phone). */
export const severeOf = <T extends AllergyFields>(part: Part<T>): readonly T[] =>
  part.state === 'list' ? part.items.filter(isSevere) : [];
