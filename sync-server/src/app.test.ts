import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ChangesFrame,
  GrantsFrame,
  PulledFrame,
  PushedFrame,
  ServerFrame,
  StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  http,
  makeDoc,
  makeGrant,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestServer,
} from './testing/harness';

describe('sync server: end to end over a real socket', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  it('answers healthz and metrics', async () => {
    const health = await http(t.url, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', store: 'sqlite' });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hale_ws_connections');
  });

  it('pushes, pulls back in order and delivers live to a second device', async () => {
    const patient = await registerAccount(t);
    const a = await connect(t, patient.device);
    const streams = await a.request<StreamsFrame>({ t: 'listStreams', rid: a.rid() });
    expect(streams.streams.map((s) => s.stream)).toContain(streamOf(patient.accountId, 'allergy'));

    const b = await connect(t, patient.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const sub = await b.request({ t: 'subscribe', rid: b.rid(), streams: [{ stream, since: 0 }] });
    expect(sub.t).toBe('ok');

    const docs = await Promise.all(
      [1, 2, 3].map((i) => makeDoc(patient, patient.device, 'allergy', { substance: `s${i}` })),
    );
    const pushed = await a.request<PushedFrame>({
      t: 'push',
      rid: a.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    });
    expect(pushed.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);

    const pulled = await a.request<PulledFrame>({
      t: 'pull',
      rid: a.rid(),
      streams: [{ stream, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.docs.map((d) => d.id)).toEqual(docs.map((d) => d.id));
    expect(pulled.streams[0]).toMatchObject({ checkpoint: 3, done: true });

    const changes = await b.waitFor((f: ServerFrame): f is ChangesFrame => f.t === 'changes');
    expect(changes.docs.map((d) => d.seq)).toEqual([1, 2, 3]);
    await a.close();
    await b.close();
  });

  it('refuses a provider without consent and serves the history once granted', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const doc = await makeDoc(patient, patient.device, 'allergy', { substance: 'penicillin' });
    await p.request({ t: 'push', rid: p.rid(), rows: [{ doc, assumedRev: null }] });

    const d = await connect(t, provider.device);
    const denied = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(denied.docs).toHaveLength(0);
    expect(denied.denied).toEqual([{ stream, code: 'NO_CONSENT' }]);

    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const changed = await d.waitFor(
      (f: ServerFrame): f is Extract<ServerFrame, { t: 'accessChanged' }> => f.t === 'accessChanged',
    );
    expect(changed.streams.map((s) => s.stream)).toEqual([stream]);
    const allowed = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(allowed.docs.map((x) => x.id)).toEqual([doc.id]);

    // The patient's audit stream holds two server-signed access events: the refusal, then that pull.
    const audit = await p.request<PulledFrame>({
      t: 'pull',
      rid: p.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'audit'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(audit.docs.map((x) => x.author)).toEqual([t.server.server.serverId, t.server.server.serverId]);
    await p.close();
    await d.close();
  });

  it('lists grants only to the patient who issued them and the grantee who received them', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const p = await connect(t, patient.device);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    await p.request({ t: 'grant', rid: p.rid(), grant });
    const ids = async (account: typeof patient) => {
      const c = await connect(t, account.device);
      const reply = await c.request<GrantsFrame>({ t: 'listGrants', rid: c.rid() });
      await c.close();
      return reply.grants.map((g) => g.grant.grant.grantId);
    };
    expect(await ids(patient)).toEqual([grant.grant.grantId]);
    expect(await ids(provider)).toEqual([grant.grant.grantId]);
    expect(await ids(stranger)).toEqual([]);
    await p.close();
  });

  it('leaves a grant whose stored row is damaged out of the list, and still lists the others', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    const kept = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    const damaged = await makeGrant(patient, provider, [{ type: 'medication', access: 'read' }]);
    for (const grant of [kept, damaged]) {
      expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    }
    // The stored signed grant loses its signature (disk corruption, a bad manual edit).
    const changed = t.store.db
      .prepare("UPDATE grants SET signed = json_remove(signed, '$.sig') WHERE grant_id = ?")
      .run(damaged.grant.grantId);
    expect(changed.changes).toBe(1);
    const ids = async (account: typeof patient) => {
      const c = await connect(t, account.device);
      const reply = await c.request<GrantsFrame>({ t: 'listGrants', rid: c.rid() });
      await c.close();
      expect(reply.t).toBe('grants');
      return reply.grants.map((g) => g.grant.grant.grantId);
    };
    expect(await ids(patient)).toEqual([kept.grant.grantId]);
    expect(await ids(provider)).toEqual([kept.grant.grantId]);
    await p.close();
  });

  it('issues HTTP sessions by challenge and refuses a request without a session', async () => {
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const dir = await http(t.url, 'GET', '/v1/directory?q=x', undefined, token);
    expect(dir.status).toBe(200);
    const anon = await http(t.url, 'GET', '/v1/directory?q=x');
    expect(anon.status).toBe(401);
    expect(anon.body).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('client address behind (no) proxy', () => {
  // Burst 2 and a frozen clock: the third request from one address is limited, nothing refills.
  const limited = { rateLimitPerAddress: { perSecond: 1, burst: 2 } };
  const statuses = async (t: TestServer, forwardedFor: string, n: number): Promise<unknown[]> => {
    const codes: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${t.url}/v1/directory?q=x`, { headers: { 'x-forwarded-for': forwardedFor } });
      codes.push(((await res.json()) as { code?: unknown }).code);
    }
    return codes;
  };

  it('ignores a forged X-Forwarded-For by default: the limit keys on the socket address', async () => {
    const t = await startServer({ config: limited });
    try {
      expect(await statuses(t, '203.0.113.1', 3)).toEqual([
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'RATE_LIMITED',
      ]);
      // Another forged address is the same client: still limited.
      expect(await statuses(t, '203.0.113.2', 1)).toEqual(['RATE_LIMITED']);
    } finally {
      await t.stop();
    }
  });

  it('keys on the forwarded address only when the peer is a trusted proxy', async () => {
    const t = await startServer({ config: { ...limited, trustProxy: '127.0.0.1' } });
    try {
      expect(await statuses(t, '203.0.113.1', 3)).toEqual([
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'RATE_LIMITED',
      ]);
      expect(await statuses(t, '203.0.113.2', 1)).toEqual(['UNAUTHENTICATED']);
    } finally {
      await t.stop();
    }
  });
});
