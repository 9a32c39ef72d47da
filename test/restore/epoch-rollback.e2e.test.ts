// A server (colluding with a revoked grantee) that withholds the epoch minted by a revocation — reports the
// older epoch, drops the new envelopes and silently refuses every claim of a new one — must not get a
// patient device to write under the old epoch's key, which the revoked grantee holds: after a restart, or on
// another of the patient's devices, new records stay pending (NO_KEY) until the rotation is confirmed, then
// go out under the new epoch. Devices are sessions as the app opens them; the server's store is altered
// beside it.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { decodeRecoveryKey, deriveAccountKeys, openRecordVersion, unwrapKey } from '@hale/crypto';
import type { HaleSession } from '@hale/client';
import type { TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  createdDevice,
  input,
  joinedDevice,
  online,
  reconnected,
  reports,
  restarted,
  tappedPlatform,
  until,
  useHaleSessions,
  when,
  type TappedPlatform,
} from './restore-parties';

const HOUR = 3600_000;

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

/** The server forgets every epoch after 0 of `stream` and silently ignores any envelope for one. */
const withholdNewEpochs = (t: TestServer, stream: string): void => {
  t.store.db.prepare('DELETE FROM envelopes WHERE stream = ? AND epoch > 0').run(stream);
  t.store.db.exec(
    `CREATE TRIGGER withhold_epochs BEFORE INSERT ON envelopes
     WHEN NEW.stream = '${stream}' AND NEW.epoch > 0 BEGIN SELECT RAISE(IGNORE); END`,
  );
};
const stopWithholding = (t: TestServer): void => {
  t.store.db.exec('DROP TRIGGER withhold_epochs');
};

const storedDoc = (t: TestServer, id: string) =>
  t.store.db.prepare('SELECT ct, epoch FROM docs WHERE id = ?').get(id) as
    { ct: Buffer; epoch: number } | undefined;

const noKeyIssue = (s: HaleSession, stream: string): boolean =>
  s.sync.state.get().errors.some((e) => e.code === 'NO_KEY' && e.stream === stream);

/**
 * The connect-time re-keying check (consent's `rotateExpired`) failed with CLAIM_UNCONFIRMED, the keyring's
 * words for a claim the server took and then served no envelope for: kept as REKEY_PENDING
 * (session/rekey-check.ts).
 */
const claimUnconfirmed = (s: HaleSession): boolean =>
  reports(s, 'REKEY_PENDING').some((e) =>
    /serves no valid key envelope|no key held for epoch/.test(e.message),
  );

const persistentStorage = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

/**
 * A tap that counts the device's requests for every envelope it may hold (`getEnvelopes` naming no
 * streams): a version waiting for its key is sent again only after such a read (sync/key-wait.ts).
 */
const envelopeReads = (device: TappedPlatform) => {
  let n = 0;
  device.tap = {
    sent: (text, send) => {
      const frame = JSON.parse(text) as { t: string; streams?: unknown };
      if (frame.t === 'getEnvelopes' && frame.streams === undefined) n++;
      send(text);
    },
  };
  return () => n;
};

describe('a server withholding the epoch minted by a revocation', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  /** Patient (persistent store) and a provider revoked after syncing; the rotation to epoch 1 completed. */
  const setup = async () => {
    const t = server.t;
    const pDevice = tappedPlatform({ storage: persistentStorage() });
    const { session: p, loginName } = await createdDevice(t.url, sessions, { device: pDevice });
    const revoked = await createdDevice(t.url, sessions, { role: 'provider' });
    const d = revoked.session;
    const revokedId = d.account.accountId;
    await Promise.all([online(p), online(d)]);
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const grant = await p.consent.grant({
      granteeId: revokedId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 24 * HOUR,
      purpose: 'treatment',
    });
    await until(async () => (await d.records.get(before.id)) !== null, 'revoked provider synced', 15_000);
    const stream = `${p.account.accountId}/allergy`;
    const row = t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = 0')
      .get(stream, revokedId) as { wrapped: string };
    // The revoked grantee's own keys, from its recovery key (its root).
    const root = decodeRecoveryKey(revoked.recoveryKey);
    if (!root.ok) throw new Error('cannot read the revoked provider recovery key');
    const opened = unwrapKey(row.wrapped, deriveAccountKeys(root.value).wrapping, { stream, epoch: 0 });
    if (!opened.ok) throw new Error('cannot open the revoked provider envelope');
    expect((await p.consent.revoke(grant.grant.grantId)).pending).toEqual([]);
    expect(serverEpoch(t, stream)).toBe(1);
    return { t, loginName, p, pDevice, stream, held: opened.value };
  };

  /** `writer` adds a record while the epoch is withheld: it must stay pending, never pushed under epoch 0. */
  const staysPending = async (t: TestServer, writer: HaleSession, device: TappedPlatform, stream: string) => {
    const reads = envelopeReads(device);
    const after = await writer.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await when(
      writer.sync.state,
      () => noKeyIssue(writer, stream),
      'NO_KEY reported for the withheld stream',
    );
    // The waiting version is sent again after a backoff: give it a few tries (each reads the envelopes
    // first; the second read starts once the first try ended).
    const from = reads();
    await until(() => reads() >= from + 2, 'the device tried again', 30_000);
    expect(storedDoc(t, after.id)).toBeUndefined();
    expect(writer.sync.state.get().pendingWrites).toBeGreaterThan(0);
    return after.id;
  };

  /** Once the server serves the new epoch again, the record goes out under it, closed to the old key. */
  const pushedUnderNewEpoch = async (
    s: Awaited<ReturnType<typeof setup>>,
    writer: HaleSession,
    device: TappedPlatform,
    id: string,
  ) => {
    stopWithholding(s.t);
    await reconnected(writer, device, 'the writer');
    await allPushed(writer, 'pending write pushed after the rotation was confirmed');
    const row = storedDoc(s.t, id)!;
    // The current epoch (a claim re-made after the withheld one may take the next number).
    expect(row.epoch).toBeGreaterThan(0);
    expect(row.epoch).toBe(serverEpoch(s.t, s.stream));
    const attempt = openRecordVersion(s.held, new Uint8Array(row.ct), {
      stream: s.stream,
      id,
      epoch: row.epoch,
      rev: 1,
    });
    expect(attempt.ok).toBe(false);
  };

  it('after a restart, the patient device does not write under the revoked epoch', async () => {
    const s = await setup();
    await s.p.close();
    sessions.splice(sessions.indexOf(s.p), 1);
    withholdNewEpochs(s.t, s.stream);

    const again = await restarted(s.t.url, sessions, s.pDevice);
    await online(again);
    // The re-keying on connect cannot be confirmed: the server drops the claim.
    await when(again.sync.state, () => claimUnconfirmed(again), 'the re-keying on connect unconfirmed');
    const id = await staysPending(s.t, again, s.pDevice, s.stream);
    await pushedUnderNewEpoch(s, again, s.pDevice, id);
  });

  it("another of the patient's devices does not write under the revoked epoch", async () => {
    const s = await setup();
    withholdNewEpochs(s.t, s.stream);
    const { session: b, device } = await joinedDevice(s.t.url, sessions, s.loginName);
    await online(b);
    // Learns of the revocation from the server's signed grants; the re-keying cannot be confirmed.
    await when(b.sync.state, () => claimUnconfirmed(b), 'the re-keying on connect unconfirmed');
    const id = await staysPending(s.t, b, device, s.stream);
    await pushedUnderNewEpoch(s, b, device, id);
  });
});
