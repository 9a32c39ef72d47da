/*
 * Coded concepts a source sent (`Concept`: words and codes) beside the text field a person reads and
 * edits: a result's `interpretation` and `interpretations`, a body site's `bodySite` and `bodySites`.
 *
 * Invariants:
 * - The concepts are in force while the text is what they say (`conceptsText`); an edit of the text wins:
 *   the concepts are then shown and exported no more (a code never contradicts the words beside it).
 * - One function sums them up, for the import and for the check alike.
 */
import type { Concept } from './record-schemas';
import { clip } from './fhir-import-read';

/** The concepts' words as one text: `, `-joined, cut to `max` code points (the text field's bound). */
export const conceptsText = (concepts: readonly Concept[], max: number): string | undefined => {
  const words = concepts.map((c) => c.text).join(', ');
  return words.trim() === '' ? undefined : clip(words, max);
};

/** The concepts while `text` is what they say; undefined: read the text alone. */
export const conceptsInForce = (
  text: string | undefined,
  concepts: readonly Concept[] | undefined,
  max: number,
): readonly Concept[] | undefined =>
  concepts !== undefined && concepts.length > 0 && conceptsText(concepts, max) === text
    ? concepts
    : undefined;
