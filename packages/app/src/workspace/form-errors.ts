/**
 * A refused write on a workspace form: the model's issues at their fields (the form keeps what was
 * typed), anything else above the form in words. Answers the text to show above the form.
 */
import type { TFunction } from 'i18next';
import type { UseFormReturnType } from '@mantine/form';
import { isHaleError } from '@hale/client';
import { formFieldOf, issueText } from '../i18n/field-errors';
import { errorText } from './ui';

export const refusalText = <V>(
  t: TFunction,
  e: unknown,
  known: ReadonlySet<string>,
  form: UseFormReturnType<V>,
  rename: (field: string) => string = (f) => f,
): string => {
  if (isHaleError(e, 'VALIDATION_FAILED') && e.issues !== undefined) {
    const errors: Record<string, string> = {};
    const rest: string[] = [];
    for (const issue of e.issues) {
      const field = rename(formFieldOf(issue.field));
      if (known.has(field)) errors[field] = issueText(t, issue);
      else rest.push(`${t(`fields.${field}`, { defaultValue: field })}: ${issueText(t, issue)}`);
    }
    form.setErrors(errors);
    return rest.length > 0 ? rest.join('\n') : t('records.fixFields');
  }
  return errorText(t, e);
};
