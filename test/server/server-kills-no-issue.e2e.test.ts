// A server stopped twice in a row, the second time just as the device becomes ready (the connect-time
// checks then lose their socket): once the server is back and the device online, no issue is left.
//
// | step | what the device meets                                   | what it must show            |
// | ---- | ------------------------------------------------------- | ---------------------------- |
// | 1    | the server stops under an online device                 | offline, reconnecting        |
// | 2    | the server comes back and stops again right at `ready` | a connection failure at most |
// | 3    | the server comes back for good                          | online, `errors` empty       |
import { describe, expect, it } from 'vitest';
import { registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import type { WebSocketLike } from '@hale/client';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('two quick server stops leave no issue behind', () => {
  const server = useServer();

  it('a stop just as the device becomes ready is a connection failure, gone once it is back online', async () => {
    const first = server.t;
    const port = Number(new URL(first.url).port);
    const patient = await registerAccount(first);
    let live: TestServer = first;
    const restarted: TestServer[] = [];
    /** Set: the next `ready` the device receives stops the server right after handing it over. */
    let stopAtReady: (() => void) | null = null;
    let stoppedAtReady: Promise<void> | null = null;
    const sockets = interceptedWebSocket({
      received: (text, deliver) => {
        deliver();
        const frame = JSON.parse(text) as { t: string };
        if (frame.t !== 'ready' || stopAtReady === null) return;
        const stop = stopAtReady;
        stopAtReady = null;
        stop();
      },
    });
    const p = await openDevice(first, patient, {
      createWebSocket: (url: string): WebSocketLike => sockets(url),
    });
    server.sessions.push(p);
    const seen = new Set<string>();
    const watch = p.sync.state$.subscribe((s) => s.errors.forEach((e) => seen.add(e.code)));
    try {
      await waitOnline(p);
      await p.records.add('Allergy', input('Allergy', { substance: 'latex' }));
      await allPushed(p);
      expect(p.sync.state().errors).toEqual([]);

      // Stop 1: the server goes under an online device.
      await first.stop({ keepData: true });
      await eventually(() => p.sync.state().status !== 'online', 'the device noticed the stop');

      // Back, and stopped again the moment the device is handed `ready`.
      stoppedAtReady = new Promise<void>((resolve) => {
        stopAtReady = () => void live.stop({ keepData: true }).then(resolve);
      });
      live = await startServer({ dataDir: first.dataDir, port });
      restarted.push(live);
      await stoppedAtReady;

      // Back for good: the device reconnects and its connect-time checks pass.
      live = await startServer({ dataDir: first.dataDir, port });
      restarted.push(live);
      await waitOnline(p);
      await eventually(
        () => p.sync.state().status === 'online' && p.sync.state().errors.length === 0,
        'no issue left once back online',
      ).catch(() => undefined);
      expect(p.sync.state().errors).toEqual([]);
      // The account never had a grant: no re-keying was ever pending, whatever the connection did.
      expect(seen.has('REKEY_PENDING')).toBe(false);
    } finally {
      watch.unsubscribe();
      await p.close();
      for (const s of restarted.reverse()) await s.stop({ keepData: true }).catch(() => undefined);
    }
  });
});
