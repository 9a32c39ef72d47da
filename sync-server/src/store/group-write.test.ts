// Rows of one group (`DocWrite.group`, one user action) are written all or none by both stores: a row of
// the group that would conflict (or meet a stale epoch) leaves the whole batch unwritten, that row answered
// as it would and the others `not-written`; a retry of a group already stored is written as ever.
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeDocInput } from './conformance.test-util';
import { openCouchStore } from './couch/store';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import type { DocWrite, SyncStore } from './types';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

const newDir = useTempDirs('hale-group-write-');
let pouch: PouchServer;
beforeAll(async () => {
  pouch = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await pouch.stop();
});
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
const quiet = { onListenerError: () => undefined };
const stores: Record<string, () => Promise<SyncStore>> = {
  sqlite: async () => {
    const store = await openSqliteStore({ dataDir: join(newDir(), 'data'), ...quiet });
    await store.init();
    open.push(store);
    return store;
  },
  couchdb: async () => {
    const store = await openCouchStore({ url: pouch.url, database: `g-${randomUUID()}`, ...quiet });
    await store.init();
    open.push(store);
    return store;
  },
};

const NOTES = 'pat/note';
const OTHER = 'pat/allergy';
const NOW = '2026-01-01T00:00:00.000Z';
const row = (
  stream: string,
  id: string,
  rev: string,
  assumedRev: string | null,
  group?: string,
): DocWrite => ({
  doc: makeDocInput(stream, id, rev),
  assumedRev,
  ...(group === undefined ? {} : { group }),
});

for (const [name, openStore] of Object.entries(stores)) {
  describe(`${name}: a group is written whole or not at all`, () => {
    it('a conflicting row of a group leaves the batch unwritten; written again without it, the rest is stored', async () => {
      const store = await openStore();
      expect((await store.docs.writeDocs([row(NOTES, 'header', '1-h', null)], NOW))[0]?.status).toBe('ok');
      const [head] = await store.docs.streamHeads([NOTES]);
      const batch = [
        row(OTHER, 'alone', '1-a', null),
        row(NOTES, 'version', '1-v', null, 'g1'),
        // The header moved on since the device read it: a conflict.
        row(NOTES, 'header', '3-h', '2-h', 'g1'),
      ];
      const answered = await store.docs.writeDocs(batch, NOW);
      expect(answered.map((r) => r.status)).toEqual(['not-written', 'not-written', 'conflict']);
      expect(answered[2]).toMatchObject({ master: { rev: '1-h' } });
      expect(await store.docs.getDoc(NOTES, 'version')).toBeNull();
      expect(await store.docs.getDoc(OTHER, 'alone')).toBeNull();
      expect(await store.docs.streamHeads([NOTES])).toEqual([head]);
      // The writer leaves the group out and writes the rest again.
      expect((await store.docs.writeDocs([batch[0]!], NOW))[0]?.status).toBe('ok');
      // Against the stored revision the group is written whole, and a retry of it answers each row's own
      // revision (a conflict with itself), written as before.
      const fixed = [row(NOTES, 'version', '1-v', null, 'g2'), row(NOTES, 'header', '2-h', '1-h', 'g2')];
      expect((await store.docs.writeDocs(fixed, NOW)).map((r) => r.status)).toEqual(['ok', 'ok']);
      const again = await store.docs.writeDocs(fixed, NOW);
      expect(again.map((r) => r.status)).toEqual(['conflict', 'conflict']);
      expect((await store.docs.getDoc(NOTES, 'header'))?.rev).toBe('2-h');
    });

    it('a stale epoch in a group stores nothing of it; rows without a group are judged alone', async () => {
      const store = await openStore();
      const stale = { ...row(NOTES, 'v', '1-v', null, 'g'), expectedEpoch: 7 };
      const answered = await store.docs.writeDocs([row(NOTES, 'h', '1-h', null, 'g'), stale], NOW);
      expect(answered.map((r) => r.status)).toEqual(['not-written', 'stale-epoch']);
      expect(await store.docs.getDoc(NOTES, 'h')).toBeNull();
      const loose = await store.docs.writeDocs(
        [row(NOTES, 'h', '1-h', null), { ...row(NOTES, 'v', '1-v', null), expectedEpoch: 7 }],
        NOW,
      );
      expect(loose.map((r) => r.status)).toEqual(['ok', 'stale-epoch']);
    });
  });
}
