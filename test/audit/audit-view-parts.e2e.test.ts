// The patient's audit views keep the entries they verified on the device (the view cache): the newest few in
// one document, the older ones, past a few hundred, in parts of their own, each written once under a random
// name. A view that finds a few new entries writes those, not the whole cache again. Here on the device's
// real store (RxDB local documents, sealed at rest): the parts are written once, the ones the cache no
// longer names are purged, and a restart reads the cache back.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { makeAuditEntry } from '@hale/client/advanced';
import type { AccessEventBody } from '@hale/protocol';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, openDevice, waitOnline } from '../support/devices';

/** The device metadata documents of `dbName` whose id starts with `prefix`, removed ones too (RxDB's). */
const metaDocs = (dbName: string, prefix: string): Array<{ id: string; deleted: boolean }> => {
  const out: Array<{ id: string; deleted: boolean }> = [];
  for (const [key, state] of getRxStorageMemory().collectionStates) {
    if (!key.startsWith(`${dbName}--`) || !key.includes('plugin-local-documents')) continue;
    for (const [id, doc] of state.documents) {
      if (id.startsWith(prefix)) out.push({ id, deleted: (doc as { _deleted: boolean })._deleted });
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
};

/** `n` access events the server logs in the patient's log, written straight into its store. */
const serverLogs = async (
  t: TestServer,
  patient: { accountId: string; keys: { wrapping: { publicKey: Uint8Array } } },
  provider: { accountId: string; deviceId: string },
  chain: { seq: number; hash: string | null },
  n: number,
): Promise<{ seq: number; hash: string | null }> => {
  const identity = t.server.server;
  const rows = [];
  for (let i = 0; i < n; i++) {
    const body: AccessEventBody = {
      kind: 'AccessEvent',
      action: 'pull',
      actorId: provider.accountId,
      actorDeviceId: provider.deviceId,
      stream: `${patient.accountId}/allergy`,
      count: 1 + (chain.seq % 5),
      at: new Date().toISOString(),
    };
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.keys.wrapping.publicKey,
      device: { deviceId: identity.serverId, secretKey: identity.secretKey },
      ed,
      chain,
      body,
      now: () => Date.now(),
    });
    chain = made.chain;
    const ct = Buffer.from(made.doc.ct, 'base64url');
    rows.push({ doc: { ...made.doc, ct, size: ct.length }, assumedRev: null });
  }
  await t.store.docs.writeDocs(rows, new Date().toISOString());
  return chain;
};

describe('the audit view cache on the device store', () => {
  const server = useServer({ realClock: true, config: { auditEntriesPerAccountPerDay: 1_000_000 } });

  it('keeps older entries in parts written once, purges the ones it no longer names, and reads them back after a restart', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const by = { accountId: provider.accountId, deviceId: provider.device.deviceId };
    let chain = await serverLogs(t, patient, by, { seq: 0, hash: null }, 300);
    const dbName = `view-parts-${Date.now()}`;
    const p = await openDevice(t, patient, { dbName });
    server.sessions.push(p);
    await waitOnline(p);
    expect(await p.audit.whoAccessed()).toHaveLength(300);
    const parts = metaDocs(dbName, 'meta-audit-view-part/');
    expect(parts.length).toBeGreaterThan(0);
    expect(parts.every((d) => !d.deleted)).toBe(true);

    // A few new entries: kept in the cache's own document, the parts as they were.
    chain = await serverLogs(t, patient, by, chain, 20);
    expect(await p.audit.whoAccessed()).toHaveLength(320);
    expect(metaDocs(dbName, 'meta-audit-view-part/')).toEqual(parts);

    // Enough to seal new parts (merged with the newest): the ones no longer named are gone, purged.
    chain = await serverLogs(t, patient, by, chain, 300);
    const who = await p.audit.whoAccessed();
    expect(who).toHaveLength(620);
    const after = metaDocs(dbName, 'meta-audit-view-part/');
    expect(after.every((d) => !d.deleted)).toBe(true);
    expect(after).not.toEqual(parts);
    expect(p.audit.issues()).toEqual([]);

    // A restart reads the cache back, parts and all, and answers as before; one more entry is read past it.
    server.sessions.splice(server.sessions.indexOf(p), 1);
    await p.close();
    const again = await openDevice(t, patient, { dbName });
    server.sessions.push(again);
    await waitOnline(again);
    expect(await again.audit.whoAccessed()).toEqual(who);
    await serverLogs(t, patient, by, chain, 1);
    expect(await again.audit.whoAccessed()).toHaveLength(621);
    expect(metaDocs(dbName, 'meta-audit-view-part/')).toEqual(after);
    expect(again.audit.issues()).toEqual([]);
    expect((await again.audit.verify()).ok).toBe(true);
  });
});
