/**
 * Simplified Chinese error words from the Traditional (src/i18n/error-words-zh-Hant.ts), as scripts/zh-hans.ts
 * makes the rest: OpenCC (Taiwan with its phrases to mainland China), then the reviewed terms. Written by
 * `npm run i18n:hans -w packages/app`; src/i18n/error-words.test.ts fails when the file is not what this makes.
 */
import * as OpenCC from 'opencc-js';
import { errorWordsZhHant } from '../src/i18n/error-words-zh-Hant';
import type { ErrorWords } from '../src/i18n/error-words';
import { TERMS } from './zh-hans';

/** Reviewed beside TERMS: the converter's word where mainland apps use another. */
const ERROR_TERMS: readonly (readonly [string, string])[] = [
  ['运行此操作', '执行此操作'],
  ['未运行任何操作', '未执行任何操作'],
];

export const makeErrorWordsZhHans = (): ErrorWords => {
  const converter = OpenCC.Converter({ from: 'twp', to: 'cn' });
  const terms = (text: string): string =>
    [...TERMS, ...ERROR_TERMS].reduce((t, [from, to]) => t.replaceAll(from, to), text);
  return Object.fromEntries(
    Object.entries(errorWordsZhHant).map(([code, text]) => [code, terms(converter(text))]),
  ) as ErrorWords;
};

export const ERROR_WORDS_ZH_HANS_HEADER =
  '// 简体中文: made from error-words-zh-Hant.ts by OpenCC with the reviewed terms (scripts/zh-hans-errors.ts);\n' +
  '// do not edit by hand: change error-words-zh-Hant.ts, then `npm run i18n:hans -w packages/app`.\n' +
  "import type { ErrorWords } from './error-words';\n\n";
