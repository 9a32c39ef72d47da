// awaitInSync() across a server restart: the server is stopped and started again (same store, same port)
// at the points the kill tests use — a push sent but not answered, a push stored with its answer held
// back, a live frame held back, the moment a device becomes ready — and every device's awaitInSync()
// resolves once it is online with nothing pending, holding what the server holds (or rejects, saying why).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import { differences, joinAccount, newAccount, until, type Party } from './parties';

type Point = 'push unanswered' | 'push answer held' | 'live frame held' | 'becoming ready';
const POINTS: Point[] = ['push unanswered', 'push answer held', 'live frame held', 'becoming ready'];

describe('awaitInSync() after a server restart', () => {
  let t: TestServer | undefined;
  const open: Party[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.session.close().catch(() => undefined)));
    await t?.stop();
    t = undefined;
  });

  for (const point of POINTS) {
    it(`restarted with ${point}: every device resolves, holding the server's versions`, async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-restart-points-'));
      t = await startServer({ dataDir, realClock: true });
      const port = Number(new URL(t.url).port);
      const restart = async () => {
        await t!.stop({ keepData: true });
        t = await startServer({ dataDir, port, realClock: true });
      };
      const a = await newAccount(t.url, 'device A');
      const b = await joinAccount(t.url, 'device B', a.loginName);
      open.push(a, b);
      await Promise.all([a.session.sync.awaitInSync(), b.session.sync.awaitInSync()]);
      const first = await a.session.records.add('Allergy', {
        substance: 'Latex',
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
      });
      await a.session.sync.awaitInSync();
      await until(async () => (await b.session.records.get(first.id)) !== null, 'b holds the allergy');

      const edit = () => a.session.records.update('Allergy', first.id, { reaction: `after ${point}` });
      if (point === 'push unanswered') {
        // The push leaves A only once the server is gone: it meets a closed socket, or the new server.
        a.network.delayOut = (f) => (f.includes('"t":"push"') ? 150 : 0);
        await edit();
        await restart();
      } else if (point === 'push answer held') {
        a.network.delayIn = (f) => (f.includes('"t":"pushed"') ? 300 : 0);
        await edit();
        await until(async () => {
          const row = await t!.store.docs.getDoc(`${a.session.account.accountId}/allergy`, first.id);
          return row !== null && row.rev.startsWith('2-');
        }, 'the server stored the push');
        await restart();
      } else if (point === 'live frame held') {
        b.network.delayIn = (f) => (f.includes('"t":"changes"') ? 300 : 0);
        await edit();
        await a.session.sync.awaitInSync();
        await restart();
      } else {
        a.session.sync.goOffline();
        await edit();
        a.network.delayIn = (f) => (f.includes('"t":"ready"') ? 100 : 0);
        a.session.sync.goOnline();
        await new Promise((r) => setTimeout(r, 50));
        await restart();
      }
      for (const p of [a, b]) {
        p.network.delayIn = () => 0;
        p.network.delayOut = () => 0;
      }
      const settled = await Promise.race([
        Promise.all([a.session.sync.awaitInSync(), b.session.sync.awaitInSync()]).then(() => 'resolved'),
        new Promise<string>((r) => setTimeout(() => r('awaitInSync() did not resolve in 30 s'), 30_000)),
      ]);
      expect(settled).toBe('resolved');
      await until(
        async () => (await differences(t!, [a, b], [first.id])).length === 0,
        'both hold the server version',
      );
      expect((await b.session.records.get<'Allergy'>(first.id))?.record.reaction).toBe(`after ${point}`);
      // A close held behind a delayed frame reaches its device after it: it reconnects and is online again.
      for (const p of [a, b])
        await until(() => {
          const st = p.session.sync.state.get();
          return st.status === 'online' && st.pendingWrites === 0;
        }, `${p.name} online with nothing pending`);
    });
  }
});
