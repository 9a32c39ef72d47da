// A grant made on one of the patient's devices after another of its devices re-keyed the stream (it
// revoked a provider there): the granting device had read no record of the new epoch, so its keyring still
// took epoch 0 for the stream's newest, and the grant wrapped epoch 0 alone. The new provider then set
// aside (NO_KEY) every record written since the rotation, for as long as no check of the patient's devices
// looked for keys its holders lack: the revoking device's refresh finds no ended grant to re-key, and the
// granting device, closed, runs none, so until the next connect of either.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openTwoDevices, waitOnline, openDevice } from '../support/devices';
import { input } from '../support/records';

const DAY = 24 * 3_600_000;

describe('a grant made on a device that has not seen a rotation made on another', () => {
  const server = useServer({ realClock: true });

  it("wraps the stream's current epoch: the new provider reads what is written after the rotation", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const newcomer = await registerAccount(t, 'provider');
    // The default refresh (minutes): neither patient device reads the grant list again in this test.
    const { a: phone, b: laptop } = await openTwoDevices(t, patient, server.sessions);
    await Promise.all([waitOnline(phone), waitOnline(laptop)]);
    const before = await phone.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(phone);
    await eventually(async () => (await laptop.records.get(before.id)) !== null, 'the laptop has it');

    // The phone revokes a provider: the allergy stream is re-keyed (epoch 1) there.
    const { grant } = await grantRead(phone, revoked.accountId, 'allergy', DAY, 'second opinion');
    const { rotated, pending } = await phone.consent.revoke(grant.grantId);
    expect(pending).toEqual([]);
    expect(rotated.map((r) => r.epoch)).toEqual([1]);

    // The laptop, which has read nothing of epoch 1, grants another provider, and is closed.
    await laptop.consent.verifyProvider(newcomer.accountId);
    await grantRead(laptop, newcomer.accountId, 'allergy', DAY, 'treatment');
    await laptop.close();
    server.sessions.splice(server.sessions.indexOf(laptop), 1);

    // The phone writes on: under epoch 1.
    const after = await phone.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(phone);

    const d = await openDevice(t, newcomer);
    server.sessions.push(d);
    await eventually(
      async () => (await d.records.get(before.id)) !== null,
      'the history before the rotation',
    );
    await eventually(
      async () => (await d.records.get(after.id)) !== null,
      'the allergy written after the rotation',
      8_000,
    );
    expect(d.sync.state().errors.map((e) => e.code)).not.toContain('NO_KEY');
  });
});
