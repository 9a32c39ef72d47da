// The cap on audit appends to one patient's audit stream per rolling day: a grantee with any grant
// (read-only here) cannot flood the log every view of the patient reads and verifies whole, nor the disk.
// It counts per account, over all the devices that authored them: an account with many devices cannot
// append cap × devices entries a day. The server's own entries and an entry sent again take no slot.
// Runs a real server and store; the server's clock is moved to cross the window.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PulledFrame, PushDoc } from '@hale/protocol';
import { buildApp } from '../app';
import { openSqliteStore, type SyncStore } from '../store/index';
import {
  addDevice,
  connect,
  endpoint,
  makeAuditDoc,
  makeDoc,
  makeGrant,
  outcomeOf as outcome,
  principalOf,
  pushNew as push,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';

const CAP = 3;
const DAY = 24 * 3600_000;

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
/** The patient's device and the provider's first device, connected. */
let p: WsClient;
let g: WsClient;

/** In the calling describe: a fresh server capping at CAP, and the patient's read grant to the provider. */
const useGrantedServer = (): void => {
  beforeEach(async () => {
    // Every access its own server entry, so the server's appends outnumber the cap.
    t = await startServer({ config: { auditEntriesPerAccountPerDay: CAP, accessAuditWindowMs: 0 } });
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    p = await connect(t, patient.device);
    g = await connect(t, provider.device);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
  });
  afterEach(async () => {
    await p.close();
    await g.close();
    await t.stop();
  });
};

const chain = async (author: TestDevice, from: number, n: number): Promise<PushDoc[]> => {
  const out: PushDoc[] = [];
  for (let i = 0; i < n; i++) out.push(await makeAuditDoc(patient, author, { authorSeq: from + i }));
  return out;
};
/** How many entries of the patient's audit stream `authors` stored together. */
const storedBy = (...authors: string[]): number =>
  (
    t.store.db
      .prepare(
        `SELECT count(*) AS n FROM docs WHERE stream = ? AND author IN (SELECT value FROM json_each(?))`,
      )
      .get(streamOf(patient.accountId, 'audit'), JSON.stringify(authors)) as { n: number }
  ).n;
/** The provider reads the patient's allergy record `times` times: the server logs each read itself. */
const readsOfAllergy = async (times: number): Promise<void> => {
  const allergy = await makeDoc(patient, patient.device, 'allergy', { title: 'peanuts' });
  expect((await push(p, [allergy])).map(outcome)).toEqual(['ok']);
  for (let i = 0; i < times; i++) {
    const pulled = await g.request<PulledFrame>({
      t: 'pull',
      rid: g.rid(),
      streams: [{ stream: allergy.stream, since: 0 }],
      limit: 10,
      maxBytes: 1024 * 1024,
    });
    expect(pulled.docs).toHaveLength(1);
  }
  expect(storedBy(t.server.server.serverId)).toBeGreaterThanOrEqual(times);
};

describe('audit appends per device and patient per rolling day', () => {
  useGrantedServer();

  it("refuses a read-only grantee's entries past the cap RATE_LIMITED, row by row, until the window moves on", async () => {
    const first = await chain(provider.device, 1, CAP + 2);
    const results = await push(g, first);
    expect(results.map(outcome)).toEqual([...Array<string>(CAP).fill('ok'), 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(storedBy(provider.device.deviceId)).toBe(CAP);
    // The refusal says when a slot frees: a day after the oldest entry counted.
    const refused = results[CAP]!;
    expect(refused.status === 'error' && refused.message).toContain(
      new Date(t.clock.now + DAY).toISOString(),
    );

    // A retry of an entry already stored is still acknowledged (its first answer may have been lost).
    expect(await push(g, [first[0]!])).toEqual([expect.objectContaining({ status: 'ok', id: first[0]!.id })]);
    // Later pushes within the day are refused too; nothing more is stored.
    t.clock.advance(DAY - 1000);
    expect(await push(g, first.slice(CAP))).toEqual([
      expect.objectContaining({ status: 'error', code: 'RATE_LIMITED' }),
      expect.objectContaining({ status: 'error', code: 'RATE_LIMITED' }),
    ]);
    expect(storedBy(provider.device.deviceId)).toBe(CAP);

    // A day after the first ones, the held entries go in.
    t.clock.advance(1000);
    expect((await push(g, first.slice(CAP))).map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(storedBy(provider.device.deviceId)).toBe(CAP + 2);
  });

  it('counts no slot for an entry already stored that comes again with new ones (a lost answer)', async () => {
    const entries = await chain(provider.device, 1, CAP);
    expect((await push(g, entries.slice(0, CAP - 1))).map((r) => r.status)).toEqual(
      Array<string>(CAP - 1).fill('ok'),
    );
    // The last two stored ones again, and the one new entry that still fits.
    const again = await push(g, [...entries.slice(CAP - 3, CAP - 1), entries[CAP - 1]!]);
    expect(again.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(storedBy(provider.device.deviceId)).toBe(CAP);
  });

  it("caps the patient's own devices the same way, and never the server's access events", async () => {
    const own = await push(p, await chain(patient.device, 1, CAP + 1));
    expect(own.map((r) => r.status)).toEqual([...Array<string>(CAP).fill('ok'), 'error']);

    // The grantee reads the patient's records more often than the cap: each read is logged by the server.
    await readsOfAllergy(CAP * 2);
  });
});

describe('audit appends per account and patient per rolling day', () => {
  useGrantedServer();

  it("refuses a second device of the account once the account's total reaches the cap", async () => {
    const second = await addDevice(t, provider);
    const g2 = await connect(t, second);
    try {
      const first = await chain(provider.device, 1, CAP - 1);
      expect((await push(g, first)).map(outcome)).toEqual(Array<string>(CAP - 1).fill('ok'));

      const results = await push(g2, await chain(second, 1, 2));
      expect(results.map(outcome)).toEqual(['ok', 'RATE_LIMITED']);
      expect(results[1]?.status === 'error' && results[1].message).toMatch(/account/);
      expect(storedBy(provider.device.deviceId, second.deviceId)).toBe(CAP);
      // Either device: the account has no room left today.
      expect((await push(g, await chain(provider.device, CAP, 1))).map(outcome)).toEqual(['RATE_LIMITED']);

      // An entry already stored, sent again, is acknowledged and takes no slot.
      expect((await push(g, [first[0]!])).map(outcome)).toEqual(['ok']);
      expect(storedBy(provider.device.deviceId, second.deviceId)).toBe(CAP);

      // Other accounts are not counted against it: the patient's own device still appends.
      expect(
        (await push(p, [await makeAuditDoc(patient, patient.device, { authorSeq: 1 })])).map(outcome),
      ).toEqual(['ok']);

      // A day after the first ones, the account has room again.
      t.clock.advance(DAY);
      expect((await push(g2, await chain(second, 2, 1))).map(outcome)).toEqual(['ok']);
    } finally {
      await g2.close();
    }
  });

  it("counts none of the server's access events against the account", async () => {
    await readsOfAllergy(CAP * 2);
    expect((await push(g, await chain(provider.device, 1, CAP))).map(outcome)).toEqual(
      Array<string>(CAP).fill('ok'),
    );
  });

  it('lets no two devices of the account pass the cap together when they push at once', async () => {
    const second = await addDevice(t, provider);
    const devices = [provider.device, second];
    const rows = await Promise.all(devices.map((d) => chain(d, 1, CAP)));
    // Straight to the service, both at once: the count and the write are serialised per account.
    const pushed = await Promise.all(
      devices.map((device, i) =>
        t.server.service.push(
          { ...principalOf(provider), deviceId: device.deviceId, devicePublicKey: device.keys.publicKey },
          { rows: rows[i]!.map((doc) => ({ doc, assumedRev: null })) },
        ),
      ),
    );
    expect(pushed.flat().filter((r) => r.status === 'ok')).toHaveLength(CAP);
    expect(storedBy(...devices.map((d) => d.deviceId))).toBe(CAP);
  });
});

describe('audit appends of one device pushed concurrently', () => {
  it('store no more than the cap together, even when counting takes a while', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-audit-cap-'));
    const store = await openSqliteStore({ dataDir });
    // A count that answers later, as from a store over the network: two pushes could both count before
    // either wrote, were counting and writing not serialised.
    const slow: SyncStore = {
      ...store,
      docs: {
        ...store.docs,
        auditEntriesOfAccountSince: async (...args) => {
          const counted = await store.docs.auditEntriesOfAccountSince(...args);
          await new Promise((resolve) => setTimeout(resolve, 20));
          return counted;
        },
      },
    };
    const server = await buildApp({
      store: slow,
      logger: false,
      config: {
        rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
        rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
        auditEntriesPerAccountPerDay: CAP,
      },
    });
    const at = endpoint(await server.app.listen({ host: '127.0.0.1', port: 0 }));
    try {
      const patient = await registerAccount(at);
      const provider = await registerAccount(at, 'provider');
      const p = await connect(at, patient.device);
      const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
      expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
      const rows: PushDoc[] = [];
      for (let i = 1; i <= CAP * 2; i++) {
        rows.push(await makeAuditDoc(patient, provider.device, { authorSeq: i }));
      }
      // Straight to the service: a socket serves its frames one at a time.
      const pushed = await Promise.all(
        [rows.slice(0, CAP), rows.slice(CAP)].map((half) =>
          server.service.push(principalOf(provider), {
            rows: half.map((doc) => ({ doc, assumedRev: null })),
          }),
        ),
      );
      expect(pushed.flat().filter((r) => r.status === 'ok')).toHaveLength(CAP);
      const stored = await store.docs.auditEntriesOfAccountSince(
        streamOf(patient.accountId, 'audit'),
        provider.accountId,
        new Date(0).toISOString(),
      );
      expect(stored.count).toBe(CAP);
      await p.close();
    } finally {
      await server.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
