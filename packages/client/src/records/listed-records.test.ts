// Lists read each stored revision once: however many lists follow a kind and however often they emit, a
// record is copied out of the store once per revision, and what lists hand out is shared and frozen.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, skip } from 'rxjs';
import type { StoredRecord } from './records';
import { closeRecordDbs, recordInput, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

describe('listed records', () => {
  it('decodes each revision once across lists and emissions; unchanged records stay the same objects', async () => {
    const { records } = await setupRecords();
    for (let i = 0; i < 5; i += 1) {
      await records.add('Allergy', { ...recordInput('Allergy'), substance: `S${i}` });
    }
    const before = records.listedDecodes();
    const first = await firstValueFrom(records.observe('Allergy'));
    const again = await firstValueFrom(records.observe('Allergy'));
    expect(first).toHaveLength(5);
    expect(records.listedDecodes() - before).toBe(5);
    expect(again.every((r, i) => r === first[i])).toBe(true);

    // One record changed: one more decode, the other four are the objects listed before.
    const changed = first[2] as StoredRecord<'Allergy'>;
    const next = firstValueFrom(records.observe('Allergy').pipe(skip(1)));
    await records.update('Allergy', changed.record.id, { substance: 'Changed' });
    const after = await next;
    expect(records.listedDecodes() - before).toBe(6);
    expect(after.filter((r) => first.includes(r))).toHaveLength(4);
    expect(after.find((r) => r.record.id === changed.record.id)?.record.substance).toBe('Changed');
  });

  it('hands out frozen records: a list cannot change what another shows', async () => {
    const { records } = await setupRecords();
    await records.add('Allergy', recordInput('Allergy'));
    const [listed] = await firstValueFrom(records.observe('Allergy'));
    expect(Object.isFrozen(listed)).toBe(true);
    expect(Object.isFrozen(listed?.record)).toBe(true);
    expect(() => {
      (listed?.record as { substance: string }).substance = 'written over';
    }).toThrow(TypeError);
  });
});
