// Test harness: a real server on a loopback port over a real SQLite file, and minimal real devices
// (keys, certificates, signed frames over a real WebSocket). Used by the server's tests and benchmarks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  accountSignaturePayload,
  authSignaturePayload,
  decodeServerFrame,
  docSignaturePayload,
  auditSignaturePayload,
  envelopeSignaturePayload,
  grantSignaturePayload,
  revocationSignaturePayload,
  deviceRevocationPayload,
  wrappingKeySignaturePayload,
  wrappedRootSignaturePayload,
  directoryProfilePayload,
  encodeFrame,
  AccessEventBody,
  HttpAccountResponse,
  validate,
  type ClientFrame,
  type Grant,
  type GrantScopeEntry,
  type KeyEnvelope,
  type ProviderProfile,
  type PushDoc,
  type PushedFrame,
  type PushResult,
  type ReadyFrame,
  type ServerFrame,
} from '@hale/protocol';
import {
  TEST_KDF,
  base64urlEncode,
  certifyDevice,
  sealDeviceName,
  sealGrantPurpose,
  deriveAccountKeys,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  generateDeviceKeys,
  generateRootSecret,
  hexEncode,
  keyId,
  openSealed,
  sealRecordVersion,
  sha256,
  signCanonical,
  utf8Decode,
  wrapKey,
  wrapRootWithPassphrase,
  type AccountKeys,
  type DeviceKeys,
  type Ed25519,
  type X25519,
} from '@hale/crypto';
import { newId } from '@hale/model';
import { buildApp, type BuildAppOptions, type HaleServer } from '../app';
import type { AuthenticatedDevice } from '../core/sync-service';
import { openSqliteStore, type SqliteStore, type SyncStore } from '../store/index';
import { createNodeEd25519, createNodeX25519 } from '@hale/crypto/node';

export const ed: Ed25519 = createNodeEd25519();
/** node:crypto's X25519 for the test devices' sealed boxes: the same boxes as tweetnacl's, faster. */
export const x25519: X25519 = createNodeX25519();

export const sign = async (secretKey: Uint8Array, payload: { label: string }): Promise<string> =>
  base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));

export interface TestServer {
  server: HaleServer;
  store: SqliteStore;
  dataDir: string;
  url: string;
  wsUrl: string;
  clock: { now: number; advance(ms: number): void };
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Where a server answers: an in-process TestServer, or a spawned process the tests talk to. */
export type Endpoint = Pick<TestServer, 'url' | 'wsUrl'>;

export const endpoint = (url: string): Endpoint => ({ url, wsUrl: `${url.replace('http', 'ws')}/sync` });

export const startServer = async (
  options: {
    dataDir?: string;
    config?: BuildAppOptions['config'];
    realClock?: boolean;
    /** The server's Ed25519 (a test may hold its signing or verifying at a chosen moment). */
    ed?: Ed25519;
    /** The store the app is given, made from the one opened (a test may hold its reads: held-reads.ts). */
    wrapStore?: (store: SqliteStore) => SyncStore;
    /** Where the server logs (none by default). */
    logger?: BuildAppOptions['logger'];
    /** The port to listen on (any free one by default): a restart on a stopped server's port. */
    port?: number;
  } = {},
): Promise<TestServer> => {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'hale-server-')));
  const store = await openSqliteStore({ dataDir });
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      this.now += ms;
    },
  };
  const server = await buildApp({
    store: options.wrapStore?.(store) ?? store,
    now: options.realClock ? Date.now : () => clock.now,
    ...(options.ed === undefined ? {} : { ed: options.ed }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
      ...options.config,
    },
  });
  const address = await server.app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  return {
    server,
    store,
    dataDir,
    url: address,
    wsUrl: `${address.replace('http', 'ws')}/sync`,
    clock,
    async stop({ keepData = false } = {}) {
      await server.close();
      await store.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
};

export interface TestDevice {
  keys: DeviceKeys;
  deviceId: string;
}

export interface TestAccount {
  root: Uint8Array;
  keys: AccountKeys;
  accountId: string;
  role: 'patient' | 'provider';
  device: TestDevice;
  loginName: string;
}

/** The account's device as the sync service sees it once authenticated (for tests that call it directly). */
export const principalOf = (a: TestAccount): AuthenticatedDevice => ({
  accountId: a.accountId,
  deviceId: a.device.deviceId,
  role: a.role,
  devicePublicKey: a.device.keys.publicKey,
});

const iso = (ms = Date.now()): string => new Date(ms).toISOString();

export const http = async (
  base: string,
  method: string,
  url: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: unknown }> => {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + url, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
};

export const makeDeviceCert = async (
  account: { keys: AccountKeys; accountId: string },
  keys: DeviceKeys,
  name = 'test device',
) =>
  certifyDevice(
    account.keys.identity.secretKey,
    {
      accountId: account.accountId,
      deviceId: keys.deviceId,
      devicePublicKey: keys.publicKey,
      sealedName: sealDeviceName(name, account.keys.wrapping.publicKey, keys.deviceId, x25519),
      createdAt: iso(),
      identityPublicKey: account.keys.identity.publicKey,
    },
    ed,
  );

let loginCounter = 0;

export const TEST_PASSPHRASE = 'correct horse battery staple';

/**
 * A complete, signed POST /v1/accounts body (not sent) and the secrets behind it, as the current client
 * registers: with the wrapping-key and generation-0 wrap signatures (leave them out for an older client's).
 */
export const makeRegistration = async (
  role: 'patient' | 'provider' = 'patient',
  options: { passphrase?: string } = {},
) => {
  const root = generateRootSecret();
  const keys = deriveAccountKeys(root);
  const deviceKeys = generateDeviceKeys();
  const loginName = `user${++loginCounter}${Date.now().toString(36)}`;
  const account = {
    accountId: keys.accountId,
    role,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
    wrappedRoot: (await wrapRootWithPassphrase(
      root,
      options.passphrase ?? TEST_PASSPHRASE,
      TEST_KDF,
    )) as never,
    loginName,
    createdAt: iso(),
  };
  const device = await makeDeviceCert({ keys, accountId: keys.accountId }, deviceKeys);
  const sig = await sign(keys.identity.secretKey, accountSignaturePayload(account));
  const wrappingKeySig = await sign(keys.identity.secretKey, wrappingKeySignaturePayload(account));
  const wrappedRootSig = await sign(
    keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: keys.accountId, wrappedRoot: account.wrappedRoot, gen: 0 }),
  );
  const created: TestAccount = {
    root,
    keys,
    accountId: keys.accountId,
    role,
    device: { keys: deviceKeys, deviceId: deviceKeys.deviceId },
    loginName,
  };
  return { body: { account, device, sig, wrappingKeySig, wrappedRootSig }, account: created };
};

export const registerAccount = async (
  t: Endpoint,
  role: 'patient' | 'provider' = 'patient',
  options: { passphrase?: string } = {},
): Promise<TestAccount> => {
  const { body, account } = await makeRegistration(role, options);
  const res = await http(t.url, 'POST', '/v1/accounts', body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return account;
};

export const addDevice = async (t: Endpoint, account: TestAccount): Promise<TestDevice> => {
  const keys = generateDeviceKeys();
  const device = await makeDeviceCert(account, keys, 'second device');
  const res = await http(t.url, 'POST', '/v1/devices', { device });
  if (res.status !== 201) throw new Error(`add device failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { keys, deviceId: keys.deviceId };
};

/** `GET /v1/accounts/:id`, checked against its schema (200 expected). */
export const getAccountAnswer = async (t: Endpoint, accountId: string): Promise<HttpAccountResponse> => {
  const res = await http(t.url, 'GET', `/v1/accounts/${accountId}`);
  if (res.status !== 200) throw new Error(`get account failed: ${res.status} ${JSON.stringify(res.body)}`);
  const checked = validate(HttpAccountResponse, res.body);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
};

export const revokeDevice = async (t: Endpoint | TestServer, account: TestAccount, device: TestDevice) => {
  const revocation = {
    v: 1 as const,
    accountId: account.accountId,
    deviceId: device.deviceId,
    // Signed on the server's clock, as a device with a right clock would: an in-process server's may
    // have been moved, and the server refuses a revokedAt far from its clock.
    revokedAt: iso('server' in t ? t.server.ctx.now() : Date.now()),
  };
  const sig = await sign(account.keys.identity.secretKey, deviceRevocationPayload(revocation));
  return http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
};

export const sessionToken = async (t: Endpoint, device: TestDevice): Promise<string> => {
  const c = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: device.deviceId });
  if (c.status !== 200) throw new Error(`challenge failed: ${c.status} ${JSON.stringify(c.body)}`);
  const { challengeId, nonce, serverId } = c.body as { challengeId: string; nonce: string; serverId: string };
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce, deviceId: device.deviceId, serverId }),
  );
  const s = await http(t.url, 'POST', '/v1/auth/session', { challengeId, deviceId: device.deviceId, sig });
  if (s.status !== 200) throw new Error(`session failed: ${s.status} ${JSON.stringify(s.body)}`);
  return (s.body as { token: string }).token;
};

/** A real WebSocket client speaking the protocol; replies are matched by rid, other frames collected. */
export interface WsClient {
  ws: WebSocket;
  /** Resolves when the socket closes, with the close code and reason the server gave. */
  closed: Promise<{ code: number; reason: string }>;
  unsolicited: ServerFrame[];
  request<T extends ServerFrame = ServerFrame>(frame: ClientFrame): Promise<T>;
  sendRaw(data: string | Buffer): void;
  nextFrame(): Promise<ServerFrame>;
  waitFor<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, timeoutMs?: number): Promise<T>;
  rid(): number;
  close(): Promise<void>;
}

export const openWs = async (t: Endpoint): Promise<WsClient> => {
  const ws = new WebSocket(t.wsUrl);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
  });
  // Listeners go on before `open` is awaited: a frame sent right at connect (a refusal) must not be lost.
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const pending = new Map<number, (f: ServerFrame) => void>();
  const unsolicited: ServerFrame[] = [];
  const waiters: Array<(f: ServerFrame) => boolean> = [];
  let anyWaiter: ((f: ServerFrame) => void) | null = null;
  ws.on('message', (data: Buffer) => {
    const decoded = decodeServerFrame(data.toString('utf8'));
    if (!decoded.ok) throw new Error(`server sent an invalid frame: ${decoded.error.message}`);
    const frame = decoded.value;
    if (anyWaiter) {
      const w = anyWaiter;
      anyWaiter = null;
      w(frame);
      return;
    }
    const rid = 'rid' in frame ? frame.rid : undefined;
    if (rid !== undefined && pending.has(rid)) {
      pending.get(rid)!(frame);
      pending.delete(rid);
      return;
    }
    unsolicited.push(frame);
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i]!(frame)) {
        waiters.splice(i, 1);
        break;
      }
    }
  });
  await opened;
  let rid = 1;
  return {
    ws,
    closed,
    unsolicited,
    rid: () => rid++,
    request<T extends ServerFrame>(frame: ClientFrame): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const r = 'rid' in frame ? frame.rid : undefined;
        const timer = setTimeout(() => reject(new Error(`no reply to ${frame.t}`)), 10_000);
        const done = (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f as T);
        };
        if (r === undefined) anyWaiter = done;
        else pending.set(r, done);
        ws.send(encodeFrame(frame));
      });
    },
    sendRaw: (data) => ws.send(data),
    nextFrame: () => {
      const queued = unsolicited.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise<ServerFrame>((resolve) => {
        anyWaiter = resolve;
      });
    },
    waitFor<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, timeoutMs = 5_000): Promise<T> {
      const found = unsolicited.find(pred);
      if (found) {
        unsolicited.splice(unsolicited.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
        waiters.push((f) => {
          if (!pred(f)) return false;
          clearTimeout(timer);
          unsolicited.splice(unsolicited.indexOf(f), 1);
          resolve(f);
          return true;
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
};

/**
 * Opens a socket and completes hello → challenge → auth for the device, offering `versions` (default
 * [1]); the answer carries the `ready` frame.
 */
export const connect = async (
  t: Endpoint,
  device: TestDevice,
  options: { versions?: number[] } = {},
): Promise<WsClient & { ready: ReadyFrame }> => {
  const client = await openWs(t);
  const challenge = await client.request({
    t: 'hello',
    versions: options.versions ?? [1],
    deviceId: device.deviceId,
  });
  if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${JSON.stringify(challenge)}`);
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId }),
  );
  const ready = await client.request({ t: 'auth', sig });
  if (ready.t !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return Object.assign(client, { ready });
};

export const streamOf = (patientId: string, type: string) => `${patientId}/${type}` as PushDoc['stream'];

/** Pushes `docs` over `c`, each as new (no assumed revision); answers the result of each. */
export const pushNew = async (c: WsClient, docs: PushDoc[]): Promise<PushResult[]> =>
  (
    await c.request<PushedFrame>({
      t: 'push',
      rid: c.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    })
  ).results;

/** A push result as one word: `ok`, or the error's code. */
export const outcomeOf = (r: PushResult): string => (r.status === 'error' ? r.code : r.status);

/** A real sealed record under the patient's derived epoch-0 key, with a content revision tag. */
export const makeDoc = async (
  patient: TestAccount,
  author: TestDevice,
  type: string,
  data: unknown,
  options: {
    id?: string;
    rv?: number;
    deleted?: boolean;
    epoch?: number;
    key?: Uint8Array;
    signed?: boolean;
  } = {},
): Promise<PushDoc> => {
  const stream = streamOf(patient.accountId, type);
  const id = options.id ?? newId();
  const rv = options.rv ?? 1;
  const deleted = options.deleted ?? false;
  const key = options.key ?? deriveInitialStreamKey(patient.root, stream);
  const epoch0 = deriveInitialStreamKey(patient.root, stream);
  const { sealed: ct, tag: rev } = sealRecordVersion(
    key,
    deriveRevisionTagKey(epoch0),
    { stream, id, epoch: options.epoch ?? 0, rev: rv, deleted },
    data,
  );
  const doc: PushDoc = {
    stream,
    id,
    rev,
    deleted,
    epoch: options.epoch ?? 0,
    ct: base64urlEncode(ct),
    author: author.deviceId,
  };
  if (options.signed ?? true) doc.sig = await sign(author.keys.secretKey, docSignaturePayload(doc));
  return doc;
};

export const makeAuditDoc = async (
  patient: TestAccount,
  author: TestDevice,
  options: { authorSeq?: number; prevHash?: string | null } = {},
): Promise<PushDoc> => {
  const stream = streamOf(patient.accountId, 'audit');
  const ct = base64urlEncode(sha256(new TextEncoder().encode(`entry ${Math.random()}`)));
  const doc = {
    stream,
    id: newId(),
    rev: `1-${hexEncode(sha256(new TextEncoder().encode(ct))).slice(0, 24)}`,
    deleted: false,
    epoch: 0,
    ct,
    author: author.deviceId,
    audit: { authorSeq: options.authorSeq ?? 1, prevHash: options.prevHash ?? null, at: iso() },
  };
  return { ...doc, sig: await sign(author.keys.secretKey, auditSignaturePayload(doc)) };
};

/** `text` sealed as a grant's purpose (`sealGrantPurpose`) to `patient` and `grantee`. */
export const purposeFor = (
  text: string,
  grantId: string,
  patient: Pick<TestAccount, 'keys'>,
  grantee: Pick<TestAccount, 'keys'>,
): Grant['purpose'] =>
  sealGrantPurpose(text, grantId, patient.keys.wrapping.publicKey, grantee.keys.wrapping.publicKey, x25519);

export const makeGrant = async (
  patient: TestAccount,
  grantee: TestAccount,
  scope: GrantScopeEntry[],
  options: {
    start?: number;
    expiresAt?: number;
    purpose?: string;
    signer?: Uint8Array;
    /** The server's (injected) clock; defaults to real time. */
    now?: number;
  } = {},
) => {
  const now = options.now ?? Date.now();
  const grantId = newId();
  const grant: Grant = {
    v: 1,
    grantId,
    patientId: patient.accountId,
    granteeId: grantee.accountId,
    scope,
    start: iso(options.start ?? now - 1000),
    expiresAt: iso(options.expiresAt ?? now + 48 * 3600_000),
    purpose: purposeFor(options.purpose ?? 'treatment', grantId, patient, grantee),
    issuedAt: iso(now),
  };
  return {
    grant,
    sig: await sign(options.signer ?? patient.keys.identity.secretKey, grantSignaturePayload(grant)),
  };
};

export const makeRevocation = async (patient: TestAccount, grantId: string) => {
  const revocation = { v: 1 as const, grantId, patientId: patient.accountId, revokedAt: iso() };
  return {
    revocation,
    sig: await sign(patient.keys.identity.secretKey, revocationSignaturePayload(revocation)),
  };
};

export const makeEnvelope = async (
  patient: TestAccount,
  author: TestDevice,
  recipient: TestAccount,
  type: string,
  epoch = 0,
  key?: Uint8Array,
): Promise<KeyEnvelope> => {
  const stream = streamOf(patient.accountId, type);
  const k = key ?? deriveInitialStreamKey(patient.root, stream);
  const env = {
    stream,
    epoch,
    recipient: recipient.accountId,
    keyId: keyId(k),
    wrapped: wrapKey(k, recipient.keys.wrapping.publicKey, { stream, epoch }, x25519),
    createdBy: author.deviceId,
  };
  return { ...env, sig: await sign(author.keys.secretKey, envelopeSignaturePayload(env)) };
};

/** Attempts hello → challenge → auth; a refusal answers the error code instead of throwing. */
export const tryConnect = async (
  t: Endpoint,
  device: TestDevice,
): Promise<{ ok: true; client: WsClient } | { ok: false; code: string; client: WsClient }> => {
  const client = await openWs(t);
  const challenge = await client.request({ t: 'hello', versions: [1], deviceId: device.deviceId });
  if (challenge.t === 'error') return { ok: false, code: challenge.code, client };
  if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${JSON.stringify(challenge)}`);
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId }),
  );
  const ready = await client.request({ t: 'auth', sig });
  if (ready.t === 'error') return { ok: false, code: ready.code, client };
  if (ready.t !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return { ok: true, client };
};

/** What a WebSocket upgrade attempt got: the open socket, or the HTTP refusal before it and its JSON body. */
export type UpgradeAttempt = { status: 101; ws: WebSocket } | { status: number; body: unknown };

/** Attempts a WebSocket upgrade with `options` (a local address, headers); a refusal resolves, never throws. */
export const tryUpgrade = (t: Endpoint, options: WebSocket.ClientOptions = {}): Promise<UpgradeAttempt> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, options);
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
      });
    });
    ws.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });

/** Resolves true when a frame matching `pred` arrives within `ms`, false otherwise (consumes it). */
export const frameWithin = async (client: WsClient, pred: (f: ServerFrame) => boolean, ms: number) =>
  client
    .waitFor((f: ServerFrame): f is ServerFrame => pred(f), ms)
    .then(
      () => true,
      () => false,
    );

// ---- raw store inspection (tests only; writes would bypass the store's contract) ----

/** An access event the server logged in a patient's audit stream, as the patient's devices open it. */
/** A server access event as devices read it (@hale/protocol AccessEventBody). */
export type ServerAccessEntry = AccessEventBody;

/** The server's access events in `patient`'s audit stream, in chain order, opened with the patient's key. */
export const serverAccessEntries = async (
  t: TestServer,
  patient: TestAccount,
): Promise<ServerAccessEntry[]> => {
  const page = await t.store.docs.readDocs(streamOf(patient.accountId, 'audit'), 0, 10_000, 1 << 24);
  return page.docs
    .filter((d) => d.author === t.server.server.serverId)
    .map((d) => {
      const opened = openSealed(patient.keys.wrapping, d.ct, x25519);
      const text = opened.ok ? utf8Decode(opened.value) : opened;
      if (!text.ok) throw new Error(text.error.message);
      // Checked as strictly as the schema allows: a field the devices would drop is a server defect here.
      const entry = validate(AccessEventBody, JSON.parse(text.value));
      if (!entry.ok) throw new Error(`not an access event: ${text.value}`);
      return entry.value;
    });
};

export const tableNames = (store: SqliteStore): string[] =>
  (
    store.db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as Array<{ name: string }>
  ).map((r) => r.name);

/** Row count of every table: the "nothing was stored" check. */
export const rowCounts = (store: SqliteStore): Record<string, number> =>
  Object.fromEntries(
    tableNames(store).map((name) => [
      name,
      (store.db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n,
    ]),
  );

/** The raw SQLite row of a document (every column), or undefined. */
export const docRow = (store: SqliteStore, stream: string, id: string): Record<string, unknown> | undefined =>
  store.db.prepare('SELECT * FROM docs WHERE stream = ? AND id = ?').get(stream, id) as
    Record<string, unknown> | undefined;

/**
 * Writes `count` grants from `patient` to `grantee` straight into the table, bypassing `grant` and its
 * caps (a flood as an older server, or many strangers together, could have left it), in one transaction.
 * Each carries a well-formed, unchecked signature. `now` places them: started an hour before it, issued
 * one millisecond apart from then; `expiresAt` (default `now` + 48 h) and `revokedAt` choose their state.
 */
export const insertRawGrants = (
  store: SqliteStore,
  patient: Pick<TestAccount, 'accountId'>,
  grantee: Pick<TestAccount, 'accountId'>,
  count: number,
  options: {
    now: number;
    expiresAt?: number;
    revokedAt?: number;
    purpose?: string;
    scope?: Grant['scope'];
  },
): string[] => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const insert = store.db.prepare(
    `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at,
       signed, revoked_at, revocation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  // Well-formed and as long as `options.purpose` sealed (sealGrantPurpose's layout), never opened: the
  // grants' signatures are not real either.
  const textBytes = Buffer.byteLength(options.purpose ?? 'flood');
  const b64 = (bytes: number): string => 'A'.repeat(Math.ceil((bytes * 4) / 3));
  const floodPurpose = {
    ct: b64(40 + Math.ceil((2 + textBytes) / 128) * 128),
    patient: b64(183),
    grantee: b64(183),
  };
  const ids: string[] = [];
  store.db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const grantId = newId();
      const grant: Grant = {
        v: 1,
        grantId,
        patientId: patient.accountId,
        granteeId: grantee.accountId,
        scope: options.scope ?? [{ type: 'allergy', access: 'read' }],
        start: iso(options.now - 3600_000),
        expiresAt: iso(options.expiresAt ?? options.now + 48 * 3600_000),
        purpose: floodPurpose,
        issuedAt: iso(options.now - 3600_000 + i),
      };
      insert.run(
        grant.grantId,
        grant.patientId,
        grant.granteeId,
        JSON.stringify(grant.scope),
        grant.start,
        grant.expiresAt,
        grant.issuedAt,
        JSON.stringify({ grant, sig: 'A'.repeat(86) }),
        options.revokedAt === undefined ? null : iso(options.revokedAt),
      );
      ids.push(grant.grantId);
    }
  })();
  return ids;
};

/**
 * A provider account with real keys and its directory entry, signed by its identity key as a client signs
 * it, written through the store (many at a time without a registration each). `at` (ISO) is its creation
 * and update time; the identifier defaults to one derived from the account id. Returns the account id.
 */
export const insertDirectoryProvider = async (
  store: SqliteStore,
  entry: Omit<ProviderProfile, 'accountId' | 'identifier'> & { identifier?: string },
  at: string,
): Promise<string> => {
  const keys = deriveAccountKeys(generateRootSecret());
  await store.accounts.put({
    accountId: keys.accountId,
    role: 'provider',
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
    wrappedRoot: {},
    wrappedRootGen: 0,
    wrappedRootSig: null,
    createdAt: at,
  });
  const profile: ProviderProfile = {
    accountId: keys.accountId,
    identifier: `NPI-${keys.accountId.slice(0, 6)}`,
    ...entry,
  };
  const sig = await sign(keys.identity.secretKey, directoryProfilePayload(profile));
  await store.directory.putProvider({ ...profile, signed: { profile, sig }, updatedAt: at });
  return keys.accountId;
};

// ---- blobs over HTTP ----

export interface BlobManifestInput {
  blobId: string;
  stream: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  digests: string[];
  /** The key epoch the chunks are sealed under; 0 (a stream without envelopes) when left out. */
  epoch?: number;
}

export const digestOf = (bytes: Uint8Array): string => base64urlEncode(sha256(bytes));

export const createBlob = (t: Endpoint, token: string | undefined, manifest: BlobManifestInput) =>
  http(t.url, 'POST', '/v1/blobs', { epoch: 0, ...manifest }, token);

export const putChunk = async (
  t: Endpoint,
  token: string | undefined,
  blobId: string,
  index: number,
  bytes: Uint8Array,
): Promise<{ status: number; body: unknown }> => {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.url}/v1/blobs/${blobId}/chunks/${index}`, {
    method: 'PUT',
    headers,
    body: bytes,
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
};

/** A chunk's bytes on 200, else the JSON error body. */
export const getChunk = async (
  t: Endpoint,
  token: string | undefined,
  blobId: string,
  index: number,
): Promise<{ status: number; bytes?: Uint8Array; body?: unknown; contentType: string | null }> => {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.url}/v1/blobs/${blobId}/chunks/${index}`, { headers });
  const contentType = res.headers.get('content-type');
  if (res.status === 200) return { status: 200, bytes: new Uint8Array(await res.arrayBuffer()), contentType };
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown, contentType };
  } catch {
    return { status: res.status, body: text, contentType };
  }
};
