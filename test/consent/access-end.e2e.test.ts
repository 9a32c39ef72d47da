import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage } from 'rxdb';
import { useServer } from '../support/fixture';
import { eventually, waitOnline, grantRead, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// Consent that ends while a provider device is not connected must still end on that device: the server
// tells only connected devices (accessChanged), so the device checks its grants' ends itself and treats
// a stream the server no longer lists as ended.
describe('access that ends while a device is offline', () => {
  const server = useServer();
  const sessions = server.sessions;
  const now = () => server.t.clock.now;

  const patientAndProvider = (options: { storage?: RxStorage<unknown, unknown> } = {}) =>
    providerWithLabWrite(server.t, sessions, {
      lab: input('LabResult', { testName: `lipid panel ${'x'.repeat(180)}`, performer: 'y'.repeat(200) }),
      now,
      ...options,
    });

  it('an expired grant stops writes at once offline, and the copy is removed on reconnect', async () => {
    const t = server.t;
    const { patient, p, d, lab, stream } = await patientAndProvider();
    d.sync.goOffline();
    t.clock.advance(HOUR + 1000);
    await t.server.hub.sweep();
    expect(d.engine.readable(stream)).toBe(false);
    await expect(
      d.records.add('LabResult', input('LabResult', { testName: 'late note' }), {
        patientId: patient.accountId,
      }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE' });

    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the copy is removed');
    expect(d.sync.state().errors.some((e) => e.code === 'CONSENT_EXPIRED' && e.stream === stream)).toBe(true);
    expect(d.engine.access().some((a) => a.stream === stream)).toBe(false);
    expect(await p.records.get(lab.id)).not.toBeNull();
  });

  it('a grant revoked while the provider is offline: removed on reconnect; granted again, the whole history returns', async () => {
    const { provider, p, d, lab } = await patientAndProvider();
    d.sync.goOffline();
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the copy is removed');

    const later = await p.records.add('LabResult', input('LabResult', { testName: 'HbA1c' }));
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'second opinion');
    await eventually(
      async () => (await d.records.get(lab.id)) !== null && (await d.records.get(later.id)) !== null,
      'granted again, the provider receives the whole stream, from before the first purge too',
    );
  });

  it('a purge leaves no copy of the content in the store, the replication state included', async () => {
    const memory = getRxStorageMemory();
    const instances: unknown[] = [];
    const storage = {
      ...memory,
      createStorageInstance: async (params: Parameters<typeof memory.createStorageInstance>[0]) => {
        const instance = await memory.createStorageInstance(params);
        instances.push(instance);
        return instance;
      },
    } as unknown as RxStorage<unknown, unknown>;
    const t = server.t;
    const { d, lab } = await patientAndProvider({ storage });
    // Stored documents that mention the record, with the size of their sealed content.
    const sizes = async (): Promise<number[]> => {
      const out: number[] = [];
      for (const instance of instances) {
        // The memory storage's own map: every stored document, deleted ones and RxDB's replication state
        // included.
        const docs = (instance as { internals: { documents: Map<string, unknown> } }).internals.documents;
        for (const doc of docs.values()) {
          const text = JSON.stringify(doc);
          if (text.includes(lab.id)) out.push(text.length);
        }
      }
      return out;
    };
    const before = Math.max(...(await sizes()));
    t.clock.advance(HOUR + 1000);
    await t.server.hub.sweep();
    await eventually(async () => (await d.records.get(lab.id)) === null, 'purged');
    // The ~400 characters of content, sealed, are gone from every stored copy.
    await eventually(
      async () => Math.max(0, ...(await sizes())) < before - 400,
      'no stored copy holds the content',
    );
  });
});
