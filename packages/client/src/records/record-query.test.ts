// A record list's query: filters on what is clear at rest, both sorts, pages that neither overlap nor
// skip, and malformed queries refused by name.
import { describe, expect, it } from 'vitest';
import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import { isHaleError } from '../core/hale-error';
import { checkRecordQuery, compareClinicalDates, pageOf } from './record-query';
import type { StoredRecord } from './records';

const stored = <K extends RecordKind>(
  kind: K,
  id: string,
  updatedAt: string,
  fields: { [F in keyof RecordOf<K>]?: RecordOf<K>[F] | undefined } = {},
  conflict = false,
): StoredRecord<K> => ({
  kind,
  record: JSON.parse(JSON.stringify({ ...exampleRecord(kind), ...fields, id, updatedAt })) as RecordOf<K>,
  author: 'DevA000000000000000001',
  by: 'PatientAccount00000001',
  conflict,
  conflictData: null,
  rv: 1,
});

// Labs written in one order, taken in another: a written sort and a clinical sort differ.
const labs = [
  stored('LabResult', 'L1', '2025-03-01T10:00:00.000Z', { effectiveAt: '2021-06-01T08:00:00Z' }),
  stored('LabResult', 'L2', '2025-03-02T10:00:00.000Z', { effectiveAt: '2023-01-10T08:00:00Z' }, true),
  stored('LabResult', 'L3', '2025-03-03T10:00:00.000Z', { effectiveAt: '2019-11-30T08:00:00Z' }),
  stored('LabResult', 'L4', '2025-03-04T10:00:00.000Z', { effectiveAt: '2024-02-02T08:00:00Z' }),
  stored('LabResult', 'L5', '2025-03-05T10:00:00.000Z', { effectiveAt: '2022-07-07T08:00:00Z' }),
];
const ids = (page: { items: readonly StoredRecord[] }): string[] => page.items.map((r) => r.record.id);

describe('pageOf', () => {
  it('lists newest written first by default, oldest first with order asc', () => {
    expect(ids(pageOf(labs, {}))).toEqual(['L5', 'L4', 'L3', 'L2', 'L1']);
    expect(ids(pageOf(labs, { order: 'asc' }))).toEqual(['L1', 'L2', 'L3', 'L4', 'L5']);
  });

  it('sorts by the clinical date in memory, either way', () => {
    expect(ids(pageOf(labs, { sort: 'clinical' }))).toEqual(['L4', 'L2', 'L5', 'L1', 'L3']);
    expect(ids(pageOf(labs, { sort: 'clinical', order: 'asc' }))).toEqual(['L3', 'L1', 'L5', 'L2', 'L4']);
  });

  it('compares times of writing as instants, whatever their offset', () => {
    const mixed = [
      // 09:30 UTC, written with an offset: after 09:00Z, before 10:00Z.
      stored('Allergy', 'A1', '2025-03-01T11:30:00+02:00'),
      stored('Allergy', 'A2', '2025-03-01T09:00:00.000Z'),
      stored('Allergy', 'A3', '2025-03-01T10:00:00.000Z'),
    ];
    expect(ids(pageOf(mixed, {}))).toEqual(['A3', 'A1', 'A2']);
    expect(ids(pageOf(mixed, { writtenFrom: '2025-03-01T09:15:00Z' }))).toEqual(['A3', 'A1']);
    expect(ids(pageOf(mixed, { writtenBefore: '2025-03-01T11:45:00+02:00' }))).toEqual(['A1', 'A2']);
  });

  it('filters by ids, times of writing and conflict, and counts every match in total', () => {
    const page = pageOf(labs, {
      ids: ['L1', 'L2', 'L4', 'nope'],
      writtenFrom: '2025-03-02T00:00:00.000Z',
      writtenBefore: '2025-03-05T00:00:00.000Z',
    });
    expect(ids(page)).toEqual(['L4', 'L2']);
    expect(page.total).toBe(2);
    expect(ids(pageOf(labs, { conflict: true }))).toEqual(['L2']);
    expect(pageOf(labs, { conflict: false }).total).toBe(4);
  });

  it('pages: limit after offset, total over all pages, pages neither overlap nor skip', () => {
    const query = { sort: 'clinical' as const, limit: 2 };
    const pages = [0, 2, 4].map((offset) => pageOf(labs, { ...query, offset }));
    expect(pages.map(ids)).toEqual([['L4', 'L2'], ['L5', 'L1'], ['L3']]);
    expect(pages.every((p) => p.total === 5)).toBe(true);
    expect(pageOf(labs, { offset: 9 })).toEqual({ items: [], total: 5 });
    expect(pageOf(labs, { limit: 0 })).toEqual({ items: [], total: 5 });
  });

  it('orders equal keys by record id, so a page boundary between them is stable', () => {
    const same = ['C', 'A', 'B'].map((id) => stored('Allergy', id, '2025-03-01T10:00:00.000Z'));
    expect(ids(pageOf(same, { order: 'asc' }))).toEqual(['A', 'B', 'C']);
    expect(ids(pageOf(same, {}))).toEqual(['C', 'B', 'A']);
    expect(ids(pageOf(same, { order: 'asc', limit: 2 }))).toEqual(['A', 'B']);
    expect(ids(pageOf(same, { order: 'asc', offset: 2 }))).toEqual(['C']);
  });

  it('a record without its clinical date sorts by its time of writing', () => {
    const meds = [
      stored('Medication', 'M1', '2025-01-01T00:00:00.000Z', { startDate: '2024-06-01' }),
      stored('Medication', 'M2', '2023-01-01T00:00:00.000Z', { startDate: undefined }),
    ];
    expect(ids(pageOf(meds, { sort: 'clinical' }))).toEqual(['M1', 'M2']);
  });
});

describe('compareClinicalDates', () => {
  it('orders instants as instants and partial dates on the part both state, the less precise first', () => {
    expect(compareClinicalDates('2024-05-01T08:00:00+02:00', '2024-05-01T07:00:00Z')).toBeLessThan(0);
    expect(compareClinicalDates('2024-05', '2024-05-10')).toBeLessThan(0);
    expect(compareClinicalDates('2024-05-10', '2024-05')).toBeGreaterThan(0);
    expect(compareClinicalDates('2024', '2023-12-31')).toBeGreaterThan(0);
    expect(compareClinicalDates('2024-05-01', '2024-05-01T00:00:00Z')).toBeLessThan(0);
    expect(compareClinicalDates('2024-05-01', '2024-05-01')).toBe(0);
  });
});

describe('checkRecordQuery', () => {
  const refusal = (query: unknown): unknown => {
    try {
      checkRecordQuery('LabResult', query as never);
      return null;
    } catch (e) {
      return e;
    }
  };

  it.each([
    ['limit', { limit: -1 }],
    ['limit', { limit: 2.5 }],
    ['offset', { offset: Number.NaN }],
    ['writtenFrom', { writtenFrom: 'yesterday' }],
    ['writtenBefore', { writtenBefore: '2025-03-01' }],
    ['sort', { sort: 'name' }],
    ['order', { order: 'up' }],
    ['conflict', { conflict: 'yes' }],
    ['ids', { ids: 'L1' }],
  ])('refuses a bad %s with VALIDATION_FAILED naming it', (field, query) => {
    const e = refusal(query);
    expect(isHaleError(e, 'VALIDATION_FAILED')).toBe(true);
    expect((e as { field?: string }).field).toBe(field);
    expect((e as Error).message).toContain(field);
  });

  it('takes a well-formed query', () => {
    expect(
      refusal({
        ids: ['L1'],
        writtenFrom: '2025-03-01T00:00:00Z',
        writtenBefore: '2025-03-02T00:00:00+01:00',
        conflict: false,
        sort: 'clinical',
        order: 'asc',
        limit: 0,
        offset: 3,
      }),
    ).toBeNull();
  });
});
