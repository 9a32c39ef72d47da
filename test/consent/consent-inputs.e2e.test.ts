// What the consent API does with arguments from untyped code (a UI form, an import, a deep link) and
// with a revocation asked for twice. A grant asks for exactly one end and one that has not passed; a
// scope that is no list is refused by name; an id that is no account is never "verified"; and a
// revocation stands once, with one `consent-revoke` entry in the patient's log.
import { describe, expect, it } from 'vitest';
import { registerAccount, type TestAccount } from '@hale/sync-server/testing';
import { TEST_KDF } from '@hale/crypto';
import {
  createAccount,
  createHttpApi,
  lock,
  memoryVault,
  type DeviceSession,
  type WebSocketLike,
} from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { ed, eventually, grantRead, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const REFRESH_MS = 300;

/** A socket factory recording the types of the frames the device sends. */
const recording = () => {
  const sent: string[] = [];
  return {
    sent: (): readonly string[] => sent,
    createWebSocket: (url: string): WebSocketLike =>
      interceptedWebSocket({
        sent: (text, send) => {
          sent.push((JSON.parse(text) as { t: string }).t);
          send(text);
        },
      })(url),
  };
};

const openPatient = async (server: ReturnType<typeof useServer>) => {
  const t = server.t;
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const net = recording();
  const p = await openDevice(t, patient, {
    createWebSocket: net.createWebSocket,
    grantRefreshMs: REFRESH_MS,
  });
  server.sessions.push(p);
  await waitOnline(p);
  await p.consent.rotateExpired();
  return { t, patient, provider, p, net };
};

const outcome = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: unknown) => e,
  );

describe('a grant asked for by untyped code', () => {
  const server = useServer({ realClock: true });

  const cases: Array<[string, (now: number) => Record<string, unknown>, string, RegExp]> = [
    [
      // Which end was meant cannot be told: expiresAt was taken, a year instead of the two days asked.
      'both an expiry and a duration',
      (now) => ({ expiresAt: new Date(now + 365 * DAY).toISOString(), durationMs: 2 * DAY }),
      'BAD_EXPIRY',
      /expiresAt|durationMs/,
    ],
    [
      // Over before it was issued: stored on the server (a cap slot, a daily-rate slot, an audit entry of
      // a disclosure), the grantee's keys published, and every stream of it re-keyed at the next check.
      'an expiry already past (with a start before it)',
      (now) => ({
        start: new Date(now - 2 * DAY).toISOString(),
        expiresAt: new Date(now - DAY).toISOString(),
      }),
      'BAD_EXPIRY',
      /expiresAt/,
    ],
    ['a scope that is no list', () => ({ scope: 'allergy', durationMs: DAY }), 'BAD_SCOPE', /scope/],
    ['a scope entry that is null', () => ({ scope: [null], durationMs: DAY }), 'BAD_SCOPE', /scope/],
    ['no scope', () => ({ scope: undefined, durationMs: DAY }), 'BAD_SCOPE', /scope/],
  ];

  it.each(cases)('%s: ConsentError, nothing sent', async (_, fields, code, message) => {
    const { p, provider, net } = await openPatient(server);
    const before = net.sent().length;
    const request = {
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      purpose: 'care',
      ...fields(Date.now()),
    };
    const error = await outcome(p.consent.grant(request as never));
    expect(error).toMatchObject({ name: 'ConsentError', code });
    expect((error as Error).message).toMatch(message);
    const sent = net.sent().slice(before);
    expect(sent).not.toContain('grant');
    expect(sent).not.toContain('putEnvelopes');
    expect(await p.consent.list()).toEqual([]);
  });

  it('an expiry in the future with a start in the past is still granted', async () => {
    const { p, provider } = await openPatient(server);
    const now = Date.now();
    const { grant } = await p.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      start: new Date(now - DAY).toISOString(),
      expiresAt: new Date(now + DAY).toISOString(),
      purpose: 'care',
    });
    expect((await p.consent.list()).map((g) => [g.grant.grantId, g.status])).toEqual([
      [grant.grantId, 'active'],
    ]);
  });
});

describe('isVerified with an id that is no account id', () => {
  const server = useServer({ realClock: true });

  it('answers false for names every object has', async () => {
    const { p, provider } = await openPatient(server);
    await p.consent.verifyProvider(provider.accountId);
    const answers: Record<string, boolean> = {};
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      answers[id] = await p.consent.isVerified(id);
    }
    expect(answers).toEqual({
      __proto__: false,
      constructor: false,
      toString: false,
      hasOwnProperty: false,
    });
    // The check is worth something only if a verified account answers true.
    expect(await p.consent.isVerified(provider.accountId)).toBe(true);
  });
});

/** The patient's `consent-revoke` entries for `grantId`, as served. */
const revokeEntries = async (reader: DeviceSession, grantId: string): Promise<number> =>
  (await reader.audit.entries()).filter(
    (e) =>
      e.source === 'patient' &&
      e.body.kind === 'AuditEntry' &&
      e.body.action === 'consent-revoke' &&
      e.body.grantId === grantId,
  ).length;

/** Waits for an entry and the outbox to drain, then several grant-list refreshes (a late one would come). */
const settledRevokeEntries = async (reader: DeviceSession, grantId: string): Promise<number> => {
  await eventually(async () => (await revokeEntries(reader, grantId)) > 0, 'a consent-revoke entry');
  await new Promise((r) => setTimeout(r, 6 * REFRESH_MS));
  await eventually(async () => (await reader.audit.pendingCount()) === 0, 'outbox drained', 5_000);
  return revokeEntries(reader, grantId);
};

describe('a revocation asked for twice', () => {
  const server = useServer({ realClock: true });

  it('once more after it stood: resolves, one consent-revoke entry; a server that lost it takes it again', async () => {
    const { t, p, provider, net } = await openPatient(server);
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');
    await p.consent.revoke(grant.grantId);
    expect(await settledRevokeEntries(p, grant.grantId)).toBe(1);
    const revokedAt = (await p.consent.list())[0]?.revokedAt;
    // The server lost the revocation (restored from a backup taken before it).
    t.store.db
      .prepare('UPDATE grants SET revoked_at = NULL, revocation = NULL WHERE grant_id = ?')
      .run(grant.grantId);

    const before = net.sent().length;
    const again = await p.consent.revoke(grant.grantId);
    expect(again.pending).toEqual([]);
    const revokes = net
      .sent()
      .slice(before)
      .filter((f) => f === 'revoke').length;
    const entries = await settledRevokeEntries(p, grant.grantId);
    console.log(
      `revoked twice in a row: ${revokes} more revoke frame(s), ${entries} consent-revoke entr(ies)`,
    );
    expect({ revokes, entries }).toEqual({ revokes: 1, entries: 1 });
    const row = t.store.db
      .prepare('SELECT revoked_at, revocation FROM grants WHERE grant_id = ?')
      .get(grant.grantId) as { revoked_at: string | null; revocation: string | null };
    expect(row.revoked_at).not.toBeNull();
    // The revocation that stood, dated when the patient revoked: a device learning it from this server
    // holds the grant as ended then, not at the second call.
    const stored = JSON.parse(row.revocation ?? 'null') as { revocation?: { revokedAt?: string } } | null;
    expect(stored?.revocation?.revokedAt).toBe(revokedAt);
    expect((await p.consent.list())[0]).toMatchObject({ status: 'revoked', revokedAt });
  });

  it('twice at once (a double tap): both resolve, one revocation sent, one consent-revoke entry', async () => {
    const { p, provider, net } = await openPatient(server);
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');
    const before = net.sent().length;
    const [a, b] = await Promise.all([p.consent.revoke(grant.grantId), p.consent.revoke(grant.grantId)]);
    expect(a.pending).toEqual([]);
    expect(b.pending).toEqual([]);
    const revokes = net
      .sent()
      .slice(before)
      .filter((t) => t === 'revoke').length;
    const entries = await settledRevokeEntries(p, grant.grantId);
    console.log(`revoked twice at once: ${revokes} revoke frame(s), ${entries} consent-revoke entr(ies)`);
    expect({ revokes, entries }).toEqual({ revokes: 1, entries: 1 });
  });
});

describe('a revocation whose answer arrives after the account was locked (an idle auto-lock)', () => {
  const server = useServer({ realClock: true });

  it('resolves with its streams pending at once, not when the session closes; the revocation stands', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const { account } = await createAccount(
      { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
      {
        role: 'patient',
        passphrase: 'correct horse battery',
        loginName: `revoke-lock-${Date.now().toString(36)}`,
        deviceName: 'laptop',
      },
    );
    const provider = await registerAccount(t, 'provider');
    // The answer to the revocation is kept back until the test lets it through.
    const held: { rid?: unknown; deliver?: () => void } = {};
    let answerHeld = (): void => undefined;
    const isHeld = new Promise<void>((r) => (answerHeld = r));
    const p = await openDevice(t, {} as TestAccount, {
      sessionAccount: account,
      createWebSocket: interceptedWebSocket({
        sent: (text, send) => {
          const frame = JSON.parse(text) as { t: string; rid?: unknown };
          if (frame.t === 'revoke') held.rid = frame.rid;
          send(text);
        },
        received: (text, deliver) => {
          const frame = JSON.parse(text) as { rid?: unknown };
          if (held.rid === undefined || frame.rid !== held.rid) return deliver();
          held.deliver = () => deliver();
          answerHeld();
        },
      }),
    });
    server.sessions.push(p);
    await waitOnline(p);
    await p.consent.rotateExpired();
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'care');

    let answer: unknown = 'none yet';
    const revoked = p.consent.revoke(grant.grantId).then(
      (r) => (answer = r),
      (e: unknown) => (answer = e),
    );
    await isHeld;
    lock(account);
    held.deliver?.();
    await Promise.race([revoked, new Promise((r) => setTimeout(r, 3000))]);
    console.log(`revoke answered after a lock: ${JSON.stringify(answer)}`);
    expect(answer).toEqual({ rotated: [], pending: [`${account.accountId}/allergy`] });
    const row = t.store.db.prepare('SELECT revoked_at FROM grants WHERE grant_id = ?').get(grant.grantId) as {
      revoked_at: string | null;
    };
    expect(row.revoked_at).not.toBeNull();
  });
});
