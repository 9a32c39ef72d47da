/*
 * An allergy's reactions: the list a source recorded (`reactions`, each with its manifestations' codes,
 * severity, onset, description, notes) and the two fields a person reads and edits (`reaction`: every
 * manifestation in words; `severity`: the most severe reaction's).
 *
 * Invariants:
 * - `reactions` is in force while `reaction` and `severity` are what it sums up to; an edit of either
 *   (the form edits only those) wins: the list is then out of force, shown and exported no more.
 * - The summing up is one function (`reactionSummary`), used by the import and by the check alike.
 * - The clinical status a source gave is in force while it agrees with `active`; else `active` says it.
 */
import type { Allergy, AllergyReaction } from './record-schemas';
import { ALLERGY_SEVERITIES } from './record-schemas';
import { clip } from './fhir-import-read';

type Severity = NonNullable<Allergy['severity']>;

/** The longest `reaction` text (its schema's bound, in code points). */
const REACTION_TEXT_MAX = 500;

/** What `reactions` sums up to: all manifestations in words, and the most severe severity. */
export const reactionSummary = (
  reactions: readonly AllergyReaction[],
): { readonly reaction?: string; readonly severity?: Severity } => {
  const words = reactions.map((r) => r.manifestations.map((m) => m.text).join(', ')).join('; ');
  const rank = (s: Severity | undefined) => (s === undefined ? -1 : ALLERGY_SEVERITIES.indexOf(s));
  const severity = reactions.reduce<Severity | undefined>(
    (worst, r) => (rank(r.severity) > rank(worst) ? r.severity : worst),
    undefined,
  );
  const reaction = words.trim() === '' ? undefined : clip(words, REACTION_TEXT_MAX);
  return { ...(reaction === undefined ? {} : { reaction }), ...(severity === undefined ? {} : { severity }) };
};

/** The reactions a source recorded, when still in force (see the header); undefined: read the two fields. */
export const reactionsInForce = (
  allergy: Pick<Allergy, 'reaction' | 'severity' | 'reactions'>,
): readonly AllergyReaction[] | undefined => {
  const { reactions } = allergy;
  if (reactions === undefined || reactions.length === 0) return undefined;
  const sum = reactionSummary(reactions);
  return sum.reaction === allergy.reaction && sum.severity === allergy.severity ? reactions : undefined;
};

/** The allergy's FHIR clinical status: the source's while it agrees with `active`. */
export const allergyClinicalStatus = (
  allergy: Pick<Allergy, 'active' | 'clinicalStatus'>,
): 'active' | 'inactive' | 'resolved' => {
  const given = allergy.clinicalStatus;
  if (given !== undefined && (given === 'active') === allergy.active) return given;
  return allergy.active ? 'active' : 'inactive';
};
