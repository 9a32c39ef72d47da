/**
 * i18next with the app's three languages, bundled (no loading: the app works offline).
 *
 * | language | source |
 * |---|---|
 * | `en` | en.ts, the reference: every key is defined here first |
 * | `zh-Hant` | zh-Hant.ts, typed against en.ts (a missing key fails the type check), terms of the Traditional Chinese reference template |
 * | `zh-Hans` | zh-Hans.ts, made from zh-Hant by OpenCC (scripts/make-zh-hans.ts) and reviewed |
 *
 * Error words are a namespace of their own (`errors`, error-words.ts): English from the client's table,
 * the others keyed on HaleErrorCode (error-words-zh-Hant.ts, error-words-zh-Hans.ts).
 *
 * Invariant: i18n.test.ts fails on a key used in the source but missing from a language, or present in one
 * language and not another. A key missing at run time shows the English text, never the key.
 */
import i18next, { type i18n as I18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import type { Language } from '../boot/settings';
import { en } from './en';
import { zhHant } from './zh-Hant';
import { zhHans } from './zh-Hans';
import { ERROR_NS } from './error-words';
import { errorWordsZhHant } from './error-words-zh-Hant';
import { errorWordsZhHans } from './error-words-zh-Hans';

export const RESOURCES = {
  en: { translation: en },
  'zh-Hant': { translation: zhHant, [ERROR_NS]: errorWordsZhHant },
  'zh-Hans': { translation: zhHans, [ERROR_NS]: errorWordsZhHans },
} as const;

/** The BCP 47 tag to put on <html lang>: what screen readers and fonts read. */
export const HTML_LANG: Record<Language, string> = {
  en: 'en',
  'zh-Hant': 'zh-Hant-TW',
  'zh-Hans': 'zh-Hans-CN',
};

export const createI18n = async (language: Language): Promise<I18n> => {
  const instance = i18next.createInstance();
  await instance.use(initReactI18next).init({
    resources: RESOURCES,
    ns: ['translation', ERROR_NS],
    defaultNS: 'translation',
    lng: language,
    fallbackLng: 'en',
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  return instance;
};
