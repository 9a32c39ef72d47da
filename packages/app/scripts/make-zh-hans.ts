// `npm run i18n:hans -w packages/app`: writes src/i18n/zh-Hans.ts from zh-Hant.ts (scripts/zh-hans.ts), and
// src/i18n/error-words-zh-Hans.ts from error-words-zh-Hant.ts (scripts/zh-hans-errors.ts).
import { writeFileSync } from 'node:fs';
import { makeZhHans } from './zh-hans';
import { ERROR_WORDS_ZH_HANS_HEADER, makeErrorWordsZhHans } from './zh-hans-errors';

const header =
  '// 简体中文: made from zh-Hant.ts by OpenCC with reviewed corrections (scripts/zh-hans.ts); do not edit by\n' +
  '// hand: change zh-Hant.ts or the corrections, then `npm run i18n:hans -w packages/app`.\n' +
  "import type { Translation } from './en';\n\n";
writeFileSync(
  new URL('../src/i18n/zh-Hans.ts', import.meta.url),
  `${header}export const zhHans: Translation = ${JSON.stringify(makeZhHans(), null, 2)};\n`,
);
writeFileSync(
  new URL('../src/i18n/error-words-zh-Hans.ts', import.meta.url),
  `${ERROR_WORDS_ZH_HANS_HEADER}export const errorWordsZhHans: ErrorWords = ${JSON.stringify(makeErrorWordsZhHans(), null, 2)};\n`,
);
