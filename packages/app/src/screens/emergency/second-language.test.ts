import { describe, expect, it } from 'vitest';
import { secondLanguages } from './second-language';

describe('the emergency card’s second language', () => {
  it('offers the app’s other languages, English first offered', () => {
    expect(secondLanguages('zh-Hant')).toEqual({ choices: ['en', 'zh-Hans'], first: 'en' });
    expect(secondLanguages('zh-Hans')).toEqual({ choices: ['en', 'zh-Hant'], first: 'en' });
  });

  it('never offers the app’s own language: in English, Traditional Chinese first', () => {
    expect(secondLanguages('en')).toEqual({ choices: ['zh-Hant', 'zh-Hans'], first: 'zh-Hant' });
  });
});
