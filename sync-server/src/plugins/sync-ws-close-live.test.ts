// A socket the server is done with gets nothing more from the live hub, even while ws still waits for
// its close handshake (up to its close timeout): after a device revocation, at session expiry, and once
// the client itself started closing. The client here stops reading, so the handshake never completes
// and the server's 'close' event does not come within the test: what the hub does in between is seen in
// the documents it counts as delivered (`hale_live_docs_total`, the count the access log's tallies follow).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SESSION_TTL_MS, type PushDoc } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  registerAccount,
  revokeDevice,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';

/** Lets the server's handlers run (real I/O turns), also while timers are faked. */
const until = async (what: string, done: () => boolean) => {
  for (let i = 0; i < 5000; i++) {
    if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('a socket being closed is served no more live changes', () => {
  let t: TestServer;
  let patient: TestAccount;
  let second: TestDevice;
  let follower: WsClient;
  let writer: WsClient;
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    second = await addDevice(t, patient);
  });
  afterEach(async () => {
    vi.useRealTimers();
    follower.ws.terminate();
    writer.ws.terminate();
    await t.stop();
  });

  const liveDocs = async (): Promise<number> =>
    (await t.server.metrics.liveDocs.get()).values.reduce((n, v) => n + v.value, 0);
  const serverSockets = () => [...t.server.app.websocketServer.clients];

  /**
   * `follower` (the patient's first device) follows its allergy stream and has received one change;
   * `beforeFollower` runs once `writer` (its second device) is connected, before `follower` connects.
   */
  const follow = async (beforeFollower: () => void = () => undefined) => {
    writer = await connect(t, second);
    beforeFollower();
    follower = await connect(t, patient.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const ok = await follower.request({
      t: 'subscribe',
      rid: follower.rid(),
      streams: [{ stream, since: 0 }],
    });
    expect(ok.t).toBe('ok');
    await push('first');
    await until('the first change to be delivered', () =>
      follower.unsolicited.some((f) => f.t === 'changes'),
    );
    expect(await liveDocs()).toBe(1);
  };
  const push = async (title: string): Promise<PushDoc> => {
    const doc = await makeDoc(patient, second, 'allergy', { title });
    const r = await writer.request({ t: 'push', rid: writer.rid(), rows: [{ doc, assumedRev: null }] });
    expect(r).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
    return doc;
  };
  /** A change committed now, and the turns the hub needs to deliver it to anyone still followed. */
  const pushAndSettle = async () => {
    await push('after the close began');
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('after its device is revoked', async () => {
    await follow();
    follower.ws.pause();
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);
    // The revoked device's socket is closing, not closed: its client reads nothing.
    expect(serverSockets().some((s) => s.readyState === s.CLOSING)).toBe(true);
    await pushAndSettle();
    expect(await liveDocs()).toBe(1);
  });

  it('at session expiry', async () => {
    // Only the follower's session timer is faked: the writer's session outlives the test.
    await follow(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
    follower.ws.pause();
    await vi.advanceTimersByTimeAsync(SESSION_TTL_MS);
    expect(serverSockets().some((s) => s.readyState === s.CLOSING)).toBe(true);
    // The follower's connection left the hub at once, not when ws gives up on its handshake.
    expect(t.server.hub.size()).toBe(1);
    await pushAndSettle();
    expect(await liveDocs()).toBe(1);
  });

  it('once the client started closing', async () => {
    await follow();
    follower.ws.close();
    follower.ws.pause();
    await until('the server to see the close', () => serverSockets().some((s) => s.readyState === s.CLOSING));
    await pushAndSettle();
    expect(await liveDocs()).toBe(1);
    expect(t.server.hub.size()).toBe(1);
  });
});
