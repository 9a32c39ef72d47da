// A push conflict tells whether the stored version was in the store at its last restore (`keptFrom`):
// devices cannot tell from seqs, which a restore onto an empty disk hands out again.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { newId } from '@hale/model';
import { afterEach, describe, expect, it } from 'vitest';
import type { PushedFrame, PushDoc, PushResult } from '@hale/protocol';
import { backupSqlite, INCARNATION_META_KEY, restoreSqlite } from './store/index';
import { newIncarnation, SQLITE_FILE_NAME } from './store/sqlite-store';
import {
  connect,
  makeDoc,
  registerAccount,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

let dir = '';
let t: TestServer | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
  if (dir) await rm(dir, { recursive: true, force: true });
});

const push = async (c: WsClient, doc: PushDoc, assumedRev: string | null): Promise<PushResult> => {
  const reply = await c.request<PushedFrame>({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev }] });
  return reply.results[0]!;
};

const okRev = (r: PushResult): { rev: string; seq: number } => {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return { rev: r.rev, seq: r.seq };
};

const conflictOf = (r: PushResult) => {
  if (r.status !== 'conflict') throw new Error(`expected a conflict, got ${JSON.stringify(r)}`);
  return { seq: r.master?.seq, keptFrom: 'keptFrom' in r ? r.keptFrom : 'absent' };
};

/**
 * Before the backup: records `a` and `b` (rv 1). After it: `a` rv 2 and a record `c`, lost with the
 * restore. After the restore (onto an empty directory with `lostDisk`, else over the store): `b` rv 2.
 * Then one conflicting push each for `a` (its stored version is the backup's) and `b` (stored since).
 */
const scenario = async (options: { lostDisk: boolean }) => {
  dir = await mkdtemp(path.join(tmpdir(), 'hale-kept-from-'));
  const dataDir = path.join(dir, 'data');
  const backup = path.join(dir, 'backup.sqlite');
  t = await startServer({ dataDir, realClock: true });
  const patient: TestAccount = await registerAccount(t);
  const p = await connect(t, patient.device);
  const incarnationBefore = p.ready.incarnation;
  const ids = { a: newId(), b: newId(), c: newId() };
  const doc = (id: keyof typeof ids, rv: number, substance: string) =>
    makeDoc(patient, patient.device, 'allergy', { substance }, { id: ids[id], rv });
  const a1 = okRev(await push(p, await doc('a', 1, 'a-1'), null));
  const b1 = okRev(await push(p, await doc('b', 1, 'b-1'), null));
  await backupSqlite(t.store, backup);
  const a2 = okRev(await push(p, await doc('a', 2, 'a-2'), a1.rev));
  const c1 = okRev(await push(p, await doc('c', 1, 'c-1'), null));
  const servedBefore = c1.seq;
  await p.close();
  await t.stop({ keepData: true });
  t = null;

  if (options.lostDisk) await rm(dataDir, { recursive: true, force: true });
  const restored = await restoreSqlite(backup, dataDir, { onWarning: () => {} });
  expect(restored.carried === null).toBe(options.lostDisk);
  t = await startServer({ dataDir, realClock: true });
  const c = await connect(t, patient.device);
  const b2 = okRev(await push(c, await doc('b', 2, 'b-2'), b1.rev));
  // a's device sends its newest version on top of the one it holds; b's on top of the backup's.
  const a3 = await doc('a', 3, 'a-3');
  const b3 = await doc('b', 3, 'b-3');
  const conflicts = { a: conflictOf(await push(c, a3, a2.rev)), b: conflictOf(await push(c, b3, b1.rev)) };
  await c.close();
  return { incarnationBefore, a1, a2, a3, b2, servedBefore, conflicts, dataDir, patient };
};

describe('a push conflict after a restore', () => {
  it('onto an empty disk names the backup’s incarnation for a version it held, not for one stored since at a reused seq', async () => {
    const { incarnationBefore, a1, b2, servedBefore, conflicts } = await scenario({ lostDisk: true });
    // The premise: b's version stored since the restore took a seq served before it (for a's rv 2).
    expect(b2.seq).toBeLessThanOrEqual(servedBefore);
    expect(conflicts).toEqual({
      a: { seq: a1.seq, keptFrom: incarnationBefore },
      b: { seq: b2.seq, keptFrom: 'absent' },
    });
  });

  it('over the store it replaces does the same, positions carried', async () => {
    const { incarnationBefore, a1, b2, servedBefore, conflicts } = await scenario({ lostDisk: false });
    expect(b2.seq).toBeGreaterThan(servedBefore);
    expect(conflicts).toEqual({
      a: { seq: a1.seq, keptFrom: incarnationBefore },
      b: { seq: b2.seq, keptFrom: 'absent' },
    });
  });

  it('says nothing once the incarnation is not the one the restore recorded', async () => {
    const { a1, a2, a3, dataDir, patient } = await scenario({ lostDisk: true });
    await t?.stop({ keepData: true });
    t = null;
    const raw = new Database(path.join(dataDir, SQLITE_FILE_NAME));
    raw.prepare('UPDATE meta SET value = ? WHERE key = ?').run(newIncarnation(), INCARNATION_META_KEY);
    raw.close();
    t = await startServer({ dataDir, realClock: true });
    const c = await connect(t, patient.device);
    expect(conflictOf(await push(c, a3, a2.rev))).toEqual({ seq: a1.seq, keptFrom: 'absent' });
    await c.close();
  });
});
