// CPU time of processes on this machine, read from /proc (Linux): the figure a shared machine's load
// moves least. Used by the cluster benches to put each side's CPU per pushed batch beside its throughput.
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system, ms) the pouchdb-server listening on `port` has used; NaN when not found. */
export const pouchCpuMs = (port: number): number => {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('pouchdb-server') || !cmdline.includes(`--port\0${port}\0`)) continue;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  }
  return NaN;
};

/** CPU time (user + system, ms) of this process, all its threads. */
export const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Starts counting both; `perBatch(n)` answers each side's CPU per batch since. */
export const cpuMeter = (port: number): { perBatch(batches: number): { bench: number; pouch: number } } => {
  const own0 = ownCpuMs();
  const pouch0 = pouchCpuMs(port);
  const r = (x: number): number => Math.round(x * 10) / 10;
  return {
    perBatch: (batches) => ({
      bench: r((ownCpuMs() - own0) / Math.max(1, batches)),
      pouch: r((pouchCpuMs(port) - pouch0) / Math.max(1, batches)),
    }),
  };
};
