/**
 * A refusal of the model at one field, in the person's language: a write rule by its code, the common
 * schema reasons by their wording (validate.ts words them), anything else as the model says it.
 */
import type { TFunction } from 'i18next';
import type { WriteRuleCode } from '@hale/model';

export interface FieldIssue {
  readonly field: string;
  readonly reason: string;
  readonly rule?: string;
}

/** Write rules said in the person's words (fieldError.rule.<code>); error-words.type-test.ts checks the keys. */
const RULES: ReadonlySet<string> = new Set<WriteRuleCode>([
  'NEXT_DOSE_BEFORE_ADMINISTRATION',
  'DATE_IN_FUTURE',
  'PUBLISHED_BEFORE_EFFECTIVE',
  'REFERENCE_RANGE_INVERTED',
  'ADMINISTERED_BEFORE_BIRTH',
]);

export const issueText = (t: TFunction, issue: FieldIssue): string => {
  if (issue.rule !== undefined && RULES.has(issue.rule)) return t(`fieldError.rule.${issue.rule}`);
  const reason = issue.reason;
  if (reason === 'is required' || reason === 'must not be empty') return t('fieldError.required');
  const atMost = /^must be at most (\d+) characters?$/.exec(reason);
  if (atMost !== null) return t('fieldError.tooLong', { count: Number(atMost[1]) });
  if (reason.startsWith('must be one of')) return t('fieldError.choose');
  if (/calendar date|date-time|year or a month/.test(reason)) return t('fieldError.date');
  if (reason.includes('account or device id')) return t('fieldError.account');
  if (reason.startsWith('must not be before')) return t('fieldError.order');
  if (reason === 'must be an integer') return t('fieldError.wholeNumber');
  const bound = /^must be at (least|most) (\d+)$/.exec(reason);
  if (bound !== null)
    return t(bound[1] === 'least' ? 'fieldError.atLeast' : 'fieldError.atMost', { n: bound[2] });
  return reason;
};

/** The form field an issue belongs to: `contact.phone` stays, `versions[0].x` goes to the record. */
export const formFieldOf = (field: string): string => field.replace(/\[\d+\].*$/, '');
