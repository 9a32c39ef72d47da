// The hub stops serving a connection it closes at the moment it closes it, not when the owner's socket
// finally reports the close: after `closeDevice` (a device revocation), and when the connection's client
// has taken none of its buffered live changes for `sendStallTimeoutMs` (instead of being polled for ever;
// then dropped with `terminate`, since a close frame would wait behind what the client does not read).
// A connection added once the hub stopped (a sign-in completing during shutdown) is closed at once.
// The connections here never report a close, as a socket whose client does not answer the handshake.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Hub, HubOptions } from './hub';
import {
  DEVICE,
  hubOverStore,
  newDocs as docs,
  probedConnection as connection,
  sleep,
  STREAM,
} from './hub-store.test-util';

describe('the hub stops a connection as it closes it', () => {
  let fixture: Awaited<ReturnType<typeof hubOverStore>>;
  let hub: Hub;
  beforeEach(async () => {
    fixture = await hubOverStore('hale-hub-close-');
  });
  afterEach(async () => {
    await fixture.close();
  });

  const start = (options: Partial<HubOptions> = {}) => {
    const started = fixture.start(options);
    hub = started.hub;
    return started.delivered;
  };
  const write = (rows: ReturnType<typeof docs>) =>
    fixture.store.docs.writeDocs(rows, new Date().toISOString());

  it('delivers nothing more to a device it closed with closeDevice', async () => {
    const delivered = start();
    const c = connection();
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await write(docs(3));
    await sleep(50);
    expect(c.changes()).toHaveLength(1);
    expect(delivered.docs).toBe(3);

    expect(hub.closeDevice(DEVICE, 'device revoked')).toBe(1);
    expect(c.closes).toEqual([{ code: 4001, reason: 'device revoked' }]);
    expect(c.terminated).toEqual([]);
    await write(docs(2));
    await sleep(50);
    expect(c.changes()).toHaveLength(1);
    expect(delivered.docs).toBe(3);
  });

  it('drops a connection whose client takes nothing for sendStallTimeoutMs, and stops polling it', async () => {
    start({ highWaterBytes: 1000, sendStallTimeoutMs: 200 });
    let buffered = 0;
    const c = connection(() => buffered);
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await write(docs(1));
    await sleep(30);
    expect(c.changes()).toHaveLength(1);
    buffered = 5000; // the client reads none of it
    await write(docs(1));
    const deadline = Date.now() + 3000;
    while (c.closes.length + c.terminated.length === 0 && Date.now() < deadline) await sleep(20);
    // At once, without a close handshake: a close frame would queue behind what the client does not read.
    expect(c.terminated).toEqual([expect.stringContaining('reconnect') as unknown]);
    expect(c.closes).toEqual([]);
    const polled = c.polls();
    await sleep(100);
    expect(c.polls()).toBe(polled);
    expect(c.changes()).toHaveLength(1);
  });

  it('keeps a connection whose client drains, however slowly', async () => {
    start({ highWaterBytes: 1000, sendStallTimeoutMs: 200 });
    let buffered = 0;
    const c = connection(() => (buffered > 1000 ? buffered-- : buffered));
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await write(docs(1));
    await sleep(30);
    buffered = 1_000_000; // taken one byte per look: never under the mark within the test
    await write(docs(1));
    await sleep(800);
    expect(c.closes).toEqual([]);
    expect(c.terminated).toEqual([]);
    expect(c.polls()).toBeGreaterThan(10);
  });

  it('closes a connection added after stop (1001) and holds nothing for it', async () => {
    start();
    hub.stop();
    const c = connection();
    await hub.add(c.conn);
    expect(c.closes).toEqual([{ code: 1001, reason: 'server shutting down' }]);
    expect(hub.size()).toBe(0);
    await write(docs(1));
    await sleep(30);
    expect(c.changes()).toEqual([]);
  });
});
