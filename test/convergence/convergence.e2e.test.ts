// Model-based convergence (model.ts, worlds.ts) on the SQLite store: HALE_CONVERGENCE_RUNS scenarios (200),
// and on the CouchDB store when HALE_CONVERGENCE_COUCH_RUNS is set (couch.e2e.test.ts plays a few in the
// normal suite). `npm run test:convergence:long` (scripts/convergence-long.ts) runs this file in chunks of
// 1,000 scenarios, a seed each: 10,000 on SQLite and 1,000 on CouchDB.
import { afterEach, describe, it } from 'vitest';
import { couchWorld, playAll, sqliteWorld, startPouchServer } from './worlds';

const RUNS = Number(process.env['HALE_CONVERGENCE_RUNS'] ?? 200);
const COUCH_RUNS = Number(process.env['HALE_CONVERGENCE_COUCH_RUNS'] ?? 0);
/** A run's limit grows with its count: 2 s a SQLite scenario, 8 s a CouchDB one (pouchdb-server beside it). */
const limitFor = (runs: number, perScenarioMs = 2_000): number => Math.max(3_600_000, runs * perScenarioMs);

describe('every device ends where the server is (model-based)', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    // Sessions close before their servers stop.
    for (const f of stops.splice(0).reverse()) await f();
  });

  it.runIf(RUNS > 0)(
    `SQLite store: ${RUNS} scenarios`,
    async () => {
      await playAll('SQLite', RUNS, sqliteWorld, stops);
    },
    limitFor(RUNS),
  );

  it.runIf(COUCH_RUNS > 0)(
    `CouchDB store: ${COUCH_RUNS} scenarios`,
    async () => {
      const couch = await startPouchServer();
      stops.push(() => couch.stop());
      await playAll('CouchDB', COUCH_RUNS, couchWorld(couch.url), stops);
    },
    limitFor(COUCH_RUNS, 8_000),
  );
});
