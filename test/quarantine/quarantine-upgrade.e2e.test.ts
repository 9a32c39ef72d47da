import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { openDeviceSession, type DeviceSession, type DeviceSessionOptions } from '@hale/client/advanced';
import { MODEL_VERSION, validateRecord, type RecordKind } from '@hale/model';
import {
  registerAccount,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';
import { useCryptoWorker, useServer } from '../support/fixture';
import {
  allPushed,
  createWebSocket,
  ed,
  eventually,
  getAccountFrom,
  newDevice,
  openDevice,
  sessionAccount,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

type ContentModel = NonNullable<DeviceSessionOptions['contentModel']>;

/** The record rules of an older app version: an allergy's `reaction` did not exist yet. */
const olderBuild: ContentModel = {
  version: 'older-build',
  validateRecord: (kind: RecordKind, data: unknown) =>
    typeof data === 'object' && data !== null && 'reaction' in data
      ? { ok: false, error: { message: 'Allergy is invalid: reaction: is not allowed' } }
      : validateRecord(kind, data),
};

/** An allergy without the field the older version does not know. */
const withoutReaction = (substance: string) => {
  const { reaction: _, ...rest } = input('Allergy', { substance });
  return rest;
};

// A newer app version may write records an older one cannot validate (its schemas are closed). The older
// device sets them aside; once it is updated, it reads them again and shows them.
describe('records set aside by an older app version', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;
  const worker = process.env['HALE_CRYPTO_WORKER'] === '1' ? useCryptoWorker() : undefined;

  /** A device of `account` over one store (`dbName` in `storage`), reopened as the app restarts. */
  const updatableDevice = (t: TestServer, account: TestAccount, device: TestDevice) => {
    const storage = getRxStorageMemory();
    const dbName = `upgrade-${device.keys.deviceId.slice(0, 8)}-${Date.now()}`;
    let current: DeviceSession | null = null;
    return async (contentModel?: ContentModel): Promise<DeviceSession> => {
      if (current) {
        sessions.splice(sessions.indexOf(current), 1);
        await current.close();
      }
      current = await openDeviceSession({
        account: sessionAccount(account, device),
        serverUrl: t.url,
        createWebSocket,
        storage,
        getAccount: getAccountFrom(t),
        ed,
        dbName,
        ...(contentModel ? { contentModel } : {}),
        ...(worker ? { cryptoOffload: worker } : {}),
      });
      sessions.push(current);
      return current;
    };
  };

  it('a record an older version could not read shows once the device is updated; invalid content stays aside', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const newer = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa', reaction: 'Hives' }));
    // What no version accepts, written straight into a's store (the server sees only ciphertext).
    const INVALID = '01M7ZAPPM5277E610CBC288C51';
    const now = new Date().toISOString();
    await a.db.records.insert({
      id: INVALID,
      stream: `${patient.accountId}/allergy`,
      kind: 'Allergy',
      patientId: patient.accountId,
      updatedAt: now,
      rv: 1,
      epoch: 0,
      author: a.account.device.deviceId,
      by: patient.accountId,
      conflict: false,
      conflictData: null,
      data: { id: INVALID, patientId: patient.accountId, note: 'no substance field' },
    });
    const plain = await a.records.add('Allergy', withoutReaction('Latex'));
    await allPushed(a);

    const open = updatableDevice(t, patient, await newDevice(t, patient));
    let b = await open(olderBuild);
    await eventually(
      async () => (await b.records.get(plain.id)) !== null,
      'the older version shows the plain one',
    );
    await eventually(() => b.sync.quarantine().length === 2, 'it sets the other two aside');
    expect(b.sync.quarantine().map((q) => [q.id, q.reason, q.model])).toEqual(
      expect.arrayContaining([
        [newer.id, 'BAD_CONTENT', 'older-build'],
        [INVALID, 'BAD_CONTENT', 'older-build'],
      ]) as unknown,
    );
    expect(await b.records.get(newer.id)).toBeNull();

    // The app is updated.
    b = await open();
    await eventually(
      async () => (await b.records.get<'Allergy'>(newer.id))?.record.reaction === 'Hives',
      'the updated app shows the record',
    );
    await eventually(() => b.sync.quarantine().length === 1, 'it left the quarantine');
    expect(b.sync.quarantine().map((q) => [q.id, q.reason, q.model])).toEqual([
      [INVALID, 'BAD_CONTENT', MODEL_VERSION],
    ]);
    expect(await b.records.get(INVALID)).toBeNull();
  });

  it('a local change that met such a version (CONFLICT_UNREADABLE) does not hide it after the update', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const allergy = await a.records.add('Allergy', withoutReaction('Sulfa'));
    await allPushed(a);
    const open = updatableDevice(t, patient, await newDevice(t, patient));
    let b = await open(olderBuild);
    await eventually(async () => (await b.records.get(allergy.id)) !== null, 'b has the allergy');

    b.sync.goOffline();
    await a.records.update('Allergy', allergy.id, { reaction: 'Hives' });
    // Applied by b in the same pull, so its stored position moves past a's version: no later pull serves
    // that version again by itself.
    const later = await a.records.add('Allergy', withoutReaction('Latex'));
    await allPushed(a);
    await b.records.update('Allergy', allergy.id, { notes: 'changed on b' });
    b.sync.goOnline();
    await waitOnline(b);
    await eventually(
      () => b.sync.unsent().some((u) => u.id === allergy.id && u.code === 'CONFLICT_UNREADABLE'),
      "b's change met a's version, which the older app cannot read",
    );
    await eventually(async () => (await b.records.get(later.id)) !== null, 'b applied the later record');
    expect(b.sync.quarantine().map((q) => [q.id, q.reason])).toEqual([[allergy.id, 'BAD_CONTENT']]);
    expect((await b.records.get<'Allergy'>(allergy.id))?.record.notes).toBe('changed on b');

    // The app is updated: the server's version is fetched again and replaces the local copy, which the
    // server never took (it stays in unsent changes).
    b = await open();
    await eventually(
      async () => (await b.records.get<'Allergy'>(allergy.id))?.record.reaction === 'Hives',
      "the updated app shows a's version",
    );
    await eventually(() => b.sync.quarantine().length === 0, 'it left the quarantine');
    expect(b.sync.unsent().map((u) => [u.id, u.data['notes']])).toEqual([[allergy.id, 'changed on b']]);
  });
});
