// Ended grants pile up: the caps count unended grants only, and a revoked or expired grant stays stored
// (the patient's consent history). So (a) a patient may issue only MAX_GRANTS_PER_PAIR_PER_DAY grants to
// one grantee in any rolling day, ended ones included, and (b) nothing a grantee does, nor the hub's
// sweep, reads the ended grants it received — they used to be loaded and parsed on every request and
// every second per connection, with the synchronous store holding up the whole process meanwhile.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newId } from '@hale/model';
import {
  DEFAULT_GRANTS_PAGE,
  GRANT_RATE_WINDOW_MS,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_GRANTS_PER_PAIR_PER_DAY,
  MAX_LISTED_GRANTS,
  type AccessChangedFrame,
  type GrantsFrame,
  type PulledFrame,
  type PushedFrame,
  type ServerFrame,
  type StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  createBlob,
  digestOf,
  makeDoc,
  insertRawGrants,
  makeGrant,
  makeRevocation,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';

let t: TestServer;
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.stop();
});

/** Grants `patient` → `grantee` and revokes each at once, through the API; answers how many were accepted. */
const grantAndRevoke = async (s: WsClient, patient: TestAccount, grantee: TestAccount, times: number) => {
  let accepted = 0;
  for (let i = 0; i < times; i++) {
    const g = await makeGrant(patient, grantee, [{ type: 'allergy', access: 'read' }], { now: t.clock.now });
    const answer = await s.request({ t: 'grant', rid: s.rid(), grant: g });
    if (answer.t !== 'ok') return { accepted, refusal: answer };
    accepted++;
    const revocation = await makeRevocation(patient, g.grant.grantId);
    expect((await s.request({ t: 'revoke', rid: s.rid(), revocation })).t).toBe('ok');
  }
  return { accepted, refusal: null };
};

describe('grants per pair per rolling day', () => {
  it('a stranger cannot pile an unbounded number of grants onto another account', async () => {
    const victim = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const s = await connect(t, stranger.device);
    const { accepted } = await grantAndRevoke(s, stranger, victim, 4 * MAX_ACTIVE_GRANTS_PER_PAIR);
    await s.close();
    const stored = await t.store.grants.listForGrantee(victim.accountId);
    // Whatever the bound is, it is not "as many as the stranger sends".
    expect({ accepted, stored: stored.length }).not.toEqual({
      accepted: 4 * MAX_ACTIVE_GRANTS_PER_PAIR,
      stored: 4 * MAX_ACTIVE_GRANTS_PER_PAIR,
    });
  });

  it('refuses the grant past MAX_GRANTS_PER_PAIR_PER_DAY (ended ones count), storing nothing, for that pair only', async () => {
    const victim = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const patient = await registerAccount(t);
    const s = await connect(t, stranger.device);
    const { accepted, refusal } = await grantAndRevoke(s, stranger, victim, MAX_GRANTS_PER_PAIR_PER_DAY + 1);
    expect(accepted).toBe(MAX_GRANTS_PER_PAIR_PER_DAY);
    expect(refusal).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
      details: { limit: 'per-pair-daily', max: MAX_GRANTS_PER_PAIR_PER_DAY },
    });
    expect(await t.store.grants.listForGrantee(victim.accountId)).toHaveLength(MAX_GRANTS_PER_PAIR_PER_DAY);
    // Other pairs are not held up: the stranger to another account, another patient to the victim.
    expect((await grantAndRevoke(s, stranger, other, 1)).accepted).toBe(1);
    const p = await connect(t, patient.device);
    expect((await grantAndRevoke(p, patient, victim, 1)).accepted).toBe(1);
    await p.close();
    // The window rolls: just before a day has passed since the first grant it is still full, then not.
    t.clock.advance(GRANT_RATE_WINDOW_MS - 1);
    expect((await grantAndRevoke(s, stranger, victim, 1)).accepted).toBe(0);
    t.clock.advance(1);
    expect((await grantAndRevoke(s, stranger, victim, 1)).accepted).toBe(1);
    await s.close();
  });

  it('lets a patient fill the per-pair cap, end every grant and fill it again the same day', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const s = await connect(t, patient.device);
    for (let round = 0; round < 2; round++) {
      const ids: string[] = [];
      for (let i = 0; i < MAX_ACTIVE_GRANTS_PER_PAIR; i++) {
        const g = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
          now: t.clock.now,
        });
        expect((await s.request({ t: 'grant', rid: s.rid(), grant: g })).t).toBe('ok');
        ids.push(g.grant.grantId);
      }
      for (const id of ids) {
        const revocation = await makeRevocation(patient, id);
        expect((await s.request({ t: 'revoke', rid: s.rid(), revocation })).t).toBe('ok');
      }
    }
    // Every grant and revocation stays in the patient's own list.
    const listed = await s.request<GrantsFrame>({ t: 'listGrants', rid: s.rid() });
    expect(listed.grants).toHaveLength(2 * MAX_ACTIVE_GRANTS_PER_PAIR);
    expect(listed.grants.every((g) => g.revocation !== undefined)).toBe(true);
    await s.close();
  });
});

describe('ended grants stay off the request paths and the sweep', () => {
  /** Counts the grant rows the server reads through the store from now on. */
  const countGrantReads = () => {
    const read = { rows: 0, calls: [] as string[] };
    const grants = t.store.grants as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const [name, method] of Object.entries(grants)) {
      if (typeof method !== 'function') continue;
      vi.spyOn(grants, name).mockImplementation(async (...args: unknown[]) => {
        const answer = await method.apply(t.store.grants, args);
        if (Array.isArray(answer)) {
          read.rows += answer.length;
          read.calls.push(`${name}:${answer.length}`);
        }
        return answer;
      });
    }
    return read;
  };

  /** `count` ended (revoked) grants from `patient` to `grantee` straight into the table, as days of churn leave. */
  const insertEnded = (patient: TestAccount, grantee: TestAccount, count: number): void => {
    insertRawGrants(t.store, patient, grantee, count, {
      now: t.clock.now - HOUR,
      expiresAt: t.clock.now + 48 * HOUR,
      revokedAt: t.clock.now - HOUR,
    });
  };

  it("the victim's requests and live connection read its unended grants only, however many ended ones it holds", async () => {
    const victim = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const patient = await registerAccount(t);
    const PILE = 2000;
    insertEnded(stranger, victim, PILE);
    const p = await connect(t, patient.device);
    const grant = await makeGrant(patient, victim, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const v = await connect(t, victim.device);
    const token = await sessionToken(t, victim.device);
    const granted = streamOf(patient.accountId, 'allergy');
    const refused = streamOf(stranger.accountId, 'allergy');
    // The first sweep reloads every connection once; from then on only changes are read.
    await t.server.hub.sweep();

    const read = countGrantReads();
    const streams = await v.request<StreamsFrame>({ t: 'listStreams', rid: v.rid() });
    expect(streams.streams.some((s) => s.stream === granted)).toBe(true);
    const pulled = await v.request<PulledFrame>({
      t: 'pull',
      rid: v.rid(),
      streams: [
        { stream: granted, since: 0 },
        { stream: refused, since: 0 },
      ],
      limit: 100,
      maxBytes: 1 << 20,
    });
    // The refusal still names its reason: the stranger's grants were revoked.
    expect(pulled.denied).toEqual([{ stream: refused, code: 'CONSENT_REVOKED' }]);
    const doc = await makeDoc(victim, victim.device, 'allergy', { title: 'own' });
    const pushed = await v.request<PushedFrame>({
      t: 'push',
      rid: v.rid(),
      rows: [{ doc, assumedRev: null }],
    });
    expect(pushed.results[0]?.status).toBe('ok');
    const blob = await createBlob(t, token, {
      blobId: newId(),
      stream: `${victim.accountId}/document`,
      size: 10,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(new Uint8Array(10))],
    });
    expect(blob.status).toBe(200);
    expect(
      (await v.request({ t: 'subscribe', rid: v.rid(), streams: [{ stream: granted, since: 0 }] })).t,
    ).toBe('ok');
    expect(
      await v.request({ t: 'subscribe', rid: v.rid(), streams: [{ stream: refused, since: 0 }] }),
    ).toMatchObject({
      t: 'error',
      code: 'CONSENT_REVOKED',
    });
    for (let i = 0; i < 5; i++) await t.server.hub.sweep();
    // One unended grant, read by a handful of requests; never the pile.
    expect(read.rows, read.calls.join(', ')).toBeLessThan(20);
    await v.close();
    await p.close();
  });

  it('the sweep re-reads nothing while grants stay as they are, and picks up a change made past this process', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const p = await connect(t, patient.device);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const d = await connect(t, provider.device);
    await t.server.hub.sweep();

    const read = countGrantReads();
    for (let i = 0; i < 10; i++) await t.server.hub.sweep();
    expect(read.calls).toEqual([]);

    // As another server node sharing the store would: straight into the store, no notice to this hub.
    const revocation = await makeRevocation(patient, grant.grant.grantId);
    await t.store.grants.revoke(grant.grant.grantId, iso(t.clock.now), revocation);
    await t.server.hub.sweep();
    const changed = await d.waitFor(isAccessChanged, 2000);
    expect(changed.removed).toEqual([{ stream: streamOf(patient.accountId, 'allergy'), reason: 'revoked' }]);
    await d.close();
    await p.close();
  });

  it('listGrants reads at most one page of ended grants, however many are stored', async () => {
    const victim = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    insertEnded(stranger, victim, MAX_LISTED_GRANTS + 1000);
    const v = await connect(t, victim.device);
    const read = countGrantReads();
    const listed = await v.request<GrantsFrame>({ t: 'listGrants', rid: v.rid() });
    expect(listed.grants).toHaveLength(DEFAULT_GRANTS_PAGE);
    expect(listed.next).toBeDefined();
    // One more than the page, to know whether `next` is due.
    expect(read.rows, read.calls.join(', ')).toBeLessThanOrEqual(DEFAULT_GRANTS_PAGE + 1);
    await v.close();
  });
});
