// The error words: every code of the client's table in every language (Chinese in the Chinese ones), the
// Simplified table what OpenCC makes of the Traditional, and a failure said by its area's key first, then
// by the language's table, then by the client's English.
import { describe, expect, it, vi } from 'vitest';
import * as client from '@hale/client';
import { HALE_ERRORS, HALE_ERROR_CODE_LIST, HaleError, type HaleErrorCode } from '@hale/client';
import { createI18n } from './index';
import { haleErrorText } from './error-words';
import { errorWordsZhHant } from './error-words-zh-Hant';
import { errorWordsZhHans } from './error-words-zh-Hans';
import { makeErrorWordsZhHans } from '../../scripts/zh-hans-errors';

vi.mock('../boot/platform', () => ({ loadedClient: () => client }));

class Refusal extends HaleError {
  constructor(readonly code: HaleErrorCode) {
    super('the library message');
  }
}

const CJK = /[\u3400-\u9fff]/;

describe('error words', () => {
  it('word every code of the table, and only those, in Chinese', () => {
    for (const table of [errorWordsZhHant, errorWordsZhHans]) {
      expect(Object.keys(table)).toEqual(HALE_ERROR_CODE_LIST);
      expect(Object.entries(table).filter(([, words]) => !CJK.test(words))).toEqual([]);
    }
  });

  it('has the Simplified table made from the Traditional', () => {
    expect(errorWordsZhHans).toEqual(makeErrorWordsZhHans());
  });

  it('say a failure by its area key, else by the language table, else in the client English', async () => {
    const zh = await createI18n('zh-Hant');
    expect(haleErrorText(zh.t, new Refusal('NOT_FOUND'), 'recordError')).toBe(zh.t('recordError.NOT_FOUND'));
    expect(haleErrorText(zh.t, new Refusal('KIND_MISMATCH'), 'recordError')).toBe(
      errorWordsZhHant.KIND_MISMATCH,
    );
    const en = await createI18n('en');
    expect(haleErrorText(en.t, new Refusal('KIND_MISMATCH'), 'recordError')).toBe(
      HALE_ERRORS.KIND_MISMATCH.words,
    );
    expect(haleErrorText(en.t, new Refusal('NOT_FOUND'))).toBe(HALE_ERRORS.NOT_FOUND.words);
  });
});
