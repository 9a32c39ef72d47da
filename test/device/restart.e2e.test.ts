import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { addDevice, registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { eventually, openDevice } from '../support/devices';
import { input } from '../support/records';
import { answers, freePort, spawnServer, type ServerProcess } from '../support/process';
import { useCryptoWorker } from '../support/fixture';

// Several pages of either batch size; at the kill, more than a page is still to be sent (checked).
const RECORDS = 1000;

const worker = useCryptoWorker();

// Once with the cryptography in this thread, once on a worker (pushes sealed there, prefetched pages).
describe.each([
  { where: 'in this thread', batchSize: 100, offload: {} },
  { where: 'on a crypto worker', batchSize: 250, offload: { cryptoOffload: worker } },
])(
  'server killed (SIGKILL) and restarted in the middle of a large sync, cryptography $where',
  ({ batchSize, offload }) => {
    const sessions: DeviceSession[] = [];
    let server: ServerProcess | null = null;
    let restarted: TestServer | null = null;
    let dataDir = '';
    afterEach(async () => {
      await Promise.all(sessions.splice(0).map((s) => s.close()));
      await server?.kill('SIGKILL');
      server = null;
      await restarted?.stop({ keepData: true });
      restarted = null;
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('loses no record, duplicates none, and all devices converge', async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'hale-kill-'));
      const port = await freePort();
      // A process of its own: what is tested is a SIGKILL of it.
      server = await spawnServer(dataDir, port);
      const t = { url: server.url } as TestServer;
      const patient = await registerAccount(t);
      const second = await addDevice(t, patient);
      const getAccount = { serverUrl: server.url };

      const a = await openDevice(t, patient, { ...getAccount, ...offload, batchSize });
      const b = await openDevice(t, patient, { ...getAccount, ...offload, device: second, batchSize });
      sessions.push(a, b);
      const ids: string[] = [];
      for (let i = 0; i < RECORDS; i++) {
        ids.push((await a.records.add('Allergy', input('Allergy', { substance: `substance-${i}` }))).id);
      }
      // Kill the server while the upload and the second device's download are under way.
      await eventually(() => a.sync.state().pendingWrites < RECORDS - 200, 'sync under way', 30_000);
      expect(a.sync.state().pendingWrites).toBeGreaterThan(batchSize);
      await server.kill('SIGKILL');
      server = null;
      // Really gone: nothing answers until the new server is up.
      expect(await answers(t.url)).toBe(false);
      // The restart, in this process (as main.ts opens the store and listens), on the killed one's files.
      restarted = await startServer({ dataDir, port, realClock: true });
      expect(restarted.url).toBe(t.url);

      await eventually(
        () => a.sync.state().pendingWrites === 0,
        'every write acknowledged after restart',
        60_000,
      );
      await eventually(
        async () => (await b.records.query('Allergy')).length === RECORDS,
        'second device has every record',
        60_000,
      );
      const onB = (await b.records.query('Allergy')).map((r) => r.record.id).sort();
      expect(onB).toEqual([...ids].sort());
      await restarted.stop({ keepData: true });
      restarted = null;
      const db = new Database(path.join(dataDir, 'hale.sqlite'), { readonly: true });
      const rows = db
        .prepare('SELECT count(*) AS n, count(DISTINCT id) AS d, max(seq) AS m FROM docs WHERE stream = ?')
        .get(`${patient.accountId}/allergy`) as { n: number; d: number; m: number };
      db.close();
      expect(rows.n).toBe(RECORDS);
      expect(rows.d).toBe(RECORDS);
    }, 180_000);
  },
);
