// How a field's value reads on screen: dates in the person's language, choices by their label, people by
// name where the app knows them.
import { formatClock, formatDay, formatMonth } from '../boot/dates';
import type { TFunction } from 'i18next';
import type { FieldSpec, KindSpec } from './kinds';
import { valueAt } from './values';

export const formatDate = (value: string): string => {
  if (/^\d{4}$/.test(value)) return value;
  // A month of a year in the language's own order ("Jun 2021", "2021年6月").
  if (/^\d{4}-\d{2}$/.test(value)) {
    const [year, month] = value.split('-').map(Number) as [number, number];
    return formatMonth(year, month);
  }
  return formatDay(value, { time: value.length > 10 });
};

/** The time of day of an instant, in the person's language (`8:10 AM`, `上午8:10`). */
export const formatTime = (value: string): string => formatClock(value);

/** A wall-clock time of day (`HH:MM`, a schedule's) as the language writes times: `8:00 PM`, `20:00`. */
export const formatTimeOfDay = (hhmm: string): string => {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m === null ? hhmm : formatClock(Date.UTC(2000, 0, 1, Number(m[1]), Number(m[2])), 'UTC');
};

export const shortId = (id: string): string => (id.length > 10 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id);

export const formatField = (
  t: TFunction,
  field: FieldSpec | undefined,
  value: unknown,
  me?: string,
): string => {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'boolean') return value ? t('common.yes') : t('common.no');
  // An age in whole years; 0 is from birth.
  if (typeof value === 'number' && field?.type === 'age')
    return value === 0 ? t('records.atBirth') : t('records.age', { n: value });
  if (typeof value === 'number') return String(value);
  if (field?.type === 'times' && Array.isArray(value))
    return value.map((v) => (typeof v === 'string' ? formatTimeOfDay(v) : String(v))).join(', ');
  if (typeof value !== 'string') return JSON.stringify(value);
  switch (field?.type) {
    case 'select':
      return t(`enum.${field.enumName ?? field.name}.${value}`, { defaultValue: value });
    case 'date':
    case 'instant':
    case 'partialDate':
      return formatDate(value);
    case 'account':
      return value === me ? t('common.you') : shortId(value);
    default:
      return value;
  }
};

const DATE_LIKE = /^\d{4}(-\d{2}){0,2}(T.*)?$/;

/** A row's title: the kind's title field, else its first filled field. */
export const recordTitle = (
  t: TFunction,
  spec: KindSpec,
  record: Readonly<Record<string, unknown>>,
): string => {
  const title = valueAt(record, spec.titleField);
  if (typeof title === 'string' && title.trim() !== '') return title;
  if (spec.untitledIsKind) return t(`kinds.${spec.slug}.one`);
  return t('records.untitled');
};

/** A row's second line: the summary fields that are set, formatted, joined. */
export const recordSummary = (
  t: TFunction,
  spec: KindSpec,
  record: Readonly<Record<string, unknown>>,
  me?: string,
): string =>
  spec.summaryFields
    .map((name) => {
      const field = spec.fields.find((f) => f.name === name);
      const value = valueAt(record, name);
      if (field === undefined && typeof value === 'string' && DATE_LIKE.test(value)) return formatDate(value);
      return formatField(t, field, value, me);
    })
    .filter((s) => s !== '')
    .join(' · ');
