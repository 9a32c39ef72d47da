// Live delivery to a grantee in the patient's audit log: the page that opens a window is logged before it
// is sent, the documents sent later in the window are logged as one tally when the window ends (timer,
// clock, unsubscribe, revocation, expiry, disconnect, shutdown), so the counts add up to what was sent.
// A real server and store (its service writes and seals the entries); a hub of the test's own, with the
// window's timers faked so windows end when the test says, drives a provider connection that records
// what it is sent.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { newId } from '@hale/model';
import {
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  serverAccessEntries,
} from '../testing/harness';
import { createHub, type Hub, type LiveConnection } from './hub';
import type { SyncService } from './sync-service';

const INTERVAL = 60_000;
/** The real timers: only the hub's are faked (a KDF's yield or fetch's timers must still fire). */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

describe('live access in the audit log', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let grantId: string;
  let hub: Hub;
  /** What happened, in order: `logged a+b` once an audit write of those counts committed, `sent n` per page. */
  let order: string[];
  let errors: unknown[];
  let frames: ServerFrame[];
  /** Bytes the provider's socket has queued (the device stops reading when this is high). */
  let buffered: number;

  const allergy = () => streamOf(patient.accountId, 'allergy');
  const patientPrincipal = () => ({
    accountId: patient.accountId,
    deviceId: patient.device.deviceId,
    role: 'patient' as const,
  });
  const conn = (id: number): LiveConnection => ({
    id,
    principal: {
      accountId: provider.accountId,
      deviceId: provider.device.deviceId,
      role: 'provider',
      devicePublicKey: new Uint8Array(32),
    },
    send: (f) => void frames.push(f),
    sendEncoded: (text) => {
      const frame = JSON.parse(text) as ChangesFrame;
      frames.push(frame);
      order.push(`sent ${frame.docs.length}`);
    },
    bufferedAmount: () => buffered,
    close: () => undefined,
    terminate: () => undefined,
  });
  const delivered = () =>
    frames.filter((f): f is ChangesFrame => f.t === 'changes').reduce((n, f) => n + f.docs.length, 0);

  /** Commits `n` records to the patient's allergy stream, as the patient's device would. */
  const write = async (n: number, stream = allergy(), author = patient.device.deviceId) => {
    const rows = Array.from({ length: n }, () => {
      const ct = new Uint8Array(64).fill(n);
      return {
        doc: {
          stream,
          id: newId(),
          rev: `1-${'a'.repeat(24)}`,
          deleted: false,
          epoch: 0,
          ct,
          size: ct.length,
          author,
        },
        assumedRev: null,
      };
    });
    await t.store.docs.writeDocs(rows, new Date(t.clock.now).toISOString());
  };

  /** Lets the hub's promise chains run (real I/O turns; the faked timers do not move). */
  const until = async (what: string, done: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 5000; i++) {
      if (await done()) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const settle = async () => {
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    await hub.drain();
  };

  /** Counts of the server's 'live' entries in the patient's audit stream, opened as the patient does. */
  const liveCounts = async (): Promise<number[]> => {
    return (await serverAccessEntries(t, patient))
      .filter((e) => e.action === 'live')
      .map((e) => {
        expect(e).toMatchObject({ actorDeviceId: provider.device.deviceId, stream: allergy() });
        return e.count;
      });
  };
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

  /** Ends the window the way time does: the hub clock and its (faked) timers move together. */
  const pass = async (ms: number) => {
    t.clock.advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  };

  /** Damages the patient's stored wrapping key (as audit-chain.test.ts does); answers the repair. */
  const damagePatientKey = async (): Promise<() => void> => {
    const original = (await t.store.accounts.get(patient.accountId))!.wrappingPublicKey;
    const set = t.store.db.prepare('UPDATE accounts SET wrapping_public_key = ? WHERE account_id = ?');
    set.run('!not base64url!', patient.accountId);
    return () => void set.run(original, patient.accountId);
  };

  /**
   * The hub's own pending timers (others, such as fetch's keep-alive, are not the hub's), told apart by
   * the caller's frame (hub.ts or one of its modules, hub-*.ts): armed, then gone once fired or cleared; with their delay and whether they were
   * unref'd (a pending timer must not keep the process alive).
   */
  let hubTimers: Map<NodeJS.Timeout, { ms: number | undefined; unrefd: boolean }>;
  const trackHubTimers = () => {
    hubTimers = new Map();
    const hubHandles = new WeakSet<NodeJS.Timeout>();
    const arm = globalThis.setTimeout;
    const clear = globalThis.clearTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      fn: (...args: unknown[]) => void,
      ms?: number,
      ...args: unknown[]
    ) => {
      if (!/\/core\/hub(-[a-z]+)?\.ts:/.test(new Error().stack ?? '')) return realSetTimeout(fn, ms, ...args);
      const handle = arm(() => {
        hubTimers.delete(handle);
        fn(...args);
      }, ms);
      const info = { ms, unrefd: false };
      const unref = handle.unref.bind(handle);
      handle.unref = () => {
        info.unrefd = true;
        return unref();
      };
      hubTimers.set(handle, info);
      hubHandles.add(handle);
      return handle;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation((handle) => {
      if (handle === undefined || !hubHandles.has(handle as NodeJS.Timeout)) return realClearTimeout(handle);
      hubTimers.delete(handle as NodeJS.Timeout);
      clear(handle);
    });
  };

  /** A provider connection following the allergy stream from the start. */
  const follow = async (id = 1): Promise<LiveConnection> => {
    const c = conn(id);
    await hub.add(c);
    expect(await hub.subscribe(c, [{ stream: allergy(), since: 0 }])).toEqual({ ok: true });
    return c;
  };

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 10 * INTERVAL,
    });
    grantId = signed.grant.grantId;
    await t.server.service.grant(patientPrincipal(), signed);
    order = [];
    errors = [];
    frames = [];
    buffered = 0;
    const service: SyncService = {
      ...t.server.service,
      recordGranteeAccess: async (p, events, guardOf) => {
        await t.server.service.recordGranteeAccess(p, events, guardOf);
        order.push(`logged ${events.map((e) => e.count).join('+')}`);
      },
    };
    // Only the hub's timers are faked; I/O and setImmediate stay real so the store and crypto run.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    trackHubTimers();
    hub = createHub({
      store: t.store,
      service,
      now: () => t.clock.now,
      liveAuditIntervalMs: INTERVAL,
      onError: (error) => void errors.push(error),
    });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    vi.restoreAllMocks();
    vi.useRealTimers();
    await t.stop();
  });

  it('logs 1 then 40 in one window as the first page (before it is sent) and one tally at its end', async () => {
    await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    expect(order).toEqual(['logged 1', 'sent 1']);
    for (let i = 0; i < 4; i++) {
      await write(10);
      await until(`page ${i + 1} of 10`, () => delivered() === 11 + 10 * i);
    }
    await settle();
    // Inside the window nothing more is written (the throttle holds)…
    expect(await liveCounts()).toEqual([1]);
    // …its end is a timer, which does not keep the process alive.
    const pending = [...hubTimers.values()];
    expect(pending.filter((p) => p.ms === INTERVAL)).toHaveLength(1);
    expect(pending.every((p) => p.unrefd)).toBe(true);
    // …and its end writes what was sent since the first page.
    await pass(INTERVAL);
    expect(await liveCounts()).toEqual([1, 40]);
    expect(order.filter((o) => o.startsWith('logged'))).toEqual(['logged 1', 'logged 40']);
    expect(errors).toEqual([]);

    // The next record opens a new window, logged before it goes out.
    await write(2);
    await until('the next window', () => delivered() === 43);
    expect(order.slice(-2)).toEqual(['logged 2', 'sent 2']);
    expect(await liveCounts()).toEqual([1, 40, 2]);
  });

  it('writes a tally whose timer has not fired yet before the entry opening the next window, in one batch', async () => {
    await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(3);
    await until('the tallied page', () => delivered() === 4);
    // The hub clock passes the window's end before its timer fires (a late timer, a moved clock).
    t.clock.advance(INTERVAL);
    await write(2);
    await until('the next window', () => delivered() === 6);
    expect(order).toEqual(['logged 1', 'sent 1', 'sent 3', 'logged 3+2', 'sent 2']);
    expect(await liveCounts()).toEqual([1, 3, 2]);
    // The old window's timer was stopped with it: nothing more when it would have fired.
    await pass(INTERVAL / 2);
    expect(await liveCounts()).toEqual([1, 3, 2]);
  });

  it('writes the tally when the connection closes, and no timer is left to write anything after', async () => {
    const c = await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(7);
    await until('the tallied page', () => delivered() === 8);
    hub.remove(c);
    await settle();
    expect(await liveCounts()).toEqual([1, 7]);
    // Nothing of the connection's is left pending: no window timer, no grant-boundary timer.
    await vi.advanceTimersByTimeAsync(0);
    expect(hubTimers.size).toBe(0);
    await pass(3 * INTERVAL);
    expect(await liveCounts()).toEqual([1, 7]);
    expect(errors).toEqual([]);
  });

  it('writes the tally when the device unsubscribes', async () => {
    const c = await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(4);
    await until('the tallied page', () => delivered() === 5);
    hub.unsubscribe(c, [allergy()]);
    await settle();
    expect(await liveCounts()).toEqual([1, 4]);
    await pass(2 * INTERVAL);
    expect(await liveCounts()).toEqual([1, 4]);
  });

  it('writes the tally when consent is revoked, and when it expires', async () => {
    await follow(1);
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(6);
    await until('the tallied page', () => delivered() === 7);
    await t.server.service.revoke(patientPrincipal(), await makeRevocation(patient, grantId));
    // The app wires the service's grant changes to its own hub; this test's hub is told the same way.
    await hub.grantsChanged(provider.accountId);
    await settle();
    expect(frames.some((f) => f.t === 'accessChanged' && f.removed.length === 1)).toBe(true);
    expect(await liveCounts()).toEqual([1, 6]);
    await write(5);
    await pass(2 * INTERVAL);
    expect(delivered()).toBe(7);
    expect(await liveCounts()).toEqual([1, 6]);

    // A new grant, expiring in the middle of the next window.
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + INTERVAL / 2,
    });
    await t.server.service.grant(patientPrincipal(), signed);
    await hub.grantsChanged(provider.accountId);
    frames = [];
    await follow(2);
    await until('the catch-up page', () => delivered() === 12);
    await write(2);
    await until('the tallied page', () => delivered() === 14);
    t.clock.advance(INTERVAL / 2);
    await hub.sweep();
    await settle();
    expect(await liveCounts()).toEqual([1, 6, 12, 2]);
    await pass(2 * INTERVAL);
    expect(await liveCounts()).toEqual([1, 6, 12, 2]);
    expect(delivered()).toBe(14);
    expect(errors).toEqual([]);
  });

  it('writes the tallies of open windows when the hub stops, and delivers nothing after', async () => {
    await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(3);
    await until('the tallied page', () => delivered() === 4);
    // The device stops reading: the next page waits for its socket to drain.
    buffered = Number.POSITIVE_INFINITY;
    await write(2);
    await settle();
    expect(delivered()).toBe(4);
    hub.stop();
    // What the app does before it closes the store: everything sent is in the audit log.
    await hub.drain();
    expect(await liveCounts()).toEqual([1, 3]);
    buffered = 0;
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(delivered()).toBe(4);
    expect(await liveCounts()).toEqual([1, 3]);
    await write(2);
    await settle();
    expect(delivered()).toBe(4);
    expect(hubTimers.size).toBe(0);
  });

  it('reports a tally it cannot write, sends no page that opens a window it cannot log, and writes the tally once it can', async () => {
    await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(5);
    await until('the tallied page', () => delivered() === 6);

    const restoreKey = await damagePatientKey();
    await pass(INTERVAL);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/5 documents delivered live .* not in the audit log/);
    expect(String((errors[0] as Error).cause)).toMatch(/wrapping key/);
    expect(await liveCounts()).toEqual([1]);

    // The next page would open a window: it cannot be logged, so it is not sent and the cursor stays.
    await write(1);
    await until('the refused window', () => errors.length === 2);
    await settle();
    expect(String(errors[1])).toMatch(/wrapping key/);
    expect(delivered()).toBe(6);

    // Once the access can be logged, the kept tally goes first, then the window's page from the cursor.
    restoreKey();
    await write(1);
    await until('the catch-up page', () => delivered() === 8);
    expect(order.slice(-2)).toEqual(['logged 5+2', 'sent 2']);
    expect(await liveCounts()).toEqual([1, 5, 2]);
    expect(sum(await liveCounts())).toBe(delivered());
  });

  it("keeps delivering a connection's other streams when one page cannot be logged, and retries that one by timer", async () => {
    // A second patient whose stream the same connection follows, its entries logged in its own audit log.
    const other = await registerAccount(t);
    const signed = await makeGrant(other, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 10 * INTERVAL,
    });
    await t.server.service.grant(
      { accountId: other.accountId, deviceId: other.device.deviceId, role: 'patient' },
      signed,
    );
    const otherAllergy = streamOf(other.accountId, 'allergy');
    const deliveredOf = (stream: string) =>
      frames
        .filter((f): f is ChangesFrame => f.t === 'changes')
        .filter((f) => f.streams.some((s) => s.stream === stream))
        .reduce((n, f) => n + f.docs.length, 0);

    // Both streams have records waiting; the first patient's access cannot be logged.
    await write(2);
    await write(3, otherAllergy, other.device.deviceId);
    const restoreKey = await damagePatientKey();
    const c = conn(1);
    await hub.add(c);
    expect(
      await hub.subscribe(c, [
        { stream: allergy(), since: 0 },
        { stream: otherAllergy, since: 0 },
      ]),
    ).toEqual({ ok: true });

    // The first stream (tried first) fails; the other one is still delivered in the same flush.
    await until('the other stream', () => deliveredOf(otherAllergy) === 3);
    await settle();
    expect(deliveredOf(allergy())).toBe(0);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/wrapping key/);
    // …and a later commit on the other stream goes out at once.
    await write(1, otherAllergy, other.device.deviceId);
    await until('the next commit of the other stream', () => deliveredOf(otherAllergy) === 4);
    await settle();
    expect(deliveredOf(allergy())).toBe(0);
    // (That flush tried the failed stream again, as it is still dirty, and failed again.)
    expect(errors).toHaveLength(2);

    // The failed stream is retried by an unref'd timer, with backoff, without any commit on it.
    // (The hub's other timers here are the other stream's window end and the grants' expiry, both later,
    // and the page cache's cleanup, at once.)
    const retries = () =>
      [...hubTimers.values()].filter((p) => p.ms !== undefined && p.ms > 0 && p.ms < INTERVAL);
    expect(retries()).toEqual([{ ms: 1_000, unrefd: true }]);
    await pass(1_000);
    expect(errors).toHaveLength(3);
    expect(String(errors[2])).toMatch(/wrapping key/);
    expect(deliveredOf(allergy())).toBe(0);
    expect(await liveCounts()).toEqual([]);
    expect(retries()).toEqual([{ ms: 2_000, unrefd: true }]);

    // Once the access can be logged, the next retry delivers the page the cursor held back.
    restoreKey();
    await pass(2_000);
    expect(deliveredOf(allergy())).toBe(2);
    expect(await liveCounts()).toEqual([2]);
    expect(errors).toHaveLength(3);
    // Everything is delivered: no retry is left pending.
    expect(retries()).toEqual([]);
  });

  it('reports a tally lost when it cannot be written as the connection closes', async () => {
    const c = await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await write(3);
    await until('the tallied page', () => delivered() === 4);
    await damagePatientKey();
    hub.remove(c);
    await settle();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/3 documents delivered live .* connection is gone/);
    expect(await liveCounts()).toEqual([1]);
  });

  it('a window with only its first page holds no timer, and a grant change that keeps the stream does not end it', async () => {
    await follow();
    await write(1);
    await until('the first record', () => delivered() === 1);
    await settle();
    expect([...hubTimers.values()].filter((p) => p.ms === INTERVAL)).toEqual([]);
    // Another grant for the same provider: the stream stays, and so does its window.
    const more = await makeGrant(patient, provider, [{ type: 'immunization', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 10 * INTERVAL,
    });
    await t.server.service.grant(patientPrincipal(), more);
    await hub.grantsChanged(provider.accountId);
    await write(2);
    await until('the tallied page', () => delivered() === 3);
    await settle();
    expect(await liveCounts()).toEqual([1]);
    expect([...hubTimers.values()].filter((p) => p.ms === INTERVAL)).toHaveLength(1);
    await pass(INTERVAL);
    expect(await liveCounts()).toEqual([1, 2]);
  });

  it('counts a page once it is sent: a page whose send fails is counted when it goes out', async () => {
    const c = conn(1);
    let failSends = 0;
    const send = c.sendEncoded.bind(c);
    c.sendEncoded = (text, type) => {
      if (failSends > 0) {
        failSends--;
        throw new Error('socket gone');
      }
      send(text, type);
    };
    await hub.add(c);
    expect(await hub.subscribe(c, [{ stream: allergy(), since: 0 }])).toEqual({ ok: true });
    await write(1);
    await until('the first record', () => delivered() === 1);
    failSends = 1;
    await write(3);
    await until('the failed send', () => errors.length === 1);
    expect(delivered()).toBe(1);
    // The retry sends it, and only then is it counted.
    await pass(1_000);
    expect(delivered()).toBe(4);
    await pass(INTERVAL);
    expect(await liveCounts()).toEqual([1, 3]);
  });

  it('a page logged while its subscription ends is not sent and opens no window: the next page is logged again', async () => {
    // A hub of its own whose audit writes the test holds.
    hub.stop();
    await hub.drain();
    const gate: { release: (() => void) | undefined } = { release: undefined };
    const releaseHeld = (): void => gate.release?.();
    const held: SyncService = {
      ...t.server.service,
      recordGranteeAccess: async (p, events, guardOf) => {
        if (!gate.release) await new Promise<void>((resolve) => (gate.release = resolve));
        await t.server.service.recordGranteeAccess(p, events, guardOf);
        order.push(`logged ${events.map((e) => e.count).join('+')}`);
      },
    };
    hub = createHub({
      store: t.store,
      service: held,
      now: () => t.clock.now,
      liveAuditIntervalMs: INTERVAL,
      onError: (error) => void errors.push(error),
    });
    const c = await follow();
    await write(2);
    await until('the held opening write', () => gate.release !== undefined);
    hub.unsubscribe(c, [allergy()]);
    releaseHeld();
    await settle();
    expect(delivered()).toBe(0);
    expect(await liveCounts()).toEqual([2]);
    expect(await hub.subscribe(c, [{ stream: allergy(), since: 0 }])).toEqual({ ok: true });
    await until('the page', () => delivered() === 2);
    await settle();
    expect(order).toEqual(['logged 2', 'logged 2', 'sent 2']);
    expect(await liveCounts()).toEqual([2, 2]);

    // The same when the subscription moves (subscribed again from elsewhere) while the opening is written.
    await pass(INTERVAL);
    gate.release = undefined;
    await write(3);
    await until('the next held opening write', () => gate.release !== undefined);
    expect(await hub.subscribe(c, [{ stream: allergy(), since: 1 }])).toEqual({ ok: true });
    releaseHeld();
    await until('the page from the moved cursor', () => delivered() === 6);
    await settle();
    expect(order.slice(3)).toEqual(['logged 3', 'logged 4', 'sent 4']);
    expect(await liveCounts()).toEqual([2, 2, 3, 4]);
    expect(errors).toEqual([]);
  });

  it("writes each stream's tally on its own: one patient's failure does not cost another's", async () => {
    const other = await registerAccount(t);
    const signed = await makeGrant(other, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 10 * INTERVAL,
    });
    await t.server.service.grant(
      { accountId: other.accountId, deviceId: other.device.deviceId, role: 'patient' },
      signed,
    );
    const otherAllergy = streamOf(other.accountId, 'allergy');
    const c = conn(1);
    await hub.add(c);
    expect(
      await hub.subscribe(c, [
        { stream: allergy(), since: 0 },
        { stream: otherAllergy, since: 0 },
      ]),
    ).toEqual({ ok: true });
    await write(1);
    await write(1, otherAllergy, other.device.deviceId);
    await until('both first records', () => delivered() === 2);
    await write(4);
    await write(5, otherAllergy, other.device.deviceId);
    await until('both tallied pages', () => delivered() === 11);
    await damagePatientKey();
    hub.remove(c);
    await settle();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/^Error: 4 documents delivered live .* connection is gone/);
    expect(await liveCounts()).toEqual([1]);
    const otherCounts = (await serverAccessEntries(t, other))
      .filter((e) => e.action === 'live')
      .map((e) => e.count);
    expect(otherCounts).toEqual([1, 5]);
  });
});
