/**
 * What a patient chooses to share, as the form keeps it, and the grant request it makes. Pure.
 *
 * - A use (`USES`) is a preset of kinds, access and duration the person may then adjust; "other" is none.
 * - Note signatures follow Notes: they are not chosen apart (a clinician who writes notes signs them).
 * - The form's checks (at least one kind, a purpose, an end in the future) are said at the field before
 *   the library's; `preview` says in words what the clinician will see and be able to do.
 * - A change (`formOfGrant`, `grantChangeOf`) starts from the grant's kinds and keeps its end unless
 *   another is chosen; `diffOf` says what it changes (a kind left out is re-keyed at once).
 */
import type { GrantChange, GrantRequest, GrantView } from '@hale/client';
import type { StreamType } from '@hale/model';
import { SHARED_KINDS } from '../streams';

export type Level = 'none' | 'read' | 'write';
export const EXPIRIES = ['1d', '3d', '7d', '30d', '90d', '365d', 'date'] as const;
export type Expiry = (typeof EXPIRIES)[number];

/** What the sharing is for: each a preset (`USE_PRESETS`); "other" leaves the choice to the person. */
export const USES = ['ongoing', 'visit', 'second-opinion', 'look', 'other'] as const;
export type Use = (typeof USES)[number];

export interface ShareForm {
  /** The use chosen; null before the first choice. */
  readonly use: Use | null;
  readonly levels: Readonly<Partial<Record<StreamType, Level>>>;
  /** `keep`: a change keeps the grant's end (`keptEnd`). */
  readonly expiry: Expiry | 'keep';
  /** A change's form: the end of the grant it changes (ms). */
  readonly keptEnd?: number;
  /** YYYY-MM-DD, for `expiry: 'date'`: access ends at the end of that day, this device's time. */
  readonly until: string;
  readonly purpose: string;
}

export const EMPTY_FORM: ShareForm = { use: null, levels: {}, expiry: '30d', until: '', purpose: '' };

const DAY = 24 * 3_600_000;
const DAYS: Record<Exclude<Expiry, 'date'>, number> = {
  '1d': 1,
  '3d': 3,
  '7d': 7,
  '30d': 30,
  '90d': 90,
  '365d': 365,
};

/** The kinds a person chooses one by one (note signatures go with notes). */
export const CHOSEN_KINDS: readonly StreamType[] = SHARED_KINDS.filter((k) => k !== 'note-signature');

/** What a clinician reads to care for the person: who they are and their history. */
const HISTORY: readonly StreamType[] = [
  'profile',
  'emergency-contact',
  'allergy',
  'condition',
  'medication',
  'immunization',
  'lab-result',
  'procedure',
  'family-history',
  'document',
];
const read = (kinds: readonly StreamType[]): Partial<Record<StreamType, Level>> =>
  Object.fromEntries(kinds.map((k) => [k, 'read']));
const write = (kinds: readonly StreamType[]): Partial<Record<StreamType, Level>> =>
  Object.fromEntries(kinds.map((k) => [k, 'write']));

/** Each use's kinds and access, and how long. */
export const USE_PRESETS: Readonly<
  Record<Exclude<Use, 'other'>, { levels: Partial<Record<StreamType, Level>>; expiry: Expiry }>
> = {
  ongoing: {
    levels: {
      ...read(HISTORY),
      ...write(['lab-result', 'treatment-plan', 'appointment', 'message', 'encounter', 'note']),
    },
    expiry: '365d',
  },
  visit: {
    levels: { ...read(HISTORY), ...write(['appointment', 'message', 'encounter', 'note']) },
    expiry: '7d',
  },
  'second-opinion': {
    levels: { ...read(HISTORY), ...read(['treatment-plan', 'note']), ...write(['message']) },
    expiry: '30d',
  },
  look: { levels: read(HISTORY), expiry: '3d' },
};

/**
 * The form with `use` chosen: its preset's kinds and duration (other: as they were); the purpose becomes
 * the use's words (`words`) unless the person wrote their own.
 */
export const withUse = (form: ShareForm, use: Use, words: (use: Use) => string): ShareForm => {
  const ownPurpose = form.purpose.trim() !== '' && !USES.some((u) => words(u) === form.purpose.trim());
  const purpose = ownPurpose ? form.purpose : use === 'other' ? '' : words(use);
  if (use === 'other') return { ...form, use, purpose };
  const preset = USE_PRESETS[use];
  return { ...form, use, levels: { ...preset.levels }, expiry: preset.expiry, purpose };
};

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
  if (form.expiry === 'keep' && (form.keptEnd ?? 0) <= now) errors.until = 'care.share.datePast';
  return errors;
};

const endOfDay = (date: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const end = new Date(y, m - 1, d, 23, 59, 59, 0).getTime();
  return Number.isNaN(end) ? null : end;
};

/** The grant's scope, in chart order; note signatures at the level of notes. */
export const scopeOf = (form: ShareForm): GrantRequest['scope'] =>
  SHARED_KINDS.flatMap((type) => {
    const level = form.levels[type === 'note-signature' ? 'note' : type] ?? 'none';
    return level === 'none' ? [] : [{ type: type as GrantRequest['scope'][number]['type'], access: level }];
  });

/** What a clinician may do beyond reading, each said in words (`care.share.can.<what>`). */
export const ABILITIES = ['message', 'book', 'plans', 'notes', 'sign', 'visits'] as const;
export type Ability = (typeof ABILITIES)[number];
const ABILITY_OF: Partial<Record<StreamType, Ability>> = {
  message: 'message',
  appointment: 'book',
  'treatment-plan': 'plans',
  note: 'notes',
  encounter: 'visits',
};

/**
 * The plain preview of a scope: the kinds the clinician will see (note signatures said with notes), what
 * they can do, and the kinds they may add to beyond those abilities.
 */
export const preview = (
  scope: GrantRequest['scope'],
): { sees: StreamType[]; can: Ability[]; addsTo: StreamType[] } => {
  const sees = scope.map((s) => s.type as StreamType).filter((t) => t !== 'note-signature');
  const writes = scope.filter((s) => s.access === 'write' && s.type !== 'note-signature');
  const granted = new Set(writes.flatMap((s) => ABILITY_OF[s.type as StreamType] ?? []));
  // Signatures without notes to write: they co-sign what others wrote.
  if (!granted.has('notes') && scope.some((s) => s.type === 'note-signature' && s.access === 'write'))
    granted.add('sign');
  const can = ABILITIES.filter((a) => granted.has(a));
  const addsTo = writes.map((s) => s.type as StreamType).filter((t) => ABILITY_OF[t] === undefined);
  return { sees, can, addsTo };
};

/** The end the form asks for: an instant (`expiresAt`) or a duration from now (`durationMs`). */
const endOf = (form: ShareForm): { expiresAt: string } | { durationMs: number } =>
  form.expiry === 'date'
    ? { expiresAt: new Date(endOfDay(form.until) ?? 0).toISOString() }
    : form.expiry === 'keep'
      ? { expiresAt: new Date(form.keptEnd ?? 0).toISOString() }
      : { durationMs: DAYS[form.expiry] * DAY };

export const grantRequestOf = (granteeId: string, form: ShareForm): GrantRequest => ({
  granteeId,
  scope: scopeOf(form),
  purpose: form.purpose.trim(),
  ...endOf(form),
});

/** What a change of a grant asks for (`consent.change`): its whole new scope, end and purpose. */
export const grantChangeOf = (form: ShareForm): GrantChange => ({
  scope: scopeOf(form),
  purpose: form.purpose.trim(),
  ...endOf(form),
});

/** When access would end if granted at `now`. */
export const endsAt = (form: ShareForm, now: number): number | null =>
  form.expiry === 'date'
    ? endOfDay(form.until)
    : form.expiry === 'keep'
      ? (form.keptEnd ?? null)
      : now + DAYS[form.expiry] * DAY;

/** The form that changes `grant`: its kinds and access, its end kept, its purpose. */
export const formOfGrant = (grant: GrantView): ShareForm => ({
  use: null,
  levels: Object.fromEntries(
    grant.grant.scope.filter((s) => s.type !== 'note-signature').map((s) => [s.type, s.access]),
  ),
  expiry: 'keep',
  keptEnd: Date.parse(grant.grant.expiresAt),
  until: '',
  purpose: grant.purpose ?? '',
});

/** What a change does, in the order it is said: kinds added, kinds no longer shared, access changed. */
export interface GrantDiff {
  readonly added: StreamType[];
  readonly removed: StreamType[];
  readonly toWrite: StreamType[];
  readonly toRead: StreamType[];
  /** The new end, when it moves (ms). */
  readonly end: { readonly from: number; readonly to: number } | null;
}

/** The difference between a grant's scope and end and a change's (note signatures said with notes). */
export const diffOf = (
  from: GrantRequest['scope'],
  fromEnd: number,
  to: GrantRequest['scope'],
  toEnd: number | null,
): GrantDiff => {
  const kinds = (scope: GrantRequest['scope']) =>
    new Map(scope.filter((s) => s.type !== 'note-signature').map((s) => [s.type as StreamType, s.access]));
  const before = kinds(from);
  const after = kinds(to);
  const changed = (a: 'read' | 'write') =>
    [...after].filter(([k, v]) => before.has(k) && before.get(k) !== v && v === a).map(([k]) => k);
  return {
    added: [...after.keys()].filter((k) => !before.has(k)),
    removed: [...before.keys()].filter((k) => !after.has(k)),
    toWrite: changed('write'),
    toRead: changed('read'),
    end: toEnd === null || toEnd === fromEnd ? null : { from: fromEnd, to: toEnd },
  };
};

/** Whether a change changes nothing. */
export const sameGrant = (d: GrantDiff): boolean =>
  d.added.length + d.removed.length + d.toWrite.length + d.toRead.length === 0 && d.end === null;
