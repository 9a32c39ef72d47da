import { describe, expect, it } from 'vitest';
import {
  AUTHORSHIP,
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  RECORD_KIND_NAMES,
  authorshipIssues,
  exampleRecord,
  streamAuthorship,
  STREAM_TYPES,
} from './index';

const OTHER = 'ProviderAccount0000002';
const held = (kind: Parameters<typeof exampleRecord>[0], by = EXAMPLE_PROVIDER_ID, over = {}) => ({
  data: { ...exampleRecord(kind), ...over } as Record<string, unknown>,
  by,
});

describe('authorship', () => {
  it('has a rule for every kind', () => {
    for (const kind of RECORD_KIND_NAMES) expect(AUTHORSHIP[kind]).toBeDefined();
  });

  it("a clinician's note, version, visit and result: only its author changes or removes it", () => {
    for (const kind of ['MedicalNote', 'NoteVersion', 'Encounter', 'LabResult'] as const) {
      const h = held(kind);
      const next = { ...h.data, title: 'renamed' };
      expect(authorshipIssues(kind, h, next, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID), kind).toEqual([]);
      for (const writer of [EXAMPLE_PATIENT_ID, OTHER]) {
        expect(authorshipIssues(kind, h, next, writer, EXAMPLE_PATIENT_ID)[0]?.rule, kind).toBe('author');
        expect(authorshipIssues(kind, h, null, writer, EXAMPLE_PATIENT_ID)[0]?.field, kind).toBe('_deleted');
      }
    }
  });

  it('a result the patient entered is the patient’s, open to the accounts it lets write', () => {
    const lab = exampleRecord('LabResult');
    const mine = {
      ...lab,
      provenance: { ...lab.provenance, by: EXAMPLE_PATIENT_ID },
      versions: lab.versions.map((v) => ({ ...v, provenance: { ...v.provenance, by: EXAMPLE_PATIENT_ID } })),
    };
    const h = { data: mine as Record<string, unknown>, by: EXAMPLE_PATIENT_ID };
    expect(
      authorshipIssues('LabResult', h, { ...mine, value: 1 }, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID),
    ).toEqual([]);
    expect(
      authorshipIssues('LabResult', h, { ...mine, value: 1 }, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID),
    ).toEqual([]);
    // Also once a clinician changed it: its first version names the patient.
    const changed = { data: h.data, by: EXAMPLE_PROVIDER_ID };
    expect(authorshipIssues('LabResult', changed, null, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID)).toEqual([]);
  });

  it('a treatment plan: the patient changes only the acknowledgement, and removes nothing', () => {
    const h = held('TreatmentPlan');
    const ack = { by: EXAMPLE_PATIENT_ID, at: '2024-06-02T00:00:00.000Z', version: 2 };
    expect(
      authorshipIssues(
        'TreatmentPlan',
        h,
        { ...h.data, acknowledgement: ack },
        EXAMPLE_PATIENT_ID,
        EXAMPLE_PATIENT_ID,
      ),
    ).toEqual([]);
    expect(
      authorshipIssues(
        'TreatmentPlan',
        h,
        { ...h.data, summary: 'mine now' },
        EXAMPLE_PATIENT_ID,
        EXAMPLE_PATIENT_ID,
      )[0]?.field,
    ).toBe('acknowledgement');
    expect(authorshipIssues('TreatmentPlan', h, null, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID)).toHaveLength(
      1,
    );
    expect(
      authorshipIssues('TreatmentPlan', h, { ...h.data, acknowledgement: ack }, OTHER, EXAMPLE_PATIENT_ID),
    ).toHaveLength(1);
  });

  it('a signature: who asked and who signs; a message: sender and recipient; an appointment: the patient and its clinician', () => {
    const sig = held('NoteSignature', EXAMPLE_PROVIDER_ID, {
      requestedBy: OTHER,
      signerId: EXAMPLE_PROVIDER_ID,
    });
    expect(authorshipIssues('NoteSignature', sig, sig.data, OTHER, EXAMPLE_PATIENT_ID)).toEqual([]);
    expect(
      authorshipIssues('NoteSignature', sig, sig.data, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID),
    ).toHaveLength(1);
    const message = held('Message', EXAMPLE_PATIENT_ID, {
      senderId: EXAMPLE_PATIENT_ID,
      recipientId: EXAMPLE_PROVIDER_ID,
    });
    expect(
      authorshipIssues('Message', message, message.data, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID),
    ).toEqual([]);
    expect(authorshipIssues('Message', message, null, OTHER, EXAMPLE_PATIENT_ID)).toHaveLength(1);
    const visit = held('Appointment', EXAMPLE_PATIENT_ID, { providerId: EXAMPLE_PROVIDER_ID });
    expect(
      authorshipIssues('Appointment', visit, visit.data, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID),
    ).toEqual([]);
    expect(authorshipIssues('Appointment', visit, visit.data, OTHER, EXAMPLE_PATIENT_ID)).toHaveLength(1);
  });

  it("the patient's own entries stay open to every account that may write them", () => {
    const allergy = held('Allergy', EXAMPLE_PATIENT_ID);
    expect(authorshipIssues('Allergy', allergy, null, OTHER, EXAMPLE_PATIENT_ID)).toEqual([]);
  });

  it("a comment is its writer's alone, the patient's too", () => {
    const mine = held('Comment', EXAMPLE_PATIENT_ID);
    expect(
      authorshipIssues('Comment', mine, mine.data, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID),
    ).toHaveLength(1);
    expect(authorshipIssues('Comment', mine, null, EXAMPLE_PROVIDER_ID, EXAMPLE_PATIENT_ID)).toHaveLength(1);
    expect(authorshipIssues('Comment', mine, null, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID)).toEqual([]);
    const theirs = held('Comment', EXAMPLE_PROVIDER_ID);
    expect(
      authorshipIssues('Comment', theirs, theirs.data, EXAMPLE_PATIENT_ID, EXAMPLE_PATIENT_ID),
    ).toHaveLength(1);
  });

  it('says which stream types the server judges', () => {
    const judged = Object.fromEntries(STREAM_TYPES.map((t) => [t, streamAuthorship(t)]));
    expect(judged).toMatchObject({
      note: 'author',
      encounter: 'author',
      'lab-result': 'author',
      comment: 'writer',
      'treatment-plan': 'plan',
      allergy: 'open',
      'note-signature': 'open',
      message: 'open',
      audit: 'open',
    });
  });
});
