// A device that follows a stream live and stops reading: once its live changes fill the socket past the
// hub's high-water mark and it takes none of them for `sendStallTimeoutMs`, the hub drops the socket at
// once. A close frame would queue behind what the client does not read, and ws would hold the socket and
// its buffer for its close timeout (30 s). The client pauses with ws's own pause(): its TCP window fills.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addDevice,
  connect,
  makeDoc,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from '../testing/harness';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 20 ms until it holds; fails after `ms`. */
const until = async (probe: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe('a live follower that reads nothing', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t?.stop();
    t = undefined;
  });

  it('is dropped at once when the hub gives up on it, not held for the close handshake', async () => {
    const STALL_MS = 300;
    t = await startServer({ config: { sendStallTimeoutMs: STALL_MS } });
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const writer = await connect(t, second);
    const follower = await connect(t, patient.device);
    clients.push(writer, follower);
    const stream = streamOf(patient.accountId, 'allergy');
    expect(
      await follower.request({ t: 'subscribe', rid: follower.rid(), streams: [{ stream, since: 0 }] }),
    ).toMatchObject({ t: 'ok' });
    follower.ws.pause();
    const serverSockets = () => [...t!.server.app.websocketServer.clients];
    const buffered = () => Math.max(0, ...serverSockets().map((s) => s.bufferedAmount));
    const push = async () => {
      const doc = await makeDoc(patient, second, 'allergy', { b: randomBytes(700_000).toString('base64') });
      const r = await writer.request({ t: 'push', rid: writer.rid(), rows: [{ doc, assumedRev: null }] });
      expect(r).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
      await sleep(20);
    };
    // ~0.9 MB each, until the follower's socket holds more than the hub's high-water mark (4 MiB) beyond
    // what the kernel's buffers took; then one more, which delivery holds back for the socket to drain.
    for (let i = 0; i < 40 && buffered() <= 4 * 1024 * 1024; i++) await push();
    expect(buffered()).toBeGreaterThan(4 * 1024 * 1024);
    await push();
    const stalledAt = Date.now();
    // Only the writer's socket is left, well before ws's 30 s close timeout.
    await until(() => serverSockets().length === 1, 10_000, 'the follower’s socket to be dropped');
    expect(Date.now() - stalledAt).toBeLessThan(10_000);
    expect(t.server.hub.size()).toBe(1);
    expect(writer.ws.readyState).toBe(writer.ws.OPEN);
    const refused = (await t.server.metrics.refusals.get()).values.filter(
      (v) => v.labels.code === 'UNAVAILABLE',
    );
    expect(refused.reduce((n, v) => n + v.value, 0)).toBe(1);
  }, 60_000);
});
