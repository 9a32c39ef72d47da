// `npm run test:convergence:long`: the model-based convergence test's long run — 10,000 scenarios on the
// SQLite store and 1,000 on the CouchDB store — as chunks of at most CHUNK (100) scenarios, each a vitest process
// of its own with its own seed and its own worlds, as many at once as the machine has cores.
//
// - A world keeps its history for a whole process, so a scenario costs more the later it plays: chunks of
//   100 keep the run's time linear in its count (10,000 in ≈45 min on 2 idle cores; chunks of 1,000 took 2.5×).
// - Seeds are 62, 1062, 2062, …: a failure names its seed and scenario, and the line printed replays it.
// - Options: `--sqlite=N`, `--couch=N`, `--chunk=N`, `--couch-chunk=N`, `--jobs=N`, `--skip=N` (the first N
//   chunks, run before: a run taken in two sittings). Exit 1 when a chunk failed.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const arg = (name: string, fallback: number): number => {
  const given = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const n = given === undefined ? fallback : Number(given);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
};
const SQLITE = arg('sqlite', 10_000);
const COUCH = arg('couch', 1_000);
const CHUNK = Math.max(1, arg('chunk', 100));
const COUCH_CHUNK = Math.max(1, arg('couch-chunk', 100));
const JOBS = Math.max(1, arg('jobs', availableParallelism()));

interface Chunk {
  readonly store: 'SQLite' | 'CouchDB';
  readonly seed: number;
  readonly runs: number;
}

const chunksOf = (store: Chunk['store'], total: number, size: number): Chunk[] =>
  Array.from({ length: Math.ceil(total / size) }, (_, i) => ({
    store,
    seed: 62 + 1000 * i,
    runs: Math.min(size, total - i * size),
  }));

const chunks = [...chunksOf('SQLite', SQLITE, CHUNK), ...chunksOf('CouchDB', COUCH, COUCH_CHUNK)].slice(
  arg('skip', 0),
);

const envOf = (c: Chunk): NodeJS.ProcessEnv => ({
  ...process.env,
  HALE_CONVERGENCE_SEED: String(c.seed),
  HALE_CONVERGENCE_RUNS: c.store === 'SQLite' ? String(c.runs) : '0',
  HALE_CONVERGENCE_COUCH_RUNS: c.store === 'CouchDB' ? String(c.runs) : '0',
});

const replay = (c: Chunk): string =>
  `HALE_CONVERGENCE_SEED=${c.seed} HALE_CONVERGENCE_RUNS=${c.store === 'SQLite' ? c.runs : 0} ` +
  `HALE_CONVERGENCE_COUCH_RUNS=${c.store === 'CouchDB' ? c.runs : 0} ` +
  'npx vitest run test/convergence/convergence.e2e.test.ts';

/** Runs one chunk; answers whether it passed and its wall time, its output kept for a failure. */
const run = (c: Chunk): Promise<{ ok: boolean; seconds: number; output: string }> =>
  new Promise((resolve) => {
    const began = Date.now();
    const child = spawn('npx', ['vitest', 'run', 'test/convergence/convergence.e2e.test.ts'], {
      env: envOf(c),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => resolve({ ok: code === 0, seconds: (Date.now() - began) / 1000, output }));
  });

const began = Date.now();
const failed: Chunk[] = [];
let next = 0;
let done = 0;
const worker = async (): Promise<void> => {
  while (next < chunks.length) {
    const c = chunks[next++]!;
    const result = await run(c);
    done += 1;
    const line = `${c.store} seed ${c.seed}: ${c.runs} scenarios ${result.ok ? 'passed' : 'FAILED'} in ${result.seconds.toFixed(0)} s (${done}/${chunks.length})`;
    console.log(line);
    if (!result.ok) {
      failed.push(c);
      console.log(result.output);
      console.log(`replay: ${replay(c)}`);
    }
  }
};
await Promise.all(Array.from({ length: Math.min(JOBS, chunks.length) }, worker));
const total = (Date.now() - began) / 1000;
console.log(
  `convergence long run: ${SQLITE} SQLite and ${COUCH} CouchDB scenarios in ${chunks.length} chunks of at most ${CHUNK}, ` +
    `${JOBS} at once, ${total.toFixed(0)} s; ${failed.length === 0 ? 'all passed' : `${failed.length} chunk(s) failed`}`,
);
process.exit(failed.length === 0 ? 0 : 1);
