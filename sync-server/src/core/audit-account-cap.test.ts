// The daily cap on audit appends to one patient's log counts per account, over all the devices that
// authored them: an account with many devices cannot append cap × devices entries a day. The server's own
// entries and an entry sent again take no slot. Runs a real server and store over the socket.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PulledFrame, PushDoc, PushedFrame, PushResult } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeAuditDoc,
  makeDoc,
  makeGrant,
  principalOf,
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
let p: WsClient;

beforeEach(async () => {
  // Every access its own server entry, so the server's appends outnumber the cap.
  t = await startServer({ config: { auditEntriesPerAccountPerDay: CAP, accessAuditWindowMs: 0 } });
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
  p = await connect(t, patient.device);
  const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
    now: t.clock.now,
  });
  expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
});
afterEach(async () => {
  await p.close();
  await t.stop();
});

const push = async (c: WsClient, docs: PushDoc[]): Promise<PushResult[]> =>
  (
    await c.request<PushedFrame>({
      t: 'push',
      rid: c.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    })
  ).results;
const outcome = (r: PushResult): string => (r.status === 'error' ? r.code : r.status);
const chain = async (author: TestDevice, from: number, n: number): Promise<PushDoc[]> => {
  const out: PushDoc[] = [];
  for (let i = 0; i < n; i++) out.push(await makeAuditDoc(patient, author, { authorSeq: from + i }));
  return out;
};
const storedBy = (authors: string[]): number =>
  (
    t.store.db
      .prepare(
        `SELECT count(*) AS n FROM docs WHERE stream = ? AND author IN (SELECT value FROM json_each(?))`,
      )
      .get(streamOf(patient.accountId, 'audit'), JSON.stringify(authors)) as { n: number }
  ).n;

describe('audit appends per account and patient per rolling day', () => {
  it("refuses a second device of the account once the account's total reaches the cap", async () => {
    const second = await addDevice(t, provider);
    const g1 = await connect(t, provider.device);
    const g2 = await connect(t, second);
    try {
      const first = await chain(provider.device, 1, CAP - 1);
      expect((await push(g1, first)).map(outcome)).toEqual(Array<string>(CAP - 1).fill('ok'));

      const results = await push(g2, await chain(second, 1, 2));
      expect(results.map(outcome)).toEqual(['ok', 'RATE_LIMITED']);
      expect(results[1]?.status === 'error' && results[1].message).toMatch(/account/);
      expect(storedBy([provider.device.deviceId, second.deviceId])).toBe(CAP);
      // Either device: the account has no room left today.
      expect((await push(g1, await chain(provider.device, CAP, 1))).map(outcome)).toEqual(['RATE_LIMITED']);

      // An entry already stored, sent again, is acknowledged and takes no slot.
      expect((await push(g1, [first[0]!])).map(outcome)).toEqual(['ok']);
      expect(storedBy([provider.device.deviceId, second.deviceId])).toBe(CAP);

      // Other accounts are not counted against it: the patient's own device still appends.
      expect(
        (await push(p, [await makeAuditDoc(patient, patient.device, { authorSeq: 1 })])).map(outcome),
      ).toEqual(['ok']);

      // A day after the first ones, the account has room again.
      t.clock.advance(DAY);
      expect((await push(g2, await chain(second, 2, 1))).map(outcome)).toEqual(['ok']);
    } finally {
      await g1.close();
      await g2.close();
    }
  });

  it("counts none of the server's access events against the account", async () => {
    const g = await connect(t, provider.device);
    try {
      const allergy = await makeDoc(patient, patient.device, 'allergy', { title: 'peanuts' });
      expect((await push(p, [allergy])).map(outcome)).toEqual(['ok']);
      for (let i = 0; i < CAP * 2; i++) {
        const pulled = await g.request<PulledFrame>({
          t: 'pull',
          rid: g.rid(),
          streams: [{ stream: allergy.stream, since: 0 }],
          limit: 10,
          maxBytes: 1024 * 1024,
        });
        expect(pulled.docs).toHaveLength(1);
      }
      expect(storedBy([t.server.server.serverId])).toBeGreaterThanOrEqual(CAP * 2);
      expect((await push(g, await chain(provider.device, 1, CAP))).map(outcome)).toEqual(
        Array<string>(CAP).fill('ok'),
      );
    } finally {
      await g.close();
    }
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
    expect(storedBy(devices.map((d) => d.deviceId))).toBe(CAP);
  });
});
