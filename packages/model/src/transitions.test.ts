import { describe, expect, it } from 'vitest';
import { EXAMPLE_DEVICE_ID, EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import { newId } from './ids';
import type { RecordOf } from './registry';
import {
  laterStateIssues,
  sameJson,
  supersededVersion,
  transitionIssues,
  versionContentChanged,
  type TransitionIssue,
} from './transitions';
import { validateRecord } from './validate';

const PROVIDER = { accountId: EXAMPLE_PROVIDER_ID, deviceId: EXAMPLE_DEVICE_ID };
const PATIENT = { accountId: EXAMPLE_PATIENT_ID };
const AT = '2024-06-01T10:00:00.000Z';

const brief = (issues: readonly TransitionIssue[]) => issues.map((i) => `${i.rule} ${i.field}`);

/** `lab` changed to `value`, made its next version by `by` (what the records API writes). */
const nextLab = (lab: RecordOf<'LabResult'>, value: number, by = PROVIDER): RecordOf<'LabResult'> => {
  const { version, status, units, referenceRange, effectiveAt, publishedAt, provenance } = lab;
  const replaced = {
    version,
    status,
    value: lab.value!,
    units: units!,
    referenceRange: referenceRange!,
    effectiveAt,
    publishedAt: publishedAt!,
    provenance,
  };
  expect(supersededVersion('LabResult', lab)).toEqual(replaced);
  const next: RecordOf<'LabResult'> = {
    ...lab,
    value,
    version: lab.version + 1,
    versions: [...lab.versions, replaced],
    provenance: { by: by.accountId, deviceId: by.deviceId, at: AT },
  };
  expect(validateRecord('LabResult', next).ok).toBe(true);
  return next;
};

describe('transitionIssues: versioned records', () => {
  const lab = exampleRecord('LabResult');

  it('takes the next version written by the writer, and a write that changes nothing', () => {
    expect(transitionIssues('LabResult', lab, nextLab(lab, 120), PROVIDER)).toEqual([]);
    expect(transitionIssues('LabResult', lab, { ...lab, updatedAt: AT }, PATIENT)).toEqual([]);
  });

  it('refuses a change of content in place, a history edited, dropped or not extended by the version replaced', () => {
    const next = nextLab(lab, 120);
    const cases: Array<RecordOf<'LabResult'>> = [
      { ...lab, value: 980 },
      { ...next, versions: [] },
      { ...next, versions: [{ ...next.versions[0]!, value: 1 }, next.versions[1]!] },
      { ...next, versions: [next.versions[0]!, { ...next.versions[1]!, value: 1 }] },
      { ...next, version: lab.version + 2 },
      { ...lab, versions: [], version: 1 },
      { ...lab, provenance: { ...lab.provenance, reason: 'rewritten' } },
    ];
    expect(cases.map((c) => brief(transitionIssues('LabResult', lab, c)))).toEqual([
      ['final version'],
      ['final versions[0]'],
      ['final versions[0]'],
      ['final versions[1]'],
      ['final version'],
      ['final versions[0]'],
      ['final provenance'],
    ]);
  });

  it('names the author of a new version only against a writer', () => {
    const next = nextLab(lab, 120, { accountId: EXAMPLE_PATIENT_ID, deviceId: EXAMPLE_DEVICE_ID });
    expect(brief(transitionIssues('LabResult', lab, next, PROVIDER))).toEqual(['author provenance.by']);
    expect(transitionIssues('LabResult', lab, next)).toEqual([]);
  });

  it('on creation, every provenance (history too) names the writer', () => {
    expect(
      brief(transitionIssues('LabResult', null, lab, { accountId: EXAMPLE_PATIENT_ID, deviceId: 'D' })),
    ).toEqual([
      'author provenance.by',
      'author provenance.deviceId',
      'author versions[0].provenance.by',
      'author versions[0].provenance.deviceId',
    ]);
    expect(transitionIssues('LabResult', null, lab, PROVIDER)).toEqual([]);
  });

  it('HealthDocument: only a new file is a new version; the upload describes the current file', () => {
    const doc = exampleRecord('HealthDocument');
    const file = { ...doc.file, blobId: newId() };
    expect(versionContentChanged('HealthDocument', doc, { ...doc, title: 'Renamed' })).toBe(false);
    expect(versionContentChanged('HealthDocument', doc, { ...doc, file })).toBe(true);
    const next: RecordOf<'HealthDocument'> = {
      ...doc,
      file,
      version: 3,
      versions: [
        ...doc.versions,
        { version: 2, file: doc.file, uploadedAt: doc.uploadedAt, uploadedBy: EXAMPLE_PATIENT_ID },
      ],
      uploadedAt: AT,
      uploadedBy: EXAMPLE_PROVIDER_ID,
    };
    expect(transitionIssues('HealthDocument', doc, next, PROVIDER)).toEqual([]);
    expect(brief(transitionIssues('HealthDocument', doc, next, PATIENT))).toEqual(['author uploadedBy']);
    expect(brief(transitionIssues('HealthDocument', doc, { ...doc, file }))).toEqual(['final version']);
    expect(
      brief(transitionIssues('HealthDocument', doc, { ...doc, uploadedBy: EXAMPLE_PROVIDER_ID })),
    ).toEqual(['final uploadedBy']);
  });

  it('what describes an unchanged version, set to someone else, is refused as not the writer; left alone, it is not checked', () => {
    const doc = exampleRecord('HealthDocument');
    const provenanced = exampleRecord('LabResult');
    const cases = [
      transitionIssues('HealthDocument', doc, { ...doc, uploadedBy: EXAMPLE_PROVIDER_ID }, PATIENT),
      transitionIssues('HealthDocument', doc, { ...doc, uploadedAt: AT }, PROVIDER),
      transitionIssues('HealthDocument', doc, { ...doc, uploadedAt: AT }, PATIENT),
      transitionIssues(
        'LabResult',
        provenanced,
        { ...provenanced, provenance: { ...provenanced.provenance, at: AT } },
        PATIENT,
      ),
      transitionIssues(
        'LabResult',
        provenanced,
        { ...provenanced, provenance: { ...provenanced.provenance, at: AT } },
        PROVIDER,
      ),
      transitionIssues('LabResult', provenanced, { ...provenanced, updatedAt: AT }, PATIENT),
    ];
    expect(cases.map(brief)).toEqual([
      ['author uploadedBy'],
      ['final uploadedAt'],
      ['final uploadedAt'],
      ['author provenance.by'],
      ['final provenance'],
      [],
    ]);
  });

  it('TreatmentPlan: an acknowledgement is not withdrawn or moved back, and is given by the writer', () => {
    const plan = exampleRecord('TreatmentPlan');
    const { acknowledgement: given, ...unacknowledged } = plan;
    expect(given?.version).toBe(2);
    expect(brief(transitionIssues('TreatmentPlan', plan, unacknowledged))).toEqual(['final acknowledgement']);
    expect(
      brief(
        transitionIssues(
          'TreatmentPlan',
          plan,
          { ...plan, acknowledgement: { ...given!, version: 1, at: AT } },
          PATIENT,
        ),
      ),
    ).toEqual(['final acknowledgement.version']);
    const again = { ...plan, acknowledgement: { ...given!, at: AT } };
    expect(transitionIssues('TreatmentPlan', plan, again, PATIENT)).toEqual([]);
    expect(brief(transitionIssues('TreatmentPlan', plan, again, PROVIDER))).toEqual([
      'author acknowledgement.by',
    ]);
  });
});

describe('transitionIssues: notes, signatures, messages', () => {
  it('a signed NoteSignature is final; only the signer signs a request', () => {
    const signed = exampleRecord('NoteSignature');
    expect(brief(transitionIssues('NoteSignature', signed, { ...signed, comment: 'edited' }))).toEqual([
      'final comment',
    ]);
    expect(transitionIssues('NoteSignature', signed, { ...signed, updatedAt: AT })).toEqual([]);
    const { signedAt: _a, signedVersionNumber: _n, ...rest } = signed;
    const request: RecordOf<'NoteSignature'> = { ...rest, status: 'requested' };
    expect(brief(transitionIssues('NoteSignature', request, signed, PATIENT))).toEqual(['author signerId']);
    expect(transitionIssues('NoteSignature', request, signed, PROVIDER)).toEqual([]);
    expect(brief(transitionIssues('NoteSignature', null, signed, PATIENT))).toEqual(['author signerId']);
  });

  it('a NoteVersion keeps its note and number; whoever changes its text is its editor', () => {
    const version = exampleRecord('NoteVersion');
    expect(
      brief(transitionIssues('NoteVersion', version, { ...version, noteId: newId(), versionNumber: 3 })),
    ).toEqual(['final noteId', 'final versionNumber']);
    const edited = { ...version, plan: 'Changed.' };
    expect(brief(transitionIssues('NoteVersion', version, edited, PATIENT))).toEqual(['author editorId']);
    expect(
      transitionIssues('NoteVersion', version, { ...edited, editorId: EXAMPLE_PATIENT_ID }, PATIENT),
    ).toEqual([]);
  });

  it('a signed note becomes a draft again only with a new current version, whose number never goes back', () => {
    const note: RecordOf<'MedicalNote'> = { ...exampleRecord('MedicalNote'), status: 'signed' };
    expect(brief(transitionIssues('MedicalNote', note, { ...note, status: 'draft' }))).toEqual([
      'final status',
    ]);
    expect(
      transitionIssues('MedicalNote', note, { ...note, status: 'draft', currentVersionNumber: 3 }),
    ).toEqual([]);
    expect(brief(transitionIssues('MedicalNote', note, { ...note, currentVersionNumber: 1 }))).toEqual([
      'final currentVersionNumber',
    ]);
  });

  it("a sent message's text, recipient, thread and attachments are final; its delivery may move", () => {
    const message = exampleRecord('Message');
    const later = { ...message, updatedAt: '2031-01-01T00:00:00Z' };
    for (const [field, value] of [
      ['body', 'Take 100 mg'],
      ['recipientId', EXAMPLE_PATIENT_ID],
      ['threadId', 'another-thread'],
      ['sentAt', '2030-12-31T00:00:00Z'],
      ['attachments', []],
    ] as const) {
      expect(brief(transitionIssues('Message', message, { ...later, [field]: value }))).toEqual([
        `final ${field}`,
      ]);
      // It holds across versions in between too (a device offline meanwhile receives only the newest).
      expect(brief(laterStateIssues('Message', message, { ...later, [field]: value }))).toEqual([
        `final ${field}`,
      ]);
    }
    const { deliveredAt: _d, readAt: _r, ...sent } = { ...message, status: 'sent' as const };
    const read = { ...sent, updatedAt: later.updatedAt, status: 'read' as const, readAt: later.updatedAt };
    // Marked read by its recipient (the provider).
    expect(transitionIssues('Message', sent, read, PROVIDER)).toEqual([]);
    expect(laterStateIssues('Message', sent, read)).toEqual([]);
  });

  it("a message's delivery only moves on (sent, delivered, read); its times, once set, stay", () => {
    const { deliveredAt: _d, readAt: _r, ...base } = exampleRecord('Message');
    const sent: RecordOf<'Message'> = { ...base, status: 'sent' };
    const delivered: RecordOf<'Message'> = { ...sent, status: 'delivered', deliveredAt: AT };
    const read: RecordOf<'Message'> = { ...delivered, status: 'read', readAt: '2024-06-01T11:00:00.000Z' };
    const both = (from: RecordOf<'Message'>, to: RecordOf<'Message'>) => [
      brief(transitionIssues('Message', from, to, PROVIDER)),
      brief(laterStateIssues('Message', from, to)),
    ];
    for (const [from, to] of [
      [sent, delivered],
      [delivered, read],
      [sent, read],
      [read, { ...read, updatedAt: AT }],
    ] as const) {
      expect(both(from, to)).toEqual([[], []]);
    }
    // Read, then delivered or sent again: an app showing the state would tell the sender it is unread.
    for (const [from, to] of [
      [read, { ...read, status: 'delivered' as const }],
      [read, { ...read, status: 'sent' as const }],
      [delivered, { ...delivered, status: 'sent' as const }],
    ] as const) {
      expect(both(from, to)).toEqual([['final status'], ['final status']]);
    }
    const { deliveredAt: _gone, ...readUndelivered } = read;
    for (const [from, to, fields] of [
      [read, { ...read, readAt: '2024-06-02T08:00:00.000Z' }, ['readAt']],
      [delivered, { ...delivered, deliveredAt: '2024-06-02T08:00:00.000Z' }, ['deliveredAt']],
      [read, readUndelivered, ['deliveredAt']],
      [read, sent, ['status', 'deliveredAt', 'readAt']],
    ] as const) {
      const issues = fields.map((field) => `final ${field}`);
      expect(both(from, to)).toEqual([issues, issues]);
    }
  });

  it('only its recipient marks a message delivered or read: the sender writes it as sent', () => {
    const { deliveredAt: _d, readAt: _r, ...example } = exampleRecord('Message');
    const sent: RecordOf<'Message'> = { ...example, status: 'sent' };
    const delivered: RecordOf<'Message'> = { ...sent, status: 'delivered', deliveredAt: AT };
    const read: RecordOf<'Message'> = { ...delivered, status: 'read', readAt: '2024-06-01T11:00:00.000Z' };
    // Written by the sender (the patient): a receipt it writes would claim what the recipient did.
    expect(brief(transitionIssues('Message', null, sent, PATIENT))).toEqual([]);
    expect(brief(transitionIssues('Message', null, read, PATIENT))).toEqual([
      'author status',
      'author deliveredAt',
      'author readAt',
    ]);
    expect(brief(transitionIssues('Message', sent, delivered, PATIENT))).toEqual([
      'author status',
      'author deliveredAt',
    ]);
    expect(brief(transitionIssues('Message', delivered, read, PATIENT))).toEqual([
      'author status',
      'author readAt',
    ]);
    // Nor by a third account holding the stream.
    const other = { accountId: 'a'.repeat(43) };
    expect(brief(transitionIssues('Message', sent, read, other))).toEqual([
      'author status',
      'author deliveredAt',
      'author readAt',
    ]);
    // The recipient moves it; a later version that leaves the receipts as they were is anyone's.
    expect(transitionIssues('Message', sent, read, PROVIDER)).toEqual([]);
    expect(transitionIssues('Message', read, { ...read, updatedAt: AT }, PATIENT)).toEqual([]);
    // A message to oneself is read by its sender.
    const toSelf: RecordOf<'Message'> = { ...read, recipientId: EXAMPLE_PATIENT_ID };
    expect(transitionIssues('Message', null, toSelf, PATIENT)).toEqual([]);
  });

  it("a message's sender never changes; fields naming other people are not checked", () => {
    const message = exampleRecord('Message');
    expect(
      brief(transitionIssues('Message', message, { ...message, senderId: EXAMPLE_PROVIDER_ID })),
    ).toEqual(['author senderId']);
    const medication = exampleRecord('Medication');
    expect(transitionIssues('Medication', null, medication, PATIENT)).toEqual([]);
  });
});

describe('sameJson', () => {
  it('ignores key order and properties holding undefined', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
  });
});
