// Which name record a device shows: only what the account's identity key signed for that account and
// device, the highest number winning; a record a dishonest server made, moved, changed or replays old is
// left out, and the device list then shows the certificate's (or the newest signed) name.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret, sealDeviceName } from '@hale/crypto';
import { type DeviceName, type SignedDeviceName, deviceNamePayload } from '@hale/protocol';
import { ed } from '../../../../sync-server/src/testing/harness';
import { signPayload } from './account-deps';
import { newestNames } from './device-rename';

const account = deriveAccountKeys(generateRootSecret());
const other = deriveAccountKeys(generateRootSecret());
const phone = generateDeviceKeys().deviceId;
const laptop = generateDeviceKeys().deviceId;

const record = async (
  seq: number,
  name: string,
  options: { by?: typeof account; accountId?: string; deviceId?: string } = {},
): Promise<SignedDeviceName> => {
  const by = options.by ?? account;
  const deviceId = options.deviceId ?? phone;
  const body: DeviceName = {
    v: 1,
    accountId: options.accountId ?? account.accountId,
    deviceId,
    sealedName: sealDeviceName(name, account.wrapping.publicKey, deviceId),
    seq,
  };
  return { name: body, sig: await signPayload(ed, by.identity.secretKey, deviceNamePayload(body)) };
};

const newest = (records: readonly unknown[]) =>
  newestNames(ed, account.identity.publicKey, account.accountId, records);

describe('newestNames', () => {
  it('keeps the highest signed number of each device, whatever the order served', async () => {
    const one = await record(1, 'one');
    const three = await record(3, 'three');
    const two = await record(2, 'two');
    const theLaptop = await record(1, 'laptop', { deviceId: laptop });
    const got = await newest([one, three, two, theLaptop]);
    expect(got.get(phone)).toEqual(three.name);
    expect(got.get(laptop)).toEqual(theLaptop.name);
    expect((await newest([three, one])).get(phone)?.seq).toBe(3);
  });

  it('leaves out what the account did not sign for itself and that device', async () => {
    const honest = await record(1, 'honest');
    // Signed by another account's key, naming this account (a server's own key would be the same).
    const foreignKey = await record(9, 'server says', { by: other });
    // Signed by this account for another account id: not this account's record.
    const elsewhere = await record(9, 'elsewhere', { accountId: other.accountId });
    // This account's signature, moved to another device id or to a higher number: no longer verifies.
    const moved = { ...honest, name: { ...honest.name, deviceId: laptop } };
    const bumped = { ...honest, name: { ...honest.name, seq: 9 } };
    // A sealed name swapped for another (sealed to the account by anyone: the wrapping key is public).
    const swapped = {
      ...honest,
      name: { ...honest.name, seq: 1, sealedName: sealDeviceName('x', account.wrapping.publicKey, phone) },
    };
    const garbage = [
      { name: honest.name },
      { name: { ...honest.name, extra: 1 }, sig: honest.sig },
      'text',
      null,
    ];
    const got = await newest([foreignKey, elsewhere, moved, bumped, swapped, ...garbage, honest]);
    expect([...got.keys()]).toEqual([phone]);
    expect(got.get(phone)).toEqual(honest.name);
    expect((await newest([foreignKey, moved, bumped])).size).toBe(0);
    expect(await newest([])).toEqual(new Map());
  });
});
