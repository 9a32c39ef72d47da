// The views offline: without the option they wait for the connection (for a while, audit-view-wait.test.ts); with `{ offline: 'cached' }`
// they answer from what this device verified before (the view cache), marked with when the log was last
// read and `complete: false`, or refuse at once (SyncError NETWORK) when there is no cache that may be
// used; connected, they answer as without the option.
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import { createConnection, SyncError, type Connection } from '../sync/connection';
import type { AuthorKey, AuthorUnavailable, DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta } from './audit-log.test-util';
import type { AuditLogDeps } from './audit-log';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const MINUTE = 60_000;

/** What a promise did within `ms`: its value, its error, or still pending. */
const within = async <T>(p: Promise<T>, ms = 1000): Promise<{ value: T } | { error: unknown } | 'pending'> =>
  Promise.race([
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

/**
 * A patient device (`own`) reading its log from a scripted server while online; offline, its requests go
 * to a real connection that is not up (never started), which holds them until it is `ready`, as the
 * app's connection does. The directory answers the account's two devices; `revokeOther` has it answer
 * `other` revoked, `unavailable` has it unable to load any list (a new session offline).
 */
const offlineSetup = () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const provider = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const server = generateDeviceKeys();
  let clock = T0;
  const now = () => clock;
  const served: ServedDoc[] = [];
  const states = new Map<string, ChainState>();
  let pulls = 0;
  const add = async (author: typeof server, body: Record<string, unknown>): Promise<void> => {
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: author.deviceId, secretKey: author.secretKey },
      ed,
      chain: states.get(author.deviceId) ?? { seq: 0, hash: null },
      body: { ...body, at: new Date(clock).toISOString() } as AuditBody,
      now,
    });
    states.set(author.deviceId, made.chain);
    served.push({ ...made.doc, seq: served.length + 1, at: new Date(clock).toISOString() });
  };
  const access = (count: number) => ({
    kind: 'AccessEvent',
    action: 'pull',
    actorId: provider.accountId,
    actorDeviceId: generateDeviceKeys().deviceId,
    stream: `${patient.accountId}/allergy`,
    count,
  });
  const grant = (purpose: string) => ({
    kind: 'AuditEntry',
    action: 'consent-grant',
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    grantId: `grant-${purpose}`,
    granteeId: provider.accountId,
    scope: [{ type: 'allergy', access: 'read' }],
    expiresAt: '2027-01-01T00:00:00.000Z',
    purpose,
  });
  const link = { online: true, timeoutNext: false };
  /** The app's connection while the network is down: not started, so every request waits for `ready`. */
  const down = createConnection({
    url: 'ws://unreachable',
    createWebSocket: () => {
      throw new Error('no network');
    },
    device: { deviceId: own.deviceId, secretKey: own.secretKey },
    ed,
    onFrame: () => undefined,
  });
  /** Pulls waiting for the network while it is down, answered once it is back (`reconnect`). */
  const waiting: Array<() => void> = [];
  const scripted = (frame: PullFrame) => {
    pulls++;
    const since = frame.streams[0]!.since;
    const docs = served.filter((d) => d.seq > since);
    return {
      t: 'pulled',
      rid: 1,
      docs,
      streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
      denied: [],
    };
  };
  const statusListeners = new Set<(status: string) => void>();
  const connection = {
    status: () => (link.online ? ('ready' as const) : down.status()),
    onStatusChange: (listener: (status: string) => void) => {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    request: async (frame: PullFrame) => {
      if (link.timeoutNext) {
        link.timeoutNext = false;
        throw new SyncError('TIMEOUT', 'no reply to pull', true);
      }
      if (link.online) return scripted(frame);
      // Held as the real connection holds it (while it is down; rejected once stopped)…
      const back = new Promise<void>((resolve) => waiting.push(resolve));
      await Promise.race([down.request(frame), back]);
      // …and answered by the server once the device is back online.
      return scripted(frame);
    },
  } as unknown as Connection;
  const judge = { otherRevokedAt: undefined as string | undefined, unavailable: false };
  const directory = {
    authorKey: async (accountId: string, deviceId: string): Promise<AuthorKey | AuthorUnavailable | null> => {
      if (judge.unavailable) return { unavailable: 'no network' };
      if (accountId !== patient.accountId) return null;
      if (deviceId === other.deviceId)
        return judge.otherRevokedAt === undefined
          ? { key: other.publicKey }
          : { key: other.publicKey, revokedAt: judge.otherRevokedAt };
      return deviceId === own.deviceId ? { key: own.publicKey } : null;
    },
  } as unknown as DeviceDirectory;
  const memory = memoryMeta();
  const locked = { now: false };
  const serverInfo = { failing: false };
  const base = {
    keys: patient,
    device: own,
    ed,
    now,
    connection,
    directory,
    meta: memory.meta,
    // GET /v1/server over HTTP: fails offline in a session that has not asked it yet.
    serverKey: async () => {
      if (serverInfo.failing) throw new Error('fetch failed');
      return { serverId: server.deviceId, publicKey: server.publicKey };
    },
    assertUnlocked: () => {
      if (locked.now) throw new Error('LOCKED');
    },
  };
  return {
    server,
    other,
    add,
    access,
    grant,
    meta: memory.meta,
    failNextWrite: memory.failNextWrite,
    judge,
    locked,
    serverInfo,
    /** A session of the device (a second one: restarted), over the same device meta. */
    open: (extra: Partial<AuditLogDeps> = {}) => auditLogOpener(base)(extra),
    goOffline: () => {
      link.online = false;
      for (const listener of [...statusListeners]) listener(down.status());
    },
    /** The next pull gets no reply in time (the connection then gives the socket up). */
    timeoutNext: () => void (link.timeoutNext = true),
    /** The app took the device offline (`session.goOffline()`: the connection stopped). */
    stop: () => {
      link.online = false;
      down.stop();
      for (const listener of [...statusListeners]) listener(down.status());
    },
    reconnect: () => {
      link.online = true;
      for (const listener of [...statusListeners]) listener('ready');
      for (const resolve of waiting.splice(0)) resolve();
    },
    /** Pulls made since the last call. */
    pulls: (): number => {
      const n = pulls;
      pulls = 0;
      return n;
    },
    advance: (ms: number) => void (clock += ms),
    iso: (ms = clock) => new Date(ms).toISOString(),
  };
};

/** The error a view refused with: a SyncError NETWORK (retryable), answered at once. */
const noOfflineAnswer = async (p: Promise<unknown>): Promise<SyncError> => {
  const got = await within(p);
  if (got === 'pending' || !('error' in got))
    throw new Error(`expected a refusal, got ${JSON.stringify(got)}`);
  expect(got.error).toBeInstanceOf(SyncError);
  expect(got.error).toMatchObject({ code: 'NETWORK', retry: true });
  return got.error as SyncError;
};

describe('audit views offline, without the option (as before)', () => {
  it('wait for the connection: pending while offline, answered once it is back', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    expect(await log.whoAccessed()).toHaveLength(1);
    s.goOffline();
    const view = log.whoAccessed();
    expect(await within(view)).toBe('pending');
    s.reconnect();
    expect(await view).toHaveLength(1);
  });

  it('taken offline by the app (the connection stopped): rejected STOPPED; with the option, answered', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    const who = await log.whoAccessed();
    s.stop();
    const got = await within(log.whoAccessed());
    expect(got).toMatchObject({ error: { code: 'STOPPED' } });
    expect(await log.whoAccessed({ offline: 'cached' })).toMatchObject({ records: who, complete: false });
  });

  it('a new session offline whose server key is not fetched yet rejects with that fetch error', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    await s.open().whoAccessed();
    s.goOffline();
    s.serverInfo.failing = true;
    const got = await within(s.open().whoAccessed());
    expect(got).toEqual({ error: new Error('fetch failed') });
  });
});

describe("audit views offline with { offline: 'cached' }", () => {
  it('answer from what this device verified, as of its last read, marked incomplete; no pull made', async () => {
    const s = offlineSetup();
    s.advance(MINUTE);
    await s.add(s.other, s.grant('care'));
    await s.add(s.server, s.access(2));
    const log = s.open();
    const who = await log.whoAccessed();
    const disclosures = await log.disclosures();
    const entries = await log.entries();
    const readAt = s.iso();
    s.advance(10 * MINUTE);
    // A later view with nothing new served: the log was read then, so the answer is as of then.
    expect(await log.whoAccessed()).toEqual(who);
    const lastReadAt = s.iso();
    expect(lastReadAt).not.toBe(readAt);
    s.pulls();

    s.advance(60 * MINUTE);
    await s.add(s.server, s.access(5)); // served while the device is offline: not in the answer
    s.goOffline();
    expect(await log.whoAccessed({ offline: 'cached' })).toEqual({
      records: who,
      asOf: lastReadAt,
      complete: false,
      reason: 'offline',
    });
    expect(await log.disclosures({ offline: 'cached' })).toMatchObject({
      records: disclosures,
      complete: false,
    });
    expect(await log.entries({ offline: 'cached' })).toMatchObject({ records: entries, complete: false });
    expect(s.pulls()).toBe(0);

    // A new session offline (the app opened without a network): no device list nor server key to be had.
    s.judge.unavailable = true;
    s.serverInfo.failing = true;
    const again = await within(s.open().whoAccessed({ offline: 'cached' }));
    expect(again).toEqual({ value: { records: who, asOf: lastReadAt, complete: false, reason: 'offline' } });
    expect(s.pulls()).toBe(0);
  });

  it('no view verified on this device yet: refused at once (SyncError NETWORK), not left waiting', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    s.goOffline();
    const log = s.open();
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
    await noOfflineAnswer(log.disclosures({ offline: 'cached' }));
    await noOfflineAnswer(log.entries({ offline: 'cached' }));
  });

  it('not held up by a view without the option waiting for the connection', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    const who = await log.whoAccessed();
    s.goOffline();
    const waiting = log.disclosures();
    expect(await within(log.whoAccessed({ offline: 'cached' }))).toMatchObject({
      value: { records: who, complete: false },
    });
    s.reconnect();
    await waiting;
  });

  it('a device revoked since the cache was judged (the directory knows it): no offline answer', async () => {
    const s = offlineSetup();
    await s.add(s.other, s.grant('care'));
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.disclosures();
    s.goOffline();
    s.judge.otherRevokedAt = s.iso(T0 - MINUTE);
    await noOfflineAnswer(log.disclosures({ offline: 'cached' }));
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
  });

  it('a whole check that found a problem removed the cache: no offline answer', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    // An entry the server signed that is no audit body (an inserted entry): a problem.
    await s.add(s.server, { kind: 'Nonsense' });
    await log.whoAccessed();
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS/)]);
    s.goOffline();
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
    // A new session too.
    await noOfflineAnswer(s.open().whoAccessed({ offline: 'cached' }));
  });

  it('a cache whose removal failed after a problem: no offline answer, in a later session either', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    await s.open().whoAccessed();
    await s.add(s.server, { kind: 'Nonsense' });
    const log = s.open();
    s.failNextWrite('audit-view');
    await log.whoAccessed();
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS/)]);
    expect(await s.meta.get('audit-view', Type.Unknown())).not.toBeNull();
    s.goOffline();
    await noOfflineAnswer(s.open().whoAccessed({ offline: 'cached' }));
  });

  it('the last read not noted (its write failed): no offline answer until a view notes one', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    await s.add(s.server, s.access(3));
    s.failNextWrite('audit-view-read');
    expect(await log.whoAccessed()).toHaveLength(2);
    s.goOffline();
    // The note names the cache before this read: not taken for the one written now.
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
    s.reconnect();
    s.advance(MINUTE);
    await log.whoAccessed();
    s.goOffline();
    expect(await log.whoAccessed({ offline: 'cached' })).toMatchObject({ asOf: s.iso(), complete: false });
  });

  it('a restore announced since the cache was read, or positions known stored changed under it: no offline answer', async () => {
    const s = offlineSetup();
    await s.meta.set('incarnation', { recorded: 'incarnation-before-0' });
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    s.goOffline();
    expect(await log.whoAccessed({ offline: 'cached' })).toMatchObject({ complete: false });
    await s.meta.set('incarnation', { recorded: 'incarnation-after-00' });
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
  });

  it('a cache with no record of when it was read, or one over its budget: no offline answer', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    await s.open().whoAccessed();
    await s.meta.set('audit-view-read', null);
    s.goOffline();
    await noOfflineAnswer(s.open().whoAccessed({ offline: 'cached' }));

    const t = offlineSetup();
    for (let i = 1; i <= 4; i++) await t.add(t.server, t.access(i));
    const log = t.open({ viewCache: { maxEntries: 2, maxChars: 1 << 20 } });
    expect(await log.whoAccessed()).toHaveLength(4);
    t.goOffline();
    // The older entries are only on the server: an answer without them would undercount.
    await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
  });

  it('a cache kept in parts: answered from all of them; one of them not there: no offline answer', async () => {
    const s = offlineSetup();
    for (let i = 1; i <= 9; i++) await s.add(s.server, s.access(i));
    const log = s.open({ viewCache: { maxEntries: 100, maxChars: 1 << 20, tailEntries: 2, partEntries: 3 } });
    await log.whoAccessed();
    await s.add(s.server, s.access(10));
    const who = await log.whoAccessed();
    expect(who).toHaveLength(10);
    s.goOffline();
    expect(await log.whoAccessed({ offline: 'cached' })).toMatchObject({ records: who, complete: false });
    const view = (await s.meta.get('audit-view', Type.Unknown())) as { parts: Array<{ key: string }> };
    expect(view.parts.length).toBeGreaterThan(1);
    await s.meta.set(view.parts[1]!.key, null);
    const refused = await noOfflineAnswer(log.whoAccessed({ offline: 'cached' }));
    expect(refused.message).toMatch(/could not be read as it kept them/);
  });

  it('locked: LOCKED, offline and online', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    s.locked.now = true;
    await expect(log.whoAccessed({ offline: 'cached' })).rejects.toThrow('LOCKED');
    s.goOffline();
    await expect(log.whoAccessed({ offline: 'cached' })).rejects.toThrow('LOCKED');
    await expect(log.disclosures({ offline: 'cached' })).rejects.toThrow('LOCKED');
  });
});

describe("audit views online with { offline: 'cached' }", () => {
  it('answer as without the option: read now, complete, as of this read', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    s.advance(MINUTE);
    await s.add(s.server, s.access(3));
    s.pulls();
    const fresh = await log.whoAccessed({ offline: 'cached' });
    expect(s.pulls()).toBe(1);
    expect(fresh).toEqual({ records: await log.whoAccessed(), asOf: s.iso(), complete: true });
    expect(fresh.records.map((a) => a.count)).toEqual([2, 3]);
    // With nothing verified before, too (a whole read).
    const t = offlineSetup();
    await t.add(t.server, t.access(4));
    expect(await t.open().entries({ offline: 'cached' })).toMatchObject({ complete: true });
  });

  it('the connection lost while the view reads: answered from the cache instead of waiting', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    const who = await log.whoAccessed();
    // Lost after the check that it is up: the view's pull waits for the connection.
    const lost = (async () => {
      await Promise.resolve();
      s.goOffline();
    })();
    const got = await within(log.whoAccessed({ offline: 'cached' }), 2000);
    await lost;
    expect(got).toMatchObject({ value: { records: who, complete: false, reason: 'offline' } });
    s.reconnect();
  });

  it('a pull that failed for the connection (TIMEOUT): answered from the cache; any other failure as before', async () => {
    const s = offlineSetup();
    await s.add(s.server, s.access(2));
    const log = s.open();
    const who = await log.whoAccessed();
    s.timeoutNext();
    expect(await log.whoAccessed({ offline: 'cached' })).toMatchObject({ records: who, complete: false });
    // Connected, a failure not of the connection rejects the view as without the option.
    s.serverInfo.failing = true;
    await expect(log.whoAccessed({ offline: 'cached' })).rejects.toThrow('fetch failed');
    await expect(log.whoAccessed()).rejects.toThrow('fetch failed');
  });
});
