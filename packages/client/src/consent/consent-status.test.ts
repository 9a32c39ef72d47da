// What `list()` tells the patient about a grant, and the checks an account that issued grants runs
// between connects whatever its role. Fake timers (Date included); a check is seen as the keyring
// refresh it starts with.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Grant } from '@hale/protocol';
import { deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring, WriteGuard } from '../sync/keyring';
import { createConsent, GRANT_REFRESH_MS, type ConsentDeps, type StoredGrant } from './consent';

const ACCOUNT = 'AAAAAAAAAAAAAAAAAAAAAA';
const SECOND = 1000;
const DAY = 86_400 * SECOND;
const T0 = Date.parse('2031-03-01T12:00:00.000Z');
const [G1, G2] = ['A', 'B'].map((c) => `01J000000000000000000000${c}0`) as [string, string];
const iso = (ms: number): string => new Date(ms).toISOString();

const stored = (grantId: string, start: number, expiresAt: number, marks: Partial<StoredGrant> = {}) => {
  const grant: Grant = {
    v: 1,
    grantId,
    patientId: ACCOUNT,
    granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
    scope: [{ type: 'allergy', access: 'read' }],
    start: iso(start),
    expiresAt: iso(expiresAt),
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: iso(T0 - DAY),
  };
  return { grant, sig: 'A'.repeat(86), ...marks } satisfies StoredGrant;
};

const setup = async (options: {
  grants: StoredGrant[];
  role?: 'patient' | 'provider';
  online?: boolean;
  grantRefreshMs?: number;
}) => {
  const values = new Map<string, unknown>([['grants', options.grants]]);
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
    onInvalid: (key, reason) => {
      throw new Error(`stub meta ${key}: ${reason}`);
    },
  });
  const counts = { checks: 0, listings: 0 };
  const listed: unknown[] = [];
  const guard: { current?: WriteGuard } = {};
  const connection = {
    status: () => (options.online === false ? 'offline' : 'ready'),
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string }) => {
      if (frame.t !== 'listGrants') throw new Error(`unexpected ${frame.t}`);
      counts.listings++;
      listed.push(frame);
      return { t: 'grants', grants: [] };
    },
  };
  const keyring = {
    useWriteGuard: (g: WriteGuard) => void (guard.current = g),
    invalidateWriteChecks: () => undefined,
    refresh: async () => {
      counts.checks++;
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: ACCOUNT,
    role: options.role ?? 'patient',
    keys: deriveAccountKeys(generateRootSecret()),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {} as DeviceDirectory,
    now: () => Date.now(),
    meta,
    ...(options.grantRefreshMs === undefined ? {} : { grantRefreshMs: options.grantRefreshMs }),
  };
  const consent = createConsent(deps);
  await vi.advanceTimersByTimeAsync(0);
  return { consent, counts, guard, values, listed };
};

describe('consent list status', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists a grant whose start is still ahead as not-started, then active from its start', async () => {
    const { consent } = await setup({
      grants: [stored(G1, T0 + DAY, T0 + 3 * DAY), stored(G2, T0 - DAY, T0 + DAY)],
      online: false,
    });
    const statuses = async () =>
      Object.fromEntries((await consent.list()).map((g) => [g.grant.grantId, g.status]));
    expect(await statuses()).toEqual({ [G1]: 'not-started', [G2]: 'active' });
    await vi.advanceTimersByTimeAsync(DAY);
    expect(await statuses()).toEqual({ [G1]: 'active', [G2]: 'expired' });
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(await statuses()).toEqual({ [G1]: 'expired', [G2]: 'expired' });
  });

  it('a grant revoked before its start is listed revoked', async () => {
    const { consent } = await setup({
      grants: [stored(G1, T0 + DAY, T0 + 3 * DAY, { revokedAt: iso(T0 - SECOND) })],
      online: false,
    });
    expect((await consent.list()).map((g) => g.status)).toEqual(['revoked']);
  });
});

describe('checks between connects of a provider that issued grants', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs the connect's check at the expiry of a grant it issued, which its write guard shuts out", async () => {
    const { counts, guard } = await setup({
      grants: [stored(G1, T0 - DAY, T0 + 10 * SECOND)],
      role: 'provider',
      grantRefreshMs: 0,
    });
    await vi.advanceTimersByTimeAsync(9 * SECOND);
    expect(counts.checks).toBe(0);
    await vi.advanceTimersByTimeAsync(SECOND + 10);
    // The write guard refuses writes under the old epoch from now on: the check that re-keys must run.
    const after = await guard.current!.candidates(`${ACCOUNT}/allergy`);
    expect(after.sets).toContainEqual([G1]);
    expect(counts.checks).toBe(1);
  });

  it('reads the grant list every grantRefreshMs once its copy holds a grant it issued', async () => {
    const { counts } = await setup({
      grants: [stored(G1, T0 - DAY, T0 - SECOND)],
      role: 'provider',
    });
    await vi.advanceTimersByTimeAsync(GRANT_REFRESH_MS);
    expect(counts).toEqual({ checks: 1, listings: 1 });
  });

  it('a provider that issued nothing reads the issued side of the list every grantRefreshMs (a grant made on another of its devices)', async () => {
    const { counts, listed } = await setup({ grants: [], role: 'provider' });
    await vi.advanceTimersByTimeAsync(2 * GRANT_REFRESH_MS);
    expect(counts).toEqual({ checks: 0, listings: 2 });
    expect(listed).toEqual([
      expect.objectContaining({ t: 'listGrants', side: 'issued' }),
      expect.objectContaining({ t: 'listGrants', side: 'issued' }),
    ]);
  });
});
