// Provider availability over real HTTP against a real server and SQLite file: publication by the provider
// only, signed by its identity key, each version above the last, bounded in size; any signed-in account
// reads it. Every refusal leaves the stored document as it was.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HttpAvailabilityResponse,
  MAX_AVAILABILITY_BYTES,
  availabilitySignaturePayload,
  validate,
  type Availability,
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

describe('provider availability in the directory', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const availabilityOf = (
    account: TestAccount,
    version: number,
    extra: Partial<Availability> = {},
  ): Availability => ({
    v: 1,
    accountId: account.accountId,
    version,
    issuedAt: '2026-03-01T08:00:00.000Z',
    timeZone: 'Europe/Berlin',
    slotMinutes: 30,
    weekly: [{ day: 1, from: '09:00', to: '12:00' }],
    exceptions: [{ date: '2026-03-30', hours: [] }],
    from: '2026-03-01',
    until: '2026-04-30',
    busy: [{ startAt: '2026-03-02T08:00:00.000Z', endAt: '2026-03-02T08:30:00.000Z' }],
    location: 'Riverside, room 4',
    ...extra,
  });
  const publish = async (token: string, availability: Availability, signer: TestAccount) =>
    http(
      t.url,
      'PUT',
      '/v1/directory/me/availability',
      {
        availability,
        sig: await sign(signer.keys.identity.secretKey, availabilitySignaturePayload(availability)),
      },
      token,
    );
  const read = async (token: string, accountId: string) => {
    const res = await http(t.url, 'GET', `/v1/directory/${accountId}/availability`, undefined, token);
    if (res.status !== 200) return res;
    const checked = validate(HttpAvailabilityResponse, res.body);
    if (!checked.ok) throw new Error(`availability answer: ${JSON.stringify(res.body)}`);
    return { status: 200, body: checked.value };
  };

  it('a provider publishes; a patient with no grant reads it with the key to check it against', async () => {
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t, 'patient');
    const [pt, dt] = [await sessionToken(t, patient.device), await sessionToken(t, provider.device)];
    expect(await read(pt, provider.accountId)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const doc = availabilityOf(provider, 1);
    expect(await publish(dt, doc, provider)).toMatchObject({
      status: 200,
      body: { accountId: provider.accountId, version: 1 },
    });
    const got = await read(pt, provider.accountId);
    expect(got).toMatchObject({ status: 200, body: { availability: doc } });
    expect((got.body as { identityPublicKey: string }).identityPublicKey).toBe(
      Buffer.from(provider.keys.identity.publicKey).toString('base64url'),
    );
    // Signed-in only.
    const anon = await http(t.url, 'GET', `/v1/directory/${provider.accountId}/availability`);
    expect(anon.status).toBe(401);
  });

  it('refuses a patient, another account, a foreign signature, a lower version, bad fields and oversize', async () => {
    const provider = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const patient = await registerAccount(t, 'patient');
    const [pt, dt, ot] = [
      await sessionToken(t, patient.device),
      await sessionToken(t, provider.device),
      await sessionToken(t, other.device),
    ];
    const kept = availabilityOf(provider, 5);
    expect((await publish(dt, kept, provider)).status).toBe(200);

    expect(await publish(pt, availabilityOf(patient, 9), patient)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await publish(ot, availabilityOf(provider, 9), other)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    // Its own account, signed by another identity key.
    expect(await publish(dt, availabilityOf(provider, 9), other)).toMatchObject({
      status: 401,
      body: { code: 'BAD_SIGNATURE' },
    });
    // A replay of an older version, and another document under the kept version.
    expect(await publish(dt, availabilityOf(provider, 4), provider)).toMatchObject({
      status: 409,
      body: { code: 'AVAILABILITY_STALE', details: { version: 5 } },
    });
    expect(await publish(dt, availabilityOf(provider, 5, { slotMinutes: 15 }), provider)).toMatchObject({
      status: 409,
      body: { code: 'AVAILABILITY_STALE' },
    });
    // The kept document again is taken (a retry whose answer was lost).
    expect((await publish(dt, kept, provider)).status).toBe(200);
    // Rules the schema cannot state.
    const bad = await publish(
      dt,
      availabilityOf(provider, 9, { weekly: [{ day: 1, from: '12:00', to: '09:00' }] }),
      provider,
    );
    expect(bad).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(JSON.stringify(bad.body)).toContain('/availability/weekly/0/to');
    expect(
      await publish(dt, availabilityOf(provider, 9, { from: '2026-01-01', until: '2027-06-01' }), provider),
    ).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(
      await publish(dt, availabilityOf(provider, 9, { timeZone: '../../etc/passwd' }), provider),
    ).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    // Over the size limit (a location padded far past it).
    const big = await http(
      t.url,
      'PUT',
      '/v1/directory/me/availability',
      { availability: availabilityOf(provider, 9), sig: 'x'.repeat(MAX_AVAILABILITY_BYTES) },
      dt,
    );
    expect(big).toMatchObject({ status: 413, body: { code: 'TOO_LARGE' } });

    expect(await read(pt, provider.accountId)).toMatchObject({ status: 200, body: { availability: kept } });
  });
});
