import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, formProblems, grantRequestOf } from './scope';

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
});
