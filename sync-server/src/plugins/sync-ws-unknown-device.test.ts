// A device the server holds no registration of (its store was restored from a backup older than the
// device, the device was removed, or the device points at another server) is told so at `hello`:
// NOT_FOUND, closed 4001, no challenge. UNAUTHENTICATED would read as a missed handshake deadline, which
// a device retries for ever. A revoked device is still refused DEVICE_REVOKED, and the HTTP challenge
// route answers an unknown device as it always did.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDeviceKeys } from '@hale/crypto';
import {
  addDevice,
  http,
  openWs,
  registerAccount,
  revokeDevice,
  startServer,
  tryConnect,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';

describe('hello from a device the server does not hold', () => {
  let t: TestServer;
  let patient: TestAccount;
  const clients: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.stop();
  });

  /** Says hello as `deviceId`: the answer, how the socket closed, and every other frame it got. */
  const hello = async (deviceId: string) => {
    const c = await openWs(t);
    clients.push(c);
    const reply = await c.request({ t: 'hello', versions: [1], deviceId });
    return { reply, closed: await c.closed, others: c.unsolicited };
  };

  it('answers a device id it never registered with NOT_FOUND and closes 4001, sending no challenge', async () => {
    const { reply, closed, others } = await hello(generateDeviceKeys().deviceId);
    expect(reply).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
    expect(closed).toEqual({ code: 4001, reason: 'NOT_FOUND' });
    expect(others).toEqual([]);
    expect(t.server.hub.size()).toBe(0);
  });

  it('answers a device whose registration was removed from the store with NOT_FOUND', async () => {
    const second = await addDevice(t, patient);
    const before = await tryConnect(t, second);
    expect(before.ok).toBe(true);
    before.client.ws.terminate();
    // As a restore from a backup taken before the device joined leaves the store.
    t.store.db.prepare('DELETE FROM sessions WHERE device_id = ?').run(second.deviceId);
    t.store.db.prepare('DELETE FROM devices WHERE device_id = ?').run(second.deviceId);

    const { reply, closed } = await hello(second.deviceId);
    expect(reply).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
    expect(closed.code).toBe(4001);
  });

  it('still refuses a revoked device DEVICE_REVOKED (4001) at hello', async () => {
    const second = await addDevice(t, patient);
    expect((await revokeDevice(t, patient, second)).status).toBe(200);
    const { reply, closed } = await hello(second.deviceId);
    expect(reply).toMatchObject({ t: 'error', code: 'DEVICE_REVOKED' });
    expect(closed).toEqual({ code: 4001, reason: 'DEVICE_REVOKED' });
  });

  it('leaves the HTTP challenge route as it was: 401 UNAUTHENTICATED for an unknown device, 403 for a revoked one', async () => {
    // The route tells known, revoked and unknown ids apart already (200, 403, 401): the socket's
    // NOT_FOUND tells a stranger nothing more about which device ids exist.
    const unknown = await http(t.url, 'POST', '/v1/auth/challenge', {
      deviceId: generateDeviceKeys().deviceId,
    });
    expect(unknown).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    const second = await addDevice(t, patient);
    expect((await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: second.deviceId })).status).toBe(200);
    expect((await revokeDevice(t, patient, second)).status).toBe(200);
    const revoked = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: second.deviceId });
    expect(revoked).toMatchObject({ status: 403, body: { code: 'DEVICE_REVOKED' } });
  });
});
