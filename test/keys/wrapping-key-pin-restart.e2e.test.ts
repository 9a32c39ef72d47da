// The wrapping key a patient device first wrapped a grantee's stream keys to stays pinned across a
// restart of that device. An account has no way to change its wrapping key (it is derived from the
// account's root, and the server takes a signature only over the key the account registered with), so
// another one, even signed by the account's identity key (a leaked identity key, an old signature the
// server replays), is refused KEY_CHANGED by a device that reopened — whose device directory no longer
// remembers the key — until the patient verifies the provider again.
import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { base64urlEncode, unwrapKey } from '@hale/crypto';
import { wrappingKeySignaturePayload } from '@hale/protocol';
import { ConsentError } from '@hale/client/advanced';
import { registerAccount, sign, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { grantRead, openDevice, waitOnline } from '../support/devices';

const HOUR = 3_600_000;

const envelopes = (t: TestServer, stream: string, recipient: string) =>
  t.store.db
    .prepare('SELECT wrapped, epoch FROM envelopes WHERE stream = ? AND recipient = ?')
    .all(stream, recipient) as Array<{ wrapped: string; epoch: number }>;

const grantCount = (t: TestServer, granteeId: string): number =>
  (
    t.store.db.prepare('SELECT count(*) AS n FROM grants WHERE grantee_id = ?').get(granteeId) as {
      n: number;
    }
  ).n;

const refusedWith = async (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    () => 'granted',
    (error: unknown) => (error instanceof ConsentError ? error.code : `untyped: ${String(error)}`),
  );

describe('a grantee wrapping key other than the one pinned, after the patient device restarts', () => {
  const server = useServer({ realClock: true });

  it('is refused KEY_CHANGED even signed by the identity key; verifying the provider again lets it through', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const storage = getRxStorageMemory();
    const dbName = `wrapping-pin-${patient.accountId.slice(0, 8)}`;

    const first = await openDevice(t, patient, { storage, dbName });
    await waitOnline(first);
    await grantRead(first, provider.accountId, 'allergy', 24 * HOUR, 'care');
    expect(envelopes(t, `${patient.accountId}/allergy`, provider.accountId)).toHaveLength(1);
    await first.close();

    // The server now presents another wrapping key for the provider, with the provider's identity
    // signature over it: the device directory's signature check passes.
    const other = nacl.box.keyPair();
    const presented = {
      accountId: provider.accountId,
      identityPublicKey: base64urlEncode(provider.keys.identity.publicKey),
      wrappingPublicKey: base64urlEncode(other.publicKey),
    };
    const sig = await sign(provider.keys.identity.secretKey, wrappingKeySignaturePayload(presented));
    t.store.db
      .prepare('UPDATE accounts SET wrapping_public_key = ?, wrapping_key_sig = ? WHERE account_id = ?')
      .run(presented.wrappingPublicKey, sig, provider.accountId);

    const again = await openDevice(t, patient, { storage, dbName });
    server.sessions.push(again);
    await waitOnline(again);
    const labs = `${patient.accountId}/lab-result`;
    expect(await refusedWith(grantRead(again, provider.accountId, 'lab-result', 24 * HOUR, 'care'))).toBe(
      'KEY_CHANGED',
    );
    expect(grantCount(t, provider.accountId), 'grants stored for the provider').toBe(1);
    expect(envelopes(t, labs, provider.accountId), 'lab-result envelopes for the provider').toEqual([]);

    // The patient compares the safety number again: the key now presented is pinned and wrapped to.
    await again.consent.verifyProvider(provider.accountId);
    await grantRead(again, provider.accountId, 'lab-result', 24 * HOUR, 'care');
    const wrapped = envelopes(t, labs, provider.accountId);
    expect(wrapped).toHaveLength(1);
    expect(unwrapKey(wrapped[0]!.wrapped, other, { stream: labs, epoch: wrapped[0]!.epoch }).ok).toBe(true);
  });
});
