// The workload both sides of the sync benchmark run: ~1 KB Allergy records in the Hale device-record shape
// (the RxDB side stores the same documents in clear), plus timing and arrival-counting helpers.
import type { Observable } from 'rxjs';
import { exampleRecord, newId, validateRecord, type RecordOf } from '@hale/model';
import type { DeviceRecord } from '@hale/client/advanced';

/** Target size of one record's `data` as JSON text. */
export const RECORD_BYTES = 1024;

const WORDS = [
  'reaction',
  'observed',
  'after',
  'first',
  'dose',
  'mild',
  'hives',
  'resolved',
  'within',
  'hours',
  'antihistamine',
  'given',
  'patient',
  'reports',
  'itching',
  'no',
  'swelling',
  'advised',
  'avoid',
  'related',
  'agents',
];

/** Deterministic filler text of exactly `length` characters, different for each seed. */
export const fillerText = (seed: number, length: number): string => {
  let x = (seed * 2654435761) >>> 0 || 1;
  let out = '';
  while (out.length < length) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += `${WORDS[x % WORDS.length]} `;
  }
  return out.slice(0, length);
};

/**
 * One valid Allergy (checked against `@hale/model`) whose notes pad its JSON to about RECORD_BYTES.
 * `seed` varies the content so no two records are equal.
 */
export const allergyRecord = (seed: number, patientId: string, at: string): RecordOf<'Allergy'> => {
  // A patient's own allergy: without the list of reactions an import keeps.
  const { reactions: _reactions, ...base } = exampleRecord('Allergy', {
    id: newId(),
    patientId,
    createdAt: at,
    updatedAt: at,
    recordedAt: at,
    substance: `Substance ${seed}`,
    notes: '',
  });
  const pad = Math.max(0, RECORD_BYTES - JSON.stringify(base).length);
  const record = { ...base, notes: fillerText(seed, pad) };
  const checked = validateRecord('Allergy', record);
  if (!checked.ok) throw new Error(`benchmark record is invalid: ${checked.error.message}`);
  return checked.value;
};

export interface Writer {
  accountId: string;
  deviceId: string;
}

/** The stored device record `records.add('Allergy', …)` would write for this allergy. */
export const deviceRecord = (record: RecordOf<'Allergy'>, writer: Writer): DeviceRecord => ({
  id: record.id,
  stream: `${record.patientId}/allergy`,
  kind: 'Allergy',
  patientId: record.patientId,
  updatedAt: record.updatedAt,
  rv: 1,
  epoch: 0,
  author: writer.deviceId,
  by: writer.accountId,
  conflict: false,
  data: record,
  conflictData: null,
});

/** `n` device records of `writer`'s allergy stream, built (and validated) ahead of any timed section. */
export const makeRecords = (n: number, writer: Writer, seedFrom = 0): DeviceRecord[] => {
  const at = new Date().toISOString();
  return Array.from({ length: n }, (_, i) =>
    deviceRecord(allergyRecord(seedFrom + i, writer.accountId, at), writer),
  );
};

export const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
};

export const docsPerSecond = (docs: number, ms: number): number => (ms > 0 ? (docs * 1000) / ms : 0);

/** The subset of an RxDB collection the arrival tracker needs. */
export interface ChangeSource {
  $: Observable<{ documentId: string; operation: string }>;
}

/**
 * Counts distinct documents that arrive in a collection (RxDB change events, no polling) and lets a
 * caller wait for a count or for one id. A timeout rejects with what was seen, so a stall fails loudly.
 */
export const trackArrivals = (collection: ChangeSource) => {
  const seen = new Set<string>();
  const waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  const sub = collection.$.subscribe((ev) => {
    if (ev.operation === 'DELETE') return;
    seen.add(ev.documentId);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.check()) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  });
  const waitUntil = (check: () => boolean, what: string, timeoutMs: number): Promise<void> => {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (seen ${seen.size})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      waiters.push({ check, resolve: done });
    });
  };
  return {
    count: (): number => seen.size,
    has: (id: string): boolean => seen.has(id),
    waitForCount: (n: number, timeoutMs: number) =>
      waitUntil(() => seen.size >= n, `${n} documents`, timeoutMs),
    waitForId: (id: string, timeoutMs: number) => waitUntil(() => seen.has(id), `document ${id}`, timeoutMs),
    stop: (): void => sub.unsubscribe(),
  };
};

export type Arrivals = ReturnType<typeof trackArrivals>;

export interface SideFigures {
  /** docs/s, or null when the phase did not finish in its time budget. */
  push: number | null;
  initialPull: number | null;
  live: number | null;
  latencyMs: { p50: number; p99: number; samples: number } | null;
  /** Wall time of each timed phase, ms. */
  ms: { push: number | null; initialPull: number | null; live: number | null };
  notes: string[];
  /** Highest V8 heap still in use after a major GC during the side's run, MiB (set by the runner). */
  peakHeapMiB?: number;
}

export const elapsed = (from: number): number => performance.now() - from;

export interface HeapGuardOptions {
  /** Bytes of V8 heap in use now (live objects plus garbage not yet collected). */
  heapUsed: () => number;
  heapLimit: number;
  /** Calls `onGc` after every major (mark-compact) garbage collection; returns an unsubscribe. */
  onMajorGc: (onGc: () => void) => () => void;
  /** Trip when the heap in use right after a major GC exceeds this share of the limit. */
  fraction?: number;
}

/**
 * Stops a run before V8 runs out of heap, which would kill the whole process and lose every figure.
 * Only the heap measured right after a major GC counts (what is still alive), so garbage left by an
 * earlier run never trips it. `check()` throws once tripped; `race()` rejects a pending step then.
 */
export const createHeapGuard = (options: HeapGuardOptions) => {
  const { heapUsed, heapLimit, fraction = 0.8 } = options;
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  let tripped: Error | null = null;
  let peak = 0;
  let reject: ((e: Error) => void) | null = null;
  const trip$ = new Promise<never>((_, r) => {
    reject = r;
  });
  trip$.catch(() => undefined);
  const unsubscribe = options.onMajorGc(() => {
    if (tripped) return;
    const live = heapUsed();
    peak = Math.max(peak, live);
    if (live > heapLimit * fraction) {
      tripped = new Error(
        `out of memory: ${mib(live)} still in use after a full GC (V8 heap limit ${mib(heapLimit)})`,
      );
      reject?.(tripped);
    }
  });
  return {
    check(): void {
      if (tripped) throw tripped;
    },
    race<T>(p: Promise<T>): Promise<T> {
      return Promise.race([p, trip$]);
    },
    /** Highest heap in use right after a major GC, MiB (0 when none ran). */
    peakMiB: (): number => Math.round(peak / 2 ** 20),
    stop: unsubscribe,
  };
};

export type HeapGuard = ReturnType<typeof createHeapGuard>;

/**
 * Where a timed phase ran on the monotonic clock, in microseconds: the clock V8's CPU profiles
 * (`node --cpu-prof`) stamp their samples with, so `phase-profile.ts` can cut a profile to one phase.
 */
export interface PhaseWindow {
  n: number;
  side: string;
  phase: string;
  startUs: number;
  endUs: number;
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Runs one timed phase; a failure or overrun is recorded as null with the reason, never as a figure. */
export const timedPhase = async (
  side: string,
  name: string,
  notes: string[],
  o: Pick<RunOptions, 'n' | 'log' | 'guard' | 'windows'>,
  run: () => Promise<number>,
): Promise<number | null> => {
  const { log, guard } = o;
  try {
    guard.check();
    const startUs = monotonicUs();
    const ms = await guard.race(run());
    o.windows?.push({ n: o.n, side, phase: name, startUs, endUs: monotonicUs() });
    log(`  ${side} ${name}: ${ms.toFixed(0)} ms`);
    return ms;
  } catch (error) {
    const message = `${name} did not finish: ${error instanceof Error ? error.message : String(error)}`;
    notes.push(message);
    log(`  ${side} ${message}`);
    return null;
  }
};

export interface RunOptions {
  n: number;
  /** Replication batch size (documents per push/pull request), the same on both sides. */
  batchSize: number;
  /** Documents per local bulk insert in the live phase. */
  liveChunk: number;
  latencySamples: number;
  /** Budget of each timed phase; a phase that overruns is reported as not finished. */
  phaseTimeoutMs: number;
  log: (line: string) => void;
  guard: HeapGuard;
  /** Receives the window of every phase that finished. */
  windows?: PhaseWindow[];
  /** Hale's secretbox, on the main thread and in the crypto worker (`--secretbox=`, libsodium by default). */
  secretbox: 'libsodium' | 'tweetnacl';
  /** Hale's SHA-256 / HMAC-SHA256, on the main thread and in the crypto worker (`--hashes=`, node by default). */
  hashes?: 'node' | 'noble';
}

/** Local bulk inserts before the push phase (untimed). */
export const INSERT_CHUNK = 1000;

export const emptyFigures = (notes: string[]): SideFigures => ({
  push: null,
  initialPull: null,
  live: null,
  latencyMs: null,
  ms: { push: null, initialPull: null, live: null },
  notes,
});
