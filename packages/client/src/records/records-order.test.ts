// "Newest first" is by the instant `updatedAt` names. This build stamps it in UTC with three fraction
// digits, but a version pulled from another build or a provider's device may carry any offset and 1–9
// fraction digits (the model takes them), whose text order is not their time order.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { exampleRecord } from '@hale/model';
import type { DeviceDb } from '../store/device-db';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';

afterEach(closeRecordDbs);

/** Stores an Allergy named `substance` as a pull leaves it, stamped `updatedAt` (`stamped` on top). */
const pulled = async (db: DeviceDb, substance: string, updatedAt: string, stamped = updatedAt) => {
  const data = { ...exampleRecord('Allergy'), substance, updatedAt };
  await storeMerged(db, pulledSide('Allergy', data, { updatedAt: stamped }));
};

// Newest first by instant; by text the order would be B, F, G, E, D, A, H.
const NEWEST_FIRST: ReadonlyArray<readonly [string, string]> = [
  ['H', '2026-01-01T07:00:00-03:00'], // 10:00Z
  ['G', '2026-01-01T09:50:00.50001Z'],
  ['F', '2026-01-01T09:50:00.5Z'],
  ['D', '2026-01-01T09:45:00.250Z'],
  ['E', '2026-01-01T09:45:00Z'],
  ['A', '2026-01-01T09:30:00Z'],
  ['B', '2026-01-01T11:00:00+02:00'], // 09:00Z
];
const NAMES = NEWEST_FIRST.map(([name]) => name);

const setupMixed = async () => {
  const setup = await setupRecords();
  // Stored in neither order, so neither insertion order nor id order can give the answer.
  for (const i of [3, 0, 6, 1, 5, 2, 4]) {
    const [name, at] = NEWEST_FIRST[i]!;
    await pulled(setup.db, name, at);
  }
  return setup;
};

const names = (listed: ReadonlyArray<{ record: { substance: string } }>): string[] =>
  listed.map((r) => r.record.substance);

describe('records: newest first by the instant of updatedAt, not its text', () => {
  it('query lists mixed offsets and fraction digits in time order', async () => {
    const { records } = await setupMixed();
    expect(names(await records.query('Allergy'))).toEqual(NAMES);
  });

  it('query with a limit answers the newest by instant, not the first by text', async () => {
    const { records } = await setupMixed();
    for (let limit = 1; limit <= NAMES.length + 1; limit++) {
      expect(names(await records.query('Allergy', { limit }))).toEqual(NAMES.slice(0, limit));
    }
  });

  it('a limit still finds the newest among records far older than the first by text', async () => {
    const { db, records } = await setupMixed();
    for (let day = 10; day < 20; day++) await pulled(db, `old ${day}`, `2025-06-${day}T12:00:00.000Z`);
    expect(names(await records.query('Allergy', { limit: 3 }))).toEqual(NAMES.slice(0, 3));
    expect(names(await records.query('Allergy', { limit: 9 }))).toEqual([...NAMES, 'old 19', 'old 18']);
  });

  it('a limit finds a record whose wall clock lies nearly two days before the first by text', async () => {
    const { db, records } = await setupRecords();
    await pulled(db, 'east', '2026-01-03T00:00:00+23:59'); // 2026-01-02T00:01Z
    await pulled(db, 'west', '2026-01-01T00:03:00.5-23:59'); // 2026-01-02T00:02:00.5Z
    await pulled(db, 'before', '2025-12-31T23:00:00Z');
    expect(names(await records.query('Allergy', { limit: 1 }))).toEqual(['west']);
    expect(names(await records.query('Allergy', { limit: 2 }))).toEqual(['west', 'east']);
  });

  it('observe shows mixed offsets and fraction digits in time order', async () => {
    const { records } = await setupMixed();
    expect(names(await firstValueFrom(records.observe('Allergy')))).toEqual(NAMES);
  });

  it('a version stamped with no instant is listed after every dated one, also under a limit', async () => {
    const { db, records } = await setupRecords();
    await pulled(db, 'undated', '2024-05-02T14:05:00.000Z', 'zz');
    await pulled(db, 'older', '2020-01-01T00:00:00Z');
    await pulled(db, 'newer', '2021-01-01T00:00:00+05:00');
    expect(names(await records.query('Allergy', { limit: 1 }))).toEqual(['newer']);
    expect(names(await records.query('Allergy'))).toEqual(['newer', 'older', 'undated']);
  });
});
