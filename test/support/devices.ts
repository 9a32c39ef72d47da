// Real devices for end-to-end tests: the client library over RxDB memory storage, talking to a real
// server on a loopback port through real WebSockets (the `ws` package provides the WHATWG interface).
import type { GrantableStreamType } from '@hale/protocol';
import WebSocket from 'ws';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage } from 'rxdb';
import { firstValueFrom, filter, throwError, timeout } from 'rxjs';
import {
  createAccount,
  createHttpApi,
  joinWithPassphrase,
  memoryVault,
  openDeviceSession,
  type AccountDeps,
  type RecordInput,
  type CryptoJob,
  type CryptoOffload,
  type DeviceSession,
  type DeviceAccount,
  type DeviceSessionOptions,
  type FetchLike,
  type UnlockedAccount,
  type Vault,
  type WebSocketLike,
} from '@hale/client/advanced';
import { TEST_KDF, type Ed25519 } from '@hale/crypto';
import { createNodeEd25519, createNodeX25519 } from '@hale/crypto/node';
import { createTestCryptoOffload, onCryptoWorkerProject } from './test-offload';
import { input } from './records';
import {
  addDevice,
  registerAccount,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';

export const ed = createNodeEd25519();
/** node:crypto's X25519, as @hale/platform-node gives it: the same sealed boxes as tweetnacl's, faster. */
export const x25519 = createNodeX25519();
export const createWebSocket = (url: string): WebSocketLike => new WebSocket(url) as unknown as WebSocketLike;

/** An account made through the client's own account API, as the test helpers take one. */
export const asTestAccount = (a: UnlockedAccount): TestAccount => ({
  accountId: a.accountId,
  role: a.role,
  root: a.root,
  keys: a.keys,
  device: { keys: a.device, deviceId: a.device.deviceId },
  loginName: a.loginName ?? '',
});

/**
 * What `interceptedWebSocket` lets a test do with each frame (JSON text): pass it on, changed or not, now,
 * later or never. Without a hook, frames pass unchanged.
 */
export interface FrameHooks {
  /** A frame the device sends; `send` passes it (or another text) to the server. */
  sent?: (text: string, send: (text: string) => void) => void;
  /** A frame the server sends; `deliver` hands it (or the text given) to the device. */
  received?: (text: string, deliver: (text?: string) => void) => void;
}

/** A socket factory for `openDevice` whose frames pass through `hooks` (a real `ws` socket underneath). */
export const interceptedWebSocket =
  (hooks: FrameHooks) =>
  (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const like: WebSocketLike = {
      get readyState() {
        return ws.readyState;
      },
      send: (data: string) => (hooks.sent ? hooks.sent(data, (text) => ws.send(text)) : ws.send(data)),
      close: (code?: number, reason?: string) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = (ev) => like.onopen?.(ev);
    ws.onclose = (ev) => like.onclose?.({ code: ev.code, reason: ev.reason });
    ws.onerror = (ev) => like.onerror?.(ev);
    ws.onmessage = (ev) => {
      const data: unknown = ev.data;
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : typeof data === 'string' ? data : '';
      const deliver = (replaced?: string): void => like.onmessage?.({ data: replaced ?? text });
      if (hooks.received) hooks.received(text, deliver);
      else deliver();
    };
    return like;
  };

/**
 * A socket factory that, once `arm`ed, keeps from the device the answer to the next frame of type `t`
 * and then drops the socket: the server acted on it, the device never hears so. `cut` resolves then.
 */
export const losingAnswer = (t: string) => {
  let armed = false;
  let rid: unknown;
  let socket: WebSocketLike | undefined;
  let resolveCut = (): void => undefined;
  const cut = new Promise<void>((r) => (resolveCut = r));
  const intercepted = interceptedWebSocket({
    sent: (text, send) => {
      const frame = JSON.parse(text) as { t: string; rid?: unknown };
      if (armed && frame.t === t) rid = frame.rid;
      send(text);
    },
    received: (text, deliver) => {
      const frame = JSON.parse(text) as { rid?: unknown };
      if (rid !== undefined && frame.rid === rid) {
        armed = false;
        rid = undefined;
        resolveCut();
        return socket?.close();
      }
      deliver();
    },
  });
  return {
    arm: () => void (armed = true),
    cut,
    createWebSocket: (url: string): WebSocketLike => (socket = intercepted(url)),
  };
};

let dbCounter = 0;

export const getAccountFrom = (t: TestServer) => async (accountId: string) => {
  const res = await fetch(`${t.url}/v1/accounts/${accountId}`);
  if (res.status !== 200) throw new Error(`getAccount ${res.status}`);
  return (await res.json()) as {
    accountId: string;
    identityPublicKey: string;
    wrappingPublicKey: string;
    role: 'patient' | 'provider';
    devices: unknown[];
  };
};

/** One device of an account, revoked ones too (`GET /v1/accounts/:accountId/devices/:deviceId`). */
export const getDeviceFrom = (t: TestServer) => async (accountId: string, deviceId: string) => {
  const res = await fetch(`${t.url}/v1/accounts/${accountId}/devices/${deviceId}`);
  // The status, as the client's HttpApi error carries it: a 404 is "no such device", not a failure to ask.
  if (res.status !== 200) throw Object.assign(new Error(`getDevice ${res.status}`), { status: res.status });
  return (await res.json()) as { certificate: unknown; revokedAt?: string; revocation?: unknown };
};

export const sessionAccount = (account: TestAccount, device: TestDevice = account.device): DeviceAccount => ({
  accountId: account.accountId,
  role: account.role,
  root: account.root,
  keys: account.keys,
  device: device.keys,
});

/** Jobs the worker project's shared worker was sent, by op (what `workerProjectJobs` answers). */
const workerJobs = new Map<CryptoJob['op'], number>();

// HALE_CRYPTO_WORKER=1 (a project of vitest.config.ts) runs every device's cryptography on one worker,
// counting the jobs it sends there (sync/crypto-worker-project.e2e checks that the project uses the worker).
const workerByDefault = ((): CryptoOffload | undefined => {
  if (!onCryptoWorkerProject) return undefined;
  const worker = createTestCryptoOffload();
  return {
    ...(worker.minBatch === undefined ? {} : { minBatch: worker.minBatch }),
    run: (job) => {
      workerJobs.set(job.op, (workerJobs.get(job.op) ?? 0) + 1);
      return worker.run(job);
    },
  };
})();

/** How many jobs of each op the shared worker of the worker project was sent so far in this file. */
export const workerProjectJobs = (): ReadonlyMap<CryptoJob['op'], number> => new Map(workerJobs);

const offloadOption = (offload: CryptoOffload | undefined) => (offload ? { cryptoOffload: offload } : {});

/**
 * Where `openDevice`'s session looks accounts and devices up: `harness`, the fetch helpers above;
 * `http-api`, the client's own HTTP API, as an app opens a device (its answers validated);
 * `no-device-lookup`, the helpers without `getDevice`, as an older build opens one (author rules without
 * revoked devices).
 */
export type DeviceLookups = 'harness' | 'http-api' | 'no-device-lookup';

const lookupOptions = (
  t: TestServer,
  serverUrl: string,
  lookups: DeviceLookups,
): Pick<DeviceSessionOptions, 'getAccount' | 'getDevice' | 'getServerInfo'> => {
  if (lookups === 'http-api') {
    const api = createHttpApi({ baseUrl: serverUrl, fetch });
    return {
      getAccount: (accountId) => api.getAccount(accountId),
      getDevice: (accountId, deviceId) => api.getAccountDevice(accountId, deviceId),
      getServerInfo: () => api.serverInfo(),
    };
  }
  const getServerInfo = async () =>
    (await (await fetch(`${serverUrl}/v1/server`)).json()) as { serverId: string; publicKey: string };
  return {
    getAccount: getAccountFrom(t),
    ...(lookups === 'harness' ? { getDevice: getDeviceFrom(t) } : {}),
    getServerInfo,
  };
};

export const openDevice = async (
  t: TestServer,
  account: TestAccount,
  options: {
    device?: TestDevice;
    offline?: boolean;
    now?: () => number;
    batchSize?: number;
    serverUrl?: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    storage?: RxStorage<any, any>;
    dbName?: string;
    cryptoOffload?: CryptoOffload;
    /** The account object to open with (an `UnlockedAccount`) instead of one built from `account`. */
    sessionAccount?: DeviceAccount;
    /** Lets the session take a passphrase changed elsewhere (both), or only report it exactly (vault). */
    vault?: Vault;
    api?: DeviceSessionOptions['api'];
    createWebSocket?: (url: string) => WebSocketLike;
    lookups?: DeviceLookups;
    /** How often a patient device reads the server's grant list (the default is minutes). */
    grantRefreshMs?: number;
    /** The device's Ed25519 (default: node:crypto's, verifying inline). */
    ed?: Ed25519;
  } = {},
): Promise<DeviceSession> =>
  openDeviceSession({
    account: options.sessionAccount ?? sessionAccount(account, options.device),
    serverUrl: options.serverUrl ?? t.url,
    createWebSocket: options.createWebSocket ?? createWebSocket,
    storage: options.storage ?? getRxStorageMemory(),
    ...lookupOptions(t, options.serverUrl ?? t.url, options.lookups ?? 'harness'),
    ed: options.ed ?? ed,
    x25519,
    dbName: options.dbName ?? `e2e${++dbCounter}`,
    ...(options.offline ? { offline: true } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.vault ? { vault: options.vault } : {}),
    ...(options.api ? { api: options.api } : {}),
    ...(options.grantRefreshMs === undefined ? {} : { grantRefreshMs: options.grantRefreshMs }),
    ...offloadOption(options.cryptoOffload ?? workerByDefault),
  });

export const newDevice = (t: TestServer, account: TestAccount) => addDevice(t, account);

/** `patient` grants `granteeId` read access to one record type for `durationMs`. */
export const grantRead = (
  patient: DeviceSession,
  granteeId: string,
  type: GrantableStreamType,
  durationMs: number,
  purpose: string,
) => patient.consent.grant({ granteeId, scope: [{ type, access: 'read' }], durationMs, purpose });

/** `patient` grants `granteeId` write access to one record type for `durationMs`. */
export const grantWrite = (
  patient: DeviceSession,
  granteeId: string,
  type: GrantableStreamType,
  durationMs: number,
  purpose = 'follow-up',
) => patient.consent.grant({ granteeId, scope: [{ type, access: 'write' }], durationMs, purpose });

/**
 * A patient with one lab result and a provider device (opened as `dbName`, if given, to be reopened) that
 * holds verified write consent to the patient's lab results for an hour and has received the lab result.
 * Both devices are added to `sessions`; `now` (both devices' clock) and `storage` (the provider's) are
 * passed on.
 */
export const providerWithLabWrite = async (
  t: TestServer,
  sessions: DeviceSession[],
  options: {
    lab: RecordInput<'LabResult'>;
    dbName?: string;
    now?: () => number;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    storage?: RxStorage<any, any>;
  },
) => {
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const clock = options.now ? { now: options.now } : {};
  const p = await openDevice(t, patient, clock);
  sessions.push(p);
  const lab = await p.records.add('LabResult', options.lab);
  await allPushed(p);
  const d = await openDevice(t, provider, {
    ...clock,
    ...(options.dbName ? { dbName: options.dbName } : {}),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  sessions.push(d);
  await waitOnline(d);
  await p.consent.verifyProvider(provider.accountId);
  await grantWrite(p, provider.accountId, 'lab-result', 3_600_000);
  await eventually(async () => (await d.records.get(lab.id)) !== null, 'the provider has the lab result');
  return { patient, provider, p, d, lab, stream: `${patient.accountId}/lab-result` };
};

/** Waits until every local write of `s` was acknowledged by the server. */
export const allPushed = (s: DeviceSession, what = 'pushed'): Promise<void> =>
  eventually(() => s.sync.state().pendingWrites === 0, what);

/**
 * As `allPushed`, but on `state$` instead of polling: resolves at the state change itself (as the
 * count is only changed through `state$`, both wait for the same thing).
 */
export const whenAllPushed = (s: DeviceSession, what = 'pushed'): Promise<unknown> =>
  whenState(s, (x) => x.pendingWrites === 0, what);

/** Waits until `s`'s sync state satisfies `check` (now or at a later change); fails with `what` after `ms`. */
export const whenState = (
  s: DeviceSession,
  check: (state: ReturnType<DeviceSession['sync']['state']>) => boolean,
  what: string,
  ms = 15_000,
): Promise<unknown> =>
  firstValueFrom(
    s.sync.state$.pipe(
      filter(check),
      timeout({ first: ms, with: () => throwError(() => new Error(`timed out: ${what}`)) }),
    ),
  );

/** A patient account whose first device (open, added to `sessions`) added `count` allergies the server took. */
export const patientWithAllergies = async (t: TestServer, sessions: DeviceSession[], count: number) => {
  const patient = await registerAccount(t);
  const device = await openDevice(t, patient);
  sessions.push(device);
  for (let i = 0; i < count; i++) await device.records.add('Allergy', input('Allergy'));
  await allPushed(device);
  return { patient, device };
};

/** The account's first device and one added, both open, added to `sessions` to be closed. */
export const openTwoDevices = async (t: TestServer, account: TestAccount, sessions: DeviceSession[]) => {
  const second = await addDevice(t, account);
  const a = await openDevice(t, account);
  const b = await openDevice(t, account, { device: second });
  sessions.push(a, b);
  return { a, b };
};

/** A patient and a provider account with one open device each, added to `sessions` to be closed. */
export const openPatientAndProvider = async (t: TestServer, sessions: DeviceSession[]) => {
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const p = await openDevice(t, patient);
  const d = await openDevice(t, provider);
  sessions.push(p, d);
  return { patient, provider, p, d };
};

/**
 * A patient and a provider, online, the provider holding read consent to the patient's allergies and one
 * allergy pulled; the patient's audit outbox drained (its grant and the server's access entries stored).
 */
export const patientWithAuditedGrant = async (t: TestServer, sessions: DeviceSession[]) => {
  const opened = await openPatientAndProvider(t, sessions);
  const { provider, p, d } = opened;
  await Promise.all([waitOnline(p), waitOnline(d)]);
  const allergy = await p.records.add('Allergy', input('Allergy'));
  await grantRead(p, provider.accountId, 'allergy', 3600_000, 'pre-operative assessment');
  await eventually(async () => (await d.records.get(allergy.id)) !== null, 'provider pulls');
  await p.audit.flushChanges();
  await eventually(async () => (await p.audit.pendingCount()) === 0, 'audit outbox drains');
  return { ...opened, allergy };
};

/** Waits until `check` holds, polling; fails with `what` after `ms`. */
export const eventually = async (
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 15_000,
): Promise<void> => {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

export const waitOnline = (s: DeviceSession) =>
  firstValueFrom(
    s.sync.state$.pipe(
      filter((x) => x.status === 'online'),
      timeout(15_000),
    ),
  );

/**
 * A device of `account` opened online (added to `sessions`), its HTTP API on `fetch` (the real one unless
 * given): for tests that cut or hold the file routes.
 */
export const openOnlineWithFetch = async (
  t: TestServer,
  sessions: DeviceSession[],
  account: TestAccount,
  options: { fetch?: FetchLike; device?: TestDevice } = {},
): Promise<DeviceSession> => {
  const s = await openDevice(t, account, {
    api: createHttpApi({ baseUrl: t.url, fetch: options.fetch ?? fetch }),
    ...(options.device ? { device: options.device } : {}),
  });
  sessions.push(s);
  await waitOnline(s);
  return s;
};

/** Account dependencies over `baseUrl` with a vault of their own (one per device) and the tests' fast KDF. */
export const accountDeps = (baseUrl: string): AccountDeps & { vault: ReturnType<typeof memoryVault> } => ({
  api: createHttpApi({ baseUrl, fetch }),
  vault: memoryVault(),
  ed,
  x25519,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

/**
 * A patient account made on a laptop (`createAccount`, passphrase `the first passphrase`) and joined from a
 * phone with that passphrase, as a person does: both unlocked, each with its own vault.
 */
export const laptopAndPhone = async (baseUrl: string, prefix: string) => {
  const loginName = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  const laptopDeps = accountDeps(baseUrl);
  const { account: laptop } = await createAccount(laptopDeps, {
    role: 'patient',
    passphrase: 'the first passphrase',
    loginName,
    deviceName: 'laptop',
  });
  const phoneDeps = accountDeps(baseUrl);
  const phone = await joinWithPassphrase(phoneDeps, {
    loginName,
    passphrase: 'the first passphrase',
    deviceName: 'phone',
  });
  return { loginName, laptop, laptopDeps, phone, phoneDeps };
};
