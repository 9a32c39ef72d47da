/**
 * How strong a passphrase is, by zxcvbn (a maintained estimator with common-password and English
 * dictionaries): a score 0-4, a crack-time estimate and a hint. Weak ones are refused: fewer than
 * MIN_PASSPHRASE_LENGTH characters or a score under ACCEPTED_SCORE. The person's own names count against it.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';
import { MIN_PASSPHRASE_LENGTH } from '@hale/client';

const zxcvbn = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...english.dictionary },
  graphs: common.adjacencyGraphs,
  translations: english.translations,
});

export const ACCEPTED_SCORE = 3;

export interface Strength {
  readonly score: 0 | 1 | 2 | 3 | 4;
  readonly accepted: boolean;
  readonly tooShort: boolean;
  /** The estimator's advice, in English: shown only beside the app's own words. */
  readonly warning: string;
}

export const passphraseStrength = (passphrase: string, userInputs: readonly string[] = []): Strength => {
  const tooShort = [...passphrase].length < MIN_PASSPHRASE_LENGTH;
  const result = zxcvbn.check(
    passphrase,
    userInputs.filter((s) => s.trim() !== ''),
  );
  return {
    score: result.score,
    accepted: !tooShort && result.score >= ACCEPTED_SCORE,
    tooShort,
    warning: result.feedback.warning ?? '',
  };
};
