// FHIR import in Node, through the app's path (`openHaleForTests` over `nodePlatform`, a real server):
// an NDJSON file of one Patient and N Observations imported with `session.io.importFhir`, then the same
// file again under another name. Reports the wall time, the longest stretch the event loop was blocked
// (a 10 ms probe) and the records the second import added (0 when re-import is idempotent).
// Run: npm run bench:import   (HALE_IMPORT_N=5000 by default; prints a table, then one JSON line)
import { startServer } from '@hale/sync-server/testing';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { observationsFile } from './import-files';

const N = Number(process.env['HALE_IMPORT_N'] ?? 5_000);

/** Runs `work` while probing the event loop every 10 ms: answers its time and the longest block. */
const timed = async <T>(work: () => Promise<T>) => {
  let last = performance.now();
  let longest = 0;
  let blocked = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    const late = now - last - 10;
    if (late > longest) longest = late;
    if (late > 50) blocked += late;
    last = now;
  }, 10);
  const started = performance.now();
  try {
    const value = await work();
    // A stretch of microtasks (no macrotask ran) ends with the work: count it too.
    const tail = performance.now() - last - 10;
    if (tail > longest) longest = tail;
    if (tail > 50) blocked += tail;
    return { value, ms: performance.now() - started, longestBlockMs: longest, blockedMs: blocked };
  } finally {
    clearInterval(probe);
  }
};

const main = async () => {
  const t = await startServer({ realClock: true });
  try {
    const hale = await openHaleForTests({ server: t.url, platform: nodePlatform() });
    const { session } = await hale.createAccount({
      role: 'patient',
      passphrase: 'a long passphrase only I know',
      loginName: `bench-${Date.now().toString(36)}`,
      deviceName: 'bench',
    });
    const file = observationsFile(N);
    let progressCalls = 0;
    const first = await timed(() =>
      session.io.importFhir(file, { source: 'first.ndjson', onProgress: () => void progressCalls++ }),
    );
    const second = await timed(() => session.io.importFhir(file, { source: 'renamed.ndjson' }));
    const rows = [
      ['first import', first.value.imported.length, first],
      ['same file, another name', second.value.imported.length, second],
    ] as const;
    for (const [what, added, r] of rows)
      console.log(
        `${what.padEnd(26)} ${String(added).padStart(6)} records  ${(r.ms / 1000).toFixed(1).padStart(6)} s` +
          `  longest block ${r.longestBlockMs.toFixed(1)} ms, blocked ${(r.blockedMs / 1000).toFixed(1)} s`,
      );
    console.log(
      JSON.stringify({
        observations: N,
        importMs: Math.round(first.ms),
        longestBlockMs: Math.round(first.longestBlockMs),
        blockedMs: Math.round(first.blockedMs),
        progressCalls,
        reimportAdded: second.value.imported.length,
        reimportMs: Math.round(second.ms),
      }),
    );
    await session.close();
  } finally {
    await t.stop();
  }
};

await main();
