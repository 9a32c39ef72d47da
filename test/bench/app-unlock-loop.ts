// Quick unlock rounds for profiling work (not part of `bench:app`): the chart is seeded and joined once into
// a kept server data directory and a kept Chromium profile, then each run only unlocks.
// Run: node --import tsx test/bench/app-unlock-loop.ts --dir=/tmp/unlock-loop [--records=20000] [--rounds=3]
//      [--profile=FILE.cpuprofile] (HALE_APP_DIST picks the build served; HALE_APP_TEST_PORT the port)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { APP_DIST, CHROMIUM_ARGS, installProbe } from './app-browser';
import { homeUsable, joinInBrowser, measureUnlock, seedPatient } from './app-patient';
import { summarize } from './app-profile';
import { readdirSync } from 'node:fs';

/** CPU seconds (user + system) of the Chromium whose profile is `userDir`, and every process under it. */
const chromiumCpu = (userDir: string): number => {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const info = new Map<number, { ppid: number; cpu: number; mine: boolean }>();
  for (const pid of procs) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      info.set(Number(pid), {
        ppid: Number(f[1]),
        cpu: (Number(f[11]) + Number(f[12])) / 100,
        mine: cmd.includes(`--user-data-dir=${userDir}`),
      });
    } catch {
      // gone meanwhile
    }
  }
  const under = (pid: number): boolean => {
    for (let p = pid, i = 0; p > 1 && i < 20; i++) {
      const x = info.get(p);
      if (x === undefined) return false;
      if (x.mine) return true;
      p = x.ppid;
    }
    return false;
  };
  let sum = 0;
  for (const [pid, x] of info) if (under(pid)) sum += x.cpu;
  return sum;
};

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const dir = args.get('dir') ?? '/tmp/unlock-loop';
const total = Number(args.get('records') ?? 20_000);
const rounds = Number(args.get('rounds') ?? 3);
const shape = { total, series: 100, points: 100, longPoints: 1000 };
const port = Number(process.env['HALE_APP_TEST_PORT'] ?? 4311);
const url = `http://127.0.0.1:${port}`;
const root = path.resolve(import.meta.dirname, '../..');
mkdirSync(path.join(dir, 'server'), { recursive: true });
const server = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'src/main.ts',
    ...['--port', String(port), '--data-dir', path.join(dir, 'server'), '--app-dir', APP_DIST],
    ...['--rate-per-address', '100000', '--max-connections-per-address', '2000', '--log-level', 'warn'],
  ],
  { cwd: path.join(root, 'sync-server'), stdio: ['ignore', 'ignore', 'inherit'] },
);
for (;;) {
  const up = await fetch(`${url}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  if (up) break;
  await new Promise((r) => setTimeout(r, 200));
}
// The release worker an earlier run installed would serve that run's build.
rmSync(path.join(dir, 'chromium/Default/Service Worker'), { recursive: true, force: true });
const context = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
  baseURL: url,
  viewport: { width: 1440, height: 900 },
  // The release worker would serve the build cached by an earlier run.
  serviceWorkers: 'block',
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await installProbe(page);
  if (args.get('console') !== undefined)
    page.on('console', (m) => {
      if (m.text().startsWith('[')) console.log(`    ${m.text().slice(0, 400)}`);
    });
  const state = path.join(dir, 'state.json');
  if (!existsSync(state)) {
    const seed = await seedPatient(url, shape);
    await joinInBrowser(page, seed.loginName);
    writeFileSync(state, JSON.stringify(seed));
    console.log(`seeded and joined: ${seed.loginName}`);
  } else
    console.log(
      `kept chart: ${(JSON.parse(readFileSync(state, 'utf8')) as { loginName: string }).loginName}`,
    );
  const file = args.get('profile');
  const cdp = file === undefined ? null : await context.newCDPSession(page);
  if (cdp !== null) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
    await cdp.send('Profiler.start');
  }
  const userDir = path.join(dir, 'chromium');
  const cpu: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await page.goto('/');
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(500);
    const before = chromiumCpu(userDir);
    const one = await measureUnlock(page, 1, args.get('usable') ?? homeUsable(shape));
    cpu.push(chromiumCpu(userDir) - before);
    times.push(one.afterKdf[0] ?? NaN);
    await page.waitForTimeout(Number(args.get('settle') ?? 0));
  }
  console.log(`Chromium CPU s per round (KDF included): ${cpu.map((c) => c.toFixed(2)).join(', ')}`);
  const u = { afterKdf: times };
  if (cdp !== null && file !== undefined) {
    const { profile } = (await cdp.send('Profiler.stop')) as never as { profile: never };
    writeFileSync(file, JSON.stringify(profile));
    console.log(summarize(profile, 25));
  }
  const sorted = [...u.afterKdf].sort((a, b) => a - b);
  console.log(
    `after the KDF: ${u.afterKdf.map((t) => t.toFixed(0)).join(', ')} ms (median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)})`,
  );
} finally {
  await context.close();
  server.kill('SIGTERM');
}
