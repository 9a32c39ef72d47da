// A grant needs no agreement from its grantee, so the server caps what any account can pile onto another
// (unended grants per pair, per grantee, per patient: TOO_MANY_GRANTS, nothing stored), and `listGrants`
// answers within its own schema whatever is stored, the caller's own grants first.
//
// Floods beyond the caps cannot be made through `grant` any more, so they are written straight into the
// store's table (`insertGrants`), as an older server without the caps, or many stranger accounts together,
// could have left them. Those rows carry a well-formed but unchecked signature: the server checks grant
// signatures on the way in only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_ACTIVE_GRANTS_PER_PATIENT,
  MAX_FRAME_BYTES,
  DEFAULT_GRANTS_PAGE,
  MAX_GRANTS_PAGE,
  GRANTABLE_STREAM_TYPES,
  authSignaturePayload,
  decodeServerFrame,
  encodeFrame,
  type ErrorFrame,
} from '@hale/protocol';
import {
  connect,
  insertRawGrants,
  makeGrant,
  makeRevocation,
  registerAccount,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

const HOUR = 3600_000;

const insertGrants = (
  t: TestServer,
  patient: TestAccount,
  grantee: TestAccount,
  count: number,
  options: Parameters<typeof insertRawGrants>[4] = { now: Date.now() },
): string[] => insertRawGrants(t.store, patient, grantee, count, options);

const grantCount = (t: TestServer): number =>
  (t.store.db.prepare('SELECT COUNT(*) AS n FROM grants').get() as { n: number }).n;

/** The raw text of the `grants` answer `account` gets, read off its own socket (not the harness's decoder). */
const listGrantsText = async (
  t: TestServer,
  account: TestAccount,
  query: { limit?: number } = {},
): Promise<string> => {
  const ws = new WebSocket(t.wsUrl);
  const next = () =>
    new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  await new Promise((resolve) => ws.once('open', resolve));
  try {
    ws.send(encodeFrame({ t: 'hello', versions: [1], deviceId: account.device.deviceId }));
    const challenge = JSON.parse(await next()) as { nonce: string; serverId: string };
    const sig = await sign(
      account.device.keys.secretKey,
      authSignaturePayload({ ...challenge, deviceId: account.device.deviceId }),
    );
    ws.send(encodeFrame({ t: 'auth', sig }));
    await next();
    ws.send(encodeFrame({ t: 'listGrants', rid: 7, ...query }));
    return await next();
  } finally {
    ws.close();
  }
};

const grantsOf = (text: string) => {
  const decoded = decodeServerFrame(text);
  if (!decoded.ok) throw new Error(`the grants answer does not decode: ${decoded.error.message}`);
  const frame = decoded.value;
  if (frame.t !== 'grants') throw new Error(`expected grants, got ${frame.t}`);
  return frame.grants;
};

describe('caps on unended grants', () => {
  let t: TestServer;
  let victim: TestAccount;
  let stranger: TestAccount;
  let s: WsClient;

  const send = (signed: Awaited<ReturnType<typeof makeGrant>>) =>
    s.request({ t: 'grant', rid: s.rid(), grant: signed });
  const strangerGrant = (options: { expiresAt?: number } = {}) =>
    makeGrant(stranger, victim, [{ type: 'allergy', access: 'read' }], { now: t.clock.now, ...options });

  beforeEach(async () => {
    t = await startServer();
    victim = await registerAccount(t);
    stranger = await registerAccount(t);
    s = await connect(t, stranger.device);
  });
  afterEach(async () => {
    await s.close();
    await t.stop();
  });

  it('refuses a stranger its grant past the per-pair cap, storing nothing; ended grants free the room', async () => {
    const accepted = [];
    for (let i = 0; i < MAX_ACTIVE_GRANTS_PER_PAIR; i++) {
      const g = await strangerGrant({ expiresAt: t.clock.now + (i === 0 ? HOUR : 48 * HOUR) });
      expect((await send(g)).t).toBe('ok');
      accepted.push(g);
    }
    const before = grantCount(t);
    const refused = await strangerGrant();
    const reply = await send(refused);
    expect(reply).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
      details: { limit: 'per-pair', max: MAX_ACTIVE_GRANTS_PER_PAIR },
    });
    expect((reply as ErrorFrame).rid).toBeDefined();
    expect(grantCount(t)).toBe(before);
    expect(await t.store.grants.get(refused.grant.grantId)).toBeNull();
    // A retry of a grant already stored (its answer lost) is still answered ok at the cap.
    expect((await send(accepted[5]!)).t).toBe('ok');
    expect(grantCount(t)).toBe(before);

    // A revoked grant no longer counts…
    const revocation = await makeRevocation(stranger, accepted[1]!.grant.grantId);
    expect((await s.request({ t: 'revoke', rid: s.rid(), revocation })).t).toBe('ok');
    expect((await send(refused)).t).toBe('ok');
    expect((await send(await strangerGrant())).t).toBe('error');
    // …nor an expired one (the first expires after an hour).
    t.clock.advance(HOUR);
    expect((await send(await strangerGrant())).t).toBe('ok');
    expect((await send(await strangerGrant())).t).toBe('error');
  });

  it('refuses a grant past the per-grantee cap, counting every patient, and stores nothing', async () => {
    const others = await registerAccount(t);
    // Up to one short of the cap from another account, plus ended grants that do not count.
    insertGrants(t, others, victim, MAX_ACTIVE_GRANTS_PER_GRANTEE - 1, { now: t.clock.now });
    insertGrants(t, others, victim, 50, { now: t.clock.now, revokedAt: t.clock.now - 1000 });
    insertGrants(t, others, victim, 50, { now: t.clock.now, expiresAt: t.clock.now });
    expect((await send(await strangerGrant())).t).toBe('ok');
    const before = grantCount(t);
    const late = await registerAccount(t);
    const l = await connect(t, late.device);
    const refused = await makeGrant(late, victim, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    const reply = await l.request({ t: 'grant', rid: l.rid(), grant: refused });
    await l.close();
    expect(reply).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
      details: { limit: 'per-grantee', max: MAX_ACTIVE_GRANTS_PER_GRANTEE },
    });
    expect(grantCount(t)).toBe(before);
    expect(await t.store.grants.get(refused.grant.grantId)).toBeNull();
  });

  it('refuses a patient its grant past the per-patient cap', async () => {
    const perGrantee = MAX_ACTIVE_GRANTS_PER_PAIR - 1;
    const grantees = Math.ceil(MAX_ACTIVE_GRANTS_PER_PATIENT / perGrantee);
    let left = MAX_ACTIVE_GRANTS_PER_PATIENT;
    for (let i = 0; i < grantees; i++) {
      const grantee = await registerAccount(t, 'provider');
      insertGrants(t, stranger, grantee, Math.min(perGrantee, left), { now: t.clock.now });
      left -= Math.min(perGrantee, left);
    }
    const before = grantCount(t);
    const reply = await send(await strangerGrant());
    expect(reply).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
      details: { limit: 'per-patient', max: MAX_ACTIVE_GRANTS_PER_PATIENT },
    });
    expect(grantCount(t)).toBe(before);
  });
});

describe('listGrants under a flood of received grants', () => {
  let t: TestServer;

  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  it('answers a page, the grants the caller issued first', async () => {
    const victim = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const v = await connect(t, victim.device);
    const kept = await makeGrant(victim, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    const ended = await makeGrant(victim, provider, [{ type: 'note', access: 'read' }], { now: t.clock.now });
    expect((await v.request({ t: 'grant', rid: v.rid(), grant: kept })).t).toBe('ok');
    expect((await v.request({ t: 'grant', rid: v.rid(), grant: ended })).t).toBe('ok');
    const revocation = await makeRevocation(victim, ended.grant.grantId);
    expect((await v.request({ t: 'revoke', rid: v.rid(), revocation })).t).toBe('ok');
    await v.close();
    insertGrants(t, stranger, victim, DEFAULT_GRANTS_PAGE + 1000, { now: t.clock.now });

    const grants = grantsOf(await listGrantsText(t, victim));
    expect(grants).toHaveLength(DEFAULT_GRANTS_PAGE);
    // Issued (newest issued first, ties by id), then received.
    expect(
      grants
        .slice(0, 2)
        .map((g) => g.grant.grant.grantId)
        .sort(),
    ).toEqual([kept.grant.grantId, ended.grant.grantId].sort());
    const endedRecord = grants.find((g) => g.grant.grant.grantId === ended.grant.grantId);
    expect(endedRecord?.revocation?.revocation.grantId).toBe(ended.grant.grantId);
    expect(grants.slice(2).every((g) => g.grant.grant.patientId === stranger.accountId)).toBe(true);
    // The grantee of the flood gets what fits too; the provider still sees the grant it received.
    expect(
      grantsOf(await listGrantsText(t, provider))
        .map((g) => g.grant.grant.grantId)
        .sort(),
    ).toEqual([kept.grant.grantId, ended.grant.grantId].sort());
  });

  it('answers its widest page of large grants within MAX_FRAME_BYTES', async () => {
    const victim = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const v = await connect(t, victim.device);
    const own = await makeGrant(victim, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await v.request({ t: 'grant', rid: v.rid(), grant: own })).t).toBe('ok');
    await v.close();
    // Every stream type and 500 three-byte characters: about 2.4 KB a grant, so 4,000 grants (under the
    // item bound) make about 9.6 MB.
    insertGrants(t, stranger, victim, 4000, {
      now: t.clock.now,
      purpose: '€'.repeat(500),
      scope: GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'write' })),
    });

    const text = await listGrantsText(t, victim, { limit: MAX_GRANTS_PAGE });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const grants = grantsOf(text);
    expect(grants[0]!.grant.grant.grantId).toBe(own.grant.grantId);
    expect(grants).toHaveLength(MAX_GRANTS_PAGE);
  });
});
