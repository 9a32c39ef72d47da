// One author, one entry per position of its chain in a patient's audit log: a second entry (another id) at
// a position the pushing device already holds would leave two entries there, and every other device of
// the patient would report that chain broken for good. Runs a real server and store over the socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PulledFrame } from '@hale/protocol';
import { buildApp } from '../app';
import { openSqliteStore, type SyncStore } from '../store/index';
import {
  addDevice,
  connect,
  docRow,
  endpoint,
  makeAuditDoc,
  outcomeOf,
  pushNew,
  makeDoc,
  makeGrant,
  registerAccount,
  rowCounts,
  serverAccessEntries,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';

let t: TestServer;
let patient: TestAccount;
let p: WsClient;

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  p = await connect(t, patient.device);
});
afterEach(async () => {
  await p.close();
  await t.stop();
});

const push = pushNew;
const outcome = outcomeOf;
const entry = (of: TestAccount, author: TestDevice, authorSeq: number) =>
  makeAuditDoc(of, author, { authorSeq });
/** The entries of `author` (a device id or the server's) in `of`'s audit stream, as (position, id) by seq. */
const heldBy = (of: TestAccount, author: string): Array<[number, string]> =>
  (
    t.store.db
      .prepare('SELECT audit_author_seq AS n, id FROM docs WHERE stream = ? AND author = ? ORDER BY seq')
      .all(streamOf(of.accountId, 'audit'), author) as Array<{ n: number; id: string }>
  ).map((r) => [r.n, r.id]);
const held = (of: TestAccount, author: TestDevice) => heldBy(of, author.deviceId);

describe('a second audit entry at a chain position its author holds', () => {
  it('is refused APPEND_ONLY and stores nothing; the next position is taken as before', async () => {
    const first = await entry(patient, patient.device, 1);
    expect((await push(p, [first])).map(outcome)).toEqual(['ok']);
    const counts = rowCounts(t.store);

    const second = await entry(patient, patient.device, 1);
    const refused = await push(p, [second]);
    expect(refused).toEqual([
      expect.objectContaining({ status: 'error', id: second.id, code: 'APPEND_ONLY' }),
    ]);
    expect(refused[0]?.status === 'error' && refused[0].message).toMatch(/position 1/);
    expect(docRow(t.store, second.stream, second.id)).toBeUndefined();
    expect(rowCounts(t.store)).toEqual(counts);

    // The stored entry sent again is still acknowledged, with its seq (a lost answer), and stores nothing.
    const seq = docRow(t.store, first.stream, first.id)?.seq;
    expect(await push(p, [first])).toEqual([expect.objectContaining({ status: 'ok', id: first.id, seq })]);
    expect(rowCounts(t.store)).toEqual(counts);

    expect((await push(p, [await entry(patient, patient.device, 2)])).map(outcome)).toEqual(['ok']);
    expect(held(patient, patient.device).map(([n]) => n)).toEqual([1, 2]);
  });

  it('is refused in a batch with the rows of its stream after it; earlier rows and other streams are stored', async () => {
    // A provider appends to two patients' logs in one push (any grant lets it append there).
    const other = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const o = await connect(t, other.device);
    const g = await connect(t, provider.device);
    try {
      for (const [c, of] of [
        [p, patient],
        [o, other],
      ] as const) {
        const grant = await makeGrant(of, provider, [{ type: 'allergy', access: 'read' }], {
          now: t.clock.now,
        });
        expect((await c.request({ t: 'grant', rid: c.rid(), grant })).t).toBe('ok');
      }
      const stored = await entry(patient, provider.device, 1);
      expect((await push(g, [stored])).map(outcome)).toEqual(['ok']);

      const batch = [
        await entry(patient, provider.device, 2),
        // Position 1 again, under another id: the first entry of the batch after which nothing of this
        // stream may be stored (later rows link to it).
        await entry(patient, provider.device, 1),
        await entry(patient, provider.device, 3),
        await entry(other, provider.device, 1),
        // Two new entries at one position in one batch: the second is refused.
        await entry(other, provider.device, 2),
        await entry(other, provider.device, 2),
      ];
      const results = await push(g, batch);
      expect(results.map(outcome)).toEqual(['ok', 'APPEND_ONLY', 'APPEND_ONLY', 'ok', 'ok', 'APPEND_ONLY']);
      expect(held(patient, provider.device)).toEqual([
        [1, stored.id],
        [2, batch[0]!.id],
      ]);
      expect(held(other, provider.device)).toEqual([
        [1, batch[3]!.id],
        [2, batch[4]!.id],
      ]);
    } finally {
      await o.close();
      await g.close();
    }
  });

  it('is not confused with another author of the same account at that position', async () => {
    const second = await addDevice(t, patient);
    const c2 = await connect(t, second);
    try {
      expect((await push(p, [await entry(patient, patient.device, 1)])).map(outcome)).toEqual(['ok']);
      expect((await push(c2, [await entry(patient, second, 1)])).map(outcome)).toEqual(['ok']);
      expect(held(patient, second).map(([n]) => n)).toEqual([1]);
    } finally {
      await c2.close();
    }
  });

  it("is refused beside a provider's record write, which is logged once: the server's chain stays unbroken", async () => {
    const provider = await registerAccount(t, 'provider');
    const g = await connect(t, provider.device);
    try {
      const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }], {
        now: t.clock.now,
      });
      expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
      expect((await push(g, [await entry(patient, provider.device, 1)])).map(outcome)).toEqual(['ok']);
      const before = await serverAccessEntries(t, patient);

      const record = await makeDoc(patient, provider.device, 'allergy', { title: 'peanuts' });
      // The first write of this batch is rolled back with its access event, then written again.
      const results = await push(g, [record, await entry(patient, provider.device, 1)]);
      expect(results.map(outcome)).toEqual(['ok', 'APPEND_ONLY']);
      expect(docRow(t.store, record.stream, record.id)).toBeDefined();
      const after = await serverAccessEntries(t, patient);
      expect(after.slice(before.length)).toEqual([
        expect.objectContaining({ action: 'push', stream: record.stream, count: 1 }),
      ]);
      const server = heldBy(patient, t.server.server.serverId).map(([n]) => n);
      expect(server).toEqual(server.map((_, i) => i + 1));
    } finally {
      await g.close();
    }
  });
});

describe("the server's own entries at a position its chain already holds", () => {
  it('fail the access they log (INTERNAL) and store nothing, instead of forking the chain', async () => {
    // As a second process on the store would: the server's chain read before its latest entry was stored.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-audit-position-'));
    const store = await openSqliteStore({ dataDir });
    let stale = false;
    const staleReads: SyncStore = {
      ...store,
      docs: {
        ...store.docs,
        auditChainEnd: async (stream, author) => (stale ? null : store.docs.auditChainEnd(stream, author)),
      },
    };
    const server = await buildApp({
      store: staleReads,
      logger: false,
      config: {
        rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
        rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
        accessAuditWindowMs: 0,
      },
    });
    const at = endpoint(await server.app.listen({ host: '127.0.0.1', port: 0 }));
    try {
      const owner = await registerAccount(at);
      const provider = await registerAccount(at, 'provider');
      const o = await connect(at, owner.device);
      const g = await connect(at, provider.device);
      const grant = await makeGrant(owner, provider, [{ type: 'allergy', access: 'read' }]);
      expect((await o.request({ t: 'grant', rid: o.rid(), grant })).t).toBe('ok');
      const record = await makeDoc(owner, owner.device, 'allergy', { title: 'peanuts' });
      expect((await push(o, [record])).map(outcome)).toEqual(['ok']);
      const pull = () =>
        g.request<PulledFrame>({
          t: 'pull',
          rid: g.rid(),
          streams: [{ stream: record.stream, since: 0 }],
          limit: 10,
          maxBytes: 1 << 20,
        });
      expect((await pull()).docs).toHaveLength(1);
      const audit = streamOf(owner.accountId, 'audit');
      const entries = (await store.docs.readDocs(audit, 0, 100, 1 << 24)).docs;
      expect(entries.map((d) => d.audit?.authorSeq)).toEqual([1]);

      stale = true;
      expect(await pull()).toMatchObject({ t: 'error', code: 'INTERNAL' });
      expect((await store.docs.readDocs(audit, 0, 100, 1 << 24)).docs).toEqual(entries);

      stale = false;
      expect((await pull()).docs).toHaveLength(1);
      expect((await store.docs.readDocs(audit, 0, 100, 1 << 24)).docs.map((d) => d.audit?.authorSeq)).toEqual(
        [1, 2],
      );
      await o.close();
      await g.close();
    } finally {
      await server.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
