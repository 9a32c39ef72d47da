// The `denied` entries on both stores, the same case on each: a server over SQLite and a node over the
// CouchDB store (pouchdb-server in memory). A grantee device whose grant was revoked pulls and fetches
// keys, also several times at once: the patient's log holds one `denied` entry for it and the stream,
// chained and sealed as the server's other entries, and none for the stream it still holds.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrantScopeEntry, PulledFrame } from '@hale/protocol';
import {
  connect,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  serverAccessEntries,
  startServer,
  streamOf,
  type Endpoint,
  type TestServer,
  type WsClient,
} from '../testing/harness';
import { startCouchNode, startPouchServer, type PouchServer } from '../testing/couch';
import type { HaleServer } from '../app';
import type { SyncStore } from '../store/index';

interface Running extends Endpoint {
  store: SyncStore;
  server: HaleServer;
  stop(): Promise<void>;
}

let couch: PouchServer;
beforeAll(async () => {
  couch = await startPouchServer({ inMemory: true });
}, 60_000);
afterAll(async () => {
  await couch.stop();
});

const STORES: Array<{ name: string; start: () => Promise<Running> }> = [
  { name: 'sqlite', start: () => startServer({ realClock: true }) },
  { name: 'couchdb', start: () => startCouchNode(couch.url, `denied-${randomUUID()}`) },
];

describe.each(STORES)('on the $name store', ({ start }) => {
  it('one `denied` entry per device and stream, whatever it retries, none for a stream it holds', async () => {
    const t = await start();
    const sockets: WsClient[] = [];
    try {
      const patient = await registerAccount(t);
      const clinic = await registerAccount(t, 'provider');
      const patientWs = await connect(t, patient.device);
      sockets.push(patientWs);
      const grant = async (type: GrantScopeEntry['type']) => {
        const g = await makeGrant(patient, clinic, [{ type, access: 'read' }]);
        expect((await patientWs.request({ t: 'grant', rid: patientWs.rid(), grant: g })).t).toBe('ok');
        return g.grant.grantId;
      };
      const revoked = await grant('allergy');
      await grant('lab-result');
      const rows = await Promise.all(
        ['allergy', 'lab-result'].map(async (type) => ({
          doc: await makeDoc(patient, patient.device, type, { n: 1 }),
          assumedRev: null,
        })),
      );
      expect((await patientWs.request({ t: 'push', rid: patientWs.rid(), rows })).t).toBe('pushed');
      const revocation = await makeRevocation(patient, revoked);
      expect((await patientWs.request({ t: 'revoke', rid: patientWs.rid(), revocation })).t).toBe('ok');

      const allergy = streamOf(patient.accountId, 'allergy');
      const labs = streamOf(patient.accountId, 'lab-result');
      // Two connections of the clinician's device, asking at once and again.
      const a = await connect(t, clinic.device);
      const b = await connect(t, clinic.device);
      sockets.push(a, b);
      const pull = (c: WsClient) =>
        c.request<PulledFrame>({
          t: 'pull',
          rid: c.rid(),
          streams: [
            { stream: allergy, since: 0 },
            { stream: labs, since: 0 },
          ],
          limit: 10,
          maxBytes: 1 << 20,
        });
      const answers = await Promise.all([pull(a), pull(b), pull(a), pull(b)]);
      for (const answer of answers) {
        expect(answer.denied).toEqual([{ stream: allergy, code: 'CONSENT_REVOKED' }]);
        expect(answer.docs.map((d) => d.stream)).toEqual([labs]);
      }
      const entries = () => serverAccessEntries(t as unknown as TestServer, patient);
      const denied = async () =>
        (await entries())
          .filter((e) => e.action === 'denied')
          .map((e) => [e.actorId, e.actorDeviceId, e.stream, e.count]);
      expect(await denied()).toEqual([[clinic.accountId, clinic.device.deviceId, allergy, 0]]);
      // A key fetch of the same stream within the hour: the same entry stands for it.
      await a.request({ t: 'getEnvelopes', rid: a.rid(), streams: [allergy, labs] });
      expect(await denied()).toEqual([[clinic.accountId, clinic.device.deviceId, allergy, 0]]);
      // The pulls it was served are logged as before; nothing of the refused stream besides the refusal.
      const all = await entries();
      expect(all.filter((e) => e.stream === allergy).map((e) => e.action)).toEqual(['denied']);
      expect(all.some((e) => e.action === 'pull' && e.stream === labs)).toBe(true);
    } finally {
      for (const c of sockets) await c.close();
      await t.stop();
    }
  });
});
