// The workspace's words built from tables at run time (end reasons, states, the safety banner's states,
// care codes, notification types, note statuses, roles, form parts) exist in every language; i18n.test.ts
// checks the literal keys and the languages' shapes.
import { describe, expect, it } from 'vitest';
import { CARE_ERROR_CODES, CARE_NOTIFICATION_TYPES } from '@hale/client';
import { NOTE_STATUSES } from '@hale/model';
import { en } from '../../i18n/en';
import { zhHant } from '../../i18n/zh-Hant';
import { zhHans } from '../../i18n/zh-Hans';
import { CHART_STATES, END_REASONS } from '../patients/grant-words';
import { WORDED_STATES } from '../patients/banner-state';

type Tree = { readonly [key: string]: string | Tree };
const has = (tree: Tree, path: string): boolean => {
  let at: string | Tree | undefined = tree;
  for (const part of path.split('.')) {
    if (typeof at !== 'object') return false;
    at = at[part];
  }
  return typeof at === 'string';
};
const plural = (tree: Tree, path: string): boolean =>
  has(tree, path) || (has(tree, `${path}_one`) && has(tree, `${path}_other`));

const families = (): string[] => [
  ...END_REASONS.map((r) => `workspace.endReason.${r}`),
  ...CHART_STATES.map((s) => `workspace.chartState.${s}`),
  ...CARE_ERROR_CODES.map((c) => `workspace.error.${c}`),
  ...CARE_NOTIFICATION_TYPES.map((n) => `workspace.notification.${n}`),
  ...NOTE_STATUSES.map((s) => `workspace.noteStatus.${s}`),
  ...['attending', 'supervisor', 'consultant', 'author'].map((r) => `workspace.cosign.roles.${r}`),
  ...['weekly', 'exceptions', 'dates', 'other'].map((p) => `workspace.availability.refused.${p}`),
  ...WORDED_STATES.flatMap((s) => [`workspace.banner.state.${s}`, `workspace.banner.brief.${s}`]),
  ...['allergies', 'medications', 'problems'].map((p) => `workspace.banner.short.${p}`),
  ...['subjective', 'objective', 'assessment', 'plan'].map((f) => `workspace.note.hint.${f}`),
  ...['displayName', 'specialty', 'clinic', 'identifier', 'contact'].flatMap((f) => [
    `workspace.profile.${f}`,
    `workspace.profile.hint.${f}`,
  ]),
];

describe('workspace translations', () => {
  it.each([
    ['en', en],
    ['zh-Hant', zhHant],
    ['zh-Hans', zhHans],
  ] as const)('%s has every key the workspace builds from its tables', (_lang, tree) => {
    const missing = families().filter((k) => !plural(tree as unknown as Tree, k));
    expect(missing).toEqual([]);
  });
});
