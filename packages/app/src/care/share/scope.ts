// What a patient chooses to share, as the form keeps it, and the grant request it makes. Pure: the form's
// checks (at least one kind, a purpose, an end in the future) are said at the field before the library's.
import type { GrantRequest } from '@hale/client';
import type { StreamType } from '@hale/model';
import { SHARED_KINDS } from '../streams';

export type Level = 'none' | 'read' | 'write';
export const EXPIRIES = ['1d', '7d', '30d', '90d', '365d', 'date'] as const;
export type Expiry = (typeof EXPIRIES)[number];

export interface ShareForm {
  readonly levels: Readonly<Partial<Record<StreamType, Level>>>;
  readonly expiry: Expiry;
  /** YYYY-MM-DD, for `expiry: 'date'`: access ends at the end of that day, this device's time. */
  readonly until: string;
  readonly purpose: string;
}

export const EMPTY_FORM: ShareForm = { levels: {}, expiry: '30d', until: '', purpose: '' };

const DAY = 24 * 3_600_000;
const DAYS: Record<Exclude<Expiry, 'date'>, number> = { '1d': 1, '7d': 7, '30d': 30, '90d': 90, '365d': 365 };

export type FormErrors = Partial<Record<'scope' | 'until' | 'purpose', string>>;

/** The form's problems, as i18n keys by field (empty: the form can be sent). */
export const formProblems = (form: ShareForm, now: number): FormErrors => {
  const errors: { -readonly [K in keyof FormErrors]: string } = {};
  if (!SHARED_KINDS.some((k) => (form.levels[k] ?? 'none') !== 'none')) errors.scope = 'care.share.needKind';
  if (form.purpose.trim() === '') errors.purpose = 'care.share.needPurpose';
  else if (form.purpose.length > 500) errors.purpose = 'care.share.purposeLong';
  if (form.expiry === 'date') {
    const end = endOfDay(form.until);
    if (end === null) errors.until = 'care.share.needDate';
    else if (end <= now) errors.until = 'care.share.datePast';
  }
  return errors;
};

const endOfDay = (date: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const end = new Date(y, m - 1, d, 23, 59, 59, 0).getTime();
  return Number.isNaN(end) ? null : end;
};

export const scopeOf = (form: ShareForm): GrantRequest['scope'] =>
  SHARED_KINDS.flatMap((type) => {
    const level = form.levels[type] ?? 'none';
    return level === 'none' ? [] : [{ type: type as GrantRequest['scope'][number]['type'], access: level }];
  });

export const grantRequestOf = (granteeId: string, form: ShareForm): GrantRequest => ({
  granteeId,
  scope: scopeOf(form),
  purpose: form.purpose.trim(),
  ...(form.expiry === 'date'
    ? { expiresAt: new Date(endOfDay(form.until) ?? 0).toISOString() }
    : { durationMs: DAYS[form.expiry] * DAY }),
});

/** When access would end if granted at `now`. */
export const endsAt = (form: ShareForm, now: number): number | null =>
  form.expiry === 'date' ? endOfDay(form.until) : now + DAYS[form.expiry] * DAY;
