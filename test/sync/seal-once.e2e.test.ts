// Seal once (issue #50): a device's own writes are stored as the wire documents they travel
// as; the server then holds exactly the bytes the device stored (no seal at push), the other device of
// the account verifies them as any pulled version (signature of a clinical record included), and the
// writing device reads its records again after a restart, offline. A clinician's device keeps a granted
// stream's versions as received (its keys kept) and reads them offline; once the grant ends nothing of
// them, nor their key, is left. A rotated own stream's later epoch is sealed once too.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createAccount, createHttpApi, isAccountError, lock, memoryVault } from '@hale/client/advanced';
import { TEST_KDF, base64urlDecode, openRecordVersion, openSecretbox } from '@hale/crypto';
import { addDevice, registerAccount, type TestAccount } from '@hale/sync-server/testing';
import { useServer, storedRow } from '../support/fixture';
import { allPushed, ed, eventually, grantRead, newDevice, openDevice, waitOnline } from '../support/devices';
import { granteeKeys, granteeOpens } from '../support/server-rows';
import { input } from '../support/records';

/**
 * The `data` field of record `id` as the memory storage holds it for database `dbName`, once written:
 * the memory storage applies writes to its state when idle, so this waits for it.
 */
const storedData = async (dbName: string, id: string): Promise<string> => {
  let found: string | undefined;
  await eventually(async () => {
    for (const [key, state] of getRxStorageMemory().collectionStates) {
      if (!key.startsWith(`${dbName}--`) || !key.includes('--records--')) continue;
      const doc = state.documents.get(id) as { data?: unknown } | undefined;
      if (doc !== undefined) found = String(doc.data);
    }
    return found !== undefined;
  }, `${id} stored`);
  return found!;
};
const ctOf = (stored: string): string => stored.split('.').at(-1) ?? '';

/** Every string the memory storage holds for database `dbName`, in every collection, with its document's id. */
const everyStoredString = (dbName: string): Array<{ id: string; value: string }> => {
  const out: Array<{ id: string; value: string }> = [];
  const walk = (id: string, v: unknown): void => {
    if (typeof v === 'string') out.push({ id, value: v });
    else if (Array.isArray(v)) for (const x of v) walk(id, x);
    else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) walk(id, x);
  };
  for (const [key, state] of getRxStorageMemory().collectionStates) {
    if (!key.startsWith(`${dbName}--`)) continue;
    for (const [id, doc] of state.documents) walk(String(id), doc);
  }
  return out;
};
/** RxDB's replication-meta copy (`docData`) of record `id` as the memory storage holds it for `dbName`. */
const storedMetaCopy = async (dbName: string, id: string): Promise<string> => {
  let found: string | undefined;
  await eventually(async () => {
    for (const [key, state] of getRxStorageMemory().collectionStates) {
      if (!key.startsWith(`${dbName}--`) || !key.includes('--rx-replication-meta-')) continue;
      const doc = state.documents.get(`${id}|0`) as { docData?: unknown } | undefined;
      if (doc !== undefined) found = String(doc.docData);
    }
    return found !== undefined;
  }, `meta copy of ${id} stored`);
  return found!;
};
/** The `ct` of a meta copy kept by reference (`m1.<epoch>.<rev>.<sig>.<lb>.<ct>.<clear>`). */
const metaCtOf = (stored: string): string => stored.split('.')[5] ?? '';

/**
 * Whether `key` opens anything of a stored `data` value: its every dot-separated part decoded and tried as
 * a record version sealed in `context` and as a secretbox (nonce first: the at-rest envelope's layout).
 */
const opensUnder = (
  key: Uint8Array,
  stored: string,
  context: { stream: string; id: string; epoch: number; rev: number },
): boolean =>
  stored.split('.').some((part) => {
    const bytes = base64urlDecode(part);
    if (!bytes.ok || bytes.value.length < 40) return false;
    let opened = false;
    try {
      opened = openRecordVersion(key, bytes.value, context).ok;
    } catch {
      opened = false;
    }
    return opened || openSecretbox(key, bytes.value.subarray(0, 24), bytes.value.subarray(24)) !== null;
  });

describe('seal once end to end (real server, real sockets, RxDB)', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('pushes the stored bytes, the other device verifies them, and a restart reads them offline', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const dbName = `seal-once-${Date.now()}`;
    const a = await openDevice(t, patient, { offline: true, dbName });
    sessions.push(a);
    const allergy = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    const lab = await a.records.add('LabResult', input('LabResult'));
    for (const id of [allergy.id, lab.id]) expect(await storedData(dbName, id)).toMatch(/^s1\./);

    const bName = `seal-once-b-${Date.now()}`;
    const b = await openDevice(t, patient, { device: second, dbName: bName });
    sessions.push(b);
    await waitOnline(b);
    a.sync.goOnline();
    await allPushed(a);
    // The server holds the very ciphertext the device stored at write time.
    for (const id of [allergy.id, lab.id]) {
      expect(Buffer.from(storedRow(t, id).ct).toString('base64url')).toBe(ctOf(await storedData(dbName, id)));
    }
    await eventually(async () => (await b.records.get(lab.id)) !== null, 'second device receives both');
    expect((await b.records.get<'Allergy'>(allergy.id))?.record.substance).toBe('Penicillin');
    expect(b.sync.state().quarantined).toBe(0);
    // Pulled: kept as received, the bytes the server holds (sealed once, at the author), not sealed again.
    for (const id of [allergy.id, lab.id]) {
      expect(await storedData(bName, id)).toMatch(/^s1\.0\./);
      expect(ctOf(await storedData(bName, id))).toBe(Buffer.from(storedRow(t, id).ct).toString('base64url'));
    }
    // RxDB's replication metadata on both devices refers to those very bytes: no second seal.
    for (const id of [allergy.id, lab.id]) {
      const server = Buffer.from(storedRow(t, id).ct).toString('base64url');
      for (const db of [dbName, bName]) {
        const copy = await storedMetaCopy(db, id);
        expect(copy).toMatch(/^m1\.0\./);
        expect(metaCtOf(copy)).toBe(server);
      }
    }

    // An update written on the other device, pulled here, then edited here again: still in sync.
    await b.records.update('Allergy', allergy.id, { severity: 'severe' });
    await eventually(
      async () => (await a.records.get<'Allergy'>(allergy.id))?.record.severity === 'severe',
      'update arrives',
    );
    await a.records.update('Allergy', allergy.id, { severity: 'mild' });
    await allPushed(a);
    expect(await storedData(dbName, allergy.id)).toMatch(/^s1\./);
    expect(Buffer.from(storedRow(t, allergy.id).ct).toString('base64url')).toBe(
      ctOf(await storedData(dbName, allergy.id)),
    );
    await eventually(
      async () => (await b.records.get<'Allergy'>(allergy.id))?.record.severity === 'mild',
      'second edit arrives',
    );

    // Restarted offline: what was sealed once opens under the stream key derived from the root.
    await a.close();
    sessions.splice(sessions.indexOf(a), 1);
    const again = await openDevice(t, patient, { offline: true, dbName });
    sessions.push(again);
    expect((await again.records.get<'Allergy'>(allergy.id))?.record.severity).toBe('mild');
    expect((await again.records.get(lab.id))?.kind).toBe('LabResult');

    // The other device too, restarted offline: what it kept as received opens under the same key.
    await b.close();
    sessions.splice(sessions.indexOf(b), 1);
    const bAgain = await openDevice(t, patient, {
      device: second,
      offline: true,
      dbName: bName,
    });
    sessions.push(bAgain);
    expect((await bAgain.records.get(lab.id))?.kind).toBe('LabResult');
    expect((await bAgain.records.get<'Allergy'>(allergy.id))?.record.substance).toBe('Penicillin');
  });

  it('the meta copy read after a restart is the assumed server state: an offline edit meets the other side as a conflict', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const aName = `seal-once-meta-a-${Date.now()}`;
    const bName = `seal-once-meta-b-${Date.now()}`;
    const a = await openDevice(t, patient, { dbName: aName });
    const b = await openDevice(t, patient, { device: second, dbName: bName });
    sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');
    const server1 = Buffer.from(storedRow(t, med.id).ct).toString('base64url');
    await eventually(
      async () => metaCtOf(await storedMetaCopy(bName, med.id)) === server1,
      "b's meta copy refers to the server's bytes",
    );

    // b restarts (nothing remembered) and edits offline while a's edit reaches the server.
    await b.close();
    sessions.splice(sessions.indexOf(b), 1);
    await a.records.update('Medication', med.id, { dose: '20 mg' });
    await allPushed(a);
    const bAgain = await openDevice(t, patient, {
      device: second,
      dbName: bName,
      offline: true,
    });
    sessions.push(bAgain);
    await new Promise((r) => setTimeout(r, 5));
    await bAgain.records.update('Medication', med.id, { dose: '5 mg' });
    expect(metaCtOf(await storedMetaCopy(bName, med.id))).toBe(server1);

    // Online: RxDB reads the copy (rv 1) as what the server holds, so the push meets a's rv 2 as a conflict
    // and both sides survive on both devices.
    bAgain.sync.goOnline();
    const agreed = async () => {
      const [x, y] = [
        await a.records.get<'Medication'>(med.id),
        await bAgain.records.get<'Medication'>(med.id),
      ];
      return !!x && !!y && x.rv === y.rv && x.conflict && y.conflict;
    };
    await eventually(agreed, 'both devices hold the conflict');
    const final = (await bAgain.records.get<'Medication'>(med.id))!;
    expect([final.record.dose, (final.conflictData as { dose?: string } | null)?.dose].sort()).toEqual([
      '20 mg',
      '5 mg',
    ]);
    expect(bAgain.sync.state().quarantined).toBe(0);
  });

  it('a version sealed once under an epoch that rotated before its push is sealed again under the new one', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const second = await addDevice(t, patient);
    const dbName = `seal-once-rotated-${Date.now()}`;
    const p1 = await openDevice(t, patient);
    const p2 = await openDevice(t, patient, { device: second, dbName });
    const d = await openDevice(t, provider);
    sessions.push(p1, p2, d);
    await Promise.all([waitOnline(p1), waitOnline(p2), waitOnline(d)]);
    await p1.consent.verifyProvider(provider.accountId);
    const granted = await grantRead(p1, provider.accountId, 'allergy', 3_600_000, 'care');

    // p2 writes offline, not knowing of the revocation p1 makes meanwhile: sealed once under epoch 0.
    p2.sync.goOffline();
    const { rotated } = await p1.consent.revoke(granted.grant.grantId);
    expect(rotated.length).toBeGreaterThan(0);
    const c = await p2.records.add('Allergy', input('Allergy', { substance: 'written offline' }));
    const stored = await storedData(dbName, c.id);
    expect(stored).toMatch(/^s1\.0\./);

    p2.sync.goOnline();
    await allPushed(p2);
    const row = storedRow(t, c.id);
    expect(row.epoch).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(row.ct).toString('base64url')).not.toBe(ctOf(stored));
    // The revoked provider holds epoch 0's key, not the new one: it cannot read what reached the server.
    expect(granteeOpens(t, provider, c.id)).toBe(false);
    await eventually(async () => (await p1.records.get(c.id)) !== null, 'p1 reads it');
    expect(p1.sync.quarantine()).toEqual([]);

    // Once the re-sealed version is stored, p2's disk no longer keeps it under epoch 0's key: the revoked
    // provider's keys (epoch 0's, taken from its envelopes as it could) open no part of what is stored.
    const stream = row.stream;
    const context = { stream, id: c.id, epoch: 0, rev: 1 };
    const revokedKeys = granteeKeys(t, provider, stream);
    expect(revokedKeys.map((k) => k.epoch)).toEqual([0]);
    // The check can fail: it opens the version as stored before the push.
    expect(opensUnder(revokedKeys[0]!.key, stored, context)).toBe(true);
    let kept = stored;
    // Under the at-rest key, or sealed once under the new epoch when its key was kept by then.
    await eventually(async () => {
      kept = await storedData(dbName, c.id);
      return !kept.startsWith('s1.0.');
    }, 'no longer under epoch 0 once stored');
    expect(opensUnder(revokedKeys[0]!.key, kept, context)).toBe(false);
    expect(kept).not.toContain(ctOf(stored));
    // Nor does RxDB's replication metadata: its copy of the pushed state is not kept by reference to epoch 0.
    const metaCopy = await storedMetaCopy(dbName, c.id);
    expect(metaCopy).not.toMatch(/^m1\./);
    expect(metaCopy).not.toContain(ctOf(stored));
    // Written again locally, unchanged: nothing new reaches the server.
    await allPushed(p2);
    const after = storedRow(t, c.id);
    expect([after.epoch, after.rev, Buffer.from(after.ct).equals(Buffer.from(row.ct))]).toEqual([
      row.epoch,
      row.rev,
      true,
    ]);

    // Still readable after a restart, offline.
    await p2.close();
    sessions.splice(sessions.indexOf(p2), 1);
    const again = await openDevice(t, patient, { device: second, dbName, offline: true });
    sessions.push(again);
    expect((await again.records.get<'Allergy'>(c.id))?.record.substance).toBe('written offline');
    expect(again.sync.state().quarantined).toBe(0);
  });

  it("a clinician keeps a granted stream's versions as received, reads them offline; nothing is left after the grant ends", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = `${patient.accountId}/allergy`;
    const pName = `seal-once-patient-${Date.now()}`;
    const dName = `seal-once-clinician-${Date.now()}`;
    const p = await openDevice(t, patient, { dbName: pName });
    sessions.push(p);
    await waitOnline(p);
    const granted = await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'care');
    const first = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(p);

    const d = await openDevice(t, provider, { dbName: dName });
    sessions.push(d);
    await waitOnline(d);
    await eventually(async () => (await d.records.get(first.id)) !== null, 'clinician receives it');
    // The server's very bytes, under the granted stream's epoch 0 (a key the clinician keeps).
    const kept = await storedData(dName, first.id);
    expect(kept).toMatch(/^s1\.0\./);
    expect(ctOf(kept)).toBe(Buffer.from(storedRow(t, first.id).ct).toString('base64url'));
    const [grantedKey] = granteeKeys(t, provider, stream);
    expect(opensUnder(grantedKey!.key, kept, { stream, id: first.id, epoch: 0, rev: 1 })).toBe(true);

    // Restarted offline: the kept key opens what was kept, before any envelope could be fetched.
    await d.close();
    sessions.splice(sessions.indexOf(d), 1);
    const dOffline = await openDevice(t, provider, { dbName: dName, offline: true });
    sessions.push(dOffline);
    expect((await dOffline.records.get<'Allergy'>(first.id))?.record.substance).toBe('Iodine');
    expect(dOffline.sync.state().quarantined).toBe(0);

    // The grant ends: the patient's stream rotates. Its later epoch's key, once kept, seals its writes once.
    await p.consent.revoke(granted.grant.grantId);
    await eventually(() => p.keyring.currentEpoch(stream) >= 1, 'rotated');
    await eventually(() => p.keyring.keptKey(stream, 1) !== null, 'epoch 1 key kept');
    const later = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const sealed = await storedData(pName, later.id);
    expect(sealed).toMatch(/^s1\.1\./);
    await allPushed(p);
    expect(ctOf(sealed)).toBe(Buffer.from(storedRow(t, later.id).ct).toString('base64url'));
    await p.close();
    sessions.splice(sessions.indexOf(p), 1);
    const pAgain = await openDevice(t, patient, { dbName: pName, offline: true });
    sessions.push(pAgain);
    expect((await pAgain.records.get<'Allergy'>(later.id))?.record.substance).toBe('Latex');
    expect((await pAgain.records.get<'Allergy'>(first.id))?.record.substance).toBe('Iodine');

    // The clinician comes online: its copy is purged; no stored string opens under the stream's key, and
    // the kept key is gone (a restart offline holds none).
    dOffline.sync.goOnline();
    await eventually(async () => (await dOffline.records.get(first.id)) === null, 'purged');
    await eventually(
      async () =>
        !everyStoredString(dName).some(({ value }) =>
          opensUnder(grantedKey!.key, value, { stream, id: first.id, epoch: 0, rev: 1 }),
        ),
      'nothing under the stream key left',
    );
    expect(everyStoredString(dName).some(({ value }) => value === kept)).toBe(false);
    await dOffline.close();
    sessions.splice(sessions.indexOf(dOffline), 1);
    const dAfter = await openDevice(t, provider, { dbName: dName, offline: true });
    sessions.push(dAfter);
    expect(dAfter.keyring.heldKey(stream, 0)).toBeNull();
    expect(await dAfter.records.get(first.id)).toBeNull();
  });

  it('holds no plaintext once the account is locked: what was sealed once no longer opens', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const loginName = `sealonce-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const { account } = await createAccount(
      { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: 'correct horse battery', loginName, deviceName: 'laptop' },
    );
    const dbName = `seal-once-lock-${Date.now()}`;
    const a = await openDevice(t, {} as TestAccount, {
      sessionAccount: account,
      offline: true,
      dbName,
    });
    sessions.push(a);
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    expect(await storedData(dbName, added.id)).toMatch(/^s1\./);
    const storage = a.db.records.storageInstance;
    const [before] = await storage.findDocumentsById([added.id], false);
    expect((before?.data as { substance?: string } | undefined)?.substance).toBe('Penicillin');

    lock(account);
    // The store itself, below the session's refusals: the remembered plaintext and the stream key are gone,
    // and the read is refused as locked (not opened, not a decryption failure).
    const error: unknown = await storage.findDocumentsById([added.id], false).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isAccountError(error) && error.code).toBe('LOCKED');
    expect(String((error as Error).message)).not.toContain('Penicillin');
  });
});
