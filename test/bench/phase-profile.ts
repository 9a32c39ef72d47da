// Where each timed phase of the sync benchmark spends its time, thread by thread. Cuts the CPU profiles of a
// `node --cpu-prof` run of sync.bench.ts to each phase's window (`phaseWindowsUs` in the run's last line: the
// monotonic clock V8 stamps samples with) and sums self time by component: a package under node_modules, a
// file of this repository, a Node module, garbage collection, idle.
// Run: node --max-old-space-size=8192 --cpu-prof --cpu-prof-dir=/tmp/hale-prof --import tsx \
//        test/bench/sync.bench.ts --quick --side=hale --floor=false > /tmp/bench.txt
//      npx tsx test/bench/phase-profile.ts /tmp/hale-prof /tmp/bench.txt [--top=15] [--phase=hale/push]
// Profiling costs little in time (the phases run ≈5% slower), so shares are read, not the phase times.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PhaseWindow } from './workload';

export interface CallFrame {
  functionName: string;
  url: string;
}

/** The parts of V8's `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const isCpuProfile = (v: unknown): v is CpuProfile => {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    Array.isArray(p['nodes']) &&
    typeof p['startTime'] === 'number' &&
    Array.isArray(p['samples']) &&
    Array.isArray(p['timeDeltas']) &&
    p['samples'].length === p['timeDeltas'].length
  );
};

/** The component a sampled frame belongs to; `root` is this repository's path, cut from file URLs. */
export const componentOf = (frame: CallFrame, root: string): string => {
  const { functionName, url } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8 (program)';
    return `native ${functionName}`;
  }
  // The innermost package: one nested in another's node_modules is named, not its host.
  const pkg = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg !== null) {
    const name = pkg[1] ?? '';
    if (name !== 'rxdb') return name;
    // RxDB is one package with very different parts: name the plugin or folder ("core" for its top files).
    const inner = (pkg[2] ?? '').replace(/^dist\/(?:esm|cjs)\//, '');
    const folder = /^(plugins\/[^/]+|[^/]+)\//.exec(inner);
    return `rxdb ${folder?.[1] ?? 'core'}`;
  }
  if (url.startsWith('node:')) return url.split('/')[0] ?? url;
  const at = url.indexOf(root);
  if (at >= 0) return url.slice(at + root.length).replace(/^\/+/, '');
  return url.split('/').slice(-2).join('/');
};

/** Self time (µs) per component of the samples taken in [startUs, endUs]. */
export const attribute = (
  profile: CpuProfile,
  window: Pick<PhaseWindow, 'startUs' | 'endUs'>,
  root: string,
): Map<string, number> => {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const out = new Map<string, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.startUs || at > window.endUs) continue;
    const frame = frames.get(profile.samples[i] ?? -1);
    const key = frame === undefined ? 'unknown' : componentOf(frame, root);
    out.set(key, (out.get(key) ?? 0) + delta);
  }
  return out;
};

/** A table of the largest components, with the rest summed as "others". */
export const shareLines = (parts: Map<string, number>, windowUs: number, top: number): string[] => {
  const sorted = [...parts].sort((a, b) => b[1] - a[1]);
  const rows = sorted.slice(0, top);
  const rest = sorted.slice(top).reduce((sum, [, us]) => sum + us, 0);
  if (rest > 0) rows.push([`others (${sorted.length - top})`, rest]);
  const pct = (us: number): string => `${((100 * us) / windowUs).toFixed(1)}%`;
  return [
    '| component | ms | share of the phase |',
    '|---|---:|---:|',
    ...rows.map(([name, us]) => `| ${name} | ${(us / 1000).toFixed(0)} | ${pct(us)} |`),
  ];
};

const main = (): void => {
  const [dir, output, ...rest] = process.argv.slice(2);
  if (dir === undefined || output === undefined) {
    throw new Error('usage: phase-profile.ts PROFILE_DIR BENCH_OUTPUT [--top=15] [--phase=side/phase]');
  }
  const option = (name: string): string | undefined =>
    rest.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const top = Number(option('top') ?? 15);
  const only = option('phase');
  // The bench's JSON line: its last line, unless a wrapper (npm, a shell) printed after it.
  const line = readFileSync(output, 'utf8')
    .split('\n')
    .findLast((l) => l.startsWith('{"bench":"sync"'));
  const windows =
    line === undefined ? undefined : (JSON.parse(line) as { phaseWindowsUs?: unknown }).phaseWindowsUs;
  if (!Array.isArray(windows)) throw new Error(`${output}: holds no bench line with phaseWindowsUs`);
  const root = process.cwd();
  // V8 names each profile CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
  const threads = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => {
      const profile: unknown = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      if (!isCpuProfile(profile)) throw new Error(`${f} is not a V8 CPU profile`);
      const tid = f.split('.').at(-3);
      return { name: tid === '0' ? 'main thread' : `worker thread ${tid ?? '?'}`, profile };
    });
  for (const w of windows as PhaseWindow[]) {
    const label = `${w.side}/${w.phase}`;
    if (only !== undefined && only !== label) continue;
    const windowUs = w.endUs - w.startUs;
    for (const { name, profile } of threads) {
      const parts = attribute(profile, w, root);
      const busy = [...parts].reduce((sum, [k, us]) => (k === 'idle' ? sum : sum + us), 0);
      // Node's module loader threads and idle workers would only add empty tables.
      if (busy < windowUs * 0.05) continue;
      console.log(`\n${label}, N = ${w.n}, ${(windowUs / 1000).toFixed(0)} ms — ${name}`);
      for (const line of shareLines(parts, windowUs, top)) console.log(line);
    }
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
