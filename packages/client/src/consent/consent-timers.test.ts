// The checks consent runs between connects: a timer at the soonest expiry among the device's unended
// grants, and a reading of the server's grant list every `grantRefreshMs` while connected. Fake timers
// (Date included) stand in for hours and years; a check is seen as the keyring refresh it starts with.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Grant } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, GRANT_REFRESH_MS, type ConsentDeps, type StoredGrant } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const SECOND = 1000;
const DAY = 86_400 * SECOND;
const T0 = Date.parse('2031-03-01T12:00:00.000Z');
const [G1, G2, G3, G4] = ['A', 'B', 'C', 'D'].map((c) => `01J000000000000000000000${c}0`) as [
  string,
  string,
  string,
  string,
];
const iso = (ms: number): string => new Date(ms).toISOString();

const stored = (grantId: string, expiresAt: number, marks: Partial<StoredGrant> = {}): StoredGrant => {
  const grant: Grant = {
    v: 1,
    grantId,
    patientId: PATIENT,
    granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
    scope: [{ type: 'allergy', access: 'read' }],
    start: iso(T0 - DAY),
    expiresAt: iso(expiresAt),
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: iso(T0 - DAY),
  };
  return { grant, sig: 'A'.repeat(86), ...marks };
};

/** A consent over stubs: `checks` counts the re-keying checks started, `listings` the grant listings. */
const setup = async (options: {
  grants: StoredGrant[];
  online?: boolean;
  grantRefreshMs?: number;
  /** Answers each listing once this resolves. */
  listed?: Promise<void>;
}) => {
  const values = new Map<string, unknown>([['grants', options.grants]]);
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
    onInvalid: (key, reason) => {
      throw new Error(`stub meta ${key}: ${reason}`);
    },
  });
  let online = options.online ?? true;
  let usable = true;
  const counts = { checks: 0, listings: 0 };
  const connection = {
    status: () => (online ? 'ready' : 'offline'),
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string }) => {
      if (frame.t !== 'listGrants') throw new Error(`unexpected ${frame.t}`);
      counts.listings++;
      await options.listed;
      return { t: 'grants', grants: [] };
    },
  };
  const keyring = {
    useWriteGuard: () => undefined,
    invalidateWriteChecks: () => undefined,
    // The first step of a check: counted, then the check stops (nothing more is stubbed).
    refresh: async () => {
      counts.checks++;
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: PATIENT,
    role: 'patient',
    keys: {} as ConsentDeps['keys'],
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {} as DeviceDirectory,
    now: () => Date.now(),
    meta,
    usable: () => usable,
    ...(options.grantRefreshMs === undefined ? {} : { grantRefreshMs: options.grantRefreshMs }),
  };
  const consent = createConsent(deps);
  // The expiry timer is armed from the stored grants, read asynchronously.
  await vi.advanceTimersByTimeAsync(0);
  return {
    consent,
    counts,
    goOffline: () => void (online = false),
    lock: () => void (usable = false),
  };
};

describe('consent checks between connects', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs the connect's check once at a grant's expiry, not before", async () => {
    const { counts } = await setup({ grants: [stored(G1, T0 + 10 * SECOND)], grantRefreshMs: 0 });
    await vi.advanceTimersByTimeAsync(9 * SECOND);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(SECOND + 10);
    expect(counts.checks).toBe(1);
    // Nothing else to end: no further timer fires a check.
    await vi.advanceTimersByTimeAsync(DAY);
    expect(counts.checks).toBe(1);
  });

  it('sets a grant ending in a year for at most 2^31-1 ms, re-arming until the expiry', async () => {
    const { counts } = await setup({ grants: [stored(G1, T0 + 365 * DAY)], grantRefreshMs: 0 });
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(300 * DAY);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(65 * DAY + SECOND);
    expect(counts.checks).toBe(1);
  });

  it('the soonest of several unended grants first; revoked and ended ones set no timer', async () => {
    const { counts } = await setup({
      grants: [
        stored(G1, T0 + 60 * SECOND),
        stored(G2, T0 + 5 * SECOND),
        stored(G3, T0 + 2 * SECOND, { revokedAt: iso(T0 - SECOND), rotatedAt: iso(T0 - SECOND) }),
        stored(G4, T0 - SECOND, { rotatedAt: iso(T0 - SECOND) }),
      ],
      grantRefreshMs: 0,
    });
    await vi.advanceTimersByTimeAsync(4 * SECOND);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(counts.checks).toBe(1);
  });

  it('offline at the expiry: no check (the connect runs it)', async () => {
    const { counts, goOffline } = await setup({ grants: [stored(G1, T0 + 10 * SECOND)], grantRefreshMs: 0 });
    goOffline();
    await vi.advanceTimersByTimeAsync(20 * SECOND);
    expect(counts.checks).toBe(0);
  });

  it('stop (close) clears both timers: nothing runs afterwards', async () => {
    const { consent, counts } = await setup({ grants: [stored(G1, T0 + 10 * SECOND)] });
    expect(vi.getTimerCount()).toBe(2);
    consent.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * GRANT_REFRESH_MS);
    expect(counts).toEqual({ checks: 0, listings: 0 });
  });

  it('stopped while a listing is under way: no timer is set again when it ends', async () => {
    let answer = (): void => undefined;
    const listed = new Promise<void>((resolve) => (answer = resolve));
    const { consent, counts } = await setup({ grants: [], listed });
    await vi.advanceTimersByTimeAsync(GRANT_REFRESH_MS);
    expect(counts.listings).toBe(1);
    consent.stop();
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a locked account: the next timer to fire does nothing and sets none again', async () => {
    const { counts, lock } = await setup({ grants: [stored(G1, T0 + 10 * SECOND)] });
    lock();
    await vi.advanceTimersByTimeAsync(20 * SECOND);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(GRANT_REFRESH_MS);
    expect(counts.listings).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reads the server's grant list every grantRefreshMs while connected, and checks for an ended grant not seen re-keyed", async () => {
    const { counts, goOffline } = await setup({ grants: [stored(G1, T0 - SECOND)] });
    await vi.advanceTimersByTimeAsync(GRANT_REFRESH_MS - SECOND);
    expect(counts).toEqual({ checks: 0, listings: 0 });
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(counts).toEqual({ checks: 1, listings: 1 });
    await vi.advanceTimersByTimeAsync(GRANT_REFRESH_MS);
    expect(counts).toEqual({ checks: 2, listings: 2 });
    goOffline();
    await vi.advanceTimersByTimeAsync(3 * GRANT_REFRESH_MS);
    expect(counts).toEqual({ checks: 2, listings: 2 });
  });

  it('a provider holding no grant sets no expiry timer, and reads the list at every refresh', async () => {
    vi.useFakeTimers({ now: T0 });
    const values = new Map<string, unknown>();
    const meta = createDeviceMeta({
      read: async (key) => values.get(key),
      write: async (key, value) => void values.set(key, value),
    });
    const sent: string[] = [];
    createConsent({
      accountId: PATIENT,
      role: 'provider',
      keys: {} as ConsentDeps['keys'],
      device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
      ed: createNodeEd25519(),
      connection: {
        status: () => 'ready',
        version: () => 1,
        request: async (frame: { t: string }) => {
          sent.push(frame.t);
          throw new Error('stub: nothing answered');
        },
      } as unknown as Connection,
      keyring: { useWriteGuard: () => undefined } as unknown as Keyring,
      directory: {} as DeviceDirectory,
      now: () => Date.now(),
      meta,
    });
    await vi.advanceTimersByTimeAsync(0);
    // The grant-list refresh only.
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(2 * GRANT_REFRESH_MS);
    expect(sent).toEqual(['listGrants', 'listGrants']);
  });
});
