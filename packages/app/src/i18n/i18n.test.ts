// A missing translation fails here: every key the source uses (literal keys, and the families built from
// the record kinds, enumerations and code tables) must exist in every language; the languages must have the
// same keys; Chinese strings must be Chinese; the Simplified file must be what OpenCC and the review make.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { en } from './en';
import { zhHant } from './zh-Hant';
import { zhHans } from './zh-Hans';
import { RECORD_KIND_NAMES, translationKeys } from '@hale/model';
import { KNOWN_ISSUES, KNOWN_QUARANTINE } from '../screens/problems/describe';
import { ACCOUNT_ERRORS } from '../screens/start/account-errors';
import { NAV_SECTIONS } from '../layout/nav';
import { COLOR_SCHEMES, LANGUAGES } from '../boot/settings';
import { makeZhHans } from '../../scripts/zh-hans';
import { careFamilyKeys } from '../care/i18n-families';
import { PAIRING_ERROR_CODES, REVOCATION_NOTICE } from '@hale/client';

type Tree = { readonly [key: string]: string | Tree };

const flatten = (tree: Tree, at = ''): Map<string, string> => {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const p = at === '' ? key : `${at}.${key}`;
    if (typeof value === 'string') out.set(p, value);
    else for (const [k, v] of flatten(value, p)) out.set(k, v);
  }
  return out;
};

const LANGS = { en: flatten(en), 'zh-Hant': flatten(zhHant), 'zh-Hans': flatten(zhHans) };

const has = (keys: Map<string, string>, key: string): boolean =>
  keys.has(key) || (keys.has(`${key}_one`) && keys.has(`${key}_other`));

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.test.ts') ? [p] : [];
  });

/** Keys written literally: t('a.b'), label: 'nav.x' in nav.ts. */
const literalKeys = (): string[] => {
  const keys = new Set<string>();
  for (const file of sourceFiles(path.join(import.meta.dirname, '..'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z0-9_.-]+)'/g)) keys.add(m[1] ?? '');
  }
  return [...keys];
};

/** Keys built from tables at run time (template literals in the source). */
const familyKeys = (): string[] => {
  const keys: string[] = [];
  for (const kind of RECORD_KIND_NAMES) keys.push(...translationKeys(kind));
  for (const code of KNOWN_ISSUES) keys.push(`problem.${code}.title`, `problem.${code}.todo`);
  for (const reason of KNOWN_QUARANTINE) keys.push(`quarantine.${reason}.title`, `quarantine.${reason}.todo`);
  for (const code of ACCOUNT_ERRORS) keys.push(`accountError.${code}`);
  for (const code of PAIRING_ERROR_CODES) keys.push(`pairing.error.${code}`);
  for (const code of ['NO_CAMERA_API', 'DENIED', 'NO_CAMERA']) keys.push(`pairing.camera.${code}`);
  for (const s of NAV_SECTIONS) keys.push(s.label, ...s.items.map((i) => i.label));
  for (const l of LANGUAGES) keys.push(`languages.${l}`);
  for (const c of COLOR_SCHEMES) keys.push(`settings.themes.${c}`);
  for (const s of ['reading', 'queued', 'uploading', 'failed', 'refused', 'uploaded'])
    keys.push(`uploads.state.${s}`);
  for (const n of [0, 1, 2, 3, 4]) keys.push(`passphrase.score${n}`);
  keys.push('trends.flag.high', 'trends.flag.low');
  for (const k of ['original', 'amendment', 'addendum']) keys.push(`enum.noteVersionKind.${k}`);
  keys.push(...careFamilyKeys());
  return keys;
};

/** Strings that read the same in every language: codes, units, formats, the app's name. */
const SAME_EVERYWHERE = /^[\sA-Z0-9+−\-/:()[\].,{}_]*$|^(YYYY.*|Hale|English)$/;
const CJK = /[\u3400-\u9fff]/;

describe('translations', () => {
  it('define every key the source uses, in every language', () => {
    const used = [...literalKeys(), ...familyKeys()];
    expect(used.length).toBeGreaterThan(300);
    for (const [lang, keys] of Object.entries(LANGS)) {
      expect({ lang, missing: used.filter((k) => !has(keys, k)) }).toEqual({ lang, missing: [] });
    }
  });

  it('have the same keys in every language', () => {
    const reference = [...LANGS.en.keys()].sort();
    expect([...LANGS['zh-Hant'].keys()].sort()).toEqual(reference);
    expect([...LANGS['zh-Hans'].keys()].sort()).toEqual(reference);
  });

  it('say Chinese strings in Chinese, with the same placeholders as English', () => {
    for (const lang of ['zh-Hant', 'zh-Hans'] as const) {
      const english = [...LANGS[lang].entries()].filter(([, v]) => !CJK.test(v) && !SAME_EVERYWHERE.test(v));
      expect({ lang, english }).toEqual({ lang, english: [] });
      for (const [key, value] of LANGS[lang]) {
        const want = [...(LANGS.en.get(key) ?? '').matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
        const got = [...value.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
        expect({ key, got }).toEqual({ key, got: want });
      }
    }
  });

  it("say in English exactly the library's statement of what revocation can and cannot do", () => {
    expect(LANGS.en.get('care.sharing.revocationNotice')).toBe(REVOCATION_NOTICE);
  });

  it('keep the Simplified file as OpenCC and the review make it (npm run i18n:hans -w packages/app)', () => {
    expect(zhHans).toEqual(makeZhHans());
  });
});

describe('the language list', () => {
  it('names each language by its own name, whatever the language shown', () => {
    for (const table of [en, zhHant, zhHans]) {
      expect(table.languages).toEqual({ en: 'English', 'zh-Hant': '繁體中文', 'zh-Hans': '简体中文' });
    }
  });
});
