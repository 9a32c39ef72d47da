import { describe, expect, it } from 'vitest';
import { EXAMPLE_DEVICE_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import type { RecordOf } from './registry';
import { laterStateIssues, supersededVersion, transitionIssues, type TransitionIssue } from './transitions';
import { validateRecord } from './validate';

const PROVIDER = { accountId: EXAMPLE_PROVIDER_ID, deviceId: EXAMPLE_DEVICE_ID };
const AT = '2024-06-01T10:00:00.000Z';

const brief = (issues: readonly TransitionIssue[]) => issues.map((i) => `${i.rule} ${i.field}`);

/** `lab`'s next version with `value`, as the records API writes it. */
const nextLab = (lab: RecordOf<'LabResult'>, value: number | string): RecordOf<'LabResult'> => {
  const next: RecordOf<'LabResult'> = {
    ...lab,
    value,
    version: lab.version + 1,
    versions: [
      ...lab.versions,
      supersededVersion('LabResult', lab) as RecordOf<'LabResult'>['versions'][number],
    ],
    provenance: { by: PROVIDER.accountId, deviceId: PROVIDER.deviceId, at: AT },
  };
  expect(validateRecord('LabResult', next).ok).toBe(true);
  return next;
};

describe('laterStateIssues: a state some versions later', () => {
  const lab = exampleRecord('LabResult');
  const two = nextLab(nextLab(lab, 120), 130);

  it('takes genuine later versions, which a single write would not be', () => {
    expect(brief(transitionIssues('LabResult', lab, two))).toEqual(['final version']);
    expect(laterStateIssues('LabResult', lab, two)).toEqual([]);
    expect(laterStateIssues('LabResult', lab, nextLab(lab, 120))).toEqual([]);
    // Back to the same value two versions on is still two versions.
    expect(laterStateIssues('LabResult', lab, nextLab(nextLab(lab, 120), lab.value ?? 0))).toEqual([]);
  });

  it('refuses a history dropped, edited, skipped or not holding the earlier state, and content changed in place', () => {
    const cases: Array<RecordOf<'LabResult'>> = [
      { ...two, versions: [] },
      { ...two, versions: two.versions.map((v, i) => (i === 0 ? { ...v, value: 1 } : v)) },
      { ...two, version: two.version + 1 },
      { ...two, versions: two.versions.map((v, i) => (i === lab.versions.length ? { ...v, value: 1 } : v)) },
      { ...lab, value: 980 },
      { ...lab, version: lab.version - 1 },
    ];
    expect(cases.map((c) => brief(laterStateIssues('LabResult', lab, c)))).toEqual([
      ['final versions[0]'],
      ['final versions[0]'],
      [`final versions[${lab.versions.length}]`],
      [`final versions[${lab.versions.length}]`],
      ['final version'],
      ['final version'],
    ]);
  });

  it('checks no author, and keeps the final rules of other kinds', () => {
    const other = { ...two, provenance: { ...two.provenance, by: 'someone-else' } };
    expect(laterStateIssues('LabResult', lab, other)).toEqual([]);
    const signature = { ...exampleRecord('NoteSignature'), status: 'signed' as const, signedAt: AT };
    expect(validateRecord('NoteSignature', signature).ok).toBe(true);
    expect(
      brief(
        laterStateIssues('NoteSignature', signature, { ...signature, signedAt: '2024-06-02T10:00:00.000Z' }),
      ),
    ).toEqual(['final signedAt']);
  });
});
