import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isoAt, makeAccount, makeDevice, makeDocInput, runStoreConformance } from './conformance';
import {
  openSqliteStore,
  SCHEMA_MIGRATIONS,
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
  type SqliteStore,
} from './sqlite-store';
import { isStoreError, type StoreErrorCode } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-store-');
const quiet = { onListenerError: () => {} };

runStoreConformance(
  'sqlite',
  async () => {
    const dir = newDir();
    const store = await openSqliteStore({ dataDir: join(dir, 'data'), ...quiet });
    return { store, cleanup: () => store.close() };
  },
  {
    makeSharedPair: async () => {
      const dataDir = newDir();
      const a = await openSqliteStore({ dataDir, ...quiet });
      // Two instances on one file on purpose (the second as a tool beside a server would open it).
      const b = await openSqliteStore({ dataDir, exclusive: false, ...quiet });
      return {
        stores: [a, b],
        cleanup: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
);

const rejectsWith = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<void> => {
  let error: unknown = null;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(isStoreError(error, code), `expected StoreError ${code}, got ${String(error)}`).toBe(true);
};

describe('sqlite store specifics', () => {
  const open = async (dataDir: string): Promise<SqliteStore> => openSqliteStore({ dataDir, ...quiet });

  it('creates the data directory and hale.sqlite with WAL, FULL sync, foreign keys and the latest schema', async () => {
    const dataDir = join(newDir(), 'nested', 'data');
    const store = await open(dataDir);
    try {
      expect(store.file).toBe(join(dataDir, SQLITE_FILE_NAME));
      expect(existsSync(store.file)).toBe(true);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      await store.close();
    }
  });

  it('readDocs is one range scan over the (stream, seq) index', async () => {
    const store = await open(newDir());
    try {
      const plan = store.db
        .prepare('EXPLAIN QUERY PLAN SELECT * FROM docs WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?')
        .all('s', 0, 10) as Array<{ detail: string }>;
      const details = plan.map((row) => row.detail).join('\n');
      expect(details).toMatch(/docs_by_stream_seq \(stream=\? AND seq>\?\)/);
      expect(details).not.toMatch(/TEMP B-TREE/);
    } finally {
      await store.close();
    }
  });

  it('the trigger refuses raw UPDATE, DELETE and REPLACE of audit rows through the db handle', async () => {
    const store = await open(newDir());
    try {
      await store.docs.writeDocs(
        [
          { doc: makeDocInput('pat/audit', 'e1', '1-e1'), assumedRev: null },
          { doc: makeDocInput('pat/allergy', 'a1', '1-a1'), assumedRev: null },
        ],
        isoAt(1),
      );
      const raw = store.db;
      expect(() => raw.prepare("UPDATE docs SET rev = 'forged' WHERE stream = 'pat/audit'").run()).toThrow(
        /append-only/,
      );
      expect(() => raw.prepare("DELETE FROM docs WHERE stream = 'pat/audit'").run()).toThrow(/append-only/);
      expect(() =>
        raw
          .prepare(
            `INSERT OR REPLACE INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, at)
             VALUES ('pat/audit', 'e1', 9, 'forged', 0, 1, x'00', 1, 'evil', 'now')`,
          )
          .run(),
      ).toThrow(/append-only/);
      expect(() =>
        raw.prepare("UPDATE docs SET stream = 'pat/audit', id = 'x' WHERE id = 'a1'").run(),
      ).toThrow(/append-only/);
      const stored = await store.docs.getDoc('pat/audit', 'e1');
      expect(stored?.rev).toBe('1-e1');
      expect(stored?.seq).toBe(1);
      // Non-audit rows stay writable through the handle (the trigger is not a blanket lock).
      expect(raw.prepare("UPDATE docs SET size = 5 WHERE id = 'a1'").run().changes).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('data survives close and reopen, and sequence allocation continues', async () => {
    const dataDir = newDir();
    const first = await open(dataDir);
    await first.accounts.put(makeAccount('acc-1', { loginName: 'alice' }));
    await first.meta.put('server-id', 'srv-1');
    await first.envelopes.put({
      stream: 'pat/allergy',
      epoch: 2,
      recipient: 'acc-1',
      keyId: 'k2',
      wrapped: 'w',
      createdBy: 'd',
      createdAt: isoAt(0),
    });
    await first.docs.writeDocs(
      Array.from({ length: 50 }, (_, i) => ({
        doc: makeDocInput('pat/allergy', `d${i}`, '1-x'),
        assumedRev: null,
      })),
      isoAt(1),
    );
    await first.close();

    const second = await open(dataDir);
    try {
      expect((await second.accounts.getByLogin('alice'))?.accountId).toBe('acc-1');
      expect(await second.meta.get('server-id')).toBe('srv-1');
      expect(await second.envelopes.currentEpoch('pat/allergy')).toBe(2);
      expect(await second.docs.streamHeads(['pat/allergy'])).toStrictEqual([
        { stream: 'pat/allergy', head: 50 },
      ]);
      const page = await second.docs.readDocs('pat/allergy', 0, 100, 1_000_000);
      expect(page.docs).toHaveLength(50);
      const [next] = await second.docs.writeDocs(
        [{ doc: makeDocInput('pat/allergy', 'later', '1-x'), assumedRev: null }],
        isoAt(2),
      );
      expect(next).toStrictEqual({ status: 'ok', seq: 51 });
    } finally {
      await second.close();
    }
  });

  it('a batch failing inside SQLite rolls back entirely and notifies no one', async () => {
    const store = await open(newDir());
    try {
      store.db.exec(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.docs WHEN NEW.id = 'boom'
        BEGIN SELECT RAISE(ABORT, 'boom'); END`);
      let notified = 0;
      store.onCommitted(() => notified++);
      await rejectsWith(
        store.docs.writeDocs(
          [
            { doc: makeDocInput('pat/allergy', 'fine', '1-x'), assumedRev: null },
            { doc: makeDocInput('pat/allergy', 'boom', '1-x'), assumedRev: null },
          ],
          isoAt(1),
        ),
        'INTERNAL',
      );
      expect(await store.docs.getDoc('pat/allergy', 'fine')).toBeNull();
      expect(await store.docs.streamHeads(['pat/allergy'])).toStrictEqual([
        { stream: 'pat/allergy', head: 0 },
      ]);
      expect(notified).toBe(0);
      const [ok] = await store.docs.writeDocs(
        [{ doc: makeDocInput('pat/allergy', 'fine', '1-x'), assumedRev: null }],
        isoAt(2),
      );
      expect(ok).toStrictEqual({ status: 'ok', seq: 1 });
    } finally {
      await store.close();
    }
  });

  it('reports a throwing commit listener through onListenerError', async () => {
    const reported: unknown[] = [];
    const store = await openSqliteStore({ dataDir: newDir(), onListenerError: (e) => reported.push(e) });
    try {
      store.onCommitted(() => {
        throw new Error('listener bug');
      });
      await store.docs.writeDocs(
        [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(reported).toHaveLength(1);
      expect(String(reported[0])).toMatch(/listener bug/);
    } finally {
      await store.close();
    }
  });

  it('maps a write lock held elsewhere to UNAVAILABLE', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 50, ...quiet });
    const other = new Database(store.file);
    try {
      other.exec('BEGIN IMMEDIATE');
      await rejectsWith(
        store.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }], isoAt(1)),
        'UNAVAILABLE',
      );
      other.exec('ROLLBACK');
      const [ok] = await store.docs.writeDocs(
        [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(ok?.status).toBe('ok');
    } finally {
      other.close();
      await store.close();
    }
  });

  it('judges a registration’s invite only under the write lock, never from a snapshot a pending write changes', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 50, ...quiet });
    const other = new Database(store.file);
    const codeHash = 'cd'.repeat(32);
    const register = (n: number) =>
      store.accounts.register(makeAccount(`acc-${n}`), makeDevice(`dev-${n}`, `acc-${n}`), {
        invite: { codeHash, now: isoAt(1) },
      });
    try {
      // Another connection (the invite command beside the server) is writing the invite, not yet committed.
      other.exec('BEGIN IMMEDIATE');
      other
        .prepare(
          `INSERT INTO invites (code_hash, role, uses, uses_left, expires_at, expires_ms, created_at)
           VALUES (?, NULL, 1, 1, ?, ?, ?)`,
        )
        .run(codeHash, isoAt(100), Date.parse(isoAt(100)), isoAt(0));
      // Read before the lock, the invite would be refused as unknown; the registration waits for the lock.
      await rejectsWith(register(1), 'UNAVAILABLE');
      other.exec('COMMIT');
      await register(2);
      expect((await store.invites.list()).map((i) => i.usesLeft)).toEqual([0]);
      expect(await store.accounts.get('acc-1')).toBeNull();
    } finally {
      other.close();
      await store.close();
    }
  });

  it('upgrades a v1 file: envelope signatures packed into wrapped move to their own column', async () => {
    const dataDir = newDir();
    // A data dir as the released v1 code left it: only the first migration applied, signatures packed.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    old.exec(SCHEMA_MIGRATIONS[0] ?? '');
    const insert = old.prepare(
      `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, created_at)
       VALUES (?, ?, 'acc-1', 'k', ?, 'dev-1', ?)`,
    );
    insert.run('pat/allergy', 1, JSON.stringify({ wrapped: 'wrapped-a', sig: 'sig-a' }), isoAt(0));
    insert.run('pat/allergy', 2, JSON.stringify({ wrapped: 'wrapped-b', sig: null }), isoAt(1));
    const account = makeAccount('acc-1', { loginName: 'alice' });
    old
      .prepare(
        `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root,
           login_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        account.accountId,
        account.role,
        account.identityPublicKey,
        account.wrappingPublicKey,
        JSON.stringify(account.wrappedRoot),
        'alice',
        account.createdAt,
      );
    old.pragma('user_version = 1');
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      // v2 → v3: an existing account's wrap is generation 0, covered by the account record's signature.
      expect(await store.accounts.get('acc-1')).toStrictEqual(account);
      const [signed, unsigned, ...rest] = await store.envelopes.list('acc-1');
      expect(rest).toHaveLength(0);
      expect(signed).toStrictEqual({
        stream: 'pat/allergy',
        epoch: 1,
        recipient: 'acc-1',
        keyId: 'k',
        wrapped: 'wrapped-a',
        createdBy: 'dev-1',
        sig: 'sig-a',
        createdAt: isoAt(0),
      });
      expect(unsigned).toStrictEqual({
        stream: 'pat/allergy',
        epoch: 2,
        recipient: 'acc-1',
        keyId: 'k',
        wrapped: 'wrapped-b',
        createdBy: 'dev-1',
        createdAt: isoAt(1),
      });
      // New envelopes go through the new column.
      await store.envelopes.put({
        stream: 'pat/allergy',
        epoch: 3,
        recipient: 'acc-1',
        keyId: 'k',
        wrapped: 'wrapped-c',
        createdBy: 'dev-1',
        sig: 'sig-c',
        createdAt: isoAt(2),
      });
      expect((await store.envelopes.list('acc-1', ['pat/allergy']))[2]).toMatchObject({
        wrapped: 'wrapped-c',
        sig: 'sig-c',
      });
    } finally {
      await store.close();
    }
    // Reopening at v2 migrates nothing again.
    const again = await open(dataDir);
    try {
      expect((await again.envelopes.list('acc-1')).map((e) => [e.wrapped, e.sig])).toStrictEqual([
        ['wrapped-a', 'sig-a'],
        ['wrapped-b', undefined],
        ['wrapped-c', 'sig-c'],
      ]);
    } finally {
      await again.close();
    }
  });

  it('upgrades a v9 file: accounts and grants stay, nobody is accepted, so every grant is a stranger', async () => {
    const dataDir = newDir();
    // As the release before acceptances left it: migrations up to v9.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 9)) old.exec(sql);
    old.pragma('user_version = 9');
    const insertAccount = old.prepare(
      `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
       VALUES (?, ?, 'idk', 'wrk', '{}', ?)`,
    );
    insertAccount.run('doc', 'provider', isoAt(0));
    insertAccount.run('pat', 'patient', isoAt(0));
    old
      .prepare(
        `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at,
           signed, stored_at) VALUES ('g1', 'pat', 'doc', '[]', ?, ?, ?, '{}', ?)`,
      )
      .run(isoAt(0), isoAt(100), isoAt(1), isoAt(1));
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(await store.grants.get('g1')).toMatchObject({ patientId: 'pat', granteeId: 'doc' });
      expect(await store.acceptances.count('doc')).toBe(0);
      expect(await store.grants.countUnendedNotAccepted('doc', isoAt(50))).toBe(1);
      expect(
        await store.acceptances.put({ granteeId: 'doc', patientId: 'pat', acceptedAt: isoAt(2) }, 1),
      ).toBe('added');
      expect(await store.grants.countUnendedNotAccepted('doc', isoAt(50))).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('upgrades a v20 file: records stored before have no creator, and a later version gives them none', async () => {
    const dataDir = newDir();
    // As the release before creators left it: migrations up to v20, one record stored.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 20)) old.exec(sql);
    old.pragma('user_version = 20');
    old
      .prepare(
        `INSERT INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, at)
         VALUES ('pat/note', 'old', 1, '1-old', 0, 1, ?, 1, 'device-a', ?)`,
      )
      .run(new Uint8Array([1]), isoAt(1));
    old.prepare(`INSERT INTO stream_heads (stream, head) VALUES ('pat/note', 1)`).run();
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      const before = await store.docs.getDoc('pat/note', 'old');
      expect(before?.rev).toBe('1-old');
      expect(before !== null && 'creator' in before).toBe(false);
      const results = await store.docs.writeDocs(
        [
          { doc: makeDocInput('pat/note', 'old', '2-old', { creator: 'acc-b' }), assumedRev: '1-old' },
          { doc: makeDocInput('pat/note', 'new', '1-new', { creator: 'acc-a' }), assumedRev: null },
        ],
        isoAt(2),
      );
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
      expect((await store.docs.getDoc('pat/note', 'old'))?.creator).toBeUndefined();
      expect((await store.docs.getDoc('pat/note', 'new'))?.creator).toBe('acc-a');
    } finally {
      await store.close();
    }
  });

  it('upgrades a v21 file: devices stored before have no name record and take one', async () => {
    const dataDir = newDir();
    // As the release before device renames left it: migrations up to v21, one account with one device.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 21)) old.exec(sql);
    old.pragma('user_version = 21');
    old
      .prepare(
        `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
         VALUES ('acc-1', 'patient', 'idk', 'wrk', '{}', ?)`,
      )
      .run(isoAt(0));
    const device = makeDevice('dev-1', 'acc-1');
    old
      .prepare(
        `INSERT INTO devices (device_id, account_id, cert, device_public_key, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(
        device.deviceId,
        device.accountId,
        JSON.stringify(device.cert),
        device.devicePublicKey,
        device.createdAt,
      );
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(await store.devices.get('dev-1')).toStrictEqual(device);
      const record = {
        name: { v: 1, accountId: 'acc-1', deviceId: 'dev-1', sealedName: 's', seq: 1 },
        sig: 'x',
      };
      expect(await store.devices.rename('dev-1', record, 1)).toEqual({ status: 'stored', seq: 1 });
      expect(await store.devices.get('dev-1')).toStrictEqual({ ...device, nameRecord: record, nameSeq: 1 });
    } finally {
      await store.close();
    }
  });

  it('upgrades a v22 file: grants stored before were replaced by none, and can be replaced', async () => {
    const dataDir = newDir();
    // As the release before changed grants left it: migrations up to v22, a patient, a provider, a grant
    // and a revoked grant between them.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 22)) old.exec(sql);
    old.pragma('user_version = 22');
    const account = old.prepare(
      `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
       VALUES (?, ?, 'idk', 'wrk', '{}', ?)`,
    );
    account.run('pat', 'patient', isoAt(0));
    account.run('doc', 'provider', isoAt(0));
    const grant = (grantId: string) => ({
      grantId,
      patientId: 'pat',
      granteeId: 'doc',
      scope: [{ type: 'allergy', access: 'read' as const }],
      start: isoAt(0),
      expiresAt: isoAt(86400),
      issuedAt: isoAt(1),
      signed: { grant: { grantId }, sig: 's' },
    });
    const insert = old.prepare(
      `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at, signed,
         revoked_at, revocation, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const [g, revokedAt] of [
      [grant('g1'), null],
      [grant('g2'), isoAt(5)],
    ] as const) {
      insert.run(
        g.grantId,
        g.patientId,
        g.granteeId,
        JSON.stringify(g.scope),
        g.start,
        g.expiresAt,
        g.issuedAt,
        JSON.stringify(g.signed),
        revokedAt,
        revokedAt === null ? null : '{"sig":"r"}',
        isoAt(1),
      );
    }
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(await store.grants.get('g1')).toStrictEqual(grant('g1'));
      const revoked = { ...grant('g2'), revokedAt: isoAt(5), revocation: { sig: 'r' } };
      expect(await store.grants.get('g2')).toStrictEqual(revoked);
      expect(await store.grants.supersede(grant('g3'), 'g2', isoAt(10))).toBe('not-supersedable');
      expect(await store.grants.supersede(grant('g3'), 'g1', isoAt(10))).toBe('stored');
      expect(await store.grants.get('g1')).toStrictEqual({
        ...grant('g1'),
        revokedAt: isoAt(10),
        supersededBy: 'g3',
      });
      expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(20))).toStrictEqual([grant('g3')]);
    } finally {
      await store.close();
    }
  });

  it('upgrades a v23 file: links and accesses stored in clear read as they were; new ones only sealed', async () => {
    const dataDir = newDir();
    // As the release before sealing left it: migrations up to v23, a patient, a link with its label and
    // counts in clear and an access with the viewer's name in clear.
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 23)) old.exec(sql);
    old.pragma('user_version = 23');
    old
      .prepare(
        `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
         VALUES ('pat', 'patient', 'idk', 'wrk', '{}', ?)`,
      )
      .run(isoAt(0));
    const oldLink = 'LinkId_000000000000001';
    old
      .prepare(
        `INSERT INTO shl_links (link_id, token_hash, patient_id, label, attempts_left, emergency, contents,
           content_type, jwe, created_at) VALUES (?, ?, 'pat', 'For Dr Lee', 3, 0, ?, 'application/fhir+json', 'eyJ.x.y.z.w', ?)`,
      )
      .run(
        oldLink,
        '1'.repeat(64),
        '[{"type":"allergy","count":2},{"type":"medication","count":5}]',
        isoAt(1),
      );
    old
      .prepare(
        `INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient) VALUES (?, 1, ?, 'opened', 'Dr Lee')`,
      )
      .run(oldLink, isoAt(2));
    old.close();

    const store = await open(dataDir);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      const [listed] = await store.shl.list('pat', 10);
      expect(listed).toMatchObject({
        linkId: oldLink,
        types: ['allergy', 'medication'],
        label: 'For Dr Lee',
        contents: [
          { type: 'allergy', count: 2 },
          { type: 'medication', count: 5 },
        ],
      });
      expect(listed).not.toHaveProperty('sealed');
      // Its log goes on, the new entries sealed beside the old one in clear.
      const at = isoAt(3);
      await store.shl.recordAccess(oldLink, { at, outcome: 'opened', sealedRecipient: 'sealed-name' });
      expect(await store.shl.accesses('pat', oldLink, 10)).toEqual([
        { at, outcome: 'opened', sealedRecipient: 'sealed-name' },
        { at: isoAt(2), outcome: 'opened', recipient: 'Dr Lee' },
      ]);
      // A new link: its types and sealed details, nothing in clear.
      await store.shl.create({
        linkId: 'LinkId_000000000000002',
        tokenHash: '2'.repeat(64),
        patientId: 'pat',
        types: ['allergy'],
        sealed: 'sealed-details',
        attemptsLeft: 3,
        emergency: false,
        contentType: 'application/fhir+json',
        jwe: 'eyJ.x.y.z.w',
        createdAt: isoAt(4),
      });
      const row = store.db
        .prepare(
          "SELECT label, contents, types, sealed FROM shl_links WHERE link_id = 'LinkId_000000000000002'",
        )
        .get();
      expect(row).toEqual({ label: null, contents: '[]', types: '["allergy"]', sealed: 'sealed-details' });
      expect(store.db.prepare('SELECT recipient FROM shl_accesses WHERE seq = 2').get()).toEqual({
        recipient: '',
      });
    } finally {
      await store.close();
    }
  });

  it('refuses a database whose schema is newer than this code', async () => {
    const dataDir = newDir();
    const store = await open(dataDir);
    store.db.pragma('user_version = 99');
    await store.close();
    await rejectsWith(open(dataDir), 'INTERNAL');
  });

  it('stores a 32 MiB blob chunk by chunk and reads it back by chunk', async () => {
    const store = await open(newDir());
    try {
      const chunkSize = 1024 * 1024;
      const chunkCount = 32;
      await store.blobs.putManifest({
        blobId: 'big',
        stream: 'pat/document',
        size: chunkSize * chunkCount - 100,
        chunkSize,
        chunkCount,
        digests: Array.from({ length: chunkCount }, (_, i) => `d${i}`),
        createdBy: 'dev',
        createdAt: isoAt(0),
      });
      for (let i = 0; i < chunkCount; i++) {
        const length = i === chunkCount - 1 ? chunkSize - 100 : chunkSize;
        await store.blobs.putChunk('big', i, new Uint8Array(length).fill(i));
      }
      expect(await store.blobs.chunkIndexes('big')).toEqual(Array.from({ length: chunkCount }, (_, i) => i));
      const last = await store.blobs.getChunk('big', chunkCount - 1);
      expect(last?.byteLength).toBe(chunkSize - 100);
      expect(last?.[0]).toBe(chunkCount - 1);
      const manifestRowBytes = store.db
        .prepare<[], { n: number }>('SELECT length(digests) + length(stream) AS n FROM blob_manifests')
        .get();
      expect(manifestRowBytes?.n).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });
});
