// lock(account) while its device session is open (an idle auto-lock): the session must not go on reading
// or writing with the account's keys, and above all never seal or sign under the zeroes lock() leaves in
// them (an epoch-0 stream key derived from a zero root is anyone's). Closed and opened again with the
// account unlocked, the device sends what it had pending, under the real keys.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import {
  createAccount,
  createHttpApi,
  isAccountError,
  joinWithPassphrase,
  lock,
  memoryVault,
  unlock,
} from '@hale/client/advanced';
import { TEST_KDF, deriveInitialStreamKey, openRecordVersion } from '@hale/crypto';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, ed, eventually, openDevice, sessionAccount, waitOnline } from '../support/devices';
import { input } from '../support/records';

const server = useServer({ realClock: true });
const PASSPHRASE = 'correct horse battery';

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'done',
    (e: unknown) => (isAccountError(e) ? `AccountError ${e.code}` : String((e as { code?: string }).code)),
  );

/** A patient account on a laptop (its vault kept, to unlock again) and a phone joined to it. */
const laptopAndPhone = async (t: TestServer) => {
  const api = createHttpApi({ baseUrl: t.url, fetch });
  const vault = memoryVault();
  const loginName = `lock-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const { account } = await createAccount(
    { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
    { role: 'patient', passphrase: PASSPHRASE, loginName, deviceName: 'laptop' },
  );
  const phone = await joinWithPassphrase(
    { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
    { loginName, passphrase: PASSPHRASE, deviceName: 'phone' },
  );
  return { account, vault, phone };
};

const row = (t: TestServer, id: string) =>
  t.store.db.prepare('SELECT ct, rev, epoch, stream FROM docs WHERE id = ?').get(id) as
    { ct: Buffer; rev: string; epoch: number; stream: string } | undefined;

/** Whether the stored version of `id` opens under the epoch-0 key derived from `root`. */
const opensUnder = (t: TestServer, id: string, root: Uint8Array): boolean => {
  const r = row(t, id);
  if (!r) throw new Error(`${id} is not on the server`);
  return openRecordVersion(deriveInitialStreamKey(root, r.stream), new Uint8Array(r.ct), {
    stream: r.stream,
    id,
    epoch: r.epoch,
    rev: Number(r.rev.split('-')[0]),
  }).ok;
};

const dexie = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

describe('lock(account) while its device session is open (an idle auto-lock)', () => {
  it('refuses every read, write and signature with LOCKED, and the server gets nothing from it', async () => {
    const { t, sessions } = server;
    const { account, phone } = await laptopAndPhone(t);
    const a = await openDevice(t, {} as TestAccount, { sessionAccount: account });
    const b = await openDevice(t, {} as TestAccount, { sessionAccount: phone });
    sessions.push(a, b);
    await waitOnline(a);
    await waitOnline(b);
    const before = await a.records.add('Allergy', input('Allergy'));
    await allPushed(a);
    const stream = `${account.accountId}/medication`;

    // Begun before the lock, signed after it: refused as locked, not as a wiped key.
    const exportBegun = codeOf(a.exportFhir());
    lock(account);
    const outcomes = {
      exportBegun: await exportBegun,
      add: await codeOf(a.records.add('Medication', input('Medication', { name: 'Metformin' }))),
      update: await codeOf(a.records.update('Allergy', before.id, { substance: 'Pollen' })),
      remove: await codeOf(a.records.remove(before.id)),
      get: await codeOf(a.records.get(before.id)),
      query: await codeOf(a.records.query('Allergy')),
      grant: await codeOf(
        a.consent.grant({
          granteeId: phone.accountId,
          scope: [{ type: 'allergy', access: 'read' }],
          durationMs: 3_600_000,
          purpose: 'care',
        }),
      ),
      audit: await codeOf(a.audit.append(account.accountId, { action: 'export' })),
      export: await codeOf(a.exportFhir()),
    };
    expect(new Set(Object.values(outcomes))).toEqual(new Set(['AccountError LOCKED']));
    // What the engine asks for before sealing a push: no key, so the write would stay pending.
    expect(await a.keyring.writeKey(stream)).toBeNull();
    expect(a.sync.state().errors.map((e) => e.code)).toContain('LOCKED');
    // The socket is given up and no other one is opened: fatal LOCKED, with the reason.
    await eventually(() => /locked/.test(a.connection.reason() ?? ''), 'fatal, saying why', 5_000);
    expect(a.connection.status()).toBe('fatal');
    // Listed once, with the session's advice: the connection's own LOCKED does not add a second.
    expect(a.sync.state().errors.filter((e) => e.code === 'LOCKED')).toHaveLength(1);
    const sent = t.store.db.prepare('SELECT COUNT(*) AS n FROM docs WHERE stream = ?').get(stream) as {
      n: number;
    };
    expect(sent.n).toBe(0);
    expect(b.sync.quarantine()).toEqual([]);
    await a.close();
  });

  it('a write queued before the lock waits, and goes out under the real key once reopened unlocked', async () => {
    const { t, sessions } = server;
    const { account, vault, phone } = await laptopAndPhone(t);
    const storage = dexie();
    const dbName = `lock-queued-${Date.now()}`;
    const a = await openDevice(t, {} as TestAccount, { sessionAccount: account, storage, dbName });
    const b = await openDevice(t, {} as TestAccount, { sessionAccount: phone });
    sessions.push(b);
    await waitOnline(a);
    await waitOnline(b);

    a.sync.goOffline();
    const med = await a.records.add('Medication', input('Medication', { name: 'Metformin' }));
    // At once: neither pushed nor in an audit entry yet (the changes of a burst are noted first).
    lock(account);
    a.sync.goOnline();
    await eventually(() => /locked/.test(a.connection.reason() ?? ''), 'offline, saying why', 5_000);
    expect({
      status: a.connection.status(),
      pending: a.sync.state().pendingWrites,
      onServer: row(t, med.id) !== undefined,
    }).toEqual({ status: 'fatal', pending: 1, onServer: false });
    await a.close();

    const unlocked = await unlock({ vault }, { passphrase: PASSPHRASE });
    const again = await openDevice(t, {} as TestAccount, { sessionAccount: unlocked, storage, dbName });
    sessions.push(again);
    await allPushed(again);
    expect({
      real: opensUnder(t, med.id, unlocked.root),
      zero: opensUnder(t, med.id, new Uint8Array(32)),
    }).toEqual({ real: true, zero: false });
    await eventually(async () => (await b.records.get(med.id)) !== null, 'the phone has it', 5_000);
    expect(b.sync.quarantine()).toEqual([]);
    // The change noted before the lock was kept at close and is in the audit trail now.
    await eventually(
      async () =>
        (await again.audit.entries()).some(
          (e) => e.body.action === 'records-changed' && JSON.stringify(e.body).includes(med.id),
        ),
      'the write is in the audit trail',
      5_000,
    );
  });

  it('an account object lock() never saw, with a zeroed root or device key, is refused at open', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const base = sessionAccount(patient);
    const zeroRoot = { ...base, root: new Uint8Array(32) };
    const zeroDevice = { ...base, device: { ...base.device, secretKey: new Uint8Array(64) } };
    const outcomes = await Promise.all(
      [zeroRoot, zeroDevice].map((account) =>
        codeOf(openDevice(t, patient, { sessionAccount: account, offline: true }).then((s) => s.close())),
      ),
    );
    expect(outcomes).toEqual(['AccountError LOCKED', 'AccountError LOCKED']);
  });
});
