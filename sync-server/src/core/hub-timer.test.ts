// A grantee connection is re-decided by its own timer at the next grant boundary: the stream appears when
// the grant starts and its live subscription is dropped when it expires, with no sweep and no grant change
// to prompt it. A real server and store; a hub of the test's own whose timers are faked and whose clock is
// the server's, so both move only when the test says.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
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

const STARTS_IN = 10_000;
const LASTS = 20_000;

describe('hub grant-boundary timer', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let hub: Hub;
  let frames: ServerFrame[];

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      start: t.clock.now + STARTS_IN,
      expiresAt: t.clock.now + STARTS_IN + LASTS,
    });
    await t.server.service.grant(
      { accountId: patient.accountId, deviceId: patient.device.deviceId, role: 'patient' },
      signed,
    );
    frames = [];
    // Only timeouts are faked; I/O and setImmediate stay real so the store runs.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    hub = createHub({ store: t.store, service: t.server.service, now: () => t.clock.now });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    vi.useRealTimers();
    await t.stop();
  });

  const providerConnection = (): LiveConnection =>
    recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      frames,
    );
  const accessChanged = () => accessChangedIn(frames);

  /** Moves the hub clock and its (faked) timers together, then lets the re-evaluation finish. */
  const pass = async (ms: number) => {
    t.clock.advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('announces the stream when the grant starts and drops the live subscription when it expires', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    const conn = providerConnection();
    await hub.add(conn);
    // Not started yet: no consent (as access.test.ts decides it).
    expect(await hub.subscribe(conn, [{ stream: allergy, since: 0 }])).toMatchObject({
      ok: false,
      code: 'NO_CONSENT',
    });

    // Nothing before the start; the timer fires at it (a few ms after: its margin).
    await pass(STARTS_IN - 1);
    expect(accessChanged()).toEqual([]);
    await pass(10);
    expect(accessChanged()).toEqual([
      expect.objectContaining({ streams: [expect.objectContaining({ stream: allergy })], removed: [] }),
    ]);
    expect(await hub.subscribe(conn, [{ stream: allergy, since: 0 }])).toEqual({ ok: true });
    expect(hub.subscriptions()).toBe(1);

    frames.length = 0;
    await pass(LASTS);
    expect(accessChanged()).toEqual([
      expect.objectContaining({ streams: [], removed: [{ stream: allergy, reason: 'expired' }] }),
    ]);
    expect(hub.subscriptions()).toBe(0);
  });
});
