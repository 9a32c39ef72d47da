// Each check of directory publication (directory.ts), attempted over real HTTP against a real server and
// SQLite file: the forbidden profile is refused with its code and the directory is left as it was.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HttpDirectoryResponse,
  directoryProfilePayload,
  validate,
  type ProviderProfile,
} from '@hale/protocol';
import {
  http,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from '../testing/harness';

describe('directory publication refuses profiles not signed for', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const profileOf = (account: TestAccount, displayName: string): ProviderProfile => ({
    accountId: account.accountId,
    displayName,
    specialty: 'general practice',
    clinic: 'Riverside',
    identifier: `NPI-${account.accountId.slice(0, 6)}`,
  });
  const publish = async (token: string, profile: ProviderProfile, signer: TestAccount) =>
    http(
      t.url,
      'PUT',
      '/v1/directory/me',
      { profile, sig: await sign(signer.keys.identity.secretKey, directoryProfilePayload(profile)) },
      token,
    );
  /** The whole directory as a signed-in device sees it: account id → display name. */
  const listed = async (token: string): Promise<Record<string, string>> => {
    const res = await http(t.url, 'GET', '/v1/directory', undefined, token);
    const checked = validate(HttpDirectoryResponse, res.body);
    if (!checked.ok) throw new Error(`directory: ${res.status} ${JSON.stringify(res.body)}`);
    return Object.fromEntries(
      checked.value.providers.map((p) => [p.profile.accountId, p.profile.displayName]),
    );
  };

  it('refuses a profile published by a patient account, though signed by its own identity key', async () => {
    const patient = await registerAccount(t, 'patient');
    const token = await sessionToken(t, patient.device);
    const res = await publish(token, profileOf(patient, 'Not A Doctor'), patient);
    expect(res).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await listed(token)).toEqual({});
  });

  it("refuses a provider publishing a profile under another provider's account id", async () => {
    const victim = await registerAccount(t, 'provider');
    const intruder = await registerAccount(t, 'provider');
    const victimToken = await sessionToken(t, victim.device);
    expect((await publish(victimToken, profileOf(victim, 'Dr. Genuine'), victim)).status).toBe(200);

    // Signed by the intruder's identity key, the key the route checks the caller's profile against.
    const token = await sessionToken(t, intruder.device);
    const res = await publish(token, profileOf(victim, 'Dr. Impostor'), intruder);
    expect(res).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await listed(token)).toEqual({ [victim.accountId]: 'Dr. Genuine' });
  });

  it("refuses a provider's profile that its identity key did not sign (altered after signing)", async () => {
    const provider = await registerAccount(t, 'provider');
    const token = await sessionToken(t, provider.device);
    expect((await publish(token, profileOf(provider, 'Dr. Signed'), provider)).status).toBe(200);

    const signed = profileOf(provider, 'Dr. Signed Again');
    const sig = await sign(provider.keys.identity.secretKey, directoryProfilePayload(signed));
    const altered = { ...signed, displayName: 'Dr. Unsigned' };
    const res = await http(t.url, 'PUT', '/v1/directory/me', { profile: altered, sig }, token);
    expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(await listed(token)).toEqual({ [provider.accountId]: 'Dr. Signed' });
  });
});
