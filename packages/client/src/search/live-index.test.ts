// A chart's live index follows its record views: first lists, changes, removals; a failed or completed
// view (lock, close) forgets everything.
import { describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { StoredRecord } from '../records/records';
import { createLiveIndex } from './live-index';

const stored = <K extends RecordKind>(kind: K, id: string, fields: Partial<RecordOf<K>>, rv = 1) =>
  ({
    kind,
    record: { ...exampleRecord(kind, fields), id },
    author: 'DevA000000000000000001',
    by: 'PatientAccount00000001',
    conflict: false,
    conflictData: null,
    rv,
  }) as StoredRecord;

const views = () => {
  const subjects = new Map<RecordKind, Subject<readonly StoredRecord[]>>();
  const observe = (kind: RecordKind) => {
    const s = new Subject<readonly StoredRecord[]>();
    subjects.set(kind, s);
    return s.asObservable();
  };
  return { observe, of: (kind: RecordKind) => subjects.get(kind)! };
};

describe('createLiveIndex', () => {
  it('is ready once every kind listed once, and follows additions, edits and removals', () => {
    const v = views();
    const index = createLiveIndex(v.observe, ['Allergy', 'Medication']);
    let changes = 0;
    index.changes.subscribe(() => (changes += 1));
    v.of('Allergy').next([stored('Allergy', 'A1', { substance: 'Latex' })]);
    expect(index.ready()).toBe(false);
    expect(index.search('latex').total).toBe(1);
    v.of('Medication').next([]);
    expect(index.ready()).toBe(true);
    v.of('Allergy').next([
      stored('Allergy', 'A1', { substance: 'Peanut' }, 2),
      stored('Allergy', 'A2', { substance: 'Latex' }),
    ]);
    expect(index.search('peanut').hits.map((h) => h.record.record.id)).toEqual(['A1']);
    expect(index.search('latex').hits.map((h) => h.record.record.id)).toEqual(['A2']);
    v.of('Allergy').next([stored('Allergy', 'A2', { substance: 'Latex' })]);
    expect(index.search('peanut').total).toBe(0);
    expect(index.size()).toBe(1);
    expect(changes).toBe(4);
  });

  it('a view failing (the session locked) forgets every record and closes', () => {
    const v = views();
    const index = createLiveIndex(v.observe, ['Allergy']);
    v.of('Allergy').next([stored('Allergy', 'A1', { substance: 'Latex' })]);
    v.of('Allergy').error(new Error('LOCKED'));
    expect(index.closed()).toBe(true);
    expect(index.size()).toBe(0);
    expect(index.search('latex').total).toBe(0);
  });

  it('a view completing (the session closed) closes it too', () => {
    const v = views();
    const index = createLiveIndex(v.observe, ['Allergy']);
    v.of('Allergy').next([stored('Allergy', 'A1', { substance: 'Latex' })]);
    v.of('Allergy').complete();
    expect(index.closed()).toBe(true);
    expect(index.size()).toBe(0);
  });

  it('a view refused at once (locked) throws and leaves nothing open', () => {
    const allergies = new Subject<readonly StoredRecord[]>();
    const observe = (kind: RecordKind) => {
      if (kind === 'Medication') throw new Error('LOCKED');
      return allergies.asObservable();
    };
    expect(() => createLiveIndex(observe, ['Allergy', 'Medication'])).toThrow('LOCKED');
    expect(allergies.observed).toBe(false);
  });

  it('paced, it indexes a chunk per turn, answers from what it has meanwhile, and is ready (and says so) at the end', () => {
    const v = views();
    const turns: Array<() => void> = [];
    const index = createLiveIndex(v.observe, ['Allergy'], { chunk: 2, later: (task) => turns.push(task) });
    let changes = 0;
    index.changes.subscribe(() => (changes += 1));
    const five = ['A1', 'A2', 'A3', 'A4', 'A5'].map((id) => stored('Allergy', id, { substance: 'Latex' }));
    v.of('Allergy').next(five);
    expect(turns).toHaveLength(1);
    expect(index.size()).toBe(0);
    turns.shift()!();
    expect(index.size()).toBe(2);
    expect(index.ready()).toBe(false);
    expect(index.search('latex').total).toBe(2);
    // A change before its turn: A5 indexed once, as it is last; A1 taken out again.
    v.of('Allergy').next([...five.slice(1, 4), stored('Allergy', 'A5', { substance: 'Peanut' }, 2)]);
    expect(turns).toHaveLength(1);
    while (turns.length > 0) turns.shift()!();
    expect(index.ready()).toBe(true);
    expect(
      index
        .search('latex')
        .hits.map((h) => h.record.record.id)
        .sort(),
    ).toEqual(['A2', 'A3', 'A4']);
    expect(index.search('peanut').total).toBe(1);
    // Once, when the last chunk was done: a search shown is not run again after every chunk.
    expect(changes).toBe(1);
  });

  it('paced work left when it closes is dropped', () => {
    const v = views();
    const turns: Array<() => void> = [];
    const index = createLiveIndex(v.observe, ['Allergy'], { chunk: 1, later: (task) => turns.push(task) });
    v.of('Allergy').next([stored('Allergy', 'A1', { substance: 'Latex' }), stored('Allergy', 'A2', {})]);
    index.close();
    for (const task of turns) task();
    expect(index.size()).toBe(0);
    expect(index.ready()).toBe(false);
  });
});
