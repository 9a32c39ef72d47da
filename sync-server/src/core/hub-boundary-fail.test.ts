// A re-decision at a grant boundary (the connection's own timer, or the sweep when the clock passed the
// boundary first) that fails on the store. Nothing awaits the timer's, so its failure used to be an
// unhandled rejection, which ends a Node process by default (main.ts installs no handler), and left the
// connection as it was: the device never told of the stream that ended or started. It must fail closed as
// a failed re-evaluation after a grant change does (4000, reported), and never crash the process. A real
// server and store; a hub of the test's own over a store that fails on demand, its timers faked and its
// clock the server's.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { StoreError, type SyncStore } from '../store/index';
import {
  makeGrant,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createHub, type Hub, type LiveConnection } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';
import { createSyncService } from './sync-service';

const STARTS_IN = 10_000;
const LASTS = 20_000;

describe('a grant-boundary re-decision that fails on the store', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let hub: Hub;
  let frames: ServerFrame[];
  let closes: Array<{ code: number; reason: string }>;
  let reported: unknown[];
  let unhandled: unknown[];
  /** While set, reading a pair's ended grants / the heads of streams fails. */
  const faults = { endedScopes: false, streamHeads: false };
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    frames = [];
    closes = [];
    reported = [];
    unhandled = [];
    faults.endedScopes = false;
    faults.streamHeads = false;
    process.on('unhandledRejection', onUnhandled);
    const store: SyncStore = {
      ...t.store,
      grants: {
        ...t.store.grants,
        endedScopes: async (...args) => {
          if (faults.endedScopes) throw new StoreError('UNAVAILABLE', 'injected: ended grants not read');
          return t.store.grants.endedScopes(...args);
        },
      },
      docs: {
        ...t.store.docs,
        streamHeads: async (...args) => {
          if (faults.streamHeads) throw new StoreError('UNAVAILABLE', 'injected: stream heads not read');
          return t.store.docs.streamHeads(...args);
        },
      },
    };
    const service = createSyncService({
      store,
      now: () => t.clock.now,
      ed: createNodeEd25519(),
      server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    });
    // Only timeouts are faked; I/O and setImmediate stay real so the store runs.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    hub = createHub({
      store,
      service,
      now: () => t.clock.now,
      onError: (error) => void reported.push(error),
    });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    vi.useRealTimers();
    process.off('unhandledRejection', onUnhandled);
    await t.stop();
  });

  /** A grant of allergy (read) to the provider, starting after `startsIn` ms, for `LASTS` ms. */
  const grant = async (startsIn: number) => {
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      start: t.clock.now + startsIn,
      expiresAt: t.clock.now + startsIn + LASTS,
    });
    await t.server.service.grant(
      { accountId: patient.accountId, deviceId: patient.device.deviceId, role: 'patient' },
      signed,
    );
  };

  const providerConnection = (): LiveConnection =>
    recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      frames,
      (code, reason) => void closes.push({ code, reason }),
    );
  const accessChanged = () => accessChangedIn(frames);
  /** Each close's code, and whether its reason asks the device to reconnect. */
  const closedAs = () => closes.map((c) => [c.code, c.reason.endsWith('reconnect') ? 'reconnect' : c.reason]);
  const injected = (what: string) =>
    reported.filter((e) => e instanceof StoreError && e.message.includes(`injected: ${what}`)).length;

  /** Moves the hub clock and, unless `timers` is false, its (faked) timers; then lets the work finish. */
  const pass = async (ms: number, timers = true) => {
    t.clock.advance(ms);
    if (timers) await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('closes the connection (4000) and reports it when the expiry re-decision fails, without an unhandled rejection', async () => {
    await grant(0);
    const allergy = streamOf(patient.accountId, 'allergy');
    const conn = providerConnection();
    await hub.add(conn);
    expect(await hub.subscribe(conn, [{ stream: allergy, since: 0 }])).toEqual({ ok: true });
    expect(hub.subscriptions()).toBe(1);

    // Naming the expiry's reason reads the pair's ended grants: that read fails when the timer fires.
    faults.endedScopes = true;
    await pass(LASTS + 10);
    expect(unhandled).toEqual([]);
    expect(closedAs()).toEqual([[4000, 'reconnect']]);
    expect(injected('ended grants')).toBe(1);

    // Nothing goes out on the closed connection, whatever is committed to the stream.
    faults.endedScopes = false;
    frames.length = 0;
    await t.store.docs.writeDocs(
      [
        {
          doc: {
            stream: allergy,
            id: `01J${'0'.repeat(23)}`,
            rev: `1-${'a'.repeat(24)}`,
            deleted: false,
            epoch: 0,
            ct: new Uint8Array(64),
            size: 64,
            author: patient.device.deviceId,
          },
          assumedRev: null,
        },
      ],
      new Date(t.clock.now).toISOString(),
    );
    await pass(5_000);
    expect(frames).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('closes the connection (4000) and reports it when announcing a started grant fails', async () => {
    await grant(STARTS_IN);
    const conn = providerConnection();
    await hub.add(conn);
    // Announcing the stream reads its head: that read fails when the timer fires at the start.
    faults.streamHeads = true;
    await pass(STARTS_IN + 10);
    expect(unhandled).toEqual([]);
    expect(accessChanged()).toEqual([]);
    expect(closedAs()).toEqual([[4000, 'reconnect']]);
    expect(injected('stream heads')).toBe(1);
  });

  it('closes the connection when the sweep re-decides a passed boundary first and that fails', async () => {
    await grant(STARTS_IN);
    const conn = providerConnection();
    await hub.add(conn);
    // The first sweep reloads every connection; it succeeds and leaves the boundary ahead.
    await hub.sweep();
    expect(closes).toEqual([]);
    faults.streamHeads = true;
    // The clock passes the start but the timer has not fired: the sweep re-decides, and that fails.
    await pass(STARTS_IN + 10, false);
    await expect(hub.sweep()).rejects.toThrow('injected: stream heads');
    expect(closedAs()).toEqual([[4000, 'reconnect']]);
    // The timer firing later finds the connection closed: nothing more is tried or reported.
    await vi.advanceTimersByTimeAsync(STARTS_IN + 10);
    expect(unhandled).toEqual([]);
    expect(closes).toHaveLength(1);
  });
});
