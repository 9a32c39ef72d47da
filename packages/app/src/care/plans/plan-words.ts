/**
 * A plan's content fields in words, as its diff names them (`session.care.plans.diff`): the field's label,
 * and a value (a status by its name, a date formatted, a goal or a re-check as the diff says it).
 */
import type { TFunction } from 'i18next';
import { formatDate } from '../../records/format';

export const planFieldLabel = (t: TFunction, field: string): string => t(`care.plans.field.${field}`);

export const planValue = (t: TFunction, field: string, value: string | undefined): string =>
  value === undefined
    ? t('care.plans.notSet')
    : field === 'status'
      ? t(`enum.planStatus.${value}`)
      : field.startsWith('effective')
        ? formatDate(value)
        : value;
