// Times the first passes left unjudged: when a signature was requested, a message sent, delivered and
// read, a document uploaded, a consent revoked (each only the past can hold, by its FHIR meaning), and the
// order of a message's times, which devices with different clocks set.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';
import { FUTURE_TOLERANCE_MS, WRITE_RULE_CODES, checkWriteRules } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const at = (ms: number): string => new Date(ms).toISOString();
const BEYOND = at(NOW + FUTURE_TOLERANCE_MS + 1000);
const AT_TOLERANCE = at(NOW + FUTURE_TOLERANCE_MS);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** `field rule` of each issue of the example of `kind` with `overrides` (undefined: left out). */
const broken = (
  kind: RecordKind,
  overrides: Readonly<Record<string, unknown>>,
  { now = NOW, previous }: { now?: number; previous?: object } = {},
): string[] => {
  const record = validateRecord(kind, JSON.parse(JSON.stringify({ ...exampleRecord(kind), ...overrides })));
  if (!record.ok) throw new Error(record.error.message);
  const result = checkWriteRules(kind, record.value, now, previous as Record<string, unknown>);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field} ${issue.rule}`);
};

/** A message as sent, before any receipt (the example's receipt times given as undefined: left out). */
const sentMessage = (sentAt: string) => ({
  ...exampleRecord('Message', { status: 'sent', sentAt }),
  deliveredAt: undefined,
  readAt: undefined,
});

describe('checkWriteRules: codes added by the second pass', () => {
  it('appends its codes after the earlier ones', () => {
    expect(WRITE_RULE_CODES.slice(8, 10)).toEqual(['RECEIVED_BEFORE_SENT', 'READ_BEFORE_DELIVERED']);
  });
});

describe('checkWriteRules: NoteSignature requestedAt', () => {
  // FHIR Task.authoredOn (a request exports as a Task): "the date and time this task was created".
  it('refuses a request made more than a day after the clock', () => {
    const request = { status: 'requested', signedAt: undefined, signedVersionNumber: undefined };
    expect(broken('NoteSignature', { ...request, requestedAt: BEYOND })).toEqual([
      'requestedAt DATE_IN_FUTURE',
    ]);
    expect(broken('NoteSignature', { ...request, requestedAt: AT_TOLERANCE })).toEqual([]);
  });

  it('does not refuse signing a stored request whose requestedAt is in the future', () => {
    const {
      signedAt: _s,
      signedVersionNumber: _n,
      ...request
    } = exampleRecord('NoteSignature', {
      status: 'requested',
      requestedAt: '2042-05-01T09:30:00Z',
    });
    const signing = { ...request, status: 'signed', signedAt: at(NOW), signedVersionNumber: 2 };
    expect(broken('NoteSignature', signing, { previous: request })).toEqual([]);
  });
});

describe('checkWriteRules: Message sentAt, deliveredAt, readAt', () => {
  // FHIR Communication.sent and .received ("when this communication arrived at the destination"), and
  // Hale's read-at extension: each says what has happened.
  it('refuses a message sent, delivered or read more than a day after the clock', () => {
    expect(broken('Message', { ...sentMessage(BEYOND) })).toEqual(['sentAt DATE_IN_FUTURE']);
    expect(broken('Message', { ...sentMessage(AT_TOLERANCE) })).toEqual([]);
    const sent = sentMessage('2024-06-01T08:00:00Z');
    expect(broken('Message', { ...sent, status: 'delivered', deliveredAt: BEYOND })).toEqual([
      'deliveredAt DATE_IN_FUTURE',
    ]);
    expect(broken('Message', { ...sent, status: 'read', readAt: BEYOND })).toEqual(['readAt DATE_IN_FUTURE']);
    expect(broken('Message', { ...sent, status: 'read', readAt: AT_TOLERANCE })).toEqual([]);
  });

  it('does not refuse marking read a stored message sent in the future', () => {
    const stored = sentMessage('2042-05-01T09:30:00Z');
    expect(broken('Message', { ...stored, status: 'read', readAt: at(NOW) }, { previous: stored })).toEqual(
      [],
    );
  });
});

describe('checkWriteRules: the order of a message’s times', () => {
  it('RECEIVED_BEFORE_SENT: delivered or read more than a day before it was sent', () => {
    const sent = sentMessage('2024-05-20T10:00:00Z');
    // A day and a month swapped, a wrong year.
    expect(broken('Message', { ...sent, status: 'delivered', deliveredAt: '2024-05-10T10:00:00Z' })).toEqual([
      'deliveredAt RECEIVED_BEFORE_SENT',
    ]);
    expect(broken('Message', { ...sent, status: 'read', readAt: '2023-05-20T10:30:00Z' })).toEqual([
      'readAt RECEIVED_BEFORE_SENT',
    ]);
  });

  it('READ_BEFORE_DELIVERED: read more than a day before it was delivered', () => {
    const sent = sentMessage('2024-05-01T10:00:00Z');
    expect(
      broken('Message', {
        ...sent,
        status: 'read',
        deliveredAt: '2024-05-20T10:00:00Z',
        readAt: '2024-05-02T10:00:00Z',
      }),
    ).toEqual(['readAt READ_BEFORE_DELIVERED']);
  });

  it('takes the skew of two devices’ clocks up to the tolerance', () => {
    // The sender's clock an hour ahead of the recipient's: read "before" it was sent, honestly.
    const sent = sentMessage('2024-05-20T11:00:00Z');
    expect(broken('Message', { ...sent, status: 'read', readAt: '2024-05-20T10:05:00Z' })).toEqual([]);
    const sentAt = Date.parse('2024-05-20T11:00:00Z');
    expect(broken('Message', { ...sent, status: 'read', readAt: at(sentAt - FUTURE_TOLERANCE_MS) })).toEqual(
      [],
    );
    expect(
      broken('Message', { ...sent, status: 'read', readAt: at(sentAt - FUTURE_TOLERANCE_MS - 1000) }),
    ).toEqual(['readAt RECEIVED_BEFORE_SENT']);
    expect(
      broken('Message', {
        ...sent,
        status: 'read',
        deliveredAt: '2024-05-20T10:00:00Z',
        readAt: '2024-05-20T09:00:00Z',
      }),
    ).toEqual([]);
  });

  it('never refuses a receipt dated by this device’s clock, however far ahead the sender’s was', () => {
    // Sent by a device whose clock was days ahead, within (or beyond) this device's tolerance.
    for (const sentAt of [at(NOW + FUTURE_TOLERANCE_MS), at(NOW + 3 * FUTURE_TOLERANCE_MS)]) {
      const stored = sentMessage(sentAt);
      expect(broken('Message', { ...stored, status: 'read', readAt: at(NOW) }, { previous: stored })).toEqual(
        [],
      );
      const delivered = { ...stored, status: 'delivered', deliveredAt: at(NOW) };
      expect(broken('Message', delivered, { previous: stored })).toEqual([]);
      expect(
        broken('Message', { ...delivered, status: 'read', readAt: at(NOW + HOUR) }, { previous: delivered }),
      ).toEqual([]);
    }
  });

  it('never refuses a receipt dated by this device’s clock for a stored later one from a clock behind', () => {
    // Read three days ago by another device of the recipient (its clock days behind, or its delivery
    // receipt never written); this device records the delivery now.
    const stored = { ...sentMessage(at(NOW - 5 * DAY)), status: 'read', readAt: at(NOW - 3 * DAY) };
    expect(broken('Message', { ...stored, deliveredAt: at(NOW) }, { previous: stored })).toEqual([]);
    // The same times written together are judged: one of them is wrong.
    expect(broken('Message', { ...stored, deliveredAt: at(NOW) })).toEqual(['readAt READ_BEFORE_DELIVERED']);
    // A delivery dated otherwise (typed, imported) is what the write states: judged.
    expect(
      broken('Message', { ...stored, deliveredAt: at(NOW - 3 * DAY + HOUR) }, { previous: stored }),
    ).toEqual([]);
    expect(
      broken('Message', { ...stored, deliveredAt: at(NOW - 2 * DAY + HOUR) }, { previous: stored }),
    ).toEqual(['readAt READ_BEFORE_DELIVERED']);
  });

  it('over a stored state, only when the write changes one of the times compared', () => {
    // Stored by another device, read a month before it was sent: its delivery may still be recorded.
    const stored = { ...sentMessage('2024-05-20T10:00:00Z'), status: 'read', readAt: '2024-04-20T10:00:00Z' };
    expect(broken('Message', { ...stored }, { previous: stored })).toEqual([]);
    // A delivery recorded after the reading is what the write states: refused.
    expect(
      broken('Message', { ...stored, deliveredAt: '2024-05-20T10:00:05Z' }, { previous: stored }),
    ).toEqual(['readAt READ_BEFORE_DELIVERED']);
  });

  it('does not compare with a clock that is no time', () => {
    const sent = sentMessage('2024-05-20T10:00:00Z');
    expect(
      broken('Message', { ...sent, status: 'read', readAt: '2023-05-20T10:30:00Z' }, { now: Number.NaN }),
    ).toEqual([]);
  });
});

describe('checkWriteRules: HealthDocument uploadedAt', () => {
  // FHIR DocumentReference.date: when the document reference was created. The records API stamps it
  // when left out or when the file changes; a caller may give it (an import), and that must have been.
  it('refuses an upload more than a day after the clock', () => {
    expect(broken('HealthDocument', { uploadedAt: BEYOND })).toEqual(['uploadedAt DATE_IN_FUTURE']);
    expect(broken('HealthDocument', { uploadedAt: AT_TOLERANCE })).toEqual([]);
  });

  it('does not refuse an edit of the title of a document stored with a future uploadedAt', () => {
    const stored = exampleRecord('HealthDocument', { uploadedAt: '2042-05-01T09:30:00Z' });
    expect(broken('HealthDocument', { ...stored, title: 'Discharge summary' }, { previous: stored })).toEqual(
      [],
    );
  });
});

describe('checkWriteRules: Consent revokedAt', () => {
  // A revocation is an act done; an end agreed in advance is `expiresAt`.
  it('refuses a revocation more than a day after the clock', () => {
    expect(broken('Consent', { revokedAt: BEYOND })).toEqual(['revokedAt DATE_IN_FUTURE']);
    expect(broken('Consent', { revokedAt: AT_TOLERANCE })).toEqual([]);
  });
});
