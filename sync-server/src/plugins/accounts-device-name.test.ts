// Renaming a device (`POST /v1/devices/name`, accounts.ts) over real HTTP against a real server and SQLite
// file: the account's signed name record is stored and served in the account answer (`deviceNames`), and
// each refusal leaves the stored record as it was: another account's signature (BAD_SIGNATURE), an unknown
// or another account's device (NOT_FOUND alike), a revoked device (DEVICE_REVOKED), a record at a seq not
// above the stored one (CONFLICT, the very record again answered 200), a body the schema refuses.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HttpAccountsLookupResponse,
  HttpDeviceNameResponse,
  MAX_HTTP_BODY_BYTES,
  MAX_SEALED_DEVICE_NAME_BYTES,
  deviceNamePayload,
  validate,
  type SignedDeviceName,
} from '@hale/protocol';
import { base64urlDecode, generateDeviceKeys, openDeviceName, verifyCanonical } from '@hale/crypto';
import { createLogger } from '../logger';
import {
  addDevice,
  getAccountAnswer,
  http,
  makeDeviceName,
  registerAccount,
  renameDevice,
  revokeDevice,
  sessionToken,
  sign,
  startServer,
  x25519,
  ed,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';

const URL_PATH = '/v1/devices/name';

describe('POST /v1/devices/name', () => {
  let t: TestServer;
  let lines: string[];
  let patient: TestAccount;
  let tablet: TestDevice;
  beforeEach(async () => {
    lines = [];
    t = await startServer({
      logger: createLogger('debug', { write: (line: string) => void lines.push(line) }),
    });
    patient = await registerAccount(t);
    tablet = await addDevice(t, patient);
  });
  afterEach(async () => {
    await t.stop();
  });

  const rename = (body: unknown) => http(t.url, 'POST', URL_PATH, body);
  /** The name record the store holds for `device`, if any. */
  const stored = async (device: TestDevice) => (await t.store.devices.get(device.deviceId))?.nameRecord;
  const deviceNames = async (account: TestAccount) =>
    (await getAccountAnswer(t, account.accountId)).deviceNames;
  /** The name in a record, as a device of the account opens it. */
  const opened = (record: SignedDeviceName) => {
    const name = openDeviceName(record.name.sealedName, patient.keys.wrapping, record.name.deviceId, x25519);
    if (!name.ok) throw new Error(name.error.message);
    return name.value;
  };

  it('stores a rename signed by the account and serves it in the account answer and a lookup', async () => {
    // Never renamed: no field at all.
    expect('deviceNames' in (await getAccountAnswer(t, patient.accountId))).toBe(false);

    const first = await makeDeviceName(patient, tablet.deviceId, 'Kitchen tablet', 1);
    const res = await rename(first);
    expect(res).toEqual({ status: 200, body: { deviceId: tablet.deviceId, seq: 1 } });
    expect(validate(HttpDeviceNameResponse, res.body).ok).toBe(true);
    expect(await stored(tablet)).toEqual(first);
    const names = await deviceNames(patient);
    expect(names).toEqual([first]);
    // As signed: a reader verifies it against the identity key and opens the name.
    const [served] = names ?? [];
    if (served === undefined) throw new Error('no name served');
    const sig = base64urlDecode(served.sig);
    if (!sig.ok) throw new Error('sig is not base64url');
    const payload = deviceNamePayload(served.name);
    expect(
      await verifyCanonical(ed, patient.keys.identity.publicKey, payload.label, payload, sig.value),
    ).toBe(true);
    expect(opened(served)).toBe('Kitchen tablet');

    // Any higher seq replaces it; only the newest is kept and served.
    const third = await makeDeviceName(patient, tablet.deviceId, 'Hall tablet', 3);
    expect(await rename(third)).toEqual({ status: 200, body: { deviceId: tablet.deviceId, seq: 3 } });
    expect(await deviceNames(patient)).toEqual([third]);
    const token = await sessionToken(t, patient.device);
    const lookup = await http(
      t.url,
      'POST',
      '/v1/accounts/lookup',
      { accountIds: [patient.accountId] },
      token,
    );
    const checked = validate(HttpAccountsLookupResponse, lookup.body);
    if (!checked.ok) throw new Error(checked.error.message);
    expect(checked.value.accounts[0]?.deviceNames).toEqual([third]);

    // The log has the rename, and nothing of the sealed names.
    const renamed = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'device renamed');
    expect(renamed.map((l) => [l.deviceId, l.seq])).toEqual([
      [tablet.deviceId, 1],
      [tablet.deviceId, 3],
    ]);
    for (const record of [first, third]) {
      expect(lines.join('\n')).not.toContain(record.name.sealedName.slice(0, 40));
      expect(lines.join('\n')).not.toContain(record.sig);
    }
  });

  it('serves the names of active devices only: a renamed device once revoked is left out', async () => {
    const phoneName = await makeDeviceName(patient, patient.device.deviceId, 'Phone', 1);
    expect((await rename(phoneName)).status).toBe(200);
    expect((await renameDevice(t, patient, tablet, 'Tablet', 1)).status).toBe(200);
    // In the order of the devices answered (by registration), each device's own record.
    const listed = (await getAccountAnswer(t, patient.accountId)).devices.map((d) => d.cert.deviceId);
    expect((await deviceNames(patient))?.map((r) => r.name.deviceId)).toEqual(listed);
    expect([...listed].sort()).toEqual([patient.device.deviceId, tablet.deviceId].sort());
    expect((await revokeDevice(t, patient, tablet)).status).toBe(200);
    expect(await deviceNames(patient)).toEqual([phoneName]);
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);
    expect('deviceNames' in (await getAccountAnswer(t, patient.accountId))).toBe(false);
  });

  it("refuses a name signed by another account's identity key, or altered after signing: BAD_SIGNATURE", async () => {
    const intruder = await registerAccount(t);
    // Everything names the patient's account and device; only the signing key is the intruder's.
    const forged = await makeDeviceName(patient, tablet.deviceId, 'Mallory', 1, intruder);
    expect(await rename(forged)).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    // The patient's own signature, the seq raised after signing.
    const genuine = await makeDeviceName(patient, tablet.deviceId, 'Tablet', 1);
    const altered = { ...genuine, name: { ...genuine.name, seq: 2 } };
    expect(await rename(altered)).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    // Another device's sealed name moved onto this one (the signature covers the device id).
    const moved = { ...genuine, name: { ...genuine.name, deviceId: patient.device.deviceId } };
    expect(await rename(moved)).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(await stored(tablet)).toBeUndefined();
    expect(await stored(patient.device)).toBeUndefined();
    expect(await deviceNames(patient)).toBeUndefined();
  });

  it("answers an unknown device and another account's device NOT_FOUND alike, storing nothing", async () => {
    const other = await registerAccount(t);
    const unknown = await rename(await makeDeviceName(patient, generateDeviceKeys().deviceId, 'Ghost', 1));
    // The patient signs a name for the other account's device under the patient's own account.
    const foreign = await rename(await makeDeviceName(patient, other.device.deviceId, 'Mine now', 1));
    // The other account signs a name for the patient's device under its own account.
    const claimed = await rename(await makeDeviceName(other, tablet.deviceId, 'Mine now', 1));
    for (const res of [unknown, foreign, claimed]) {
      expect(res).toEqual({ status: 404, body: { code: 'NOT_FOUND', message: 'device not found' } });
    }
    expect(await stored(tablet)).toBeUndefined();
    expect(await stored(other.device)).toBeUndefined();
    expect(await deviceNames(patient)).toBeUndefined();
    expect(await deviceNames(other)).toBeUndefined();
  });

  it('refuses to rename a revoked device: DEVICE_REVOKED, and its stored name stays', async () => {
    const named = await makeDeviceName(patient, tablet.deviceId, 'Tablet', 1);
    expect((await rename(named)).status).toBe(200);
    expect((await revokeDevice(t, patient, tablet)).status).toBe(200);
    const res = await renameDevice(t, patient, tablet, 'Old tablet', 2);
    expect(res).toMatchObject({ status: 403, body: { code: 'DEVICE_REVOKED' } });
    // The very record stored before is refused too: the device takes no more renames.
    expect(await rename(named)).toMatchObject({ status: 403, body: { code: 'DEVICE_REVOKED' } });
    expect(await stored(tablet)).toEqual(named);
  });

  it('refuses an older record replayed and another record at the stored seq (CONFLICT); the very record again is 200', async () => {
    const first = await makeDeviceName(patient, tablet.deviceId, 'Tablet', 1);
    const second = await makeDeviceName(patient, tablet.deviceId, 'Hall tablet', 2);
    expect((await rename(first)).status).toBe(200);
    expect((await rename(second)).status).toBe(200);

    expect(await rename(first)).toEqual({
      status: 409,
      body: {
        code: 'CONFLICT',
        message: "the device's name is already at seq 2: name it at a higher seq",
        details: { seq: 2 },
      },
    });
    // Another device of the account renaming this one at the same seq (a race lost): refused alike.
    const rival = await makeDeviceName(patient, tablet.deviceId, 'Study tablet', 2);
    expect(await rename(rival)).toMatchObject({
      status: 409,
      body: { code: 'CONFLICT', details: { seq: 2 } },
    });
    expect(await stored(tablet)).toEqual(second);
    expect(await deviceNames(patient)).toEqual([second]);

    // A retry of the stored rename (its answer lost) is answered as done.
    expect(await rename(second)).toEqual({ status: 200, body: { deviceId: tablet.deviceId, seq: 2 } });
    expect(await stored(tablet)).toEqual(second);
  });

  it('refuses bodies the schema does not admit (BAD_MESSAGE) and ones over a size limit (TOO_LARGE)', async () => {
    const good = await makeDeviceName(patient, tablet.deviceId, 'Tablet', 1);
    /** A name record altered as given, signed anew by the account (so only the schema can refuse it). */
    const signed = async (name: Record<string, unknown>) => ({
      name,
      sig: await sign(patient.keys.identity.secretKey, deviceNamePayload(name as never)),
    });
    const bodies: Array<[string, unknown]> = [
      ['an extra field', { ...good, extra: 1 }],
      ['an extra field in the record', await signed({ ...good.name, label: 'x' })],
      ['no sig', { name: good.name }],
      ['seq 0', await signed({ ...good.name, seq: 0 })],
      ['seq above 1,000,000', await signed({ ...good.name, seq: 1_000_001 })],
      ['a fractional seq', await signed({ ...good.name, seq: 1.5 })],
      ['another version', await signed({ ...good.name, v: 2 })],
      ['a malformed device id', await signed({ ...good.name, deviceId: 'short' })],
    ];
    for (const [what, body] of bodies) {
      const res = await rename(body);
      expect([what, res.status, (res.body as { code?: unknown }).code]).toEqual([what, 400, 'BAD_MESSAGE']);
    }
    // Past a size limit: the sealed name's (896 bytes), the body's.
    const longName = await signed({
      ...good.name,
      sealedName: 'A'.repeat(Math.ceil((MAX_SEALED_DEVICE_NAME_BYTES * 4) / 3) + 4),
    });
    const large = { ...good, pad: 'y'.repeat(MAX_HTTP_BODY_BYTES) };
    for (const body of [longName, large]) {
      expect(await rename(body)).toMatchObject({ status: 413, body: { code: 'TOO_LARGE' } });
    }
    expect(await stored(tablet)).toBeUndefined();
    // The body they were made from is taken.
    expect((await rename(good)).status).toBe(200);
  });
});
