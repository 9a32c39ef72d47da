import { describe, expect, it } from 'vitest';
import type { GrantView } from '@hale/client';
import {
  diffOf,
  EMPTY_FORM,
  endsAt,
  formOfGrant,
  formProblems,
  grantChangeOf,
  grantRequestOf,
  preview,
  sameGrant,
  scopeOf,
  USE_PRESETS,
  withUse,
} from './scope';

const NOW = Date.parse('2026-03-01T10:00:00Z');

describe('the share form', () => {
  it('asks for a kind and a purpose, and an end in the future', () => {
    expect(formProblems(EMPTY_FORM, NOW)).toEqual({
      scope: 'care.share.needKind',
      purpose: 'care.share.needPurpose',
    });
    const dated = {
      ...EMPTY_FORM,
      levels: { 'lab-result': 'read' as const },
      purpose: 'x',
      expiry: 'date' as const,
    };
    expect(formProblems({ ...dated, until: '' }, NOW)).toEqual({ until: 'care.share.needDate' });
    expect(formProblems({ ...dated, until: '2020-01-01' }, NOW)).toEqual({ until: 'care.share.datePast' });
    expect(formProblems({ ...dated, until: '2099-01-01' }, NOW)).toEqual({});
  });

  it('makes the grant request: kinds in chart order with their access, a duration or an end', () => {
    const form = {
      ...EMPTY_FORM,
      levels: {
        'treatment-plan': 'write' as const,
        'lab-result': 'write' as const,
        allergy: 'read' as const,
        medication: 'read' as const,
        'family-history': 'read' as const,
        condition: 'read' as const,
        profile: 'none' as const,
      },
      purpose: '  diabetes care ',
    };
    expect(grantRequestOf('P', form)).toEqual({
      granteeId: 'P',
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'condition', access: 'read' },
        { type: 'family-history', access: 'read' },
        { type: 'medication', access: 'read' },
        { type: 'lab-result', access: 'write' },
        { type: 'treatment-plan', access: 'write' },
      ],
      purpose: 'diabetes care',
      durationMs: 30 * 24 * 3_600_000,
    });
    const dated = grantRequestOf('P', { ...form, expiry: 'date', until: '2099-01-01' });
    expect(dated.durationMs).toBeUndefined();
    expect(new Date(dated.expiresAt ?? '').getDate()).toBe(1);
  });

  const words = (use: string): string => `words of ${use}`;

  it('a use fills its preset of kinds and duration and its words, which the person may change', () => {
    const ongoing = withUse(EMPTY_FORM, 'ongoing', words);
    expect(ongoing.use).toBe('ongoing');
    expect(ongoing.levels).toEqual(USE_PRESETS.ongoing.levels);
    expect(ongoing.expiry).toBe('365d');
    expect(ongoing.purpose).toBe('words of ongoing');
    expect(formProblems(ongoing, NOW)).toEqual({});
    // Another use replaces the preset and the words it wrote, but not words of the person's own.
    const look = withUse(ongoing, 'look', words);
    expect(look.levels).toEqual(USE_PRESETS.look.levels);
    expect(look.purpose).toBe('words of look');
    expect(withUse({ ...ongoing, purpose: 'my diabetes' }, 'visit', words).purpose).toBe('my diabetes');
    // "Something else" keeps the choices as they were, and no preset words.
    const other = withUse(ongoing, 'other', words);
    expect(other.levels).toEqual(ongoing.levels);
    expect(other.purpose).toBe('');
    // Adjusted after the preset: the change is what is granted.
    const adjusted = { ...ongoing, levels: { ...ongoing.levels, message: 'none' as const } };
    expect(scopeOf(adjusted).some((s) => s.type === 'message')).toBe(false);
  });

  it('note signatures go with notes, at their access', () => {
    const notes = { ...EMPTY_FORM, levels: { note: 'write' as const }, purpose: 'x' };
    expect(scopeOf(notes)).toEqual([
      { type: 'note', access: 'write' },
      { type: 'note-signature', access: 'write' },
    ]);
    expect(scopeOf({ ...notes, levels: { note: 'read' } })).toContainEqual({
      type: 'note-signature',
      access: 'read',
    });
    // Chosen apart, signatures alone are not granted.
    expect(scopeOf({ ...notes, levels: { 'note-signature': 'write' } })).toEqual([]);
  });

  it('previews what the clinician sees and can do, in chart order', () => {
    const form = withUse(EMPTY_FORM, 'ongoing', words);
    const p = preview(scopeOf(form));
    expect(p.sees).toContain('allergy');
    expect(p.sees).not.toContain('note-signature');
    expect(p.can).toEqual(expect.arrayContaining(['message', 'book', 'plans', 'notes', 'visits']));
    expect(p.addsTo).toEqual(['lab-result']);
    expect(preview(scopeOf(withUse(EMPTY_FORM, 'look', words)))).toMatchObject({ can: [], addsTo: [] });
    expect(preview([])).toEqual({ sees: [], can: [], addsTo: [] });
    // Notes to read and signatures to write: they co-sign.
    expect(
      preview([
        { type: 'note', access: 'read' },
        { type: 'note-signature', access: 'write' },
      ]),
    ).toEqual({ sees: ['note'], can: ['sign'], addsTo: [] });
  });
});

describe('a change of a grant', () => {
  const END = Date.parse('2026-04-01T10:00:00Z');
  const view = {
    grant: {
      grantId: 'g1',
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'note', access: 'write' },
        { type: 'note-signature', access: 'write' },
      ],
      expiresAt: new Date(END).toISOString(),
    },
    purpose: 'ongoing care',
  } as unknown as GrantView;

  it('starts from the grant: its kinds (signatures with notes), its end kept, its purpose', () => {
    const form = formOfGrant(view);
    expect(form).toMatchObject({ levels: { allergy: 'read', note: 'write' }, expiry: 'keep', keptEnd: END });
    expect(scopeOf(form)).toEqual(view.grant.scope);
    expect(grantChangeOf(form)).toEqual({
      scope: view.grant.scope,
      purpose: 'ongoing care',
      expiresAt: new Date(END).toISOString(),
    });
    expect(endsAt(form, NOW)).toBe(END);
    expect(formProblems(form, NOW)).toEqual({});
    expect(formProblems(form, END + 1)).toEqual({ until: 'care.share.datePast' });
    expect(sameGrant(diffOf(view.grant.scope, END, scopeOf(form), END))).toBe(true);
  });

  it('says what changes: kinds added and left out, access moved, the end', () => {
    const form = formOfGrant(view);
    const next = {
      ...form,
      levels: { note: 'read' as const, condition: 'read' as const },
      expiry: '90d' as const,
    };
    const diff = diffOf(view.grant.scope, END, scopeOf(next), endsAt(next, NOW));
    expect(diff).toEqual({
      added: ['condition'],
      removed: ['allergy'],
      toWrite: [],
      toRead: ['note'],
      end: { from: END, to: NOW + 90 * 24 * 3_600_000 },
    });
    expect(sameGrant(diff)).toBe(false);
    expect(grantChangeOf(next)).toMatchObject({ durationMs: 90 * 24 * 3_600_000 });
  });
});
