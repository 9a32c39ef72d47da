/**
 * Between a record and a form's values (strings and booleans, as typed). `recordInput` builds what the
 * records API takes: empty text left out (on an edit: `undefined`, which removes the field), numbers from
 * lab values that are numbers, instants with this device's offset.
 */
import { dayjs } from '../boot/dayjs';
import { nestValues, type DraftValues } from './drafts';
import type { FieldSpec, KindSpec } from './kinds';

/** The value at a dotted path of a record. */
export const valueAt = (record: Readonly<Record<string, unknown>>, path: string): unknown => {
  let at: unknown = record;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = new Map<string, unknown>(Object.entries(at)).get(part);
  }
  return at;
};

/** `2024-05-01T09:30` (a datetime-local value) from an ISO instant, in this device's zone. */
export const toLocalInput = (iso: string): string => {
  const d = dayjs(iso);
  return d.isValid() ? d.format('YYYY-MM-DDTHH:mm') : iso;
};

/** An ISO instant with this device's offset from a datetime-local value; the text as typed when none. */
export const fromLocalInput = (local: string): string => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(local)) return local;
  const d = dayjs(local);
  return d.isValid() ? d.format('YYYY-MM-DDTHH:mm:ssZ') : local;
};

const initialOf = (field: FieldSpec): string | boolean =>
  field.initial ?? (field.type === 'boolean' ? false : '');

/** A field's value in form values (under its group for a dotted field); a draft kept flat is read too. */
export const formValue = (values: DraftValues, name: string): string | boolean | undefined => {
  const at = valueAt(values, name) ?? values[name];
  return typeof at === 'string' || typeof at === 'boolean' ? at : undefined;
};

export const emptyValues = (spec: KindSpec, extra: readonly FieldSpec[] = []): DraftValues =>
  nestValues([...spec.fields, ...extra].map((f) => [f.name, initialOf(f)] as const));

export const valuesFromRecord = (
  spec: KindSpec,
  record: Readonly<Record<string, unknown>>,
  extra: readonly FieldSpec[] = [],
): DraftValues =>
  nestValues(
    [...spec.fields, ...extra].map((field): [string, string | boolean] => {
      const value = valueAt(record, field.name);
      if (field.type === 'boolean') return [field.name, value === true];
      if (value === undefined || value === null) return [field.name, ''];
      if (field.type === 'times' && Array.isArray(value)) return [field.name, value.join(', ')];
      if (field.type === 'instant' && typeof value === 'string') {
        // A lab taken on a day only (no time) stays a day.
        return [field.name, value.length > 10 ? toLocalInput(value) : value];
      }
      return [
        field.name,
        typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value),
      ];
    }),
  );

/** Times of day as typed (`8:00, 20:00`, `08.00 20.00`): `HH:MM`, earliest first; a part not a time kept as typed. */
export const timesOf = (text: string): string[] =>
  [
    ...new Set(
      text
        .split(/[,;\s]+/)
        .filter((part) => part !== '')
        .map((part) => {
          const m = /^(\d{1,2})[:.h](\d{2})$/.exec(part);
          return m === null ? part : `${(m[1] ?? '').padStart(2, '0')}:${m[2] ?? ''}`;
        }),
    ),
  ].sort();

const fieldValue = (field: FieldSpec, raw: string | boolean | undefined): unknown => {
  if (field.type === 'boolean') return raw === true;
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (text === '') return undefined;
  switch (field.type) {
    case 'instant':
      return fromLocalInput(text);
    case 'age':
      // Whole years; anything else is left as typed, for the model to refuse at the field.
      return /^\d{1,3}$/.test(text) ? Number(text) : text;
    case 'times':
      return timesOf(text);
    case 'labValue': {
      const n = Number(text.replace(',', '.'));
      return /^[-+]?\d*[.,]?\d+(e[-+]?\d+)?$/i.test(text) && Number.isFinite(n) ? n : text;
    }
    default:
      return text;
  }
};

/**
 * The fields of `values` as the records API takes them. Nested paths (`contact.phone`) become objects,
 * left out when all their parts are empty. With `forUpdate`, empty fields are `undefined` (removed).
 */
export const recordInput = (
  fields: readonly FieldSpec[],
  values: DraftValues,
  forUpdate: boolean,
): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  const nested = new Map<string, Record<string, unknown>>();
  for (const field of fields) {
    const value = fieldValue(field, formValue(values, field.name));
    const [head, tail] = field.name.split('.', 2) as [string, string | undefined];
    if (tail !== undefined) {
      // A switch left off does not make a group of its own (no `schedule: { asNeeded: false }` alone).
      const group = nested.get(head) ?? {};
      if (value !== undefined && value !== false) group[tail] = value;
      nested.set(head, group);
    } else if (value !== undefined || forUpdate) {
      out[head] = value;
    }
  }
  for (const [head, group] of nested) {
    if (Object.keys(group).length > 0) out[head] = group;
    else if (forUpdate) out[head] = undefined;
  }
  return out;
};
