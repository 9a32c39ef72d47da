import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  exampleRecord,
  type RecordKind,
  type RecordOf,
} from '@hale/model';
import type { StoredRecord } from '../records/records';
import { inboxOf, threadMessages } from './threads';
import { Subject } from 'rxjs';
import { careNotifications, notificationsFor, type Watched } from './notifications';
import type { RecordChange } from '../records/records';
import { acknowledgementOf, planDiff } from './plans';
import { appointmentIcs } from './ics';

const stored = <K extends RecordKind>(kind: K, record: RecordOf<K>, by: string, rv = 1): StoredRecord<K> => ({
  kind,
  record,
  by,
  author: 'device',
  conflict: false,
  conflictData: null,
  rv,
});

const message = (fields: Partial<RecordOf<'Message'>>, by: string) =>
  stored('Message', { ...exampleRecord('Message'), status: 'sent', attachments: [], ...fields }, by);

describe('threads and the inbox', () => {
  const P = EXAMPLE_PATIENT_ID;
  const D = EXAMPLE_PROVIDER_ID;
  const { deliveredAt: _d, readAt: _r, ...base } = exampleRecord('Message');
  const m = (
    thread: string,
    sentAt: string,
    from: string,
    to: string,
    status: 'sent' | 'delivered' | 'read' = 'sent',
  ) =>
    message(
      {
        ...base,
        id: `01J00000000000000000000${thread}${sentAt.slice(17, 19)}`.slice(0, 26),
        threadId: `01J0000000000000000000000${thread}`,
        senderId: from,
        recipientId: to,
        sentAt,
        status,
        ...(status === 'sent' ? {} : { deliveredAt: sentAt }),
        ...(status === 'read' ? { readAt: sentAt } : {}),
      },
      from,
    );
  const all = [
    m('A', '2026-03-01T10:00:01Z', P, D, 'read'),
    m('A', '2026-03-01T10:05:02Z', D, P),
    m('B', '2026-03-02T09:00:03Z', P, D, 'delivered'),
  ];

  it('one entry per thread, latest first, with its unread and undelivered counts per side', () => {
    const patient = inboxOf(all, P);
    expect(
      patient.map((t) => [t.threadId.slice(-1), t.counterpartId, t.messages, t.unread, t.undelivered]),
    ).toEqual([
      ['B', D, 1, 0, 0],
      ['A', D, 2, 1, 1],
    ]);
    const clinician = inboxOf(all, D);
    expect(clinician.map((t) => [t.threadId.slice(-1), t.counterpartId, t.unread])).toEqual([
      ['B', P, 1],
      ['A', P, 0],
    ]);
    expect(threadMessages(all, P, all[0]!.record.threadId).map((x) => x.record.sentAt)).toEqual([
      '2026-03-01T10:00:01Z',
      '2026-03-01T10:05:02Z',
    ]);
  });
});

describe('notifications', () => {
  const P = EXAMPLE_PATIENT_ID;
  const D = EXAMPLE_PROVIDER_ID;
  const at = '2026-03-01T10:00:00.000Z';
  const secret = 'my HIV test result and Dr. Example at Riverside';

  it('say what happened in fixed words, naming no content, only for what others did', () => {
    const msg = message({ body: secret, senderId: D, recipientId: P }, D);
    const plan = stored(
      'TreatmentPlan',
      {
        ...exampleRecord('TreatmentPlan'),
        summary: secret,
        status: 'active',
        version: 3,
        acknowledgement: { by: P, at, version: 2 },
      },
      D,
      4,
    );
    const appointment = stored(
      'Appointment',
      { ...exampleRecord('Appointment'), reason: secret, location: secret },
      D,
      2,
    );
    const signature = stored(
      'NoteSignature',
      { ...exampleRecord('NoteSignature'), status: 'requested', signerId: D, comment: secret },
      'OtherClinician00000001',
    );
    const events = [
      ...notificationsFor('Message', undefined, msg, P, at),
      ...notificationsFor('TreatmentPlan', undefined, plan, P, at),
      ...notificationsFor('Appointment', undefined, appointment, P, at),
      ...notificationsFor('NoteSignature', undefined, signature, D, at),
    ];
    expect(events.map((e) => e.type)).toEqual([
      'message',
      'plan-to-acknowledge',
      'appointment',
      'cosign-request',
    ]);
    const shown = JSON.stringify(events.map(({ title, body }) => ({ title, body })));
    for (const word of ['HIV', 'Example', 'Riverside', 'result', '2024', '15:00'])
      expect(shown).not.toContain(word);
    // Nothing but ids beside the words.
    expect(JSON.stringify(events)).not.toContain(secret);
    // Its own writes are not notified; nor a message it sent.
    expect(
      notificationsFor('Message', undefined, message({ senderId: P, recipientId: D }, P), P, at),
    ).toEqual([]);
    // The clinician learns of the acknowledgement.
    const acked = stored(
      'TreatmentPlan',
      { ...plan.record, authorId: D, acknowledgement: { by: P, at, version: 3 } },
      P,
      5,
    );
    expect(notificationsFor('TreatmentPlan', plan, acked, D, at).map((e) => e.type)).toEqual([
      'plan-acknowledged',
    ]);
  });
});

describe('the notification stream', () => {
  it('notifies each write by someone else against the version it replaced, once per revision', () => {
    const P = EXAMPLE_PATIENT_ID;
    const D = EXAMPLE_PROVIDER_ID;
    const changes = new Subject<RecordChange<Watched>>();
    const seen: string[] = [];
    const sub = careNotifications(changes, D, () => Date.parse('2026-11-26T10:00:00Z')).subscribe((n) =>
      seen.push(n.id),
    );
    const toMe = message({ senderId: P, recipientId: D }, P);
    changes.next({ kind: 'Message', after: toMe });
    // Stored again at the same revision (a re-seal, a conflict flag): nothing more.
    changes.next({ kind: 'Message', before: toMe, after: toMe });
    // Its next revision (delivered): a message already held notifies nothing.
    changes.next({ kind: 'Message', before: toMe, after: { ...toMe, rv: 2 } });
    // The clinician's own message: nothing.
    changes.next({ kind: 'Message', after: message({ senderId: D, recipientId: P }, D) });
    const signature = stored(
      'NoteSignature',
      { ...exampleRecord('NoteSignature'), status: 'requested', signerId: D },
      'OtherClinician00000001',
    );
    // A message already read, stored anew (pulled again after its chart was purged): no news.
    changes.next({ kind: 'Message', after: message({ senderId: P, recipientId: D, status: 'read' }, P) });
    changes.next({ kind: 'NoteSignature', after: signature });
    expect(seen).toEqual([`message:${toMe.record.id}:1`, `cosign-request:${signature.record.id}:1`]);
    sub.unsubscribe();
  });
});

describe('treatment plans', () => {
  it('a diff names the fields a version changed, and who changed them', () => {
    const plan = exampleRecord('TreatmentPlan');
    const diff = planDiff(plan, plan.version - 1, plan.version);
    const previous = plan.versions.at(-1)!;
    expect(diff.changes.length).toBeGreaterThan(0);
    const text = (v: (typeof plan)[(typeof diff.changes)[number]['field']]): unknown =>
      typeof v === 'object' && 'target' in v ? `${v.testName} ${v.target}` : v;
    for (const change of diff.changes) {
      expect(change.before).toBe(text(previous[change.field]));
      expect(change.after).toBe(text(plan[change.field]));
    }
    // The example's goal moved from <150 to <140; its re-check did not change.
    expect(diff.changes.find((c) => c.field === 'goal')).toEqual({
      field: 'goal',
      before: 'Systolic blood pressure <150',
      after: 'Systolic blood pressure <140',
    });
    expect(diff.changes.some((c) => c.field === 'recheck')).toBe(false);
    expect(diff.by).toBe(plan.provenance.by);
    expect(() => planDiff(plan, 99, plan.version)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(acknowledgementOf(plan)).toMatchObject({ version: 2, current: plan.version === 2 });
  });
});

describe('.ics export', () => {
  it('writes the UTC instants, the status and the record id; no reason unless asked', () => {
    const a = {
      ...exampleRecord('Appointment'),
      startAt: '2026-03-30T07:00:00.000Z',
      endAt: '2026-03-30T07:30:00.000Z',
      reason: 'chest pain follow-up',
    };
    const ics = appointmentIcs(a, { sequence: 3, providerName: 'Dr. Rivera' });
    expect(ics).toMatch(/BEGIN:VCALENDAR/);
    expect(ics).toMatch(/DTSTART:20260330T070000Z/);
    expect(ics).toMatch(/DTEND:20260330T073000Z/);
    expect(ics).toMatch(/STATUS:CONFIRMED/);
    expect(ics).toMatch(/SEQUENCE:3/);
    expect(ics).toContain(`UID:${a.id}@hale`);
    expect(ics).toContain('SUMMARY:Appointment with Dr. Rivera');
    expect(ics).not.toContain('chest pain');
    expect(appointmentIcs({ ...a, status: 'declined' })).toMatch(/STATUS:CANCELLED/);
  });
});

describe("a clinician's inbox", () => {
  it("lists only threads it takes part in, not the patient's conversations with other clinicians", () => {
    const P = EXAMPLE_PATIENT_ID;
    const D = EXAMPLE_PROVIDER_ID;
    const other = 'OtherClinician00000001';
    const { deliveredAt: _d, readAt: _r, ...base } = exampleRecord('Message');
    const withOther = message(
      { ...base, senderId: P, recipientId: other, threadId: '01J00000000000000000000001' },
      P,
    );
    const withMe = message(
      { ...base, senderId: P, recipientId: D, threadId: '01J00000000000000000000002' },
      P,
    );
    expect(inboxOf([withOther, withMe], D).map((t) => t.threadId)).toEqual([withMe.record.threadId]);
    expect(inboxOf([withOther, withMe], P)).toHaveLength(2);
  });
});
