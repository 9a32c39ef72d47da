// A/B of the CouchDB store's push commit across versions, in one process over one pouchdb-server, so the
// shared machine's load falls on every version alike: each round runs each version in turn (its own
// database), COMMITS commits of BATCH ~1 KB records with an owner's guard (its device's revocation read)
// and an epoch check, as a push does; per version and round the median time per commit.
// Run: node --import tsx test/bench/cluster-ab.ts [--rounds=4] [--commits=12] <commit> [<commit>…]
// (`work` names the working tree). Each commit's `sync-server/src/store/couch/` is extracted beside the
// current one (`store/.ab-<commit>/`, removed at the end), so it runs against today's types and helpers.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AccessGuard, DocWrite, SyncStore } from '../../sync-server/src/store/types';
import { startPouchServer } from '@hale/sync-server/testing/couch';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const ROUNDS = option('rounds', 4);
const COMMITS = option('commits', 12);
const BATCH = 100;
const versions = args.filter((a) => !a.startsWith('--'));
if (versions.length === 0) throw new Error('name at least one commit (or `work`)');

const root = path.resolve(import.meta.dirname, '../..');
const storeDir = path.join(root, 'sync-server/src/store');
const extracted: string[] = [];
type Open = (options: { url: string; database: string; onListenerError: () => void }) => Promise<SyncStore>;
const load = async (version: string): Promise<Open> => {
  let dir = path.join(storeDir, 'couch');
  if (version !== 'work') {
    dir = path.join(storeDir, `.ab-${version}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    extracted.push(dir);
    const tar = execFileSync('git', ['archive', version, 'sync-server/src/store/couch'], { cwd: root });
    execFileSync('tar', ['-x', '--strip-components=4', '-C', dir], { input: tar });
  }
  const mod = (await import(pathToFileURL(path.join(dir, 'store.ts')).href)) as { openCouchStore: Open };
  return mod.openCouchStore;
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const TEXT = Buffer.alloc(1000, 7);
const rows = (c: number): DocWrite[] =>
  Array.from({ length: BATCH }, (_, i) => ({
    doc: {
      stream: 'pat/allergy',
      id: `c${c}-${i}`,
      rev: `1-${c}-${i}`,
      deleted: false,
      epoch: 0,
      ct: new Uint8Array(TEXT),
      size: TEXT.byteLength,
      author: 'dev',
    },
    assumedRev: null,
    expectedEpoch: 0,
  }));

const couch = await startPouchServer();
try {
  const opens = await Promise.all(versions.map(load));
  const times = versions.map(() => [] as number[]);
  console.log(
    `load at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const [v, open] of opens.entries()) {
      const store = await open({ url: couch.url, database: `ab-${randomUUID()}`, onListenerError: () => {} });
      await store.init();
      const createdAt = new Date().toISOString();
      await store.accounts.put({
        accountId: 'pat',
        role: 'patient',
        identityPublicKey: 'idk',
        wrappingPublicKey: 'wrk',
        wrappedRoot: { v: 1, box: 'box' },
        wrappedRootGen: 0,
        wrappedRootSig: null,
        createdAt,
      });
      await store.devices.put({
        deviceId: 'dev',
        accountId: 'pat',
        cert: { account: 'pat', device: 'dev' },
        devicePublicKey: 'dpk',
        createdAt,
      });
      const per: number[] = [];
      for (let c = 0; c < COMMITS; c++) {
        const at = new Date().toISOString();
        const guard: AccessGuard = {
          granteeId: 'pat',
          patientIds: [],
          writer: 'dev',
          at,
          check: (_grants, revoked) => {
            if (revoked) throw new Error('revoked');
          },
        };
        const batch = rows(c);
        const t0 = performance.now();
        const results = await store.docs.writeDocs(batch, at, undefined, guard);
        per.push(performance.now() - t0);
        if (results.some((r) => r.status !== 'ok')) throw new Error(`refused: ${JSON.stringify(results[0])}`);
      }
      await store.close();
      times[v]?.push(median(per));
    }
    console.log(
      `round ${round + 1}: ${versions.map((v, i) => `${v} ${Math.round(times[i]?.at(-1) ?? 0)} ms`).join(', ')} (load ${loadavg()[0]?.toFixed(1)})`,
    );
  }
  const base = median(times[0] ?? []);
  for (const [i, v] of versions.entries()) {
    const m = median(times[i] ?? []);
    console.log(
      `${v}: median of round medians ${Math.round(m)} ms per commit of ${BATCH} (${Math.round((BATCH / m) * 1000)} records/s), ×${(base / m).toFixed(2)} of ${versions[0]}; rounds ${(times[i] ?? []).map(Math.round).join(', ')}`,
    );
  }
} finally {
  await couch.stop();
  for (const dir of extracted) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
