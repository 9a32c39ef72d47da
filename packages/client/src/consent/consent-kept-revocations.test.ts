// A revocation the server has not taken is kept on the device (signed) and sent again, unchanged, until
// the server takes it or refuses it for good. Before, one refused for a reason that passes (UNAVAILABLE,
// RATE_LIMITED) or left unanswered was dropped: the patient had to revoke again, and nothing told them so.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { Grant } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { SyncError, type Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring, WriteGuard } from '../sync/keyring';
import { createConsent, type ConsentDeps, type StoredGrant } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const G1 = '01J000000000000000000000A0';
const DAY = 86_400_000;
const STREAM = `${PATIENT}/allergy`;

const stored = (grantId: string, expiresAt = Date.now() + DAY): StoredGrant => {
  const grant: Grant = {
    v: 1,
    grantId,
    patientId: PATIENT,
    granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
    scope: [{ type: 'allergy', access: 'read' }],
    start: new Date(Date.now() - DAY).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: new Date(Date.now() - DAY).toISOString(),
  };
  return { grant, sig: 'A'.repeat(86) };
};

/** A patient device whose server answers `revoke` with `answer` (ok when it returns). */
const setup = (
  grants: StoredGrant[],
  extra: Partial<ConsentDeps> = {},
  /** Stored values besides the grants; those not matching their schema are reported in `invalid`. */
  seed: Record<string, unknown> = {},
) => {
  const values = new Map<string, unknown>([['grants', grants], ...Object.entries(seed)]);
  const invalid: string[] = [];
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
    onInvalid: (key, reason) => {
      if (!(key in seed)) throw new Error(`stub meta ${key}: ${reason}`);
      invalid.push(key);
    },
  });
  const net = {
    status: 'ready' as 'ready' | 'offline' | 'stopped',
    answer: (): void => undefined,
    /** Each `revoke` frame sent: its signature. */
    revokes: [] as string[],
    /** Every request asked for, also those refused for want of a connection. */
    requests: 0,
    /** The options each `revoke` frame was sent with. */
    revokeOptions: [] as unknown[],
  };
  const guard: { current?: WriteGuard } = {};
  const connection = {
    status: () => net.status,
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string; revocation?: { sig: string } }, options?: unknown) => {
      net.requests += 1;
      if (frame.t === 'revoke') net.revokeOptions.push(options);
      if (net.status !== 'ready') throw new SyncError('NETWORK', 'not connected', true);
      if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
      if (frame.t !== 'revoke') throw new Error(`unexpected ${frame.t}`);
      net.revokes.push(frame.revocation!.sig);
      net.answer();
      return { t: 'ok' };
    },
  };
  const keyring = {
    useWriteGuard: (g: WriteGuard) => void (guard.current = g),
    invalidateWriteChecks: () => undefined,
    // Re-keying fails at once (it is not what is tested): `revoke` resolves with its streams pending.
    refresh: async () => {
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: PATIENT,
    role: 'patient',
    keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {} as DeviceDirectory,
    now: () => Date.now(),
    meta,
    grantRefreshMs: 0,
    ...extra,
  };
  let consent = createConsent(deps);
  /** The next session over the same device meta and server (the last one's timers stopped). */
  const reopen = (more: Partial<ConsentDeps> = {}) => {
    consent.stop();
    consent = createConsent({ ...deps, ...more });
    return consent;
  };
  const statuses = async () => (await consent.list()).map((g) => g.status);
  const kept = () => (values.get('revocations-pending') as unknown[] | undefined) ?? [];
  /** What `revoke` answered: resolved, or the rejection's code and named fields. */
  const revoke = (grantId: string) =>
    consent.revoke(grantId).then(
      (resolved) => ({ resolved }),
      (error: unknown) => ({
        rejected: {
          code: (error as { code?: unknown }).code,
          grantId: (error as { grantId?: unknown }).grantId,
          revocationPending: (error as { revocationPending?: unknown }).revocationPending,
        },
      }),
    );
  /** A connect's check (re-keying fails in this stub: only what it sends first is looked at). */
  const connect = async (): Promise<void> => {
    net.status = 'ready';
    await consent.rotateExpired().catch(() => undefined);
  };
  return {
    get consent() {
      return consent;
    },
    net,
    guard,
    statuses,
    kept,
    revoke,
    connect,
    invalid,
    reopen,
    values,
  };
};

const until = async (check: () => Promise<boolean> | boolean, what: string): Promise<void> => {
  const end = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('kept revocations', () => {
  it('refused for a reason that passes (UNAVAILABLE): kept, told pending, sent again unchanged at the next connect', async () => {
    const s = setup([stored(G1)]);
    s.net.answer = () => {
      throw new SyncError('UNAVAILABLE', 'the store cannot take a write', true);
    };
    expect(await s.revoke(G1)).toEqual({
      rejected: { code: 'UNAVAILABLE', grantId: G1, revocationPending: true },
    });
    expect(await s.statuses()).toEqual(['revocation-pending']);

    s.net.answer = () => undefined;
    await s.connect();
    expect(s.net.revokes).toHaveLength(2);
    expect(s.net.revokes[1]).toBe(s.net.revokes[0]);
    expect(await s.statuses()).toEqual(['revoked']);
    expect(s.kept()).toEqual([]);
  });

  it('refused for good when sent again at a connect: dropped, and the person told (REVOCATION_REFUSED)', async () => {
    const reported: Array<{ code: string; id: string; message: string }> = [];
    const cleared: string[] = [];
    const s = setup([stored(G1)], {
      report: (issue) => reported.push(issue),
      clearReport: (issue) => cleared.push(issue.id),
    });
    s.net.status = 'offline';
    expect(await s.revoke(G1)).toMatchObject({ rejected: { code: 'NETWORK', revocationPending: true } });
    s.net.answer = () => {
      throw new SyncError('NOT_FOUND', 'grant not found', false);
    };
    await s.connect();
    expect(s.kept()).toEqual([]);
    expect(await s.statuses()).toEqual(['active']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ code: 'REVOCATION_REFUSED', id: G1 });
    expect(reported[0]?.message).toMatch(/NOT_FOUND: grant not found.*not revoked.*revoke it again/);

    // Told again by the next session (the issues of a session are not kept).
    s.reopen();
    await until(() => reported.length === 2, 'told again at the next start');
    expect(reported[1]).toEqual(reported[0]);

    // Revoked again and taken: the issue goes, in this session and the next.
    s.net.answer = () => undefined;
    expect(await s.revoke(G1)).toHaveProperty('resolved');
    expect(cleared).toEqual([G1]);
    expect(s.values.get('revocations-refused')).toEqual([]);
    s.reopen();
    await new Promise((r) => setTimeout(r, 50));
    expect(reported).toHaveLength(2);
  });

  it('a refusal kept for a grant that ended meanwhile is not told again, and is forgotten', async () => {
    const reported: string[] = [];
    const cleared: string[] = [];
    const s = setup(
      [stored(G1, Date.now() - 1)],
      {
        report: (issue) => reported.push(issue.id),
        clearReport: (issue) => cleared.push(issue.id),
      },
      {
        'revocations-refused': [{ grantId: G1, revokedAt: new Date().toISOString(), message: 'refused' }],
      },
    );
    await until(() => cleared.length === 1, 'forgotten');
    expect(reported).toEqual([]);
    expect(s.values.get('revocations-refused')).toEqual([]);
  });

  it('refused for good (NOT_FOUND): rejected with the server code, not kept, never sent again', async () => {
    const s = setup([stored(G1)]);
    s.net.answer = () => {
      throw new SyncError('NOT_FOUND', 'grant not found', true);
    };
    expect(await s.revoke(G1)).toEqual({
      rejected: { code: 'NOT_FOUND', grantId: undefined, revocationPending: undefined },
    });
    expect(s.kept()).toEqual([]);
    s.net.answer = () => undefined;
    await s.connect();
    expect(s.net.revokes).toHaveLength(1);
    expect(await s.statuses()).toEqual(['active']);
  });

  it('revoked twice offline: one revocation kept, sent once at the connect', async () => {
    const s = setup([stored(G1)]);
    s.net.status = 'offline';
    expect(await s.revoke(G1)).toEqual({
      rejected: { code: 'NETWORK', grantId: G1, revocationPending: true },
    });
    s.net.status = 'stopped';
    expect(await s.revoke(G1)).toEqual({
      rejected: { code: 'STOPPED', grantId: G1, revocationPending: true },
    });
    expect(s.kept()).toHaveLength(1);
    await s.connect();
    expect(s.net.revokes).toHaveLength(1);
    expect(await s.statuses()).toEqual(['revoked']);
  });

  it('while kept, the write guard shuts the grant out; an expired one is listed expired', async () => {
    const G2 = '01J000000000000000000000B0';
    const s = setup([stored(G1), stored(G2, Date.now() - 1)]);
    // G1 in force: an epoch shutting out the expired G2 alone will do.
    expect((await s.guard.current!.candidates(STREAM)).sets).toEqual([[G2], [G2, G1]]);
    s.net.status = 'offline';
    await s.revoke(G1);
    await s.revoke(G2);
    expect((await s.guard.current!.candidates(STREAM)).sets).toEqual([[G1, G2]]);
    expect(await s.statuses()).toEqual(['revocation-pending', 'expired']);
  });
});

describe('a kept list this build cannot read (META_INVALID, e.g. written by a newer build)', () => {
  const unreadable = { 'revocations-pending': [{ signed: { bogus: 1 }, marked: true, extra: 1 }] };

  it('connected: the revocation is still sent, unkept, and taken; the list is not written over', async () => {
    const s = setup([stored(G1)], {}, unreadable);
    expect(await s.revoke(G1)).toHaveProperty('resolved');
    expect(s.net.revokes).toHaveLength(1);
    expect(await s.statuses()).toEqual(['revoked']);
    expect(s.invalid).toContain('revocations-pending');
    expect(s.kept()).toEqual(unreadable['revocations-pending']);
  });

  it('connected, not taken at once: held for the session, pending, shut out, and sent again until taken', async () => {
    const s = setup([stored(G1)], { revocationRetryMs: 20 }, unreadable);
    let refusals = 1;
    s.net.answer = () => {
      if (refusals-- > 0) throw new SyncError('UNAVAILABLE', 'the store cannot take a write', true);
    };
    const answer = await s.revoke(G1);
    expect(answer).toMatchObject({ rejected: { code: 'UNAVAILABLE', revocationPending: true } });
    await until(async () => (await s.statuses())[0] === 'revoked', 'taken by the backoff');
    expect(new Set(s.net.revokes).size).toBe(1);
    expect(s.kept()).toEqual(unreadable['revocations-pending']);
  });

  it('connected, not taken: listed pending and shut out by the write guard while held', async () => {
    const s = setup([stored(G1)], { revocationRetryMs: 60_000 }, unreadable);
    s.net.answer = () => {
      throw new SyncError('UNAVAILABLE', 'the store cannot take a write', true);
    };
    const error = await s.consent.revoke(G1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).message).toMatch(
      /could not keep the revocation.*while this session stays open/,
    );
    expect(await s.statuses()).toEqual(['revocation-pending']);
    expect((await s.guard.current!.candidates(STREAM)).sets).toEqual([[G1]]);
    // The next session does not have it: the patient was told to revoke again then.
    s.reopen();
    expect(await s.statuses()).toEqual(['active']);
  });

  it('offline: rejected with the store error (nothing would send it later), nothing sent', async () => {
    const s = setup([stored(G1)], {}, unreadable);
    s.net.status = 'offline';
    const answer = await s.revoke(G1);
    expect(answer).toMatchObject({ rejected: { code: 'META_INVALID', revocationPending: undefined } });
    expect(await s.statuses()).toEqual(['active']);
    s.net.status = 'ready';
    await s.connect();
    expect(s.net.revokes).toHaveLength(0);
  });
});

describe('a kept revocation the server did not take while connected', () => {
  it('is sent again by itself after a growing backoff, unchanged, until the server takes it', async () => {
    const s = setup([stored(G1)], { revocationRetryMs: 40 });
    let refusals = 2;
    const at: number[] = [];
    s.net.answer = () => {
      at.push(Date.now());
      if (refusals-- > 0) throw new SyncError('UNAVAILABLE', 'the store cannot take a write', true);
    };
    expect(await s.revoke(G1)).toMatchObject({ rejected: { code: 'UNAVAILABLE', revocationPending: true } });
    // No connect, no refresh of the grant list (grantRefreshMs 0): the backoff alone sends it.
    await until(async () => (await s.statuses())[0] === 'revoked', 'taken');
    expect(s.net.revokes).toHaveLength(3);
    expect(new Set(s.net.revokes).size).toBe(1);
    // Each sent without waiting for a connection.
    expect(s.net.revokeOptions).toEqual([{ wait: false }, { wait: false }, { wait: false }]);
    expect(s.kept()).toEqual([]);
    // 40 ms, then 80 ms.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(35);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(75);
    // Nothing more is sent once taken.
    await new Promise((r) => setTimeout(r, 200));
    expect(s.net.revokes).toHaveLength(3);
  });

  it('offline when its time comes: not sent (the connect sends it)', async () => {
    const s = setup([stored(G1)], { revocationRetryMs: 60 });
    s.net.answer = () => {
      throw new SyncError('UNAVAILABLE', 'the store cannot take a write', true);
    };
    // Refused while connected: a resend is armed; the link goes down before it is due.
    expect(await s.revoke(G1)).toMatchObject({ rejected: { code: 'UNAVAILABLE', revocationPending: true } });
    s.net.status = 'offline';
    const asked = s.net.requests;
    await new Promise((r) => setTimeout(r, 120));
    expect(s.net.requests).toBe(asked);
    expect(s.net.revokes).toHaveLength(1);
    s.net.answer = () => undefined;
    await s.connect();
    expect(s.net.revokes).toHaveLength(2);
    expect(await s.statuses()).toEqual(['revoked']);
  });

  it('a write refused for it sends it at once, before the backoff', async () => {
    const s = setup([stored(G1)], { revocationRetryMs: 60_000 });
    s.net.answer = () => {
      throw new SyncError('RATE_LIMITED', 'slow down', true);
    };
    await s.revoke(G1);
    s.net.answer = () => undefined;
    s.guard.current!.onRefused?.(STREAM);
    await until(async () => (await s.statuses())[0] === 'revoked', 'taken');
    expect(s.net.revokes).toHaveLength(2);
  });
});
