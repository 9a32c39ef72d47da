import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import type { RecordOf } from './registry';
import { laterStateIssues, transitionIssues, type TransitionIssue } from './transitions';
import { validateRecord } from './validate';

const PATIENT = { accountId: EXAMPLE_PATIENT_ID };
const PROVIDER = { accountId: EXAMPLE_PROVIDER_ID };
const OTHER = { accountId: 'OtherClinician00000001' };
const brief = (issues: readonly TransitionIssue[]) => issues.map((i) => `${i.rule} ${i.field}`);

/** An appointment in `status`, its status set by `by` (what the care library writes). */
const appt = (
  status: RecordOf<'Appointment'>['status'],
  by: { accountId: string } | null,
  extra: Partial<RecordOf<'Appointment'>> = {},
): RecordOf<'Appointment'> => {
  const {
    statusBy: _b,
    statusAt: _a,
    statusReason: _r,
    statusNote: _n,
    ...plain
  } = exampleRecord('Appointment');
  const record: RecordOf<'Appointment'> = {
    ...plain,
    status,
    ...(by === null ? {} : { statusBy: by.accountId, statusAt: '2024-05-20T08:00:00Z' }),
    ...extra,
  };
  const valid = validateRecord('Appointment', record);
  expect(valid.ok).toBe(true);
  return record;
};

describe('appointment request flow: who moves it where', () => {
  it('the patient requests; the provider confirms, declines or offers another time', () => {
    const requested = appt('requested', PATIENT);
    expect(transitionIssues('Appointment', null, requested, PATIENT)).toEqual([]);
    expect(brief(transitionIssues('Appointment', null, requested, PROVIDER))).toEqual([
      'author statusBy',
      'author status',
    ]);
    for (const to of ['scheduled', 'declined', 'proposed'] as const) {
      const answered = { ...requested, ...appt(to, PROVIDER), id: requested.id };
      expect(transitionIssues('Appointment', requested, answered, PROVIDER)).toEqual([]);
      // The patient cannot confirm its own request, nor sign as the provider.
      expect(
        brief(
          transitionIssues('Appointment', requested, { ...answered, statusBy: PATIENT.accountId }, PATIENT),
        ),
      ).toEqual(['author status']);
      expect(brief(transitionIssues('Appointment', requested, answered, PATIENT))).toEqual([
        'author statusBy',
        'author status',
      ]);
    }
    // A clinician who is not the appointment's provider (another grantee with write access) moves nothing.
    expect(brief(transitionIssues('Appointment', requested, appt('scheduled', OTHER), OTHER))).toEqual([
      'author status',
    ]);
  });

  it('a time offered is answered by the patient only', () => {
    const proposed = appt('proposed', PROVIDER);
    for (const to of ['scheduled', 'declined', 'requested'] as const) {
      expect(transitionIssues('Appointment', proposed, appt(to, PATIENT), PATIENT)).toEqual([]);
      expect(brief(transitionIssues('Appointment', proposed, appt(to, PROVIDER), PROVIDER))).toEqual([
        'author status',
      ]);
    }
    // Either party cancels.
    expect(transitionIssues('Appointment', proposed, appt('canceled', PROVIDER), PROVIDER)).toEqual([]);
    expect(transitionIssues('Appointment', proposed, appt('canceled', PATIENT), PATIENT)).toEqual([]);
  });

  it('cancelled, completed and declined are final; a request is not completed unconfirmed', () => {
    for (const status of ['canceled', 'completed', 'declined'] as const) {
      expect(
        brief(transitionIssues('Appointment', appt(status, PROVIDER), appt('scheduled', PROVIDER), PROVIDER)),
      ).toEqual(['final status']);
      // Over versions in between too.
      expect(
        brief(laterStateIssues('Appointment', appt(status, PROVIDER), appt('scheduled', PROVIDER))),
      ).toEqual(['final status']);
    }
    expect(
      brief(
        transitionIssues('Appointment', appt('requested', PATIENT), appt('completed', PROVIDER), PROVIDER),
      ),
    ).toEqual(['final status']);
  });

  it("a confirmed appointment's time moves only through a new proposal or request; its provider never", () => {
    const scheduled = appt('scheduled', PROVIDER);
    const later = { startAt: '2024-06-04T15:00:00+02:00', endAt: '2024-06-04T15:30:00+02:00' };
    expect(brief(transitionIssues('Appointment', scheduled, { ...scheduled, ...later }, PATIENT))).toEqual([
      'final startAt',
    ]);
    expect(transitionIssues('Appointment', scheduled, appt('proposed', PROVIDER, later), PROVIDER)).toEqual(
      [],
    );
    expect(transitionIssues('Appointment', scheduled, appt('requested', PATIENT, later), PATIENT)).toEqual(
      [],
    );
    expect(
      brief(
        transitionIssues('Appointment', scheduled, { ...scheduled, providerId: OTHER.accountId }, PATIENT),
      ),
    ).toEqual(['final providerId']);
  });

  it('over versions in between only what composes is judged: offered, accepted, then completed', () => {
    expect(laterStateIssues('Appointment', appt('proposed', PROVIDER), appt('completed', PROVIDER))).toEqual(
      [],
    );
    expect(laterStateIssues('Appointment', appt('requested', PATIENT), appt('canceled', PATIENT))).toEqual(
      [],
    );
  });

  it('appointments of the template (no statusBy) stay writable as before', () => {
    const plain = appt('scheduled', null);
    expect(transitionIssues('Appointment', null, plain, PATIENT)).toEqual([]);
    expect(transitionIssues('Appointment', plain, { ...plain, location: 'room 5' }, PATIENT)).toEqual([]);
    expect(transitionIssues('Appointment', plain, { ...plain, status: 'completed' }, PATIENT)).toEqual([]);
  });
});
