/**
 * A HaleError in the person's language. The client's one error table (HALE_ERRORS) gives every code its
 * English words; each other language has its own table keyed on HaleErrorCode (the i18next namespace
 * `errors`), so a code without words fails to compile. A screen may say a code its own way first (an
 * area's key, e.g. `accountError.NOT_FOUND`: no account has that name); the table's words are the rest.
 *
 * Invariants:
 * - Every HaleError is said in words; its message only for a code this build does not know.
 * - The area keys a screen uses are codes (error-words.type-test.ts checks the area tables' keys).
 */
import type { TFunction } from 'i18next';
import type { HaleError, HaleErrorCode } from '@hale/client';
import { loadedClient } from '../boot/platform';

/** Words for every code of the client's error table. */
export type ErrorWords = Readonly<Record<HaleErrorCode, string>>;

/** The i18next namespace of the error tables (zh-Hant, zh-Hans; English is HALE_ERRORS' own). */
export const ERROR_NS = 'errors';

/** `e` in words: the area's own key (`${area}.${code}`) when the language has one, else the code's. */
export const haleErrorText = (t: TFunction, e: HaleError, area?: string): string => {
  // The library is loaded by the time a call of it failed (the unlock path does not import it).
  const english = loadedClient()?.HALE_ERRORS[e.code]?.words ?? e.message;
  const words = t(e.code, { ns: ERROR_NS, defaultValue: english });
  return area === undefined ? words : t(`${area}.${e.code}`, { defaultValue: words });
};
