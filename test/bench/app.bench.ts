// App benchmark (issues #48 and #49): the built app in Debian's headless Chromium against a real sync
// server process on loopback, real IndexedDB. There is no peer app to compare against: each figure is set
// beside the bar.
// Run: npm run bench:app [-- --phase=patient|clinician|import|all] [--records=20000] [--series=100]
//      [--points=100] [--long=1000] [--rounds=3] [--patients=200] [--per-patient=1000] [--messages=40]
//      [--observations=5000] [--resources=20000] [--profile=DIR] [--frames]
// `--profile=DIR` saves a CPU profile of each measured step (app-profile.ts) and prints where its time went.
// `--frames` prints the clinician page's socket frames up to the first message's arrival (app-frames.ts).
// `npm run bench:app` builds the app first; `npm run bench:app:run` runs on the build there is.
// The last line printed is one JSON object with every figure.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { launchChromium, startAppServer } from './app-browser';
import { runPatient } from './app-patient';
import { runClinician } from './app-clinician';
import { runImport } from './app-import';
import { passes, table, type Figure } from './app-report';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const num = (key: string, fallback: number): number => {
  const n = Number(args.get(key) ?? fallback);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${key} must be a positive integer`);
  return n;
};
const PHASES = ['patient', 'clinician', 'import'] as const;
const phase = args.get('phase') ?? 'all';
if (![...PHASES, 'all'].includes(phase)) throw new Error(`--phase: ${PHASES.join(', ')} or all`);
const runs = (p: (typeof PHASES)[number]): boolean => phase === 'all' || phase === p;

/** `npm run size:unlock -w packages/app`'s figure (KB gzipped) and budget. */
const unlockSize = (): { kb: number; budgetKb: number } => {
  const root = path.resolve(import.meta.dirname, '../..');
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'packages/app/scripts/unlock-size.ts'], {
    cwd: root,
    encoding: 'utf8',
  });
  const m = /unlock screen: ([\d.]+) KB .*\(budget ([\d.]+) KB\)/.exec(out);
  if (m === null) throw new Error(`size:unlock printed no figure: ${out}`);
  return { kb: Number(m[1]), budgetKb: Number(m[2]) };
};

const profile = args.get('profile');
const started = new Date();
const loadBefore = loadavg();
console.log(`bench:app on ${cpus().length} cores, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
const server = await startAppServer();
const browser = await launchChromium();
const version = browser.version();
const figures: Figure[] = [];
const extra: Record<string, unknown> = {};
try {
  if (runs('patient')) {
    const shape = {
      total: num('records', 20_000),
      series: num('series', 100),
      points: num('points', 100),
      longPoints: num('long', 1000),
    };
    const size = unlockSize();
    console.log(`patient: ${shape.total} records`);
    const r = await runPatient(browser, server.url, shape, {
      rounds: num('rounds', 3),
      unlockKb: size.kb,
      unlockBudgetKb: size.budgetKb,
      ...(profile === undefined ? {} : { profile }),
    });
    figures.push(...r.figures);
    extra['patient'] = { shape, ...r.extra };
  }
  if (runs('clinician')) {
    const shape = {
      patients: num('patients', 200),
      perPatient: num('per-patient', 1000),
      messages: num('messages', 40),
    };
    console.log(`clinician: ${shape.patients} patients × ${shape.perPatient} records`);
    const r = await runClinician(browser, server.url, shape, {
      rounds: num('rounds', 3),
      ...(profile === undefined ? {} : { profile }),
      frames: args.has('frames'),
    });
    figures.push(...r.figures);
    extra['clinician'] = { shape, ...r.extra };
  }
  if (runs('import')) {
    const shape = { observations: num('observations', 5_000), resources: num('resources', 20_000) };
    console.log(`import: ${shape.observations} Observations; a ${shape.resources}-resource patient`);
    const r = await runImport(browser, server.url, shape, profile === undefined ? {} : { profile });
    figures.push(...r.figures);
    extra['import'] = { shape, ...r.extra };
  }
} finally {
  await browser.close();
  await server.stop();
}
const loadAfter = loadavg();
console.log('');
console.log(
  `As measured, headless Chromium ${version} on ${cpus().length} cores (no peer app: the bars are the issues').`,
);
console.log(table(figures));
console.log(`load average before ${loadBefore[0]?.toFixed(2)}, after ${loadAfter[0]?.toFixed(2)} (1 min)`);
console.log(
  JSON.stringify({
    bench: 'app',
    at: started.toISOString(),
    cores: cpus().length,
    load: { before: loadBefore, after: loadAfter },
    figures: figures.map((f) => ({ ...f, pass: passes(f) })),
    ...extra,
  }),
);
