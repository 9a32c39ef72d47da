// A local write to a stream this device holds no write key for (NO_KEY: here a provider with write consent
// whose key envelope from the patient was never published) used to make RxDB's push handler throw until
// the key came. RxDB holds every pull and live change while a push is under way, so the device received
// nothing from any stream, any patient, meanwhile. Now such a version waits on the engine's own persisted
// key-wait list: answered to RxDB as sent, still counted in `pendingWrites`, reported NO_KEY (stream, id),
// and sent by the engine once the key comes (the server's `accessChanged` when envelopes are stored for
// the grantee), also after the app closed and opened again.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  grantWrite,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;
/** How long the provider may take to receive the patient's allergy while its lab waits for a key. */
const RECEIVE_WITHIN_MS = 5_000;

interface EnvelopesFrame {
  t: 'putEnvelopes';
  rid: number;
  envelopes: Array<{ stream: string; recipient: string }>;
}

/**
 * A socket factory for the patient's device whose `putEnvelopes` frames lose, while `withholding`, every
 * envelope for `recipient` on `stream`: they never reach the server, and a frame left with none is
 * answered `ok` to the device as if stored (the grant resolves, as when envelopes are lost after the
 * server took the grant; only a later connect's check wraps what the grantee lacks). Other envelopes pass.
 */
const withholdingEnvelopes = (recipient: string, stream: string) => {
  let withholding = true;
  let withheld = 0;
  const lost = (e: { stream: string; recipient: string }): boolean =>
    e.recipient === recipient && e.stream === stream;
  const createWebSocket = (url: string): WebSocketLike => {
    const socket: WebSocketLike = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t: string };
        if (!withholding || frame.t !== 'putEnvelopes') return send(text);
        const envelopes = (frame as EnvelopesFrame).envelopes;
        const kept = envelopes.filter((e) => !lost(e));
        if (kept.length === envelopes.length) return send(text);
        withheld += envelopes.length - kept.length;
        if (kept.length > 0) return send(JSON.stringify({ ...frame, envelopes: kept }));
        const answer = JSON.stringify({ t: 'ok', rid: (frame as EnvelopesFrame).rid });
        setTimeout(() => socket.onmessage?.({ data: answer }), 0);
      },
    })(url);
    return socket;
  };
  return {
    createWebSocket,
    withheld: (): number => withheld,
    release: (): void => {
      withholding = false;
    },
  };
};

/** Envelopes the server holds for `recipient` on `stream`. */
const envelopesOnServer = (t: TestServer, stream: string, recipient: string): number =>
  (
    t.store.db
      .prepare('SELECT count(*) AS n FROM envelopes WHERE stream = ? AND recipient = ?')
      .get(stream, recipient) as { n: number }
  ).n;

/** Whether the server holds a record with this id. */
const onServer = (t: TestServer, id: string): boolean =>
  (t.store.db.prepare('SELECT count(*) AS n FROM docs WHERE id = ?').get(id) as { n: number }).n > 0;

const noKeyIssue = (s: DeviceSession, stream: string, id: string): boolean =>
  s.sync.state().errors.some((e) => e.code === 'NO_KEY' && e.stream === stream && e.id === id);

const anyNoKeyIssue = (s: DeviceSession): boolean => s.sync.state().errors.some((e) => e.code === 'NO_KEY');

/** Whether `s` holds the allergy `id` of `patientId` (through the records API's listing). */
const listsAllergy = async (s: DeviceSession, patientId: string, id: string): Promise<boolean> =>
  (await s.records.query('Allergy', { patientId })).some((r) => r.record.id === id);

/**
 * Steps 1–2: a patient and a provider online; the provider reads the patient's allergies (envelopes
 * published), then holds write consent to the lab results with no key to write them (their envelopes
 * withheld from the server). `providerStorage`/`providerDb` let the provider's store be opened again.
 */
const consentWithoutLabKey = async (
  server: ReturnType<typeof useServer>,
  provider: { storage?: ReturnType<typeof getRxStorageMemory>; dbName?: string } = {},
) => {
  const t = server.t;
  const patient = await registerAccount(t);
  const providerAccount = await registerAccount(t, 'provider');
  const labs = `${patient.accountId}/lab-result`;
  const allergies = `${patient.accountId}/allergy`;
  const net = withholdingEnvelopes(providerAccount.accountId, labs);
  const p = await openDevice(t, patient, { createWebSocket: net.createWebSocket });
  server.sessions.push(p);
  const d = await openDevice(t, providerAccount, {
    ...(provider.storage ? { storage: provider.storage } : {}),
    ...(provider.dbName ? { dbName: provider.dbName } : {}),
  });
  server.sessions.push(d);
  await Promise.all([waitOnline(p), waitOnline(d)]);

  // 1. Read access to allergies, envelopes published normally: the provider reads them.
  const first = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
  await allPushed(p);
  await grantRead(p, providerAccount.accountId, 'allergy', HOUR, 'care');
  await eventually(() => listsAllergy(d, patient.accountId, first.id), 'the provider reads the allergy');
  expect(envelopesOnServer(t, allergies, providerAccount.accountId)).toBeGreaterThan(0);

  // 2. Write access to lab results; the patient device's envelopes for it never reach the server.
  await grantWrite(p, providerAccount.accountId, 'lab-result', HOUR);
  expect(net.withheld()).toBeGreaterThan(0);
  expect(envelopesOnServer(t, labs, providerAccount.accountId)).toBe(0);
  await eventually(
    () => d.engine.access().some((a) => a.stream === labs && a.access === 'write'),
    'the provider lists write access to the lab results',
  );
  expect(d.engine.writable(labs)).toBe(true);
  expect(await d.keyring.writeKey(labs)).toBeNull();
  return { t, patient, provider: providerAccount, p, d, net, labs };
};

/** 3. The provider adds a lab result for the patient: stored locally, waiting for its key (NO_KEY). */
const addWaitingLab = async (d: DeviceSession, patient: TestAccount, labs: string) => {
  const lab = await d.records.add('LabResult', input('LabResult', { testName: 'ferritin' }), {
    patientId: patient.accountId,
  });
  expect(await d.records.get(lab.id)).not.toBeNull();
  await eventually(() => noKeyIssue(d, labs, lab.id), 'NO_KEY reported for the lab result', 5_000);
  expect(d.sync.state().pendingWrites).toBe(1);
  return lab;
};

/** The patient's device reconnects without interception: its check on connect wraps the missing keys. */
const reconnectPatient = async (
  p: DeviceSession,
  net: ReturnType<typeof withholdingEnvelopes>,
): Promise<void> => {
  net.release();
  p.sync.goOffline();
  await eventually(() => p.sync.state().status !== 'online', 'the patient device goes offline', 5_000);
  p.sync.goOnline();
  await waitOnline(p);
};

/** 5. Once the key came: the lab reaches the patient, written by the provider; nothing pends any more. */
const labArrives = async (
  t: TestServer,
  p: DeviceSession,
  d: DeviceSession,
  provider: TestAccount,
  lab: { id: string },
  labs: string,
): Promise<void> => {
  await eventually(
    () => envelopesOnServer(t, labs, provider.accountId) > 0,
    "the grantee's lab key envelopes are published",
    10_000,
  );
  await eventually(
    async () => (await p.records.get(lab.id)) !== null,
    "the provider's lab result reaches the patient",
    10_000,
  );
  const received = await p.records.get(lab.id);
  expect(received?.by).toBe(provider.accountId);
  expect(received?.kind).toBe('LabResult');
  expect(received?.record).toMatchObject({ testName: 'ferritin' });
  await eventually(() => d.sync.state().pendingWrites === 0, 'the provider has nothing pending', 10_000);
  await eventually(() => !noKeyIssue(d, labs, lab.id), "the provider's NO_KEY issue is gone", 10_000);
  expect(anyNoKeyIssue(d)).toBe(false);
  expect(d.sync.unsent()).toEqual([]);
};

describe('a write waiting for its key (NO_KEY)', () => {
  const server = useServer({ realClock: true });

  it('does not hold up what the device receives, and is sent once the key comes', async () => {
    const { t, patient, provider, p, d, net, labs } = await consentWithoutLabKey(server);
    const lab = await addWaitingLab(d, patient, labs);

    // 4. While the lab waits, the patient adds an allergy: the provider receives it within seconds.
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(p);
    const started = Date.now();
    await eventually(
      () => listsAllergy(d, patient.accountId, allergy.id),
      'the provider receives the allergy while its lab waits',
      RECEIVE_WITHIN_MS,
    );
    expect(Date.now() - started).toBeLessThan(RECEIVE_WITHIN_MS);
    // Still the case at hand: the lab is waiting, counted and reported, and not on the server.
    expect(noKeyIssue(d, labs, lab.id)).toBe(true);
    expect(d.sync.state().pendingWrites).toBeGreaterThanOrEqual(1);
    expect(onServer(t, lab.id)).toBe(false);
    expect(await d.records.get(lab.id)).not.toBeNull();

    // 5. The patient's device reconnects; its check wraps the provider's key, and the lab is sent.
    await reconnectPatient(p, net);
    await labArrives(t, p, d, provider, lab, labs);
    expect(onServer(t, lab.id)).toBe(true);
  });

  it('is kept across a restart of the provider app and sent once the key comes', async () => {
    const storage = getRxStorageMemory();
    const dbName = `key-wait-restart-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const { t, patient, provider, p, d, net, labs } = await consentWithoutLabKey(server, { storage, dbName });
    const lab = await addWaitingLab(d, patient, labs);

    // The provider's app closes while the lab waits, and opens again (offline first).
    server.sessions.splice(server.sessions.indexOf(d), 1);
    await d.close();
    const again = await openDevice(t, provider, { storage, dbName, offline: true });
    server.sessions.push(again);
    expect(await again.records.get(lab.id)).not.toBeNull();
    expect(again.sync.state().pendingWrites).toBe(1);
    expect(noKeyIssue(again, labs, lab.id)).toBe(true);

    // Online again, still without the key: it keeps waiting, and receives what the patient adds.
    again.sync.goOnline();
    await waitOnline(again);
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    await allPushed(p);
    await eventually(
      () => listsAllergy(again, patient.accountId, allergy.id),
      'the reopened provider receives the allergy while its lab waits',
      RECEIVE_WITHIN_MS,
    );
    expect(again.sync.state().pendingWrites).toBeGreaterThanOrEqual(1);
    expect(noKeyIssue(again, labs, lab.id)).toBe(true);
    expect(onServer(t, lab.id)).toBe(false);

    // The key comes: the lab is sent from the reopened session, nothing lost across the restart.
    await reconnectPatient(p, net);
    await labArrives(t, p, again, provider, lab, labs);
  });

  it("is dropped with its stream's purge when access ends while it waits, reported UNSENT_PURGED", async () => {
    const { t, patient, p, d, labs } = await consentWithoutLabKey(server);
    const lab = await addWaitingLab(d, patient, labs);
    const grant = (await p.consent.list()).find((g) => g.grant.scope.some((s) => s.type === 'lab-result'));
    expect(grant).toBeDefined();
    await p.consent.revoke(grant!.grant.grantId);
    await eventually(
      () => d.sync.state().errors.some((e) => e.code === 'UNSENT_PURGED' && e.id === lab.id),
      'the waiting lab reported UNSENT_PURGED',
      10_000,
    );
    const purged = d.sync.state().errors.find((e) => e.code === 'UNSENT_PURGED');
    expect(purged).toMatchObject({ stream: labs, records: [{ id: lab.id, kind: 'LabResult' }] });
    expect(JSON.stringify(d.sync.state().errors)).not.toContain('ferritin');
    await eventually(() => d.sync.state().pendingWrites === 0, 'nothing pending after the purge', 5_000);
    expect(noKeyIssue(d, labs, lab.id)).toBe(false);
    expect(await d.records.get(lab.id)).toBeNull();
    expect(d.sync.unsent()).toEqual([]);
    expect(onServer(t, lab.id)).toBe(false);
  });
});
