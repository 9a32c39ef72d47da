// A lab result marked entered-in-error is withdrawn, not a statement of when anything happened: marking a
// wrong one so (a typo'd year from another device) must not require first writing a plausible date into it.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import { checkWriteRules } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');

describe('checkWriteRules: LabResult entered-in-error', () => {
  it('takes marking a stored result with a future effectiveAt as entered-in-error', () => {
    const stored = exampleRecord('LabResult', { effectiveAt: '2042-05-01T08:10:00Z' });
    const { publishedAt: _p, ...withoutPublished } = stored;
    const marked = { ...withoutPublished, status: 'entered-in-error' as const };
    const result = checkWriteRules('LabResult', marked, NOW, withoutPublished);
    expect(result.ok ? [] : result.error.issues.map((i) => `${i.field} ${i.rule}`)).toEqual([]);
  });

  it('still refuses a future effectiveAt on a result that stands', () => {
    const stored = exampleRecord('LabResult', { effectiveAt: '2042-05-01T08:10:00Z' });
    const { publishedAt: _p, ...withoutPublished } = stored;
    const amended = { ...withoutPublished, status: 'amended' as const };
    const result = checkWriteRules('LabResult', amended, NOW, withoutPublished);
    expect(result.ok ? [] : result.error.issues.map((i) => `${i.field} ${i.rule}`)).toEqual([
      'effectiveAt DATE_IN_FUTURE',
    ]);
  });
});
