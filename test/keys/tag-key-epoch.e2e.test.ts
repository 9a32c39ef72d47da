// Revision tags follow the key epoch. A tag is a keyed hash of a version's content, stored and served in
// clear; a grantee shut out by a rotation keeps the keys of the epochs it held, so a tag key derived from
// one of those (it was the epoch-0 key for every version) would let it, with the server's copy of the
// tags, test guesses of what was written after it lost access. Each version is tagged with the tag key of
// the epoch it is sealed under, and devices keep syncing and editing across the rotation: records sealed
// before it, records written after it, on the device that rotated, on another device, after a restart.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import {
  checkContentRevisionTag,
  deriveAccountKeys,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  openRecordVersion,
  unwrapKey,
  type AccountKeys,
} from '@hale/crypto';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

/** The key an account's envelope on the server opens to, for (stream, epoch). */
const serverKey = (t: TestServer, stream: string, recipient: string, keys: AccountKeys, epoch: number) => {
  const row = t.store.db
    .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
    .get(stream, recipient, epoch) as { wrapped: string } | undefined;
  if (!row) throw new Error(`no envelope for ${recipient} at epoch ${epoch}`);
  const key = unwrapKey(row.wrapped, keys.wrapping, { stream, epoch });
  if (!key.ok) throw new Error(`cannot open the envelope: ${key.error.code}`);
  return key.value;
};

interface StoredVersion {
  stream: string;
  rev: string;
  rv: number;
  epoch: number;
  deleted: boolean;
  content: unknown;
}

/** A record as the server stores it, opened with the patient's key of its epoch. */
const storedVersion = (
  t: TestServer,
  patient: { accountId: string; keys: AccountKeys; root: Uint8Array },
  id: string,
): StoredVersion => {
  const row = t.store.db.prepare('SELECT stream, rev, epoch, deleted, ct FROM docs WHERE id = ?').get(id) as {
    stream: string;
    rev: string;
    epoch: number;
    deleted: number;
    ct: Buffer;
  };
  const rv = Number(row.rev.split('-')[0]);
  // Epoch 0 of the patient's own streams comes from the root; later epochs from the server's envelopes.
  const key =
    row.epoch === 0
      ? deriveInitialStreamKey(patient.root, row.stream)
      : serverKey(t, row.stream, patient.accountId, patient.keys, row.epoch);
  const opened = openRecordVersion(key, new Uint8Array(row.ct), {
    stream: row.stream,
    id,
    epoch: row.epoch,
    rev: rv,
  });
  if (!opened.ok) throw new Error(`cannot open ${id}: ${opened.error.code}`);
  return {
    stream: row.stream,
    rev: row.rev,
    rv,
    epoch: row.epoch,
    deleted: row.deleted === 1,
    content: opened.value.data,
  };
};

/** Whether a stored version's clear tag verifies under a tag key (the question a tag-key holder can ask). */
const tagVerifies = (tagKey: Uint8Array, v: StoredVersion, id: string): boolean =>
  checkContentRevisionTag(tagKey, v.rev, {
    stream: v.stream,
    id,
    rev: v.rv,
    deleted: v.deleted,
    data: v.content,
  }).ok;

/** No device of the test quarantined, held back or marked in conflict anything, and none reported trouble. */
const clean = async (ids: readonly string[], ...sessions: DeviceSession[]): Promise<void> => {
  for (const s of sessions) {
    expect(s.sync.quarantine()).toEqual([]);
    expect(s.sync.unsent()).toEqual([]);
    expect(s.sync.state().errors.map((e) => e.code)).toEqual([]);
    for (const id of ids) expect((await s.records.get(id))?.conflict ?? false).toBe(false);
  }
};

const substanceOf = async (s: DeviceSession, id: string): Promise<string | undefined> =>
  (await s.records.get<'Allergy'>(id))?.record.substance;

describe('revision tags after a rotation', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('versions sealed at epoch 1 are tagged with its tag key; edits across the rotation push and sync cleanly', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `tag-key-epoch-${Date.now()}`;
    const patient = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const second = await addDevice(t, patient);
    let p = await openDevice(t, patient, { storage, dbName });
    const q = await openDevice(t, patient, { device: second });
    const d = await openDevice(t, revoked);
    const o = await openDevice(t, stays);
    sessions.push(p, q, d, o);
    await Promise.all([waitOnline(p), waitOnline(q), waitOnline(d), waitOnline(o)]);
    const stream = `${patient.accountId}/allergy`;

    // Before the rotation: two records at epoch 0, read by both providers and the other device.
    const old = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const old2 = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const grant = await grantRead(p, revoked.accountId, 'allergy', 24 * HOUR, 'treatment');
    await grantRead(p, stays.accountId, 'allergy', 24 * HOUR, 'treatment');
    await allPushed(p);
    for (const s of [q, d, o]) {
      await eventually(async () => (await substanceOf(s, old2.id)) === 'Latex', 'epoch-0 records synced');
    }
    const k0 = serverKey(t, stream, revoked.accountId, deriveAccountKeys(revoked.root), 0);
    const tagKey0 = deriveRevisionTagKey(k0); // what the revoked provider keeps
    // Epoch-0 versions: tagged with the epoch-0 tag key, as before.
    expect(tagVerifies(tagKey0, storedVersion(t, patient, old.id), old.id)).toBe(true);

    // The revocation re-keys the stream: epoch 1, whose key the revoked provider never gets.
    expect(await p.consent.revoke(grant.grant.grantId)).toEqual({
      rotated: [{ stream, epoch: 1 }],
      pending: [],
    });
    const k1 = serverKey(t, stream, patient.accountId, patient.keys, 1);
    const tagKey1 = deriveRevisionTagKey(k1);

    // (1) A record written after the rotation: sealed at epoch 1, its tag not testable with tagKey0.
    const fresh = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    // (2) An edit of a record sealed at epoch 0 (its assumed master state is the epoch-0 version).
    await p.records.update('Allergy', old.id, { substance: 'Iodine contrast' });
    await allPushed(p, 'post-rotation writes pushed');
    for (const id of [fresh.id, old.id]) {
      const v = storedVersion(t, patient, id);
      expect(v.epoch).toBe(1);
      expect(tagVerifies(tagKey1, v, id)).toBe(true);
      expect(tagVerifies(tagKey0, v, id)).toBe(false);
    }
    expect(storedVersion(t, patient, old.id).rv).toBe(2);

    // (3) Edits of versions this device sealed at epoch 1: the one created after the rotation (its local
    // copy still says epoch 0) and the one just edited.
    await p.records.update('Allergy', fresh.id, { substance: 'Amoxicillin' });
    await p.records.update('Allergy', old.id, { substance: 'Iodine (contrast media)' });
    await allPushed(p, 'second edits pushed');
    expect(storedVersion(t, patient, fresh.id).rv).toBe(2);
    expect(storedVersion(t, patient, old.id).rv).toBe(3);

    // The other device of the patient and the remaining provider follow; the revoked provider gets nothing.
    for (const s of [q, o]) {
      await eventually(async () => (await substanceOf(s, fresh.id)) === 'Amoxicillin', 'new record synced');
      await eventually(
        async () => (await substanceOf(s, old.id)) === 'Iodine (contrast media)',
        'edits synced',
      );
    }
    // (4) The other device edits both (its assumed master states came from the server, at epoch 1), and the
    // epoch-0 record nobody touched since the rotation.
    await q.records.update('Allergy', fresh.id, { substance: 'Ampicillin' });
    await q.records.update('Allergy', old2.id, { substance: 'Latex gloves' });
    await allPushed(q, 'other device pushed');
    await eventually(async () => (await substanceOf(p, fresh.id)) === 'Ampicillin', 'back on the first');
    await eventually(async () => (await substanceOf(p, old2.id)) === 'Latex gloves', 'back on the first');

    // (5) After a restart (nothing of the last session's pushes remembered), the first device edits the
    // record it last wrote at epoch 1 and the one the other device wrote.
    sessions.splice(sessions.indexOf(p), 1);
    await p.close();
    p = await openDevice(t, patient, { storage, dbName });
    sessions.push(p);
    await waitOnline(p);
    await p.records.update('Allergy', old.id, { substance: 'Iodine, after restart' });
    await p.records.update('Allergy', fresh.id, { substance: 'Ampicillin, after restart' });
    await allPushed(p, 'pushed after restart');
    await eventually(
      async () => (await substanceOf(q, old.id)) === 'Iodine, after restart',
      'restart edit synced',
    );
    await eventually(
      async () => (await substanceOf(o, fresh.id)) === 'Ampicillin, after restart',
      'restart edit synced',
    );
    for (const id of [old.id, old2.id, fresh.id]) {
      const v = storedVersion(t, patient, id);
      expect(v.epoch).toBe(1);
      expect(tagVerifies(tagKey1, v, id)).toBe(true);
      expect(tagVerifies(tagKey0, v, id)).toBe(false);
    }
    expect(storedVersion(t, patient, old.id).rv).toBe(4);
    expect(storedVersion(t, patient, fresh.id).rv).toBe(4);
    await clean([old.id, old2.id, fresh.id], p, q, o);
    expect(await d.records.get(fresh.id)).toBeNull();
  });
});
