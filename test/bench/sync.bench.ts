// Sync benchmark: Hale's encrypted, consent-checked sync against RxDB's own plaintext replication-websocket,
// same workload (~1 KB Allergy records), same RxDB memory storage, one process, loopback sockets.
// Run: npm run bench:sync [-- --quick] [--n=10000,100000] [--batch=500] [--live-chunk=1000]
//      [--latency=200] [--side=both|hale|rxdb] [--phase-timeout-s=240] [--floor=false]
//      [--secretbox=libsodium|tweetnacl] (Hale's secretbox on both threads; libsodium, as nodePlatform, by default)
//      [--hashes=node|noble] (Hale's SHA-256 / HMAC-SHA256 on both threads; node:crypto, as nodePlatform, by default)
// Rows: push (device 1 uploads N records written offline), initial pull (fresh device 2 receives N),
// live (device 2, in sync, receives N written on device 1 in bulk inserts while online), and latency
// (single write on device 1 → arrival on device 2). Then the device-side floor (floor-side.ts): the same push
// and initial pull through RxDB's replication on one device with no network, on plain storage and through
// Hale's at-rest layer, set beside the peer's whole path (`--floor=false` skips it).
// The last line printed is one JSON object with every figure. Where each phase's time goes: run under
// `node --cpu-prof --cpu-prof-dir=DIR …` with the output saved, then `tsx test/bench/phase-profile.ts DIR FILE`.
import { cpus, loadavg } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import {
  PerformanceObserver,
  constants,
  type NodeGCPerformanceDetail,
  type PerformanceEntry,
} from 'node:perf_hooks';
import { loadSodiumSecretbox, useHashes, useSecretbox } from '@hale/crypto';
import { createNodeHashes } from '@hale/crypto/node';
import { runHale } from './hale-side';
import { runRxdb } from './rxdb-side';
import { runFloor, type FloorFigures } from './floor-side';
import { createHeapGuard, type PhaseWindow, type RunOptions, type SideFigures } from './workload';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const num = (key: string, fallback: number): number => {
  const v = args.get(key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number`);
  return n;
};

const quick = args.has('quick');
const sizes = (args.get('n') ?? (quick ? '10000' : '10000,100000')).split(',').map(Number);
const side = args.get('side') ?? 'both';
const batchSize = num('batch', 500);
const liveChunk = num('live-chunk', 1000);
const latencySamples = num('latency', 200);
const phaseTimeoutMs = num('phase-timeout-s', 300) * 1000;
const floor = args.get('floor') !== 'false';
const secretbox = args.get('secretbox') ?? 'libsodium';
if (secretbox !== 'libsodium' && secretbox !== 'tweetnacl') {
  throw new Error('--secretbox must be libsodium or tweetnacl');
}
const hashes = args.get('hashes') ?? 'node';
if (hashes !== 'node' && hashes !== 'noble') throw new Error('--hashes must be node or noble');
const heapLimit = getHeapStatistics().heap_size_limit;

const log = (line: string): void => console.log(line);

const onMajorGc = (onGc: () => void): (() => void) => {
  // Node 20 puts the GC kind on `detail`, which its PerformanceEntry type does not declare.
  const kindOf = (e: PerformanceEntry): number | undefined =>
    (e as PerformanceEntry & { detail?: NodeGCPerformanceDetail | null }).detail?.kind;
  const observer = new PerformanceObserver((list) => {
    if (list.getEntries().some((e) => kindOf(e) === constants.NODE_PERFORMANCE_GC_MAJOR)) onGc();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
};

interface CaseResult {
  n: number;
  hale: SideFigures | null;
  rxdb: SideFigures | null;
  floor: { plain: FloorFigures; atRest: FloorFigures } | null;
  seconds: number;
}

const fmt = (v: number | null): string =>
  v === null ? 'did not finish' : Math.round(v).toLocaleString('en-US');
const ratio = (h: number | null | undefined, r: number | null | undefined): number | null =>
  h === null || h === undefined || r === null || r === undefined || r === 0 ? null : h / r;
const fmtRatio = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));

const table = (results: CaseResult[]): string[] => {
  const rows: string[][] = [['N', 'row', 'Hale docs/s', 'RxDB ws docs/s', 'Hale/RxDB']];
  for (const c of results) {
    for (const key of ['push', 'initialPull', 'live'] as const) {
      const h = c.hale?.[key] ?? null;
      const r = c.rxdb?.[key] ?? null;
      rows.push([
        c.n.toLocaleString('en-US'),
        key === 'initialPull' ? 'initial pull' : key,
        fmt(h),
        fmt(r),
        fmtRatio(ratio(h, r)),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string =>
    `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line),
  ];
};

const latencyLines = (results: CaseResult[]): string[] => {
  const out = ['| N | side | p50 ms | p99 ms | samples |', '|---|---|---:|---:|---:|'];
  for (const c of results) {
    for (const [name, f] of [
      ['Hale', c.hale],
      ['RxDB ws', c.rxdb],
    ] as const) {
      const l = f?.latencyMs;
      out.push(
        `| ${c.n.toLocaleString('en-US')} | ${name} | ${l ? l.p50.toFixed(1) : 'n/a'} | ${l ? l.p99.toFixed(1) : 'n/a'} | ${l?.samples ?? 0} |`,
      );
    }
  }
  return out;
};

const floorLines = (results: CaseResult[]): string[] => {
  const ms = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : v.toFixed(0));
  const out = [
    '| N | row | RxDB ws, whole path ms | device floor, plain ms | device floor, Hale at rest ms | at-rest floor / RxDB ws |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const c of results) {
    if (c.floor === null) continue;
    for (const key of ['push', 'initialPull'] as const) {
      const peer = c.rxdb?.ms[key] ?? null;
      const atRest = c.floor.atRest[key];
      out.push(
        `| ${c.n.toLocaleString('en-US')} | ${key === 'initialPull' ? 'initial pull' : key} | ${ms(peer)} | ${ms(c.floor.plain[key])} | ${ms(atRest)} | ${fmtRatio(ratio(atRest, peer))} |`,
      );
    }
  }
  return out;
};

const main = async (): Promise<void> => {
  const started = performance.now();
  const cpu = cpus();
  const machine = {
    node: process.version,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
  log(`Sync benchmark — Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}`);
  log(
    `load average at start ${machine.loadavgAtStart.join(' / ')}; sizes ${sizes.join(', ')}; batch ${batchSize}; live chunk ${liveChunk}; latency samples ${latencySamples}; secretbox ${secretbox}; hashes ${hashes}`,
  );
  if (hashes === 'node') useHashes(createNodeHashes());
  if (secretbox === 'libsodium') {
    const box = await loadSodiumSecretbox();
    if (box === null) throw new Error('libsodium did not load');
    useSecretbox(box);
  }
  const results: CaseResult[] = [];
  const windows: PhaseWindow[] = [];
  for (const n of sizes) {
    const t0 = performance.now();
    log(`N = ${n.toLocaleString('en-US')}`);
    const run = async (runner: (o: RunOptions) => Promise<SideFigures>): Promise<SideFigures> => {
      const guard = createHeapGuard({
        heapUsed: () => getHeapStatistics().used_heap_size,
        heapLimit,
        onMajorGc,
      });
      try {
        const figures = await runner({
          n,
          batchSize,
          liveChunk,
          latencySamples,
          phaseTimeoutMs,
          log,
          guard,
          windows,
          secretbox,
          hashes,
        });
        return { ...figures, peakHeapMiB: guard.peakMiB() };
      } finally {
        guard.stop();
      }
    };
    const rxdb = side === 'hale' ? null : await run(runRxdb);
    const hale = side === 'rxdb' ? null : await run(runHale);
    const floorRun = async (atRest: boolean): Promise<FloorFigures> => {
      const guard = createHeapGuard({
        heapUsed: () => getHeapStatistics().used_heap_size,
        heapLimit,
        onMajorGc,
      });
      try {
        return await runFloor(
          {
            n,
            batchSize,
            liveChunk,
            latencySamples,
            phaseTimeoutMs,
            log,
            guard,
            windows,
            secretbox,
            hashes,
          },
          atRest,
        );
      } finally {
        guard.stop();
      }
    };
    const floorFigures = floor ? { plain: await floorRun(false), atRest: await floorRun(true) } : null;
    results.push({ n, hale, rxdb, floor: floorFigures, seconds: (performance.now() - t0) / 1000 });
  }
  const loadAtEnd = loadavg().map((x) => Number(x.toFixed(2)));
  log('');
  for (const l of table(results)) log(l);
  log('');
  log('Latency, single write on device 1 → arrival on device 2:');
  for (const l of latencyLines(results)) log(l);
  if (floor) {
    log('');
    log('Device-side floor (RxDB replication on one device, no network, no wire crypto, no server):');
    for (const l of floorLines(results)) log(l);
  }
  const notes = results.flatMap((c) => [
    ...(c.hale?.notes ?? []).map((x) => `N=${c.n} Hale: ${x}`),
    ...(c.rxdb?.notes ?? []).map((x) => `N=${c.n} RxDB: ${x}`),
    ...(c.floor?.plain.notes ?? []).map((x) => `N=${c.n} floor, plain: ${x}`),
    ...(c.floor?.atRest.notes ?? []).map((x) => `N=${c.n} floor, at rest: ${x}`),
  ]);
  for (const note of notes) log(`note: ${note}`);
  const totalSeconds = (performance.now() - started) / 1000;
  log(`total ${totalSeconds.toFixed(0)} s; load average at end ${loadAtEnd.join(' / ')}`);
  const json = {
    bench: 'sync',
    machine: { ...machine, loadavgAtEnd: loadAtEnd },
    settings: {
      batchSize,
      liveChunk,
      latencySamples,
      phaseTimeoutMs,
      secretbox,
      hashes,
      recordBytes: 1024,
      heapLimitMiB: Math.round(heapLimit / 2 ** 20),
    },
    cases: results.map((c) => ({
      n: c.n,
      seconds: Number(c.seconds.toFixed(1)),
      hale: c.hale,
      rxdb: c.rxdb,
      floor: c.floor,
      ratio: {
        push: ratio(c.hale?.push, c.rxdb?.push),
        initialPull: ratio(c.hale?.initialPull, c.rxdb?.initialPull),
        live: ratio(c.hale?.live, c.rxdb?.live),
      },
    })),
    totalSeconds: Number(totalSeconds.toFixed(1)),
    // Each finished phase on the monotonic clock (µs), for phase-profile.ts.
    phaseWindowsUs: windows,
  };
  console.log(JSON.stringify(json));
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
