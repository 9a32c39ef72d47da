// Accounts written straight into a test server's store, for tests that need hundreds of them as
// bystanders (grant issuers, envelope holders): registering each over HTTP costs several times more.
import { makeRegistration, type TestAccount, type TestServer } from '@hale/sync-server/testing';

/**
 * A patient account and its first device as POST /v1/accounts stores them (makeRegistration's signed
 * account and device certificate, one `accounts.register`), without the HTTP round trip.
 */
export const storedPatient = async (t: TestServer): Promise<TestAccount> => {
  const { body, account } = await makeRegistration('patient');
  const at = new Date().toISOString();
  await t.store.accounts.register(
    {
      ...body.account,
      wrappedRootGen: 0,
      wrappedRootSig: body.wrappedRootSig,
      wrappingKeySig: body.wrappingKeySig,
      createdAt: at,
    },
    {
      deviceId: body.device.cert.deviceId,
      accountId: account.accountId,
      cert: { ...body.device },
      devicePublicKey: body.device.cert.devicePublicKey,
      createdAt: at,
    },
  );
  return account;
};
