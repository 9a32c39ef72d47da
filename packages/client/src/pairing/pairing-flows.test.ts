// Pairing at library level: the new device's and the approver's flows over an in-memory relay, honest and
// hostile. The hostile server sees and may change every message; it must not get the root nor make the new
// device join anything the person did not confirm. Through a real server: test/device/pairing.e2e.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { base64urlEncode, deriveAccountKeys, generateRootSecret, randomBytes } from '@hale/crypto';
import type { PairingMessage } from '@hale/protocol';
import { isPairingError } from './errors';
import { approvePairing, type ApprovingAccount } from './approver';
import { memoryRelay } from './memory-relay.test-util';
import { startNewDevicePairing, type PairedAccount } from './new-device';
import type { PairingRelay } from './relay-client';

/**
 * Every pairing a test starts is ended after it: a pairing left waiting polls its relay until it expires,
 * which would run on into later files of this worker (and their fake clocks).
 */
const endings: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const end of endings.splice(0)) await end().catch(() => undefined);
});

const approve = async (...args: Parameters<typeof approvePairing>) => {
  const request = await approvePairing(...args);
  endings.push(() => request.refuse());
  return request;
};

const noWait = async (): Promise<void> => undefined;

const approvingAccount = (root = generateRootSecret()): ApprovingAccount & { rootBytes: Uint8Array } => ({
  rootBytes: root,
  accountId: deriveAccountKeys(root).accountId,
  role: 'patient',
  loginName: 'ada',
  deviceId: base64urlEncode(randomBytes(16)),
  deviceName: 'Laptop',
  root: () => root.slice(),
});

/** A new device whose join records what it was given. */
const newDevice = async (relay: PairingRelay, name = 'Phone') => {
  const joined: PairedAccount[] = [];
  const deviceId = base64urlEncode(randomBytes(16));
  const pairing = await startNewDevicePairing(
    {
      relay,
      server: 'https://hale.example.org',
      wait: noWait,
      join: async (account) => {
        joined.push({ ...account, root: account.root.slice() });
        return { session: { deviceId }, deviceId };
      },
    },
    { deviceName: name },
  );
  endings.push(() => pairing.cancel());
  return { pairing, joined, deviceId };
};

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isPairingError(e) ? e.code : String(e);
  }
};

describe('pairing flows over an honest relay', () => {
  it('both screens show the same digits; approved and confirmed, the new device gets the root', async () => {
    const relay = memoryRelay();
    const { pairing, joined, deviceId } = await newDevice(relay, 'Pixel 8');
    expect(pairing.displayCode).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect(pairing.link).toBe(`https://hale.example.org/#pair=${pairing.code}`);
    expect(pairing.state.get()).toEqual({ step: 'waiting' });
    const account = approvingAccount();
    // Typed with a blank and lower case, as a person might.
    const request = await approve({ relay, wait: noWait }, account, pairing.displayCode.toLowerCase());
    expect(request.newDeviceName).toBe('Pixel 8');
    expect(await pairing.digits).toBe(request.sas);
    expect(pairing.state.get()).toEqual({ step: 'compare', sas: request.sas });

    const session = pairing.confirm();
    const approved = await request.approve();
    expect(await session).toEqual({ deviceId });
    expect(approved).toEqual({ deviceId });
    expect(joined).toHaveLength(1);
    expect(joined[0]?.root).toEqual(account.rootBytes);
    expect(joined[0]).toMatchObject({ accountId: account.accountId, role: 'patient', loginName: 'ada' });
    expect(pairing.state.get()).toEqual({ step: 'joined', deviceId });
    // The relay saw the root only sealed: no message carries its bytes in any encoding.
    const rootText = base64urlEncode(account.rootBytes);
    expect(JSON.stringify(relay.log)).not.toContain(rootText);
  });

  it('the approver refusing (digits differ) ends the new device with PAIRING_REFUSED, nothing sent', async () => {
    const relay = memoryRelay();
    const { pairing, joined } = await newDevice(relay);
    const request = await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    await pairing.digits;
    const confirming = pairing.confirm();
    await request.refuse('mismatch');
    expect(await codeOf(confirming)).toBe('PAIRING_REFUSED');
    expect(joined).toEqual([]);
    expect(relay.log.some((l) => l.message.t === 'sealed')).toBe(false);
    expect(pairing.state.get().step).toBe('failed');
  });

  it('the new device cancelling ends the approval with PAIRING_REFUSED', async () => {
    const relay = memoryRelay();
    const { pairing } = await newDevice(relay);
    const request = await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    await pairing.cancel('mismatch');
    expect(await codeOf(request.approve())).toBe('PAIRING_REFUSED');
    expect(relay.log.some((l) => l.message.t === 'sealed')).toBe(false);
  });

  it('confirming before any digits is PAIRING_WRONG_STATE; a bad code INVALID_PAIRING_CODE; a second claim PAIRING_TAKEN', async () => {
    const relay = memoryRelay();
    const { pairing } = await newDevice(relay);
    expect(await codeOf(pairing.confirm())).toBe('PAIRING_WRONG_STATE');
    expect(await codeOf(approve({ relay }, approvingAccount(), 'hello'))).toBe('INVALID_PAIRING_CODE');
    await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    expect(await codeOf(approve({ relay }, approvingAccount(), pairing.code))).toBe('PAIRING_TAKEN');
    expect(await codeOf(approve({ relay }, approvingAccount(), 'ABCDE12345'))).toBe('PAIRING_UNKNOWN');
  });

  it('ends with PAIRING_EXPIRED once the pairing outlived its 10 minutes', async () => {
    let now = Date.now();
    const relay = memoryRelay({ now: () => now });
    const { pairing } = await newDevice(relay);
    now += 11 * 60_000;
    expect(await codeOf(pairing.digits)).toBe('PAIRING_EXPIRED');
  });
});

/**
 * A server in the middle: it runs the approver's flow toward the new device (with an account of its own)
 * and the new device's flow toward the approver, under the same code, relaying every message it likes.
 */
const middleman = async () => {
  const towardNew = memoryRelay();
  const towardApprover = memoryRelay();
  const fresh = await newDevice(towardNew, 'Phone');
  const stolen: PairedAccount[] = [];
  // Toward the approver: the server's own "new device", under the code the real one shows.
  const fake = await startNewDevicePairing(
    {
      relay: {
        ...towardApprover,
        create: (commit) => towardApprover.createWithCode(commit, fresh.pairing.code),
      },
      server: 'https://hale.example.org',
      wait: noWait,
      join: async (account) => {
        stolen.push(account);
        return { session: null, deviceId: base64urlEncode(randomBytes(16)) };
      },
    },
    { deviceName: 'Phone' },
  );
  endings.push(() => fake.cancel());
  // Toward the new device: the server's own "approver", with an account whose root it knows.
  const attackerAccount = approvingAccount();
  const toNew = await approve({ relay: towardNew, wait: noWait }, attackerAccount, fresh.pairing.code);
  return { fresh, fake, toNew, towardApprover, stolen, attackerAccount };
};

describe('pairing through a hostile server', () => {
  it('a server swapping the keys both ways makes the two screens show different digits', async () => {
    const m = await middleman();
    const real = approvingAccount();
    const request = await approve({ relay: m.towardApprover, wait: noWait }, real, m.fresh.pairing.code);
    const onNew = await m.fresh.pairing.digits;
    // The person compares the screens, sees different digits (a one-in-a-million match fails this test).
    expect(request.sas).not.toBe(onNew);
    await request.refuse('mismatch');
    await m.fresh.pairing.cancel('mismatch');
    // The server's fake new device never got a root; the real new device joined nothing.
    expect(await codeOf(m.fake.confirm())).toBe('PAIRING_REFUSED');
    expect(m.stolen).toEqual([]);
    expect(m.fresh.joined).toEqual([]);
  });

  it("the server cannot make the new device join its account without the person's confirmation", async () => {
    const m = await middleman();
    await m.fresh.pairing.digits;
    // The server's approver sends its own account at once; the new device holds it unopened.
    const approving = m.toNew.approve();
    await new Promise((r) => setTimeout(r, 300));
    expect(m.fresh.joined).toEqual([]);
    expect(m.fresh.pairing.state.get().step).toBe('compare');
    // The person sees no matching digits on the approving device (it shows none: the server claimed the
    // code) and cancels.
    await m.fresh.pairing.cancel('mismatch');
    expect(await codeOf(approving)).toBe('PAIRING_REFUSED');
    expect(m.fresh.joined).toEqual([]);
  });

  it('a reveal that does not open its commitment is refused by the approver before any digits (PAIRING_TAMPERED)', async () => {
    const swapped = (from: string, message: PairingMessage): PairingMessage =>
      from === 'new' && message.t === 'reveal'
        ? { ...message, key: base64urlEncode(randomBytes(32)) }
        : message;
    const relay = memoryRelay({ tap: swapped });
    const { pairing, joined } = await newDevice(relay);
    expect(await codeOf(approve({ relay, wait: noWait }, approvingAccount(), pairing.code))).toBe(
      'PAIRING_TAMPERED',
    );
    // The approver told the new device why.
    await pairing.digits;
    expect(await codeOf(pairing.confirm())).toBe('PAIRING_TAMPERED');
    expect(joined).toEqual([]);
    expect(relay.log.some((l) => l.message.t === 'sealed')).toBe(false);
  });

  it('a changed sealed box is refused by the new device (PAIRING_TAMPERED), nothing joined', async () => {
    const flip = (from: string, message: PairingMessage): PairingMessage =>
      message.t === 'sealed'
        ? { ...message, box: (message.box.startsWith('A') ? 'B' : 'A') + message.box.slice(1) }
        : message;
    const relay = memoryRelay({ tap: flip });
    const { pairing, joined } = await newDevice(relay);
    const request = await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    await pairing.digits;
    const confirming = pairing.confirm();
    const approving = request.approve();
    expect(await codeOf(confirming)).toBe('PAIRING_TAMPERED');
    expect(await codeOf(approving)).toBe('PAIRING_TAMPERED');
    expect(joined).toEqual([]);
  });

  it('a sealed box replayed from an earlier pairing does not open in a new one (PAIRING_TAMPERED)', async () => {
    // First pairing, honest, recorded by the server.
    const first = memoryRelay();
    const one = await newDevice(first);
    const r1 = await approve({ relay: first, wait: noWait }, approvingAccount(), one.pairing.code);
    await one.pairing.digits;
    const c1 = one.pairing.confirm();
    await r1.approve();
    await c1;
    const oldSealed = first.log.find((l) => l.message.t === 'sealed')?.message;
    expect(oldSealed).toBeDefined();
    // Second pairing: the server puts the old box in place of the new one.
    const replay = (from: string, message: PairingMessage): PairingMessage =>
      message.t === 'sealed' && oldSealed !== undefined ? oldSealed : message;
    const second = memoryRelay({ tap: replay });
    const two = await newDevice(second);
    const r2 = await approve({ relay: second, wait: noWait }, approvingAccount(), two.pairing.code);
    await two.pairing.digits;
    const c2 = two.pairing.confirm();
    void r2.approve().catch(() => undefined);
    expect(await codeOf(c2)).toBe('PAIRING_TAMPERED');
    expect(two.joined).toEqual([]);
  });

  it("a box reflected back (the new device's own name box as the sealed account) is refused", async () => {
    let nameBox = '';
    const reflect = (from: string, message: PairingMessage): PairingMessage => {
      if (message.t === 'reveal') nameBox = message.name;
      return message.t === 'sealed' ? { t: 'sealed', box: nameBox } : message;
    };
    const relay = memoryRelay({ tap: reflect });
    const { pairing, joined } = await newDevice(relay);
    const request = await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    await pairing.digits;
    const confirming = pairing.confirm();
    void request.approve().catch(() => undefined);
    expect(await codeOf(confirming)).toBe('PAIRING_TAMPERED');
    expect(joined).toEqual([]);
  });

  it('a low-order key in the offer is refused by the new device', async () => {
    const zero = (from: string, message: PairingMessage): PairingMessage =>
      message.t === 'offer' ? { ...message, key: base64urlEncode(new Uint8Array(32)) } : message;
    const relay = memoryRelay({ tap: zero });
    const { pairing } = await newDevice(relay);
    const approving = approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    expect(await codeOf(pairing.digits)).toBe('PAIRING_TAMPERED');
    expect(await codeOf(approving)).toBe('PAIRING_TAMPERED');
  });
});

describe('pairing and a bystander who saw the code', () => {
  it('a bystander answering first: the real approver is told PAIRING_TAKEN, the bystander gets no root', async () => {
    const relay = memoryRelay();
    const { pairing, joined } = await newDevice(relay);
    // The bystander is signed in to an account of its own and answers the code it read off the screen.
    const bystander = await approve({ relay, wait: noWait }, approvingAccount(), pairing.code);
    const real = approvingAccount();
    expect(await codeOf(approve({ relay, wait: noWait }, real, pairing.code))).toBe('PAIRING_TAKEN');
    // The new device shows digits, but the person's own device shows none: the person cancels.
    await pairing.digits;
    await pairing.cancel('mismatch');
    expect(await codeOf(bystander.approve())).toBe('PAIRING_REFUSED');
    expect(joined).toEqual([]);
    // Nothing of the real account was ever sealed or sent.
    expect(JSON.stringify(relay.log)).not.toContain(base64urlEncode(real.rootBytes));
  });
});
