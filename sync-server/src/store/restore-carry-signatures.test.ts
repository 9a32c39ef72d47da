// An account registered before its wrapping key and role were signed publishes both signatures later (one
// request), and its devices then require them. A restore from a backup taken before that must carry them:
// otherwise the restored server answers the account without its role signature, which those devices refuse
// and never publish again. A signature that does not verify over the copy's own account is not carried.
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { base64urlEncode, signCanonical } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { roleSignaturePayload, wrappingKeySignaturePayload } from '@hale/protocol';
import { backupSqlite, restoreSqlite } from './backup';
import { makeAccount, makeDevice } from './conformance';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-carry-sigs-');
const ed = createNodeEd25519();

/** A store holding account `pat`, backed up before it published its signatures, then publishing `sigs`. */
async function publishedAfterBackup(
  sigs: (
    keys: nacl.SignKeyPair,
    identity: string,
  ) => Promise<{
    keySig: string;
    roleSig: string;
  }>,
) {
  const kp = nacl.sign.keyPair();
  const identityPublicKey = base64urlEncode(kp.publicKey);
  const dataDir = newDir();
  const backupFile = join(newDir(), 'backup.sqlite');
  const live = await openSqliteStore({ dataDir });
  await live.accounts.register(
    makeAccount('pat', { identityPublicKey, wrappingPublicKey: 'wrk-pat' }),
    makeDevice('d1', 'pat'),
  );
  await backupSqlite(live, backupFile);
  const { keySig, roleSig } = await sigs(kp, identityPublicKey);
  await live.accounts.setWrappingKeySig('pat', keySig);
  await live.accounts.setRoleSig('pat', roleSig);
  await live.close();
  const result = await restoreSqlite(backupFile, dataDir, { onWarning: () => undefined });
  const restored = await openSqliteStore({ dataDir });
  try {
    return { result, account: await restored.accounts.get('pat'), keySig, roleSig };
  } finally {
    await restored.close();
  }
}

const signed = async (secretKey: Uint8Array, payload: { label: string }) =>
  base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));

/** The account's signature over its wrapping key, as a device publishes it. */
const keySigOf = (kp: nacl.SignKeyPair, identity: string) =>
  signed(
    kp.secretKey,
    wrappingKeySignaturePayload({
      accountId: 'pat',
      identityPublicKey: identity,
      wrappingPublicKey: 'wrk-pat',
    }),
  );

describe('restore carries signatures an account published after the backup', () => {
  it('the wrapping-key and the role signature, counted', async () => {
    const { result, account, keySig, roleSig } = await publishedAfterBackup(async (kp, identity) => ({
      keySig: await keySigOf(kp, identity),
      roleSig: await signed(
        kp.secretKey,
        roleSignaturePayload({ accountId: 'pat', identityPublicKey: identity, role: 'patient' }),
      ),
    }));
    expect(result.warnings).toEqual([]);
    expect(account?.wrappingKeySig).toBe(keySig);
    expect(account?.roleSig).toBe(roleSig);
    expect(result.carried).toMatchObject({ wrappingKeySigs: 1, roleSigs: 1 });
  });

  it('a role signature over another role, or by another key, is not carried', async () => {
    const other = nacl.sign.keyPair();
    for (const forge of [
      (kp: nacl.SignKeyPair, identity: string) =>
        signed(
          kp.secretKey,
          roleSignaturePayload({ accountId: 'pat', identityPublicKey: identity, role: 'provider' }),
        ),
      (_: nacl.SignKeyPair, identity: string) =>
        signed(
          other.secretKey,
          roleSignaturePayload({ accountId: 'pat', identityPublicKey: identity, role: 'patient' }),
        ),
    ]) {
      const { result, account } = await publishedAfterBackup(async (kp, identity) => ({
        keySig: await keySigOf(kp, identity),
        roleSig: await forge(kp, identity),
      }));
      expect(account?.roleSig).toBeUndefined();
      expect(result.carried).toMatchObject({ wrappingKeySigs: 1, roleSigs: 0 });
    }
  });
});
