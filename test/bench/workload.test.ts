import { describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { validateRecord } from '@hale/model';
import {
  RECORD_BYTES,
  allergyRecord,
  createHeapGuard,
  fillerText,
  makeRecords,
  percentile,
  trackArrivals,
} from './workload';

const PATIENT = 'BenchPatientAccount001';

describe('sync benchmark workload', () => {
  it('fills notes deterministically to the exact length, differently per seed', () => {
    expect(fillerText(7, 300)).toHaveLength(300);
    expect(fillerText(7, 300)).toBe(fillerText(7, 300));
    expect(fillerText(8, 300)).not.toBe(fillerText(7, 300));
  });

  it('builds valid Allergy records of about 1 KB of JSON, each with its own id', () => {
    const at = new Date().toISOString();
    const a = allergyRecord(1, PATIENT, at);
    const b = allergyRecord(2, PATIENT, at);
    expect(validateRecord('Allergy', a).ok).toBe(true);
    expect(JSON.stringify(a).length).toBeGreaterThanOrEqual(RECORD_BYTES - 8);
    expect(JSON.stringify(a).length).toBeLessThanOrEqual(RECORD_BYTES + 8);
    expect(a.id).not.toBe(b.id);
    expect(a.notes).not.toBe(b.notes);
  });

  it('wraps records in the device-record shape of the patient stream', () => {
    const [r] = makeRecords(1, { accountId: PATIENT, deviceId: 'BenchDevice00000000001' });
    expect(r).toMatchObject({ stream: `${PATIENT}/allergy`, kind: 'Allergy', rv: 1, by: PATIENT });
    expect(r?.data['id']).toBe(r?.id);
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([3], 99)).toBe(3);
    expect(() => percentile([], 50)).toThrow();
  });
});

describe('heap guard', () => {
  const setup = () => {
    let used = 0;
    let gc: () => void = () => undefined;
    const guard = createHeapGuard({
      heapUsed: () => used,
      heapLimit: 1000,
      fraction: 0.8,
      onMajorGc: (onGc) => {
        gc = onGc;
        return () => undefined;
      },
    });
    return { guard, setUsed: (n: number) => (used = n), gc: () => gc() };
  };

  it('ignores a full heap until a major GC shows it is still in use', () => {
    const { guard, setUsed, gc } = setup();
    setUsed(950);
    expect(() => guard.check()).not.toThrow();
    setUsed(300);
    gc();
    expect(() => guard.check()).not.toThrow();
    expect(guard.peakMiB()).toBe(0);
  });

  it('trips after a major GC that leaves more than the fraction in use, and fails a pending step', async () => {
    const { guard, setUsed, gc } = setup();
    const never = new Promise<number>(() => undefined);
    const pending = guard.race(never);
    setUsed(850);
    gc();
    expect(() => guard.check()).toThrow(/out of memory/);
    await expect(pending).rejects.toThrow(/out of memory/);
  });
});

describe('arrival tracking', () => {
  it('counts distinct documents, ignores deletions, and waits for a count or an id', async () => {
    const $ = new Subject<{ documentId: string; operation: string }>();
    const arrivals = trackArrivals({ $ });
    const three = arrivals.waitForCount(3, 1000);
    const b = arrivals.waitForId('b', 1000);
    $.next({ documentId: 'a', operation: 'INSERT' });
    $.next({ documentId: 'a', operation: 'UPDATE' });
    $.next({ documentId: 'x', operation: 'DELETE' });
    $.next({ documentId: 'b', operation: 'INSERT' });
    await b;
    expect(arrivals.count()).toBe(2);
    $.next({ documentId: 'c', operation: 'INSERT' });
    await three;
    expect(arrivals.has('x')).toBe(false);
    arrivals.stop();
  });

  it('rejects with what it saw when the count does not arrive in time', async () => {
    const $ = new Subject<{ documentId: string; operation: string }>();
    const arrivals = trackArrivals({ $ });
    $.next({ documentId: 'a', operation: 'INSERT' });
    await expect(arrivals.waitForCount(2, 20)).rejects.toThrow(/seen 1/);
    arrivals.stop();
  });
});
