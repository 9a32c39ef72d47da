/**
 * The convergence model: random scenarios of a patient's three devices and a clinician with a write grant
 * on allergies, all present at once, and the checks every scenario ends with.
 *
 * | part | what |
 * |---|---|
 * | `scenarioArb` | 20-60 steps: edits and deletes of the same and of other records, additions, offline/online, dropped sockets, delays of frames each way (injected at the transport), waits for one party to be in sync, server restarts |
 * | `runScenario` | plays the steps without waiting for the network, then brings every party online and checks |
 *
 * Checks, after every scenario:
 * - every party's copy of every record equals the server's current row (number, deletion) and the other
 *   parties' copies (content, conflict flag);
 * - no party raised a false alarm (`FALSE_ALARMS`), and every party's `awaitInSync()` resolved (within
 *   120 s: the long run beside other work on 2 cores is slow; a stall never resolves);
 * - nothing written is lost: each edit's token is in the record's final content (its shown side or a kept
 *   conflict side), unless a later write was made over a copy that showed it (a deletion included).
 * Scenario n of a run is of mode n % 5: one in five has a server restart inserted, one in five a clinician's
 * edit (`scenarioOf`), so the mix holds for any count; scenario n is replayed alone by its seed.
 */
import fc from 'fast-check';
import { canonicalJson } from '@hale/crypto';
import { parseRevTag } from '@hale/protocol';
import { falseAlarms, until, type Party } from './parties';

/** Scenario `n` of a run from `seed`: the same steps for the same pair, alone or in a run. */
export const scenarioOf = (seed: number, n: number): Scenario =>
  fc.sample(scenarioArb(n % 5), { seed: seed + n, numRuns: 1 })[0]!;

export type Step =
  | { t: 'edit'; p: number; r: number }
  | { t: 'remove'; p: number; r: number }
  | { t: 'add'; p: number }
  | { t: 'offline'; p: number }
  | { t: 'online'; p: number }
  | { t: 'cut'; p: number }
  | { t: 'delay'; p: number; dir: 'in' | 'out'; ms: number; frames: number }
  | { t: 'settle'; p: number }
  | { t: 'restart' };

export interface Scenario {
  readonly steps: readonly Step[];
  /** 0: a restart is inserted; 1: a clinician's edit is; other: as generated. */
  readonly mode: number;
}

/** Parties 0-2 are the patient's devices, 3 the clinician. */
export const PARTIES = 4;
const CLINICIAN = 3;

const party = fc.integer({ min: 0, max: PARTIES - 1 });
const device = fc.integer({ min: 0, max: CLINICIAN - 1 });
const record = fc.integer({ min: 0, max: 2 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 50, arbitrary: fc.record({ t: fc.constant('edit' as const), p: party, r: record }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('remove' as const), p: device, r: record }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('add' as const), p: party }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('offline' as const), p: party }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('online' as const), p: party }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('cut' as const), p: party }) },
  {
    weight: 15,
    arbitrary: fc.record({
      t: fc.constant('delay' as const),
      p: party,
      dir: fc.constantFrom('in' as const, 'out' as const),
      ms: fc.integer({ min: 1, max: 40 }),
      frames: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('settle' as const), p: party }) },
  { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
);

/** Scenarios of `mode` (0: a restart inserted, 1: a clinician's edit inserted, else as generated). */
export const scenarioArb = (mode: number): fc.Arbitrary<Scenario> =>
  fc.tuple(fc.array(step, { minLength: 20, maxLength: 60 }), fc.nat(), fc.nat()).map(([steps, at, r]) => {
    const list = [...steps];
    const where = at % list.length;
    if (mode === 0) list.splice(where, 0, { t: 'restart' });
    if (mode === 1) list.splice(where, 0, { t: 'edit', p: CLINICIAN, r: r % 3 });
    return { steps: list, mode };
  });

/** The server as a scenario sees it. */
export interface ServerUnderTest {
  /** The current row of record `id` of `stream`, or null. */
  row(stream: string, id: string): Promise<{ rv: number; deleted: boolean } | null>;
  /** Stops the server and starts it again on its port, over the same store. */
  restart(): Promise<void>;
}

export interface World {
  readonly server: ServerUnderTest;
  /** The patient's devices, then the clinician. */
  readonly parties: readonly Party[];
  readonly patientId: string;
}

/** What one scenario did and found; `failures` empty when every check held. */
export interface Outcome {
  readonly failures: string[];
  readonly restarted: boolean;
  readonly clinicianWrote: boolean;
  readonly conflicts: number;
}

let tokens = 0;

const catching = async (f: () => Promise<unknown>): Promise<void> => {
  try {
    await f();
  } catch {
    // A write the rules or the store refuse here (a record deleted meanwhile, one not held yet) is no step.
  }
};

/** The tokens the content of a copy shows (its record or a kept side). */
const tokensIn = (json: string): string[] => json.match(/tok-\d+/g) ?? [];

export const runScenario = async (world: World, scenario: Scenario): Promise<Outcome> => {
  const { parties, patientId, server } = world;
  const ids: string[] = [];
  /** Per record, each written token and whether a later write was made over a copy showing it. */
  const written = new Map<string, Set<string>>();
  const overwritten = new Set<string>();
  const online = parties.map(() => true);
  let restarted = false;
  let clinicianWrote = false;
  const pendingWaits: Array<Promise<unknown>> = [];
  const stream = `${patientId}/allergy`;

  /** The tokens `p`'s copy of `id` shows now, and its number. */
  const copyOf = async (p: Party, id: string) => {
    const r = await p.session.records.get(id);
    return r === null ? null : { rv: r.rv, json: canonicalJson({ a: r.record, b: r.conflictData }) };
  };
  /**
   * Notes what a write of `p` over `id` built on: the copy read before it, when the copy after it is the
   * next number (nothing arrived in between); otherwise every token written so far counts as seen.
   */
  const built = async (p: Party, id: string, before: Awaited<ReturnType<typeof copyOf>>) => {
    const after = await copyOf(p, id);
    const exact = before !== null && after !== null && after.rv === before.rv + 1;
    const seen = exact ? tokensIn(before.json) : [...(written.get(id) ?? [])];
    for (const token of seen) overwritten.add(token);
  };

  // Three records every party holds before the steps start.
  const first = parties[0]!;
  for (let i = 0; i < 3; i++) {
    const token = `tok-${++tokens}`;
    const r = await first.session.records.add(
      'Allergy',
      {
        substance: `substance ${token}`,
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
        reaction: token,
      },
      { patientId },
    );
    ids.push(r.id);
    written.set(r.id, new Set([token]));
  }
  await until(
    async () =>
      (await Promise.all(parties.flatMap((p) => ids.map((id) => p.session.records.get(id))))).every(
        (r) => r !== null,
      ),
    'every party holds the first records',
  );
  // Each party plays its steps in order; the parties play at once (a restart waits for all of them).
  let chains: Array<Promise<void>> = parties.map(() => Promise.resolve());
  const playStep = async (s: Step): Promise<void> => {
    const p = 'p' in s ? parties[s.p]! : undefined;
    switch (s.t) {
      case 'add': {
        const token = `tok-${++tokens}`;
        await catching(async () => {
          const r = await p!.session.records.add(
            'Allergy',
            {
              substance: `substance ${token}`,
              severity: 'mild',
              recordedAt: new Date().toISOString(),
              active: true,
              reaction: token,
            },
            { patientId },
          );
          ids.push(r.id);
          written.set(r.id, new Set([token]));
          if (s.p === CLINICIAN) clinicianWrote = true;
        });
        break;
      }
      case 'edit': {
        const id = ids[s.r % Math.max(ids.length, 1)];
        if (id === undefined) break;
        const before = await copyOf(p!, id);
        if (before === null) break;
        const token = `tok-${++tokens}`;
        await catching(async () => {
          await p!.session.records.update('Allergy', id, { reaction: token });
          written.get(id)?.add(token);
          if (s.p === CLINICIAN) clinicianWrote = true;
          await built(p!, id, before);
        });
        break;
      }
      case 'remove': {
        const id = ids[s.r % Math.max(ids.length, 1)];
        if (id === undefined) break;
        const before = await copyOf(p!, id);
        if (before === null) break;
        await catching(async () => {
          await p!.session.records.remove(id);
          for (const token of tokensIn(before.json)) overwritten.add(token);
        });
        break;
      }
      case 'offline':
        p!.session.sync.goOffline();
        online[s.p] = false;
        break;
      case 'online':
        p!.session.sync.goOnline();
        online[s.p] = true;
        break;
      case 'cut':
        p!.network.cut();
        break;
      case 'delay': {
        let left = s.frames;
        const delay = () => (left-- > 0 ? s.ms : 0);
        if (s.dir === 'in') p!.network.delayIn = delay;
        else p!.network.delayOut = delay;
        break;
      }
      case 'settle':
        // Waits only while online (offline it would wait for the end), and never longer than a moment.
        if (online[s.p]) pendingWaits.push(p!.session.sync.awaitInSync().catch(() => undefined));
        break;
      case 'restart':
        break;
    }
  };
  for (const s of scenario.steps) {
    if (s.t === 'restart') {
      await Promise.all(chains);
      restarted = true;
      await server.restart();
      continue;
    }
    chains[s.p] = chains[s.p]!.then(() => playStep(s));
  }
  await Promise.all(chains);
  chains = [];

  // The end: everyone online, frames as they come, all in sync.
  for (const [n, p] of parties.entries()) {
    p.network.delayIn = () => 0;
    p.network.delayOut = () => 0;
    if (!online[n]) p.session.sync.goOnline();
  }
  const failures: string[] = [];
  const inSync = async (what: string) => {
    const timeouts = parties.map(
      (p) =>
        new Promise<string | null>((resolve) => {
          const timer = setTimeout(() => {
            const st = p.session.sync.state.get();
            resolve(
              `${p.name}: awaitInSync() did not resolve (${what}): ${st.status}, ${st.pendingWrites} pending, issues ${JSON.stringify(st.errors.map((e) => e.code))}`,
            );
          }, 120_000);
          p.session.sync.awaitInSync().then(
            () => (clearTimeout(timer), resolve(null)),
            (e: unknown) => (clearTimeout(timer), resolve(`${p.name}: awaitInSync() failed: ${String(e)}`)),
          );
        }),
    );
    return (await Promise.all(timeouts)).filter((x): x is string => x !== null);
  };
  await Promise.all(pendingWaits);
  failures.push(...(await inSync('first')));
  if (failures.length > 0) return { failures, restarted, clinicianWrote, conflicts: 0 };

  // Every copy must come to equal the server's rows; a copy that does not within a while never will.
  const compare = async (): Promise<string[]> => {
    const out: string[] = [];
    const firsts = new Map<string, string | null>();
    for (const id of ids) {
      const row = await server.row(stream, id);
      for (const p of parties) {
        const c = await copyOf(p, id);
        const r = await p.session.records.get(id);
        if (row === null) {
          if (c !== null) out.push(`${id}: ${p.name} holds rv ${c.rv}, the server nothing`);
        } else if (row.deleted) {
          if (c !== null) out.push(`${id}: ${p.name} shows rv ${c.rv}, the server deleted it at ${row.rv}`);
        } else if (c === null) out.push(`${id}: ${p.name} holds nothing, the server rv ${row.rv}`);
        else if (c.rv !== row.rv) out.push(`${id}: ${p.name} holds rv ${c.rv}, the server ${row.rv}`);
        else {
          const mine = `${c.json}|${String(r?.conflict)}`;
          const first = firsts.get(id);
          if (first === undefined) firsts.set(id, mine);
          else if (first !== mine)
            out.push(`${id}: ${p.name}'s content or conflict flag differs at rv ${c.rv}`);
        }
      }
    }
    return out;
  };
  let differ = await compare();
  for (let tries = 0; differ.length > 0 && tries < 100; tries++) {
    await new Promise((r) => setTimeout(r, 50));
    differ = await compare();
  }
  failures.push(...differ);
  failures.push(...(await inSync('after comparing')));
  for (const p of parties)
    failures.push(...falseAlarms(p).map((i) => `${p.name}: false alarm ${i.code}: ${i.message}`));

  let conflicts = 0;
  const reader = parties[0]!;
  for (const id of ids) {
    const row = await server.row(stream, id);
    const r = await reader.session.records.get(id);
    if (r?.conflict) conflicts++;
    const shown = r === null ? '' : canonicalJson({ a: r.record, b: r.conflictData });
    for (const token of written.get(id) ?? []) {
      if (overwritten.has(token)) continue;
      if (row?.deleted === true || !shown.includes(`"${token}"`))
        failures.push(
          `${id}: the write ${token} is lost (${row?.deleted ? 'deleted' : 'not in the final content'})`,
        );
    }
  }
  return { failures, restarted, clinicianWrote, conflicts };
};

/** The current row of a record from a store's `docs.getDoc`. */
export const rowOf = (doc: { rev: string; deleted: boolean } | null) =>
  doc === null ? null : { rv: parseRevTag(doc.rev)?.n ?? 0, deleted: doc.deleted };
