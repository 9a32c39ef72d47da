// Key envelopes signed by a patient device that the account revokes later. No device takes a revoked
// device's signature; what it signed stays usable all the same: a grantee's envelopes are signed anew by an
// active device of the patient (which the server stores in their place), and an own stream's epoch key is
// derived by the patient's other devices. Before, a provider's new session set the patient's whole history
// aside (NO_KEY) once the granting phone was revoked, and the patient's other device could not read what the
// phone wrote after a revocation it minted an epoch for (and rotated again for nothing).
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import {
  addDevice,
  registerAccount,
  revokeDevice,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

const envelopeCreator = (
  t: TestServer,
  stream: string,
  epoch: number,
  recipient: string,
): string | undefined =>
  (
    t.store.db
      .prepare('SELECT created_by FROM envelopes WHERE stream = ? AND epoch = ? AND recipient = ?')
      .get(stream, epoch, recipient) as { created_by: string } | undefined
  )?.created_by;

const serverEpoch = (t: TestServer, stream: string): number =>
  (t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as { e: number })
    .e;

const storedEpoch = (t: TestServer, id: string): number =>
  (t.store.db.prepare('SELECT epoch FROM docs WHERE id = ?').get(id) as { epoch: number }).epoch;

describe('key envelopes signed by a patient device revoked later', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const open = async (account: TestAccount, device?: TestDevice): Promise<DeviceSession> => {
    const s = await openDevice(server.t, account, device ? { device } : {});
    sessions.push(s);
    await waitOnline(s);
    return s;
  };
  /** The phone is lost: closed here, revoked by the account (identity key). */
  const revokePhone = async (t: TestServer, patient: TestAccount, phone: DeviceSession): Promise<void> => {
    await phone.close();
    sessions.splice(sessions.indexOf(phone), 1);
    expect((await revokeDevice(t, patient, patient.device)).status).toBe(200);
  };
  /**
   * Whether `s` comes to hold the record and to have none of its versions set aside (one pulled before the
   * device learnt the grants it derives the key for is set aside a moment, then taken).
   */
  const reads = async (s: DeviceSession, id: string): Promise<boolean> =>
    eventually(
      async () => (await s.records.get(id)) !== null && !s.sync.quarantine().some((q) => q.id === id),
      `reads ${id}`,
      8000,
    ).then(
      () => true,
      () => false,
    );

  it("a provider's new session reads the history the revoked phone granted, once another patient device checked", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const other = await addDevice(t, patient);
    const stream = `${patient.accountId}/allergy`;
    const phone = await open(patient);
    const d = await open(provider);
    const rec = await phone.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(phone);
    await grantRead(phone, provider.accountId, 'allergy', 24 * HOUR, 'treatment');
    await eventually(async () => (await d.records.get(rec.id)) !== null, 'provider synced');
    expect(envelopeCreator(t, stream, 0, provider.accountId)).toBe(patient.device.deviceId);

    await revokePhone(t, patient, phone);
    const b = await open(patient, other);
    // Nothing ended: no rotation, only the revoked phone's envelope signed anew.
    expect(await b.consent.rotateExpired()).toEqual([]);

    const d2 = await open(provider);
    const ok = await reads(d2, rec.id);
    expect({ ok, creator: envelopeCreator(t, stream, 0, provider.accountId) }).toEqual({
      ok: true,
      creator: other.deviceId,
    });
  });

  it("the patient's other device (fresh store) reads what the phone wrote under the epoch it minted, and rotates no more", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const other = await addDevice(t, patient);
    const stream = `${patient.accountId}/allergy`;
    const phone = await open(patient);
    const g = await grantRead(phone, provider.accountId, 'allergy', 24 * HOUR, 'treatment');
    expect((await phone.consent.revoke(g.grant.grantId)).pending).toEqual([]);
    const rec = await phone.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(phone);
    expect(storedEpoch(t, rec.id)).toBe(1);

    await revokePhone(t, patient, phone);
    const b = await open(patient, other);
    expect(await b.consent.rotateExpired()).toEqual([]);
    const ok = await reads(b, rec.id);
    expect({ ok, epoch: serverEpoch(t, stream) }).toEqual({ ok: true, epoch: 1 });
  });

  it('also reads an older epoch the phone minted (a revocation before the last one)', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const first = await registerAccount(t, 'provider');
    const second = await registerAccount(t, 'provider');
    const other = await addDevice(t, patient);
    const stream = `${patient.accountId}/allergy`;
    const phone = await open(patient);
    const g1 = await grantRead(phone, first.accountId, 'allergy', 24 * HOUR, 'treatment');
    const g2 = await grantRead(phone, second.accountId, 'allergy', 24 * HOUR, 'treatment');
    expect((await phone.consent.revoke(g1.grant.grantId)).pending).toEqual([]);
    const older = await phone.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(phone);
    expect((await phone.consent.revoke(g2.grant.grantId)).pending).toEqual([]);
    const newer = await phone.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(phone);
    expect([storedEpoch(t, older.id), storedEpoch(t, newer.id)]).toEqual([1, 2]);

    await revokePhone(t, patient, phone);
    const b = await open(patient, other);
    expect(await b.consent.rotateExpired()).toEqual([]);
    const both = [await reads(b, older.id), await reads(b, newer.id)];
    expect({ both, epoch: serverEpoch(t, stream) }).toEqual({ both: [true, true], epoch: 2 });
  });
});
