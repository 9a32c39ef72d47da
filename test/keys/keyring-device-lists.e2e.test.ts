// A provider following a clinic checks, at connect, the key envelopes of every patient's streams against
// each patient's certified devices. It asked for those device lists one account per request (400 requests
// for 400 patients); it now loads them in batches (`POST /v1/accounts/lookup`), falling back to one at a
// time against a server without the route. And its keyring plans its envelope slices from the engine's
// stream list instead of asking for one of its own, and takes the key of a stream granted while it runs.
//
// The clinic's other patients' grants and envelopes are written straight into the store (as in
// many-envelopes.e2e.test.ts): their envelopes name each patient's real device as signer but are signed by
// nobody, so the device looks up every patient's list and then refuses the envelope.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { GRANTABLE_STREAM_TYPES, MAX_ACCOUNTS_PER_LOOKUP, type ClientFrame } from '@hale/protocol';
import {
  createHttpApi,
  createSessionManager,
  openDeviceSession,
  type DeviceSession,
  type FetchLike,
} from '@hale/client/advanced';
import { base64urlEncode, generateRootSecret, keyId, wrapKey } from '@hale/crypto';
import {
  insertRawGrants,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useCryptoWorker, useServer } from '../support/fixture';
import {
  allPushed,
  ed,
  eventually,
  getAccountFrom,
  grantRead,
  interceptedWebSocket,
  openDevice,
  sessionAccount,
  type FrameHooks,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;
const scope = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));

/**
 * `n` patients, each granting `grantee` every record type, with one envelope per stream for `grantee`
 * naming the patient's device as signer but signed by nobody.
 */
const clinic = async (t: TestServer, grantee: TestAccount, n: number): Promise<TestAccount[]> => {
  const patients: TestAccount[] = [];
  for (let i = 0; i < n; i++) {
    const patient = await registerAccount(t);
    insertRawGrants(t.store, patient, grantee, 1, { now: Date.now(), scope });
    patients.push(patient);
  }
  const insert = t.store.db.prepare(
    `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const key = generateRootSecret();
  const wrapped = wrapKey(key, grantee.keys.wrapping.publicKey, { stream: 'any', epoch: 0 });
  const sig = base64urlEncode(new Uint8Array([...generateRootSecret(), ...generateRootSecret()]));
  const at = new Date().toISOString();
  t.store.db.transaction(() => {
    for (const patient of patients) {
      for (const type of GRANTABLE_STREAM_TYPES) {
        insert.run(
          `${patient.accountId}/${type}`,
          0,
          grantee.accountId,
          keyId(key),
          wrapped,
          patient.device.deviceId,
          sig,
          at,
        );
      }
    }
  })();
  return patients;
};

/** The frames a device sent, by type, and whether its connect-time key refresh is done. */
const frameLog = () => {
  const sent: Array<ClientFrame & { t: string }> = [];
  const hooks: FrameHooks = {
    sent: (text, send) => {
      sent.push(JSON.parse(text) as ClientFrame);
      send(text);
    },
  };
  return {
    sent,
    hooks,
    /** The rotation check reads the grants once the keyring's refresh at connect ended. */
    refreshed: () => sent.some((f) => f.t === 'listGrants'),
  };
};

/** One real patient with an allergy, granted to `provider`; the patient's device stays open. */
const patientWithAllergy = async (t: TestServer, provider: TestAccount, sessions: DeviceSession[]) => {
  const patient = await registerAccount(t);
  const p = await openDevice(t, patient);
  sessions.push(p);
  const allergy = await p.records.add('Allergy', input('Allergy'));
  await allPushed(p);
  await p.consent.verifyProvider(provider.accountId);
  await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
  return { patient, p, allergy };
};

// HALE_CRYPTO_WORKER=1 (a project of vitest.config.ts) runs the device's cryptography on a worker.
const offload = process.env['HALE_CRYPTO_WORKER'] === '1' ? useCryptoWorker() : undefined;

/**
 * The provider's device, counting its single account lookups (`getAccount`) and its batched ones
 * (`getAccounts`, over the real HTTP API with a bearer session; `lookupFetch` stands in for its fetch).
 */
const openProvider = async (
  t: TestServer,
  provider: TestAccount,
  options: { hooks: FrameHooks; batched: boolean; lookupFetch?: FetchLike; offline?: boolean },
) => {
  const singles: string[] = [];
  const batches: string[][] = [];
  const single = getAccountFrom(t);
  const api = createHttpApi({ baseUrl: t.url, fetch: options.lookupFetch ?? fetch });
  const sessions = createSessionManager({
    api: createHttpApi({ baseUrl: t.url, fetch }),
    device: { deviceId: provider.device.deviceId, secretKey: provider.device.keys.secretKey },
    ed,
  });
  const getAccounts = async (accountIds: string[]) => {
    batches.push(accountIds);
    return sessions.withToken((token) => api.lookupAccounts({ accountIds }, token));
  };
  const d = await openDeviceSession({
    account: sessionAccount(provider),
    serverUrl: t.url,
    createWebSocket: interceptedWebSocket(options.hooks),
    storage: getRxStorageMemory(),
    getAccount: async (accountId) => {
      singles.push(accountId);
      return single(accountId);
    },
    ...(options.batched ? { getAccounts } : {}),
    ed,
    dbName: `keyring-lists-${provider.accountId}-${Date.now()}`,
    ...(options.offline ? { offline: true } : {}),
    ...(offload ? { cryptoOffload: offload } : {}),
  });
  return { d, singles, batches };
};

describe("a clinic's provider checking its patients' key envelopes at connect", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('loads the device lists in batches, none one account at a time', { timeout: 240_000 }, async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    const patients = await clinic(t, provider, MAX_ACCOUNTS_PER_LOOKUP + 50);
    const { patient, allergy } = await patientWithAllergy(t, provider, sessions);
    const log = frameLog();
    const { d, singles, batches } = await openProvider(t, provider, { hooks: log.hooks, batched: true });
    sessions.push(d);
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider has the allergy');
    await eventually(log.refreshed, 'the key refresh at connect is done', 120_000);

    const everyone = [...patients.map((x) => x.accountId), patient.accountId].sort();
    // Every patient's list in exactly one batch, each batch within the protocol's bound...
    expect(batches.flat().sort()).toEqual(everyone);
    expect(batches.every((b) => b.length <= MAX_ACCOUNTS_PER_LOOKUP)).toBe(true);
    expect(batches.length).toBe(Math.ceil(everyone.length / MAX_ACCOUNTS_PER_LOOKUP));
    // ...and not one patient asked for alone.
    expect(singles.filter((id) => everyone.includes(id))).toEqual([]);
    // The refresh was sliced (the server's list was there to plan it) and took every envelope.
    const slices = log.sent.filter((f) => f.t === 'getEnvelopes');
    expect(slices.length).toBeGreaterThan(1);
    expect(d.sync.state().errors).toEqual([]);
  });

  it('against a server without the batched route, looks the accounts up one at a time', async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    const patients = await clinic(t, provider, 40);
    const { patient, allergy } = await patientWithAllergy(t, provider, sessions);
    // An older server: the route is not there (the real server's answer for a path it does not have).
    const older: FetchLike = (url, init) =>
      fetch(url.replace('/v1/accounts/lookup', '/v1/accounts/lookup-not-here'), init);
    const log = frameLog();
    const { d, singles, batches } = await openProvider(t, provider, {
      hooks: log.hooks,
      batched: true,
      lookupFetch: older,
    });
    sessions.push(d);
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider has the allergy');
    await eventually(log.refreshed, 'the key refresh at connect is done', 60_000);

    // Asked once on this connection, then every account alone, each once.
    expect(batches).toHaveLength(1);
    const everyone = [...patients.map((x) => x.accountId), patient.accountId].sort();
    expect(singles.filter((id) => everyone.includes(id)).sort()).toEqual(everyone);
    expect(d.sync.state().errors).toEqual([]);
  });

  it('plans its slices from the one stream listing of the connection, asking for no list of its own', async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    await clinic(t, provider, 40);
    const log = frameLog();
    const { d } = await openProvider(t, provider, { hooks: log.hooks, batched: true, offline: true });
    sessions.push(d);
    d.sync.goOnline();
    await eventually(log.refreshed, 'the key refresh at connect is done', 60_000);
    // The engine and the keyring list at connect; one listing (one page here) serves both.
    expect(log.sent.filter((f) => f.t === 'listStreams')).toHaveLength(1);
    // It had a list all the same: its requests named slices of streams, never all at once.
    const asked = log.sent.filter((f): f is ClientFrame & { t: 'getEnvelopes' } => f.t === 'getEnvelopes');
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.every((f) => f.streams !== undefined)).toBe(true);
    expect(d.sync.state().errors).toEqual([]);
  });

  it('takes the key of a stream granted while its sliced refresh runs; nothing fails or stalls', async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    await clinic(t, provider, 40);
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    const allergy = await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    const stream = `${patient.accountId}/allergy`;

    // The first slice of the refresh is held until the grant made meanwhile reached the device.
    const sent: Array<{ t: string; streams?: string[] }> = [];
    const gate: { release: (() => void) | null; granted: boolean } = { release: null, granted: false };
    const hooks: FrameHooks = {
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t: string; streams?: string[] };
        sent.push(frame);
        if (frame.t === 'getEnvelopes' && gate.release === null) gate.release = () => send(text);
        else send(text);
      },
      received: (text, deliver) => {
        deliver();
        if (text.startsWith('{"t":"accessChanged"') && text.includes(stream)) gate.granted = true;
      },
    };
    const { d } = await openProvider(t, provider, { hooks, batched: true });
    sessions.push(d);
    await eventually(() => gate.release !== null, 'the first slice is asked for');
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
    await eventually(() => gate.granted, 'the grant reached the provider');
    gate.release?.();
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider has the allergy');
    await eventually(() => sent.some((f) => f.t === 'listGrants'), 'the key refresh at connect is done');
    expect(d.sync.state().quarantined).toBe(0);
    expect(d.sync.state().errors).toEqual([]);
    // At most the refresh's own request and one on demand named it.
    expect(
      sent.filter((f) => f.t === 'getEnvelopes' && f.streams?.includes(stream)).length,
    ).toBeLessThanOrEqual(2);
  });
});
