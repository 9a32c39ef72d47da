import { describe, expect, it } from 'vitest';
import { attribute, componentOf, shareLines, type CpuProfile } from './phase-profile';

const ROOT = '/repo';

describe('phase profile', () => {
  it('names components by package, RxDB part, repository file, Node module or V8 state', () => {
    const of = (functionName: string, url: string) => componentOf({ functionName, url }, ROOT);
    expect(of('(garbage collector)', '')).toBe('GC');
    expect(of('(idle)', '')).toBe('idle');
    expect(of('postMessage', '')).toBe('native postMessage');
    expect(of('x', 'file:///repo/node_modules/tweetnacl/nacl-fast.js')).toBe('tweetnacl');
    expect(of('x', 'file:///repo/node_modules/@noble/hashes/esm/sha2.js')).toBe('@noble/hashes');
    expect(of('x', 'file:///repo/node_modules/rxdb/dist/esm/plugins/storage-memory/memory-helper.js')).toBe(
      'rxdb plugins/storage-memory',
    );
    expect(of('x', 'file:///repo/node_modules/rxdb/dist/esm/replication-protocol/upstream.js')).toBe(
      'rxdb replication-protocol',
    );
    expect(of('x', 'file:///repo/node_modules/rxdb/dist/esm/rx-storage-helper.js')).toBe('rxdb core');
    expect(of('x', 'file:///repo/node_modules/rxdb/node_modules/mingo/dist/esm/core.js')).toBe('mingo');
    expect(of('x', 'file:///repo/packages/client/src/store/device-db.ts')).toBe(
      'packages/client/src/store/device-db.ts',
    );
    expect(of('x', 'node:internal/worker/io')).toBe('node:internal');
  });

  it('sums self time of the samples inside the window only', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(garbage collector)', url: '' } },
        { id: 2, callFrame: { functionName: 'seal', url: 'file:///repo/node_modules/tweetnacl/a.js' } },
        { id: 3, callFrame: { functionName: '(idle)', url: '' } },
      ],
      startTime: 1000,
      // Samples land at 1010, 1020, 1050, 1100 and 1200.
      samples: [2, 1, 2, 3, 2],
      timeDeltas: [10, 10, 30, 50, 100],
    };
    const parts = attribute(profile, { startUs: 1015, endUs: 1100 }, ROOT);
    expect(Object.fromEntries(parts)).toEqual({ GC: 10, tweetnacl: 30, idle: 50 });
  });

  it('lists the largest components and sums the rest', () => {
    const lines = shareLines(
      new Map([
        ['a', 5000],
        ['b', 3000],
        ['c', 1000],
        ['d', 1000],
      ]),
      10_000,
      2,
    );
    expect(lines.slice(2)).toEqual(['| a | 5 | 50.0% |', '| b | 3 | 30.0% |', '| others (2) | 2 | 20.0% |']);
  });
});
