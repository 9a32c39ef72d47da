import { describe, expect, it } from 'vitest';
import { exampleRecord, type RecordOf } from '@hale/model';
import type { StoredRecord } from '@hale/client';
import { activePlans, resultsDuring, signedNotesOf } from './visit-content';

const stored = (record: RecordOf<'LabResult'>): StoredRecord<'LabResult'> => ({
  kind: 'LabResult',
  record,
  author: 'd',
  by: 'a',
  conflict: false,
  conflictData: null,
  rv: 1,
});

describe('visit summary content', () => {
  const encounter = exampleRecord('Encounter', {
    id: '01J0000000000000000000ENC1',
    startedAt: '2026-03-02T09:00:00Z',
    endedAt: '2026-03-02T10:00:00Z',
    status: 'finished',
  });

  it('lists the results entered or taken during the visit, not others, nor those entered in error', () => {
    const lab = (over: Partial<RecordOf<'LabResult'>>) => stored(exampleRecord('LabResult', over));
    const during = lab({ testName: 'HbA1c', createdAt: '2026-03-02T09:30:00Z', effectiveAt: '2026-02-01' });
    const taken = lab({
      testName: 'Glucose',
      createdAt: '2026-03-05T08:00:00Z',
      effectiveAt: '2026-03-02T09:10:00Z',
    });
    const before = lab({ testName: 'Lipids', createdAt: '2026-02-01T08:00:00Z', effectiveAt: '2026-02-01' });
    const error = lab({
      testName: 'Ferritin',
      createdAt: '2026-03-02T09:40:00Z',
      status: 'entered-in-error',
    });
    const names = resultsDuring([during, taken, before, error], encounter).map((l) => l.testName);
    expect(names).toEqual(['Glucose', 'HbA1c']);
  });

  it('an encounter still running takes results until now', () => {
    const { endedAt: _ended, ...rest } = encounter;
    const running = { ...rest, status: 'in-progress' as const };
    const lab = stored(
      exampleRecord('LabResult', { createdAt: '2026-03-02T11:00:00Z', effectiveAt: '2020-01-01' }),
    );
    expect(resultsDuring([lab], running, Date.parse('2026-03-02T12:00:00Z'))).toHaveLength(1);
    expect(resultsDuring([lab], running, Date.parse('2026-03-02T10:30:00Z'))).toHaveLength(0);
  });

  it('gives signed notes as they read now (amendment replaces, addendum adds), never drafts', () => {
    const signed = exampleRecord('MedicalNote', {
      id: '01J0000000000000000000NOT1',
      encounterId: encounter.id,
      status: 'amended',
      currentVersionNumber: 3,
    });
    const draft = exampleRecord('MedicalNote', {
      id: '01J0000000000000000000NOT2',
      encounterId: encounter.id,
      status: 'draft',
    });
    const v = (n: number, kind: 'original' | 'amendment' | 'addendum', plan: string) =>
      exampleRecord('NoteVersion', { noteId: signed.id, versionNumber: n, kind, plan });
    const versions = [v(1, 'original', 'first'), v(2, 'amendment', 'second'), v(3, 'addendum', 'third')];
    const out = signedNotesOf(encounter.id, [signed, draft], versions);
    expect(out.map((n) => n.note.id)).toEqual([signed.id]);
    expect(out[0]?.body.map((b) => b.plan)).toEqual(['second', 'third']);
  });

  it('gives only active plans', () => {
    const plans = (['draft', 'active', 'completed'] as const).map((status) =>
      exampleRecord('TreatmentPlan', { status, summary: status }),
    );
    expect(activePlans(plans).map((p) => p.summary)).toEqual(['active']);
  });
});
