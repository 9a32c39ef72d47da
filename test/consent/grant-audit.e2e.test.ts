// A grant that stands on the server must have exactly one `consent-grant` entry in the patient's audit
// log, whichever of the patient's devices learns that it stands. Before, the entry was appended only when
// `grant` resolved: a grant whose answer was lost (the server stored it, the connection dropped before
// its `ok` arrived) stood with no entry on any device, missing from the audit trail and `disclosures()`.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { openDeviceSession, SyncError, type DeviceSession, type WebSocketLike } from '@hale/client/advanced';
import {
  addDevice,
  registerAccount,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  createWebSocket,
  ed,
  eventually,
  getAccountFrom,
  getDeviceFrom,
  grantRead,
  losingAnswer,
  sessionAccount,
  waitOnline,
} from '../support/devices';

const DAY = 24 * 3_600_000;
const REFRESH_MS = 300;

let dbCounter = 0;

/** A patient device whose server grant list is read every `REFRESH_MS` (the default is minutes). */
const open = (
  t: TestServer,
  account: TestAccount,
  device?: TestDevice,
  socket: (url: string) => WebSocketLike = createWebSocket,
): Promise<DeviceSession> =>
  openDeviceSession({
    account: sessionAccount(account, device),
    serverUrl: t.url,
    createWebSocket: socket,
    storage: getRxStorageMemory(),
    getAccount: getAccountFrom(t),
    getDevice: getDeviceFrom(t),
    getServerInfo: async () =>
      (await (await fetch(`${t.url}/v1/server`)).json()) as { serverId: string; publicKey: string },
    ed,
    dbName: `grant-audit${++dbCounter}`,
    grantRefreshMs: REFRESH_MS,
  });

/** The patient's `consent-grant` entries for `grantId` as served, each by its author device. */
const grantEntries = async (reader: DeviceSession, grantId: string): Promise<string[]> =>
  (await reader.audit.entries())
    .filter((e) => e.source === 'patient' && e.body.action === 'consent-grant')
    .filter((e) => e.body.kind === 'AuditEntry' && e.body.grantId === grantId)
    .map((e) => e.author);

/** Waits until `grantId`'s entries were served for a while without changing, and answers them. */
const settledEntries = async (reader: DeviceSession, grantId: string): Promise<string[]> => {
  await eventually(
    async () => (await grantEntries(reader, grantId)).length > 0,
    'a consent-grant entry',
    8_000,
  );
  // Several refreshes of every device's grant list: a duplicate would be appended meanwhile.
  await new Promise((r) => setTimeout(r, 6 * REFRESH_MS));
  await eventually(async () => (await reader.audit.pendingCount()) === 0, 'outbox drained', 5_000);
  return grantEntries(reader, grantId);
};

/** The `grantId` a GrantUnconfirmed rejection carries. */
const unconfirmedId = (error: unknown): string => {
  if (error instanceof SyncError && 'grantId' in error && typeof error.grantId === 'string') {
    return error.grantId;
  }
  throw new Error(`not a GrantUnconfirmed: ${String(error)}`);
};

describe('a grant that stands has exactly one consent-grant audit entry', () => {
  const server = useServer({ realClock: true });

  it('its answer lost: after the reconnect the granting device appends it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const lossy = losingAnswer('grant');
    const a = await open(t, patient, undefined, lossy.createWebSocket);
    server.sessions.push(a);
    await waitOnline(a);

    lossy.arm();
    const grantId = await grantRead(a, provider.accountId, 'allergy', DAY, 'second opinion').then(
      () => 'resolved',
      unconfirmedId,
    );
    await lossy.cut;
    await eventually(
      async () => (await a.consent.list()).some((g) => g.grant.grantId === grantId && g.status === 'active'),
      'the grant stands',
    );
    const entries = await settledEntries(a, grantId);
    const disclosed = (await a.audit.disclosures()).filter((d) => d.recipient === provider.accountId);
    console.log(`lost answer: ${entries.length} consent-grant entr(ies), ${disclosed.length} disclosure(s)`);
    expect(entries).toEqual([patient.device.deviceId]);
    expect(disclosed).toHaveLength(1);
    expect(disclosed[0]).toMatchObject({ recordTypes: ['allergy'], purpose: 'second opinion' });
  });

  it('its answer lost and the granting device closed: another device of the patient appends it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    const lossy = losingAnswer('grant');
    const a = await open(t, patient, undefined, lossy.createWebSocket);
    const b = await open(t, patient, bDevice);
    server.sessions.push(b);
    await Promise.all([waitOnline(a), waitOnline(b)]);

    lossy.arm();
    const granting = grantRead(a, provider.accountId, 'allergy', DAY, 'lab review').then(
      () => 'resolved',
      unconfirmedId,
    );
    await lossy.cut;
    await a.close();
    const grantId = await granting;
    await eventually(
      async () => (await b.consent.list()).some((g) => g.grant.grantId === grantId),
      'B learns the grant stands',
    );
    const entries = await settledEntries(b, grantId);
    console.log(`lost answer, A closed: ${entries.length} consent-grant entr(ies)`);
    expect(entries).toEqual([bDevice.keys.deviceId]);
    expect((await b.audit.disclosures()).filter((d) => d.recipient === provider.accountId)).toHaveLength(1);
  });

  it('confirmed on A: A appends it, and B, learning of it, appends none', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    const a = await open(t, patient);
    const b = await open(t, patient, bDevice);
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);

    const granted = await grantRead(a, provider.accountId, 'allergy', DAY, 'follow-up');
    const grantId = granted.grant.grantId;
    await eventually(
      async () => (await b.consent.list()).some((g) => g.grant.grantId === grantId),
      'B learns of the grant',
    );
    const entries = await settledEntries(b, grantId);
    console.log(`confirmed on A: ${entries.length} consent-grant entr(ies)`);
    expect(entries).toEqual([patient.device.deviceId]);
  });

  it('recorded by two devices at once (the rare race): disclosures() lists the grant once', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const a = await open(t, patient);
    const b = await open(t, patient, await addDevice(t, patient));
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const granted = await grantRead(a, provider.accountId, 'allergy', DAY, 'follow-up');
    // As a device that found it standing with no entry served yet would have appended it.
    const { grant } = granted;
    await b.audit.append(patient.accountId, {
      action: 'consent-grant',
      summary: 'consent-grant',
      grantId: grant.grantId,
      granteeId: grant.granteeId,
      scope: grant.scope,
      expiresAt: grant.expiresAt,
      purpose: 'follow-up',
    });
    await b.audit.flush();
    await eventually(async () => (await grantEntries(b, grant.grantId)).length === 2, 'both entries served');
    const disclosed = (await b.audit.disclosures()).filter((d) => d.recipient === provider.accountId);
    console.log(`two entries for one grant: ${disclosed.length} disclosure(s)`);
    expect(disclosed).toHaveLength(1);
  });
});
