// A server that puts its own X25519 key-wrapping key in a provider's account answer must get nothing
// wrapped to it: the patient's devices wrap stream keys (grant, re-keying) only to a wrapping key the
// provider's identity key signed, and never publish an envelope, or a grant, for one it did not.
import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { base64urlEncode, unwrapKey, type AccountKeys } from '@hale/crypto';
import { ConsentError, openDeviceSession, type DeviceSession } from '@hale/client/advanced';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useCryptoWorker, useServer } from '../support/fixture';
import {
  createWebSocket,
  ed,
  eventually,
  getAccountFrom,
  grantRead,
  openDevice,
  sessionAccount,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

const envelopes = (t: TestServer, stream: string, recipient: string, epoch?: number) =>
  t.store.db
    .prepare(
      `SELECT wrapped, epoch FROM envelopes WHERE stream = ? AND recipient = ?${epoch === undefined ? '' : ' AND epoch = ?'}`,
    )
    .all(...(epoch === undefined ? [stream, recipient] : [stream, recipient, epoch])) as Array<{
    wrapped: string;
    epoch: number;
  }>;

const grantCount = (t: TestServer, granteeId: string): number =>
  (
    t.store.db.prepare('SELECT count(*) AS n FROM grants WHERE grantee_id = ?').get(granteeId) as {
      n: number;
    }
  ).n;

const opens = (wrapped: string, keys: AccountKeys, stream: string, epoch: number): boolean =>
  unwrapKey(wrapped, keys.wrapping, { stream, epoch }).ok;

const refusedWith = async (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    () => 'granted',
    (error: unknown) => (error instanceof ConsentError ? error.code : `untyped: ${String(error)}`),
  );

describe('a substituted wrapping key gets nothing wrapped to it', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;
  const worker = process.env['HALE_CRYPTO_WORKER'] === '1' ? useCryptoWorker() : undefined;

  /** A patient device whose account lookups pass through `rewrite` (a server lying about one account). */
  const openPatient = async (
    t: TestServer,
    patient: TestAccount,
    rewrite: (answer: Awaited<ReturnType<ReturnType<typeof getAccountFrom>>>) => typeof answer,
  ): Promise<DeviceSession> => {
    const getAccount = getAccountFrom(t);
    const session = await openDeviceSession({
      account: sessionAccount(patient),
      serverUrl: t.url,
      createWebSocket,
      storage: getRxStorageMemory(),
      getAccount: async (accountId) => rewrite(await getAccount(accountId)),
      ed,
      dbName: `wrapping-${patient.accountId.slice(0, 8)}-${Date.now()}`,
      ...(worker ? { cryptoOffload: worker } : {}),
    });
    sessions.push(session);
    return session;
  };

  it('grant: a key the server put in its account record is refused, nothing is published', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const stream = `${patient.accountId}/allergy`;
    const serverBox = nacl.box.keyPair();
    const stored = t.store.db
      .prepare(
        'SELECT wrapping_public_key AS key, wrapping_key_sig AS sig FROM accounts WHERE account_id = ?',
      )
      .get(provider.accountId) as { key: string; sig: string | null };
    const setRow = (key: string, sig: string | null) =>
      t.store.db
        .prepare('UPDATE accounts SET wrapping_public_key = ?, wrapping_key_sig = ? WHERE account_id = ?')
        .run(key, sig, provider.accountId);

    // The server swaps in its own key, relaying the provider's signature (over the genuine key) or none.
    for (const sig of [stored.sig, null]) {
      setRow(base64urlEncode(serverBox.publicKey), sig);
      // The identity key and its safety number are genuine: the patient may even have verified them.
      await p.consent.verifyProvider(provider.accountId);
      expect(await refusedWith(grantRead(p, provider.accountId, 'allergy', 24 * HOUR, 'care'))).toBe(
        'WRAPPING_KEY_UNVERIFIED',
      );
      expect(envelopes(t, stream, provider.accountId)).toEqual([]);
      expect(grantCount(t, provider.accountId)).toBe(0);
    }

    // With the account's own key (and signature) back, the same grant goes through, wrapped to it.
    setRow(stored.key, stored.sig);
    await grantRead(p, provider.accountId, 'allergy', 24 * HOUR, 'care');
    const wrapped = envelopes(t, stream, provider.accountId);
    expect(wrapped).toHaveLength(1);
    expect(opens(wrapped[0]!.wrapped, provider.keys, stream, 0)).toBe(true);
    expect(opens(wrapped[0]!.wrapped, { wrapping: serverBox } as unknown as AccountKeys, stream, 0)).toBe(
      false,
    );
  });

  it('re-keying: a holder presented with a substituted key is skipped, and wrapped once its own key is back', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const serverBox = nacl.box.keyPair();
    const lie = { on: false };
    const p = await openPatient(t, patient, (answer) =>
      lie.on && answer.accountId === stays.accountId
        ? { ...answer, wrappingPublicKey: base64urlEncode(serverBox.publicKey) }
        : answer,
    );
    const o = await openDevice(t, stays);
    sessions.push(o);
    await Promise.all([waitOnline(p), waitOnline(o)]);
    await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const stream = `${patient.accountId}/allergy`;
    const grant = await grantRead(p, revoked.accountId, 'allergy', 24 * HOUR, 'treatment');
    await grantRead(p, stays.accountId, 'allergy', 24 * HOUR, 'treatment');
    expect(envelopes(t, stream, stays.accountId, 0)).toHaveLength(1);

    // The server starts lying about the remaining provider's key; the device asks again after a reconnect.
    lie.on = true;
    p.connection.drop();
    await eventually(() => p.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(p);
    const result = await p.consent.revoke(grant.grant.grantId);
    expect(result.rotated).toEqual([{ stream, epoch: 1 }]);
    expect(envelopes(t, stream, patient.accountId, 1)).toHaveLength(1);
    // Nothing wrapped for the remaining provider at the new epoch: not to the server's key, nor to any.
    expect(envelopes(t, stream, stays.accountId, 1)).toEqual([]);
    expect(envelopes(t, stream, revoked.accountId, 1)).toEqual([]);

    // The server answers honestly again: the next check wraps the epoch for the remaining provider.
    lie.on = false;
    p.connection.drop();
    await eventually(() => p.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(p);
    await p.consent.rotateExpired();
    const wrapped = envelopes(t, stream, stays.accountId, 1);
    expect(wrapped).toHaveLength(1);
    expect(opens(wrapped[0]!.wrapped, stays.keys, stream, 1)).toBe(true);
    const after = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await eventually(
      async () => (await o.records.get<'Allergy'>(after.id))?.record.substance === 'Penicillin',
      'remaining provider reads the record written under the new epoch',
    );
  });
});
