// How a patient device reads the server's list of the grants it issued: a revocation's signature is checked
// only while this device does not yet hold that grant as revoked (not again at every listing and re-keying
// check), and a server that answers `next` forever is followed for MAX_GRANT_PAGES pages only: re-keying
// then fails with TOO_LARGE (reported as REKEY_PENDING) and `consent.list()` answers the device's own copy.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { PageCursor } from '@hale/protocol';
import { utf8Decode, utf8Encode, type Ed25519 } from '@hale/crypto';
import {
  MAX_GRANT_PAGES,
  openDeviceSession,
  type DeviceSession,
  type WebSocketLike,
} from '@hale/client/advanced';
import {
  makeGrant,
  makeRevocation,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useCryptoWorker, useServer } from '../support/fixture';
import {
  createWebSocket,
  ed,
  getAccountFrom,
  grantRead,
  interceptedWebSocket,
  sessionAccount,
  waitOnline,
} from '../support/devices';

const HOUR = 3600_000;
const REVOCATION_LABEL = 'hale/revocation/v1';

/** `ed`, recording the grant id of every revocation signature it is asked to verify. */
const countingEd = (): { ed: Ed25519; revocationsChecked: string[] } => {
  const revocationsChecked: string[] = [];
  // Signed messages are the label, a zero byte and the canonical JSON of the payload.
  const prefix = utf8Encode(`${REVOCATION_LABEL}\u0000`);
  const isRevocation = (msg: Uint8Array): boolean =>
    msg.length > prefix.length && prefix.every((byte, i) => msg[i] === byte);
  return {
    revocationsChecked,
    ed: {
      name: ed.name,
      sign: (secretKey, msg) => ed.sign(secretKey, msg),
      verify: (publicKey, msg, sig) => {
        const text = isRevocation(msg) ? utf8Decode(msg.subarray(prefix.length)) : null;
        if (text?.ok) revocationsChecked.push((JSON.parse(text.value) as { grantId: string }).grantId);
        return ed.verify(publicKey, msg, sig);
      },
    },
  };
};

let dbCounter = 0;
// As support/devices opens devices: on the worker when the project runs every device's cryptography there.
const offload = process.env['HALE_CRYPTO_WORKER'] === '1' ? useCryptoWorker() : undefined;

/** A patient device as support/devices `openDevice` opens it, with its own Ed25519 and socket factory. */
const openPatient = (
  t: TestServer,
  account: TestAccount,
  options: { ed?: Ed25519; createWebSocket?: (url: string) => WebSocketLike } = {},
): Promise<DeviceSession> =>
  openDeviceSession({
    account: sessionAccount(account),
    serverUrl: t.url,
    createWebSocket: options.createWebSocket ?? createWebSocket,
    storage: getRxStorageMemory(),
    getAccount: getAccountFrom(t),
    ed: options.ed ?? ed,
    dbName: `grant-listing${++dbCounter}`,
    ...(offload ? { cryptoOffload: offload } : {}),
  });

/** A grant `patient` signed as if on another of its devices, stored on the server (only there). */
const issuedElsewhere = async (
  t: TestServer,
  patient: TestAccount,
  grantee: TestAccount,
  type: 'immunization' | 'medication' | 'lab-result',
) => {
  const signed = await makeGrant(patient, grantee, [{ type, access: 'read' }], {
    expiresAt: Date.now() + 48 * HOUR,
  });
  const g = signed.grant;
  await t.store.grants.put({ ...g, scope: g.scope.map((s) => ({ ...s })), signed }, new Date().toISOString());
  return g.grantId;
};

describe('revocation signatures in the grant list', () => {
  const server = useServer({ realClock: true });

  it('are checked until the device holds the grant as revoked, then no more; forged ones stay refused', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const counted = countingEd();
    const p = await openPatient(t, patient, { ed: counted.ed });
    server.sessions.push(p);
    await waitOnline(p);

    // Revoked on this device: the device's copy says so.
    const here = await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
    expect((await p.consent.revoke(here.grant.grantId)).pending).toEqual([]);
    // Revoked on another device, with the patient's signature: this device does not know yet.
    const there = await issuedElsewhere(t, patient, provider, 'immunization');
    await t.store.grants.revoke(there, new Date().toISOString(), await makeRevocation(patient, there));
    // "Revoked" by the server alone: the revocation names the patient, but another key signed it.
    const forged = await issuedElsewhere(t, patient, provider, 'medication');
    const forgery = await makeRevocation(patient, forged);
    const foreign = await makeRevocation(stranger, forged);
    await t.store.grants.revoke(forged, forgery.revocation.revokedAt, { ...forgery, sig: foreign.sig });

    const statuses = async () => new Map((await p.consent.list()).map((g) => [g.grant.grantId, g.status]));
    const expected = new Map([
      [here.grant.grantId, 'revoked'],
      [there, 'revoked'],
      [forged, 'active'],
    ]);

    counted.revocationsChecked.length = 0;
    expect(await statuses()).toEqual(expected);
    expect([...counted.revocationsChecked].sort()).toEqual([there, forged].sort());

    counted.revocationsChecked.length = 0;
    expect(await statuses()).toEqual(expected);
    expect(counted.revocationsChecked).toEqual([forged]);

    // Re-keying (here of the stream the grant revoked elsewhere covered: a claim, then a round confirming
    // it, each reading the list) reads it the same way.
    counted.revocationsChecked.length = 0;
    expect(await p.consent.rotateExpired()).toEqual([
      { stream: `${patient.accountId}/immunization`, epoch: 1 },
    ]);
    expect(new Set(counted.revocationsChecked)).toEqual(new Set([forged]));
  });
});

describe('a server that answers `next` forever', () => {
  const server = useServer({ realClock: true });

  it('is followed for MAX_GRANT_PAGES pages: re-keying fails TOO_LARGE, list() answers the local copy', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');

    // Every `grants` page carries `next`, and each cursor sent is dropped on the way, so the server answers
    // the first page again. After 3 × MAX_GRANT_PAGES pages of one walk it gives up, so that a device
    // without the cap fails on the counts below rather than by running forever.
    const sent: Array<{ t: string; side?: string; cursor?: string }> = [];
    let walkPages = 0;
    const endless = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t: string; side?: string; cursor?: string };
        if (frame.t !== 'listGrants') return send(text);
        sent.push(frame);
        if (frame.cursor === undefined) walkPages = 0;
        const { cursor: _dropped, ...rest } = frame;
        send(JSON.stringify(rest));
      },
      received: (text, deliver) => {
        const frame = JSON.parse(text) as { t: string; next?: PageCursor };
        if (frame.t === 'grants' && ++walkPages < 3 * MAX_GRANT_PAGES) {
          deliver(JSON.stringify({ ...frame, next: 'more' }));
        } else deliver();
      },
    });
    const p = await openPatient(t, patient, { createWebSocket: endless });
    server.sessions.push(p);
    await waitOnline(p);
    const tooLarge = { name: 'SyncError', code: 'TOO_LARGE', retry: false };
    const rekey = () =>
      p.consent.rotateExpired().then(
        () => null,
        (e: unknown) => e,
      );
    // Queued behind the check every connect runs, which met the endless list first and was reported.
    expect(await rekey()).toMatchObject(tooLarge);
    const reported = p.sync.state().errors.filter((e) => e.code === 'REKEY_PENDING');
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toContain('grants issued by this account');

    const local = await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
    // Issued on another device: only a complete list would show it.
    await issuedElsewhere(t, patient, provider, 'lab-result');

    let before = sent.length;
    expect(await rekey()).toMatchObject(tooLarge);
    const walk = sent.slice(before);
    expect(walk).toHaveLength(MAX_GRANT_PAGES);
    expect(walk[0]?.cursor).toBeUndefined();
    for (const frame of walk.slice(1)) expect(frame).toMatchObject({ side: 'issued', cursor: 'more' });

    before = sent.length;
    const listed = await p.consent.list();
    expect(listed.map((g) => [g.grant.grantId, g.status])).toEqual([[local.grant.grantId, 'active']]);
    expect(sent.length - before).toBe(MAX_GRANT_PAGES);
    expect(p.connection.status()).toBe('ready');
  });
});
