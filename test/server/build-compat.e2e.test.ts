// Builds of different ages: a server newer than the device adds properties to its answers (as the last
// release did with `wrappingKeySig`). The device ignores them, HTTP and WebSocket alike, and keeps working;
// the server, for its part, still refuses anything it does not know in a request.
import { describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import type { ClientFrame } from '@hale/protocol';
import {
  createAccount,
  createHttpApi,
  joinWithPassphrase,
  memoryVault,
  unlock,
  type FetchLike,
  type WebSocketLike,
} from '@hale/client/advanced';
import { connect, http, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  createWebSocket,
  ed,
  eventually,
  newDevice,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const PASS = 'correct horse battery staple';

/** `json` with a property added to every object, at every depth (not inside error `details`, a record). */
const withAdded = (value: unknown, inDetails = false): unknown => {
  if (Array.isArray(value)) return value.map((item) => withAdded(item, inDetails));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = withAdded(item, inDetails || key === 'details');
  if (!inDetails) out['addedByNewerServer'] = { since: 'a later release', n: 1 };
  return out;
};

let rewritten = 0;

/** fetch to the real server, every JSON answer (success or error) rewritten as a newer server would send it. */
const newerServerFetch: FetchLike = async (url, init) => {
  const res = await fetch(url, init);
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
  const body = isJson ? JSON.stringify(withAdded(JSON.parse(text))) : text;
  if (isJson) rewritten++;
  return {
    status: res.status,
    ok: res.ok,
    headers: res.headers,
    json: async () => JSON.parse(body) as unknown,
    text: async () => body,
    arrayBuffer: async () => new TextEncoder().encode(body).buffer,
  };
};

/** A real socket to the real server, every frame it receives rewritten as a newer server would send it. */
const newerServerSocket = (url: string): WebSocketLike => {
  const inner = createWebSocket(url);
  const outer: WebSocketLike = {
    get readyState() {
      return inner.readyState;
    },
    send: (data) => inner.send(data),
    close: (code, reason) => inner.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  inner.onopen = (ev) => outer.onopen?.(ev);
  inner.onmessage = (ev) => {
    const data = typeof ev.data === 'string' ? JSON.stringify(withAdded(JSON.parse(ev.data))) : ev.data;
    if (typeof ev.data === 'string') rewritten++;
    outer.onmessage?.({ data });
  };
  inner.onclose = (ev) => outer.onclose?.(ev);
  inner.onerror = (ev) => outer.onerror?.(ev);
  return outer;
};

describe('a device talking to a server newer than itself', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('creates an account, joins a second device and unlocks over HTTP answers with added properties', async () => {
    const api = createHttpApi({ baseUrl: server.t.url, fetch: newerServerFetch });
    const before = rewritten;
    const first = { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true };
    const loginName = `compat-${Date.now().toString(36)}`;
    const { account } = await createAccount(first, {
      role: 'patient',
      passphrase: PASS,
      loginName,
      deviceName: 'a',
    });
    const second = { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true };
    const joined = await joinWithPassphrase(second, { loginName, passphrase: PASS, deviceName: 'b' });
    expect(joined.accountId).toBe(account.accountId);
    expect((await unlock(second, { passphrase: PASS })).accountId).toBe(account.accountId);
    // An error answer with added properties still carries its code.
    await expect(api.getAccount('A'.repeat(22))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(rewritten).toBeGreaterThan(before);
  });

  it('syncs between two devices over WebSocket frames with added properties', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const before = rewritten;
    const a = await openDevice(t, patient, { createWebSocket: newerServerSocket });
    const b = await openDevice(t, patient, { device: second, createWebSocket: newerServerSocket });
    sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);
    await eventually(async () => (await b.records.get(added.id)) !== null, 'the second device receives it');
    const got = await b.records.get<'Allergy'>(added.id);
    expect(got?.record.substance).toBe('Penicillin');
    expect(JSON.stringify(got)).not.toContain('addedByNewerServer');
    expect(rewritten).toBeGreaterThan(before);
  });

  it('the server still refuses requests with a property it does not know, HTTP and WebSocket', async () => {
    const t = server.t;
    const join = await http(t.url, 'POST', '/v1/join', { loginName: 'nobody-here', addedByNewerClient: 1 });
    expect(join.status).toBe(400);
    expect(join.body).toMatchObject({ code: 'BAD_MESSAGE' });

    const patient = await registerAccount(t);
    const client = await connect(t, patient.device);
    try {
      const rid = client.rid();
      const refused = await client.request({ t: 'ping', rid, addedByNewerClient: 1 } as ClientFrame);
      expect(refused).toMatchObject({ t: 'error', rid, code: 'BAD_MESSAGE' });
      expect(await client.request({ t: 'ping', rid: client.rid() })).toMatchObject({ t: 'pong' });
    } finally {
      await client.close();
    }
  });
});
