/**
 * CPU profiles of the page for `npm run bench:app -- --profile=DIR`: Chromium's sampling profiler (CDP
 * `Profiler`, 250 µs) around one measured step, saved as `DIR/<name>.cpuprofile` (open it in DevTools'
 * Performance panel) and summed here by self time per function and per script, to name the cause of a
 * missed bar. Profiling slows the step: read the shares, not the times, of a profiled run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const short = (url: string): string => url.replace(/^https?:\/\/[^/]+\//, '') || '(native)';

/** Self time (ms) per function and per script, largest first. */
export function summarize(profile: Profile, top = 15): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const script = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const where = `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    fn.set(where, (fn.get(where) ?? 0) + ms);
    const s = f.url === '' ? f.functionName : short(f.url);
    script.set(s, (script.get(s) ?? 0) + ms);
  });
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `    ${v.toFixed(1).padStart(8)} ms  ${k}`)
      .join('\n');
  return `  by script:\n${list(script)}\n  by function:\n${list(fn)}`;
}

/** Runs `step` under the profiler when `dir` is given; answers what `step` answers. */
export async function profiled<T>(
  page: Page,
  dir: string | undefined,
  name: string,
  step: () => Promise<T>,
): Promise<T> {
  if (dir === undefined) return step();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  await cdp.send('Profiler.start');
  try {
    return await step();
  } finally {
    const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: Profile };
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    console.log(`  profile ${name}:\n${summarize(profile)}`);
    await cdp.detach();
  }
}
