// The worlds model.ts scenarios play in: each its own server (SQLite, or a node over a CouchDB-protocol
// server), a patient's three devices and a clinician with a write grant, opened as the app opens them.
// WORLDS worlds play their share of a run at the same time. HALE_CONVERGENCE_SEED sets the seed; a failure
// names its scenario number n, which HALE_CONVERGENCE_ONLY=n replays alone (model.ts `scenarioOf`).
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import { startCouchNode, startPouchServer, type CouchNode } from '@hale/sync-server/testing/couch';
import { grantAllergyWrite, joinAccount, newAccount, type Party } from './parties';
import { runScenario, rowOf, scenarioOf, type ServerUnderTest, type World } from './model';

const ONLY = process.env['HALE_CONVERGENCE_ONLY'];
const SEED = Number(process.env['HALE_CONVERGENCE_SEED'] ?? 62);
/** Worlds at once: 3 × 4 sessions stay under RxDB's 13 open collections per process. */
const WORLDS = Number(process.env['HALE_CONVERGENCE_WORLDS'] ?? 3);

/** A long run says how far it got (the long run's wall time is an hour). */
const PROGRESS_EVERY = 500;

interface Tally {
  scenarios: number;
  restarts: number;
  clinician: number;
  conflicts: number;
}

/** The parties of one account and a clinician, granted, all online. */
const openWorld = async (url: string, server: ServerUnderTest): Promise<World> => {
  const a = await newAccount(url, 'device A');
  const [b, c, clinician] = await Promise.all([
    joinAccount(url, 'device B', a.loginName),
    joinAccount(url, 'device C', a.loginName),
    newAccount(url, 'clinician', 'provider'),
  ]);
  await grantAllergyWrite(a.session, clinician.session);
  const parties: Party[] = [a, b, c, clinician];
  await Promise.all(parties.map((p) => p.session.sync.awaitInSync()));
  return { server, parties, patientId: a.session.account.accountId };
};

/** Scenarios `numbers` in `world`; the first failure names its number (HALE_CONVERGENCE_ONLY replays it). */
const play = async (world: World, numbers: readonly number[], tally: Tally) => {
  for (const n of numbers) {
    const scenario = scenarioOf(SEED, n);
    const outcome = await runScenario(world, scenario);
    tally.scenarios++;
    if (outcome.restarted) tally.restarts++;
    if (outcome.clinicianWrote) tally.clinician++;
    tally.conflicts += outcome.conflicts;
    if (tally.scenarios % PROGRESS_EVERY === 0) console.log(`${tally.scenarios} scenarios played`);
    if (outcome.failures.length > 0)
      throw new Error(
        `scenario ${n} of seed ${SEED} (HALE_CONVERGENCE_SEED=${SEED} HALE_CONVERGENCE_ONLY=${n}):\n${outcome.failures.join('\n')}\nsteps: ${JSON.stringify(scenario.steps)}`,
      );
  }
};

/** Plays `runs` scenarios over WORLDS worlds that `start` makes, and checks the mix of scenarios. */
export const playAll = async (
  label: string,
  runs: number,
  start: () => Promise<{ url: string; server: ServerUnderTest; stop: () => Promise<void> }>,
  stops: Array<() => Promise<void>>,
) => {
  const tally: Tally = { scenarios: 0, restarts: 0, clinician: 0, conflicts: 0 };
  const began = Date.now();
  await Promise.all(
    Array.from({ length: WORLDS }, async (_, w) => {
      const all = ONLY === undefined ? Array.from({ length: runs }, (_, n) => n) : [Number(ONLY)];
      const share = all.filter((n) => n % WORLDS === w);
      if (share.length === 0) return;
      const { url, server, stop } = await start();
      stops.push(stop);
      const world = await openWorld(url, server);
      stops.push(() =>
        Promise.all(world.parties.map((p) => p.session.close().catch(() => undefined))).then(() => undefined),
      );
      await play(world, share, tally);
    }),
  );
  console.log(
    `convergence (${label}): ${tally.scenarios} scenarios, ${tally.restarts} with a server restart, ${tally.clinician} with a clinician's write, ${tally.conflicts} conflicts at the end, ${((Date.now() - began) / 1000).toFixed(1)} s`,
  );
  if (ONLY !== undefined) return;
  expect(tally.scenarios).toBe(runs);
  expect(tally.restarts * 5).toBeGreaterThanOrEqual(tally.scenarios);
  expect(tally.clinician * 5).toBeGreaterThanOrEqual(tally.scenarios);
};

/** A SQLite server world's start: its own data directory, restarted on the same port over it. */
export const sqliteWorld = async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-convergence-'));
  let t: TestServer = await startServer({ dataDir, realClock: true });
  const port = Number(new URL(t.url).port);
  const server: ServerUnderTest = {
    row: async (stream, id) => rowOf(await t.store.docs.getDoc(stream, id)),
    restart: async () => {
      await t.stop({ keepData: true });
      t = await startServer({ dataDir, port, realClock: true });
    },
  };
  return { url: t.url, server, stop: async () => t.stop() };
};

/** A CouchDB-store world's start: a node over its own database of `couchUrl`, restarted on its port. */
export const couchWorld = (couchUrl: string) => async () => {
  const database = `convergence-${randomUUID()}`;
  let node: CouchNode = await startCouchNode(couchUrl, database);
  const port = Number(new URL(node.url).port);
  const server: ServerUnderTest = {
    row: async (stream, id) => rowOf(await node.store.docs.getDoc(stream, id)),
    restart: async () => {
      await node.stop();
      node = await startCouchNode(couchUrl, database, { port });
    },
  };
  return { url: node.url, server, stop: () => node.stop() };
};

export { startPouchServer };
