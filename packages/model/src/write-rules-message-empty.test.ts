// A message may have an empty body when it sends attachments (data-model.md, Message); one with neither
// says nothing, yet the schema must keep taking it (stored messages stay readable), so it is a write rule.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import { validateRecord } from './validate';
import { WRITE_RULE_CODES, checkWriteRules } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');

/** `field rule` of each issue of the example Message with `overrides` (undefined: left out). */
const broken = (
  overrides: Readonly<Record<string, unknown>>,
  previous?: Readonly<Record<string, unknown>>,
): string[] => {
  const record = validateRecord(
    'Message',
    JSON.parse(JSON.stringify({ ...exampleRecord('Message'), ...overrides })),
  );
  if (!record.ok) throw new Error(record.error.message);
  const result = checkWriteRules('Message', record.value, NOW, previous);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field} ${issue.rule}`);
};

describe('checkWriteRules: a message that says nothing', () => {
  it('appends its code after the earlier ones', () => {
    expect(WRITE_RULE_CODES.slice(10)).toEqual(['MESSAGE_EMPTY']);
  });

  it('refuses a body with nothing visible and no attachment', () => {
    for (const body of ['', '   ', '\u200b\n']) {
      expect(broken({ body, attachments: undefined })).toEqual(['body MESSAGE_EMPTY']);
      expect(broken({ body, attachments: [] })).toEqual(['body MESSAGE_EMPTY']);
    }
  });

  it('takes an empty body with an attachment, and any text without one', () => {
    expect(broken({ body: '' })).toEqual([]);
    expect(broken({ body: 'Thanks', attachments: undefined })).toEqual([]);
  });

  it('does not judge a stored empty message again when only its delivery moves', () => {
    const stored = JSON.parse(
      JSON.stringify({ ...exampleRecord('Message'), body: '', attachments: undefined }),
    ) as Record<string, unknown>;
    expect(
      broken({ body: '', attachments: undefined, status: 'read' }, { ...stored, status: 'delivered' }),
    ).toEqual([]);
  });
});
