// Pairing through a real sync server on loopback, at the public surface an app uses: a signed-in device
// (`HaleSession.devices.approvePairing`) adds a new one (`Hale.startPairing`), which ends with a session of
// the account that syncs both ways and unlocks with the account's passphrase. Attacks through the real
// server: a bystander who read the code answers it first; a server that changes the relayed key (played by
// the approving device's fetch, which sees every answer as a TLS-terminating server would).
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import { nodePlatform } from '@hale/platform-node';
import { openHaleForTests } from '@hale/client/testing';
import { isHaleError, type FetchLike, type Hale, type HaleSession } from '@hale/client';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import { input } from '../support/records';
import { eventually } from '../support/devices';

const servers: TestServer[] = [];
const sessions: HaleSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close().catch(() => undefined);
  for (const t of servers.splice(0)) await t.stop();
});

const PASSPHRASE = 'correct horse battery staple';

const hale = (t: TestServer, fetch?: FetchLike): Promise<Hale> => {
  const platform = nodePlatform();
  return openHaleForTests({
    server: t.url,
    platform: fetch === undefined ? platform : { ...platform, fetch },
  });
};

const signedIn = async (t: TestServer, loginName: string): Promise<HaleSession> => {
  const created = await (
    await hale(t)
  ).createAccount({
    role: 'patient',
    loginName,
    passphrase: PASSPHRASE,
    deviceName: 'Laptop',
  });
  sessions.push(created.session);
  return created.session;
};

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    return isHaleError(e) ? e.code : String(e);
  }
  return 'resolved';
};

describe('pairing a new device through the sync server', () => {
  it('the new device joins by the QR link, syncs both ways, and unlocks with the passphrase', async () => {
    const t = await startServer();
    servers.push(t);
    const laptop = await signedIn(t, 'ada');
    const before = await laptop.records.add('Allergy', input('Allergy', { substance: 'penicillin' }));

    const phoneHale = await hale(t);
    const pairing = await phoneHale.startPairing({ deviceName: 'Phone' });
    expect(pairing.link.startsWith(`${t.url}/#pair=`)).toBe(true);
    // The laptop scans the QR code.
    const request = await laptop.devices.approvePairing(pairing.link);
    expect(request.newDeviceName).toBe('Phone');
    expect(await pairing.digits).toBe(request.sas);
    const [phone, approved] = await Promise.all([pairing.confirm(), request.approve()]);
    sessions.push(phone);
    expect(phone.account.accountId).toBe(laptop.account.accountId);
    expect(phone.account.loginName).toBe('ada');
    expect(approved.deviceId).toBe(phone.account.deviceId);
    expect(pairing.state.get()).toEqual({ step: 'joined', deviceId: phone.account.deviceId });

    // Both ways: the laptop's record reaches the phone, the phone's reaches the laptop.
    await eventually(
      async () => (await phone.records.get(before.id)) !== null,
      'phone has the allergy',
      30_000,
    );
    const fromPhone = await phone.records.add('Allergy', input('Allergy', { substance: 'latex' }));
    await eventually(
      async () => (await laptop.records.get(fromPhone.id)) !== null,
      'laptop has the phone record',
      30_000,
    );
    // The laptop lists the phone among the account's devices, by the name the phone gave itself.
    const stop = laptop.devices.list.subscribe(() => undefined);
    laptop.devices.refresh();
    await eventually(
      () =>
        (laptop.devices.list.get()?.active ?? []).some(
          (d) => d.deviceId === phone.account.deviceId && d.name === 'Phone',
        ),
      'laptop lists the phone',
      30_000,
    );
    stop();

    // The phone's vault holds the account's passphrase wrap: locked, it opens with the passphrase.
    await phone.lock();
    const again = await phoneHale.unlock({ passphrase: PASSPHRASE });
    sessions.push(again);
    expect(again.account.deviceId).toBe(phone.account.deviceId);
    expect(await again.records.get(fromPhone.id)).not.toBeNull();
  }, 120_000);

  it('refuses to start on a device that already holds an account', async () => {
    const t = await startServer();
    servers.push(t);
    const h = await hale(t);
    const created = await h.createAccount({ role: 'patient', passphrase: PASSPHRASE, deviceName: 'Laptop' });
    sessions.push(created.session);
    expect(await refusal(h.startPairing({ deviceName: 'again' }))).toBe('ACCOUNT_EXISTS');
  });

  it("a bystander who read the code answers first: the person's device is told PAIRING_TAKEN, no one joins", async () => {
    const t = await startServer();
    servers.push(t);
    const laptop = await signedIn(t, 'ada');
    const bystanderSession = await signedIn(t, 'mallory');
    const phoneHale = await hale(t);
    const pairing = await phoneHale.startPairing({ deviceName: 'Phone' });
    const bystander = await bystanderSession.devices.approvePairing(pairing.displayCode);
    expect(await refusal(laptop.devices.approvePairing(pairing.displayCode))).toBe('PAIRING_TAKEN');
    // The phone shows digits; the laptop shows none: the person cancels on the phone.
    await pairing.digits;
    await pairing.cancel('mismatch');
    expect(await refusal(bystander.approve())).toBe('PAIRING_REFUSED');
    expect(await phoneHale.hasAccount()).toBe(false);
    // The bystander cannot read the phone's mailbox with the code alone either.
    const peek = await fetch(`${t.url}/v1/pairing/${pairing.code}/messages?after=0`, {
      headers: { authorization: `Bearer ${base64urlEncode(randomBytes(32))}` },
    });
    expect(peek.status).toBe(401);
  }, 60_000);

  it('a server swapping the new device key is caught by the approver (PAIRING_TAMPERED), nothing sent', async () => {
    const t = await startServer();
    servers.push(t);
    // What the approving device receives passes through this fetch: a server in the middle.
    const swapping: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (!url.includes('/v1/pairing/') || !url.includes('/messages') || init.method !== 'GET') return res;
      const body = (await res.json()) as { messages: { message: { t: string; key?: string } }[] };
      for (const m of body.messages)
        if (m.message.t === 'reveal') m.message.key = base64urlEncode(randomBytes(32));
      return new Response(JSON.stringify(body), {
        status: res.status,
        headers: { 'content-type': 'application/json' },
      });
    };
    const laptopHale = await hale(t, swapping);
    const created = await laptopHale.createAccount({
      role: 'patient',
      loginName: 'ada',
      passphrase: PASSPHRASE,
      deviceName: 'Laptop',
    });
    sessions.push(created.session);
    const phoneHale = await hale(t);
    const pairing = await phoneHale.startPairing({ deviceName: 'Phone' });
    expect(await refusal(created.session.devices.approvePairing(pairing.code))).toBe('PAIRING_TAMPERED');
    // The approver told the phone, which ends without joining.
    await pairing.digits;
    expect(await refusal(pairing.confirm())).toBe('PAIRING_TAMPERED');
    expect(await phoneHale.hasAccount()).toBe(false);
  }, 60_000);
});
