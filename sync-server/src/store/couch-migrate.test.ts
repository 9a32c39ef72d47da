// `migrate --from sqlite --to couchdb` (couch/migrate.ts): a SQLite store with something of everything —
// records updated (their old seqs gone), deleted, audit entries, envelopes, blobs and a deleted one, grants
// (one revoked, one replaced by another), a revoked device, a renamed one, invites, the directory, sessions,
// a signed head, SMART Health Links (one revoked, one with attempts taken) with their access logs — is
// copied with every count equal; seqs and heads are the same (a device's checkpoint finds the same next
// page: no re-download), a device's next write on the revision it holds is accepted (no conflict), the
// store keeps its incarnation and server key; the CLI prints the counts; a target that is not empty is
// refused.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../cli';
import { isoAt, makeAccount, makeDevice, makeDocInput, auditWrite } from './conformance';
import { migrateSqliteToCouch } from './couch/migrate';
import { openCouchStore, type CouchStore } from './couch/store';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import { isStoreError } from './types';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

const newDir = useTempDirs('hale-migrate-');
let server: PouchServer;
beforeAll(async () => {
  server = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await server.stop();
});
const couchAt = async (database: string): Promise<CouchStore> => {
  const store = await openCouchStore({ url: server.url, database, onListenerError: () => undefined });
  await store.init();
  return store;
};

const S = 'pat/allergy';
const seedSqlite = async (dataDir: string): Promise<void> => {
  const s = await openSqliteStore({ dataDir, onListenerError: () => undefined });
  try {
    await s.accounts.register(
      makeAccount('pat', { loginName: 'pat', roleSig: 'rs' }),
      makeDevice('dev-1', 'pat'),
    );
    await s.devices.put(makeDevice('dev-2', 'pat'));
    await s.devices.revoke('dev-2', isoAt(5), { revocation: { deviceId: 'dev-2' }, sig: 's' });
    await s.devices.rename('dev-1', { name: { deviceId: 'dev-1', seq: 2 }, sig: 'n' }, 2);
    await s.accounts.register(makeAccount('doc', { role: 'provider' }), makeDevice('dev-d', 'doc'));
    const grant = (grantId: string) => ({
      grantId,
      patientId: 'pat',
      granteeId: 'doc',
      scope: [{ type: 'allergy', access: 'read' as const }],
      start: isoAt(0),
      expiresAt: isoAt(1000),
      issuedAt: isoAt(1),
      signed: { grantId },
    });
    await s.grants.put(grant('g1'), isoAt(2));
    await s.grants.put(grant('g2'), isoAt(3));
    await s.grants.revoke('g2', isoAt(4), { revoked: true });
    expect(await s.grants.supersede(grant('g3'), 'g1', isoAt(5))).toBe('stored');
    await s.acceptances.put({ granteeId: 'doc', patientId: 'pat', acceptedAt: isoAt(3) }, 10);
    await s.docs.writeDocs(
      Array.from({ length: 30 }, (_, i) => ({
        doc: makeDocInput(S, `r${i}`, '1-a', { sig: 'sg', creator: 'pat' }),
        assumedRev: null,
      })),
      isoAt(10),
    );
    // Updated and deleted: their first seqs are gone from the stream.
    await s.docs.writeDocs(
      [
        { doc: makeDocInput(S, 'r3', '2-b'), assumedRev: '1-a' },
        {
          doc: makeDocInput(S, 'r7', '2-c', { deleted: true, ct: new Uint8Array(0), size: 0 }),
          assumedRev: '1-a',
        },
      ],
      isoAt(11),
    );
    await s.docs.writeDocs(
      [auditWrite('pat/audit', 'e1', 'dev-1', 1), auditWrite('pat/audit', 'e2', 'dev-1', 2)],
      isoAt(12),
    );
    const { rows } = await s.heads.rows(S);
    await s.heads.keep({ stream: S, seq: 32, signed: { head: { seq: 32 }, sig: 'h' } }, rows);
    await s.envelopes.putAll([
      {
        stream: S,
        epoch: 0,
        recipient: 'pat',
        keyId: 'k0',
        wrapped: 'w',
        createdBy: 'dev-1',
        sig: 'es',
        createdAt: isoAt(1),
      },
      {
        stream: S,
        epoch: 0,
        recipient: 'doc',
        keyId: 'k0',
        wrapped: 'w2',
        createdBy: 'dev-1',
        createdAt: isoAt(1),
      },
    ]);
    const manifest = {
      stream: 'pat/document',
      size: 6,
      chunkSize: 4,
      chunkCount: 2,
      digests: ['a', 'b'],
      createdBy: 'dev-1',
      createdAt: isoAt(1),
    };
    await s.blobs.putManifest({ ...manifest, blobId: 'b1' });
    await s.blobs.putChunk('b1', 0, new Uint8Array(4).fill(1));
    await s.blobs.putChunk('b1', 1, new Uint8Array(2).fill(2));
    await s.blobs.putManifest({ ...manifest, blobId: 'b2' });
    await s.blobs.delete('b2', { deletedBy: 'dev-1', deletedAt: isoAt(6) });
    await s.invites.put({
      codeHash: 'ab'.repeat(32),
      uses: 2,
      usesLeft: 1,
      expiresAt: isoAt(900),
      createdAt: isoAt(0),
      note: 'desk',
    });
    await s.directory.putProvider({
      accountId: 'doc',
      displayName: 'Dr Doc',
      specialty: 'GP',
      clinic: 'North',
      identifier: 'N-1',
      signed: { s: 1 },
      updatedAt: isoAt(1),
    });
    await s.sessions.put({ tokenHash: 'tok', deviceId: 'dev-1', accountId: 'pat', expiresAt: isoAt(3600) });
    const link = (n: number) => ({
      linkId: `LinkId_${String(n).padStart(15, '0')}`,
      tokenHash: String(n).repeat(64),
      patientId: 'pat',
      ...(n === 1 ? { passcodeHash: 'scrypt$x' } : {}),
      types: ['allergy'],
      sealed: `sealed-details-${n}`,
      attemptsLeft: 3,
      emergency: n === 2,
      contentType: 'application/fhir+json',
      jwe: `eyJ.${n}`,
      createdAt: isoAt(n),
      ...(n === 1 ? { expiresAt: isoAt(900) } : {}),
    });
    const access = (outcome: 'opened' | 'wrong-passcode' | 'refused', at: number) => ({
      at: isoAt(at),
      outcome,
      sealedRecipient: `sealed viewer ${at}`,
    });
    await s.shl.create(link(1));
    // Link 2 and its first access stored before sealing: label, counts and name in clear.
    s.db
      .prepare(
        `INSERT INTO shl_links (link_id, token_hash, patient_id, label, attempts_left, emergency, contents,
           content_type, jwe, created_at) VALUES (?, ?, 'pat', 'ER', 3, 1, ?, 'application/fhir+json', ?, ?)`,
      )
      .run(link(2).linkId, link(2).tokenHash, '[{"type":"allergy","count":2}]', 'eyJ.2', isoAt(2));
    s.db
      .prepare(`UPDATE shl_links SET access_count = 1, last_access_at = ? WHERE link_id = ?`)
      .run(isoAt(22), link(2).linkId);
    s.db
      .prepare(
        `INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient) VALUES (?, 1, ?, 'opened', ?)`,
      )
      .run(link(2).linkId, isoAt(22), 'viewer 22');
    await s.shl.recordAccess(link(1).linkId, access('wrong-passcode', 20));
    await s.shl.recordAccess(link(1).linkId, access('opened', 21));
    await s.shl.revoke('pat', link(2).linkId, isoAt(23));
    await s.shl.recordAccess(link(2).linkId, access('refused', 24));
    await s.serverState.put('registration', 'invite', isoAt(1));
    await s.meta.put('server-signing-seed', 'c2VlZA');
  } finally {
    await s.close();
  }
};

describe('migrate from SQLite to CouchDB', () => {
  it('copies everything with equal counts, the same seqs, heads, incarnation and key; devices carry on', async () => {
    const dataDir = join(newDir(), 'data');
    await seedSqlite(dataDir);
    const target = await couchAt(`m-${randomUUID()}`);
    try {
      const lines: string[] = [];
      const counts = await migrateSqliteToCouch(dataDir, target, (line) => lines.push(line));
      expect(counts.filter((c) => c.source !== c.target)).toEqual([]);
      expect(Object.fromEntries(counts.map((c) => [c.what, c.source]))).toMatchObject({
        accounts: 2,
        devices: 3,
        grants: 3,
        documents: 32,
        'stream heads': 2,
        envelopes: 2,
        blobs: 1,
        'blob chunks': 2,
        'blob tombstones': 1,
        invites: 1,
        sessions: 1,
        links: 2,
        'link accesses': 4,
      });
      const source = await openSqliteStore({ dataDir, onListenerError: () => undefined });
      try {
        expect(await target.docs.streamHeads([S, 'pat/audit'])).toEqual(
          await source.docs.streamHeads([S, 'pat/audit']),
        );
        // A device that pulled up to seq 20 gets the same next page: nothing downloaded again.
        expect(await target.docs.readDocs(S, 20, 5, 1 << 20)).toEqual(
          await source.docs.readDocs(S, 20, 5, 1 << 20),
        );
        for (const k of ['incarnation', 'server-signing-seed'])
          expect(await target.meta.get(k)).toBe(await source.meta.get(k));
        expect(await target.heads.get(S, undefined, 100)).toEqual(await source.heads.get(S, undefined, 100));
        expect(await target.docs.auditChainEnd('pat/audit', 'dev-1')).toEqual(
          await source.docs.auditChainEnd('pat/audit', 'dev-1'),
        );
        expect(await target.grants.changesSince(0)).toMatchObject({ granteeIds: ['doc'] });
        // A grant another replaced keeps its end and the link.
        expect(await target.grants.get('g1')).toMatchObject({ revokedAt: isoAt(5), supersededBy: 'g3' });
        expect(await target.grants.get('g1')).toEqual(await source.grants.get('g1'));
        expect(await target.sessions.get('tok')).toEqual(await source.sessions.get('tok'));
        expect(await target.devices.get('dev-1')).toEqual(await source.devices.get('dev-1'));
        expect(await target.blobs.usage('pat')).toBe(await source.blobs.usage('pat'));
        expect(await target.shl.list('pat', 10)).toEqual(await source.shl.list('pat', 10));
        // The link stored before sealing keeps its clear fields, its types read from its counts.
        expect((await target.shl.list('pat', 10)).find((l) => l.emergency)).toMatchObject({
          types: ['allergy'],
          label: 'ER',
          contents: [{ type: 'allergy', count: 2 }],
        });
        expect((await target.shl.list('pat', 10)).find((l) => !l.emergency)).toMatchObject({
          types: ['allergy'],
          sealed: 'sealed-details-1',
        });
        expect(await target.shl.accessesSince('pat', isoAt(0), 10)).toEqual(
          await source.shl.accessesSince('pat', isoAt(0), 10),
        );
      } finally {
        await source.close();
      }
      // The device's next write on the revision it holds: accepted, at the next seq.
      const [next] = await target.docs.writeDocs(
        [{ doc: makeDocInput(S, 'r3', '3-d', { creator: 'doc' }), assumedRev: '2-b' }],
        isoAt(20),
      );
      expect(next).toEqual({ status: 'ok', seq: 33 });
      // Creators came along, and stay: a record's is its first row's.
      expect((await target.docs.getDoc(S, 'r3'))?.creator).toBe('pat');
      expect((await target.docs.getDoc(S, 'r7'))?.creator).toBe('pat');
      // A device's name keeps its seq: a rename at it again is refused, one above it taken.
      const renamed = { name: { deviceId: 'dev-1', seq: 3 }, sig: 'n3' };
      expect(await target.devices.rename('dev-1', renamed, 2)).toEqual({ status: 'conflict', seq: 2 });
      expect(await target.devices.rename('dev-1', renamed, 3)).toEqual({ status: 'stored', seq: 3 });
      // Audit positions held before the migration stay held.
      const [again] = await target.docs.writeDocs([auditWrite('pat/audit', 'e9', 'dev-1', 2)], isoAt(20));
      expect(again).toEqual({ status: 'position-taken' });
      // Links carry on where they were: the revoked one stays shut, the other counts on from its state.
      const opened = { at: isoAt(30), outcome: 'opened' as const, sealedRecipient: 'r' };
      expect(await target.shl.recordAccess('LinkId_000000000000002', opened)).toBeNull();
      expect(await target.shl.recordAccess('LinkId_000000000000001', opened)).toEqual({
        attemptsLeft: 2,
        accessCount: 2,
      });
      expect(await target.shl.accesses('pat', 'LinkId_000000000000001', 10)).toHaveLength(3);
    } finally {
      await target.close();
    }
  });

  it('refuses a target that is not empty, and the CLI prints the counts', async () => {
    const dataDir = join(newDir(), 'data');
    await seedSqlite(dataDir);
    const database = `m-${randomUUID()}`;
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(`ERR ${t}`), now: Date.now };
    const argv = [
      'migrate',
      '--from',
      'sqlite',
      '--to',
      'couchdb',
      '--couch-url',
      server.url,
      '--couch-db',
      database,
      '--data-dir',
      dataDir,
    ];
    expect(await runCommand(argv, {}, io)).toEqual({ status: 0 });
    expect(out.join('')).toMatch(/documents +32 → +32\n/);
    expect(out.join('')).toMatch(/migration complete/);
    const target = await couchAt(database);
    try {
      const refused = await migrateSqliteToCouch(dataDir, target, () => undefined).catch((e: unknown) => e);
      expect(isStoreError(refused, 'INVALID')).toBe(true);
    } finally {
      await target.close();
    }
  });
});
