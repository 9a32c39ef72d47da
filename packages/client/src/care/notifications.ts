/**
 * Notable events from live changes, for an app to turn into system notifications: a new message to this
 * account, an appointment moved by the other party, a plan version to acknowledge (patient) or an
 * acknowledgement made (clinician), a co-signature asked of this account.
 *
 * Invariants:
 * - A notification carries no health content, so it can show on a locked screen: its `title` and `body`
 *   are fixed sentences per type, and it names the record only by ids (`target`) for the app to open once
 *   unlocked — never a message text, a reason, a plan, a name or a time.
 * - Only writes stored after the stream starts are notified, each against the version it replaced; a write
 *   that keeps the revision notifies nothing; none of this account's own writes. No view is read whole.
 * Failure modes: none of its own; a closed session ends the stream (the record views complete).
 */
import type { Observable } from 'rxjs';
import { filter, mergeMap, from, share } from 'rxjs';
import type { RecordChange, StoredRecord } from '../records/records';

/** The kinds of care notification `careNotifications` answers. */
export const CARE_NOTIFICATION_TYPES = [
  'message',
  'appointment',
  'plan-to-acknowledge',
  'plan-acknowledged',
  'cosign-request',
] as const;
/** One of `CARE_NOTIFICATION_TYPES`. */
export type CareNotificationType = (typeof CARE_NOTIFICATION_TYPES)[number];

/**
 * One thing that needs the person's attention in the care area (a new message, an appointment change, a plan
 * to acknowledge, …), from `notificationsFor` and `careNotifications`.
 */
export interface CareNotification {
  /** Stable per record version: `${type}:${recordId}:${rv}` (an app de-duplicates by it). */
  readonly id: string;
  readonly type: CareNotificationType;
  /** When this device noticed it. */
  readonly at: string;
  /** Safe on a locked screen: fixed words per type. */
  readonly title: string;
  readonly body: string;
  /** What to open once unlocked. */
  readonly target: { readonly recordId: string; readonly patientId: string };
}

const WORDS: Record<CareNotificationType, { title: string; body: string }> = {
  message: { title: 'New message', body: 'You have a new message in Hale.' },
  appointment: { title: 'Appointment update', body: 'An appointment changed. Open Hale to see it.' },
  'plan-to-acknowledge': {
    title: 'Treatment plan',
    body: 'A treatment plan has a new version to read and acknowledge.',
  },
  'plan-acknowledged': { title: 'Treatment plan', body: 'A patient acknowledged a treatment plan.' },
  'cosign-request': { title: 'Co-signature requested', body: 'A note is waiting for your co-signature.' },
};

export type Watched = 'Message' | 'Appointment' | 'TreatmentPlan' | 'NoteSignature';

/** The notifications one changed version gives `me` (pure; `before` is the version held before, if any). */
export const notificationsFor = <K extends Watched>(
  kind: K,
  before: StoredRecord<K> | undefined,
  after: StoredRecord<K>,
  me: string,
  at: string,
): CareNotification[] => {
  if (after.by === me) return [];
  const make = (type: CareNotificationType): CareNotification => ({
    id: `${type}:${after.record.id}:${after.rv}`,
    type,
    at,
    ...WORDS[type],
    target: { recordId: after.record.id, patientId: after.record.patientId },
  });
  const r = after.record;
  const was = before?.record as StoredRecord<Watched>['record'] | undefined;
  switch (kind) {
    case 'Message': {
      const m = r as StoredRecord<'Message'>['record'];
      // One already read (a copy pulled again after a grant was given anew) is no news.
      return before === undefined && m.recipientId === me && m.status !== 'read' ? [make('message')] : [];
    }
    case 'Appointment': {
      const a = r as StoredRecord<'Appointment'>['record'];
      const b = was as StoredRecord<'Appointment'>['record'] | undefined;
      const party = a.patientId === me || a.providerId === me;
      return party && (b === undefined || b.status !== a.status || b.startAt !== a.startAt)
        ? [make('appointment')]
        : [];
    }
    case 'TreatmentPlan': {
      const p = r as StoredRecord<'TreatmentPlan'>['record'];
      const b = was as StoredRecord<'TreatmentPlan'>['record'] | undefined;
      if (p.patientId === me) {
        const owed = p.status !== 'draft' && (p.acknowledgement?.version ?? 0) < p.version;
        return owed && (b === undefined || b.version !== p.version || b.status !== p.status)
          ? [make('plan-to-acknowledge')]
          : [];
      }
      const acked =
        p.acknowledgement !== undefined && p.acknowledgement.version !== b?.acknowledgement?.version;
      return p.authorId === me && acked ? [make('plan-acknowledged')] : [];
    }
    case 'NoteSignature': {
      const s = r as StoredRecord<'NoteSignature'>['record'];
      const b = was as StoredRecord<'NoteSignature'>['record'] | undefined;
      return s.signerId === me && s.status === 'requested' && (b === undefined || b.status !== 'requested')
        ? [make('cosign-request')]
        : [];
    }
    default:
      return [];
  }
};

/**
 * The live stream of notifications for `me` over the stored writes given (`records.observeChanges` of the
 * watched kinds): each write by someone else, against the version it replaced. A write that keeps the
 * revision (stored again, re-sealed) notifies nothing.
 */
export const careNotifications = (
  changes: Observable<RecordChange<Watched>>,
  me: string,
  now: () => number,
): Observable<CareNotification> =>
  changes.pipe(
    filter((c) => c.before?.rv !== c.after.rv),
    mergeMap((c) => from(notificationsFor(c.kind, c.before, c.after, me, new Date(now()).toISOString()))),
    share(),
  );
