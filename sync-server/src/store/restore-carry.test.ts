// Restore carries, from the store it replaces, what must never go back (restore-carry.ts). The signed
// state (grant revocations, passphrase wraps) with real keys is covered in src/restore.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Incarnation, validate } from '@hale/protocol';
import { backupSqlite, restoreSqlite } from './backup';
import { isoAt, makeAccount, makeDevice, makeDocInput } from './conformance';
import { INCARNATION_META_KEY, openSqliteStore, SQLITE_FILE_NAME, type SqliteStore } from './sqlite-store';
import type { BlobManifest, Grant } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-carry-');
afterEach(() => {
  vi.restoreAllMocks();
});

/** A signed device revocation as the store keeps it (the store does not verify it). */
const SIGNED_D2 = {
  revocation: { v: 1, accountId: 'pat', deviceId: 'd2', revokedAt: isoAt(5) },
  sig: 'sig-d2',
};

const S = 'pat/lab-result';
const S2 = 'pat/allergy';
const AUDIT = 'pat/audit';

const write = async (store: SqliteStore, stream: string, ids: string[], assumedRev: string | null = null) => {
  const results = await store.docs.writeDocs(
    ids.map((id) => ({ doc: makeDocInput(stream, id, assumedRev === null ? '1-x' : '2-x'), assumedRev })),
    isoAt(1),
  );
  expect(results.every((r) => r.status === 'ok')).toBe(true);
  return results.map((r) => (r.status === 'ok' ? r.seq : -1));
};

/** Entries of one author's chain from position `from` on (a position is held once: writeDocs). */
const writeAudit = async (store: SqliteStore, ids: string[], from = 1) => {
  const results = await store.docs.writeDocs(
    ids.map((id, i) => ({
      doc: makeDocInput(AUDIT, id, '1-a', { audit: { authorSeq: from + i, prevHash: null, at: isoAt(2) } }),
      assumedRev: null,
    })),
    isoAt(2),
  );
  expect(results.every((r) => r.status === 'ok')).toBe(true);
};

const head = async (store: SqliteStore, stream: string): Promise<number> =>
  (await store.docs.streamHeads([stream]))[0]?.head ?? -1;

/** A store in its own data dir, backed up after `before`, changed by `after`, closed. */
const scenario = async (
  before: (store: SqliteStore) => Promise<void>,
  after: (store: SqliteStore) => Promise<void>,
): Promise<{ dataDir: string; backupFile: string; incarnationBefore: string | null }> => {
  const dataDir = newDir();
  const backupFile = join(newDir(), 'backup.sqlite');
  const store = await openSqliteStore({ dataDir });
  try {
    await before(store);
    await backupSqlite(store, backupFile);
    await after(store);
    return { dataDir, backupFile, incarnationBefore: await store.meta.get(INCARNATION_META_KEY) };
  } finally {
    await store.close();
  }
};

const restore = async (backupFile: string, dataDir: string) => {
  const warnings: string[] = [];
  const result = await restoreSqlite(backupFile, dataDir, { onWarning: (w) => warnings.push(w) });
  expect(result.warnings).toEqual(warnings);
  return result;
};

const grant = (grantId: string): Grant => ({
  grantId,
  patientId: 'pat',
  granteeId: 'doc',
  scope: [{ type: 'allergy', access: 'read' }],
  start: isoAt(0),
  expiresAt: isoAt(100_000),
  issuedAt: isoAt(0),
  signed: { grantId },
});

describe('restore carries what must not go back', () => {
  it('never moves a stream head back: the next write gets a seq above every seq served before', async () => {
    let servedMax = 0;
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await write(store, S, ['a', 'b', 'c', 'd', 'e']);
      },
      async (store) => {
        // After the backup: new documents, an update, and a stream the backup does not know.
        const seqs = [
          ...(await write(store, S, ['f', 'g'])),
          ...(await write(store, S, ['a'], '1-x')),
          ...(await write(store, S2, ['x', 'y', 'z'])),
        ];
        servedMax = Math.max(...seqs);
      },
    );
    expect(servedMax).toBe(8);
    const result = await restore(backupFile, dataDir);
    expect(result.carried?.streamHeads).toBe(2);
    expect(result.warnings).toEqual([]);

    const store = await openSqliteStore({ dataDir });
    try {
      expect([await head(store, S), await head(store, S2)]).toEqual([8, 3]);
      // The content is the backup's: what was written after it is gone (devices send it again).
      const page = await store.docs.readDocs(S, 0, 100, 1 << 20);
      expect(page.docs.map((d) => [d.id, d.seq])).toEqual([
        ['a', 1],
        ['b', 2],
        ['c', 3],
        ['d', 4],
        ['e', 5],
      ]);
      const [next] = await write(store, S, ['after-restore']);
      expect(next).toBe(9);
      const [nextS2] = await write(store, S2, ['after-restore']);
      expect(nextS2).toBe(4);
      // A device whose checkpoint is 8 (it pulled before the restore) gets the new document.
      expect((await store.docs.readDocs(S, 8, 100, 1 << 20)).docs.map((d) => d.id)).toEqual([
        'after-restore',
      ]);
    } finally {
      await store.close();
    }
  });

  it('carries audit entries made after the backup at their own seq, and no other document', async () => {
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await writeAudit(store, ['e1', 'e2']);
      },
      async (store) => {
        await write(store, S, ['not-carried']);
        await writeAudit(store, ['e3', 'e4'], 3);
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried?.auditDocs).toBe(2);
    const store = await openSqliteStore({ dataDir });
    try {
      const audit = await store.docs.readDocs(AUDIT, 0, 100, 1 << 20);
      expect(audit.docs.map((d) => [d.id, d.seq, d.audit?.authorSeq])).toEqual([
        ['e1', 1, 1],
        ['e2', 2, 2],
        ['e3', 3, 3],
        ['e4', 4, 4],
      ]);
      expect(await store.docs.getDoc(S, 'not-carried')).toBeNull();
      expect(await head(store, S)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('carries device revocations, later key epochs and ended sessions; drops challenges', async () => {
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await store.accounts.register(makeAccount('pat'), makeDevice('d1', 'pat'));
        await store.devices.put(makeDevice('d2', 'pat'));
        await store.devices.put(makeDevice('d3', 'pat'));
        for (const d of ['d1', 'd2', 'd3']) {
          await store.sessions.put({
            tokenHash: `t-${d}`,
            deviceId: d,
            accountId: 'pat',
            expiresAt: isoAt(9e6),
          });
        }
        await store.challenges.put({ challengeId: 'c1', deviceId: 'd1', nonce: 'n', expiresAt: isoAt(9e6) });
        const env = { keyId: 'k', wrapped: 'w', createdBy: 'd1', sig: 's', createdAt: isoAt(1) };
        await store.envelopes.put({ stream: S2, epoch: 0, recipient: 'pat', ...env });
      },
      async (store) => {
        await store.devices.revoke('d2', isoAt(5), SIGNED_D2);
        await store.sessions.deleteForDevice('d3');
        const env = { keyId: 'k1', wrapped: 'w1', createdBy: 'd1', sig: 's1', createdAt: isoAt(6) };
        await store.envelopes.put({ stream: S2, epoch: 1, recipient: 'pat', ...env });
        // Its recipient registered after the backup: the restored store has no such account.
        await store.accounts.put(makeAccount('late'));
        await store.envelopes.put({ stream: S2, epoch: 1, recipient: 'late', ...env });
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried).toMatchObject({
      deviceRevocations: 1,
      envelopes: 1,
      sessionsDropped: 2,
      challengesDropped: 1,
    });
    const store = await openSqliteStore({ dataDir });
    try {
      expect((await store.devices.get('d2'))?.revokedAt).toBe(isoAt(5));
      expect((await store.devices.get('d2'))?.revocation).toEqual(SIGNED_D2);
      expect((await store.devices.get('d1'))?.revokedAt).toBeUndefined();
      expect(await store.sessions.get('t-d1')).not.toBeNull();
      expect(await store.sessions.get('t-d2')).toBeNull();
      expect(await store.sessions.get('t-d3')).toBeNull();
      expect(await store.challenges.take('c1')).toBeNull();
      expect(await store.envelopes.currentEpoch(S2)).toBe(1);
      expect((await store.envelopes.list('pat', [S2])).map((e) => [e.epoch, e.keyId, e.sig])).toEqual([
        [0, 'k', 's'],
        [1, 'k1', 's1'],
      ]);
      expect(await store.accounts.get('late')).toBeNull();
      expect(await store.envelopes.list('late')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('carries an envelope re-signed after its creator was revoked, as the store replaces it, and no other', async () => {
    const env = (createdBy: string, keyId: string, sig: string) => ({
      keyId,
      wrapped: `w-${sig}`,
      createdBy,
      sig,
      createdAt: isoAt(1),
    });
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await store.accounts.register(makeAccount('pat'), makeDevice('d1', 'pat'));
        await store.devices.put(makeDevice('d2', 'pat'));
        await store.envelopes.put({ stream: S2, epoch: 0, recipient: 'pat', ...env('d2', 'k', 's-d2') });
        await store.envelopes.put({ stream: S, epoch: 0, recipient: 'pat', ...env('d2', 'k0', 's0-d2') });
      },
      async (store) => {
        await store.devices.revoke('d2', isoAt(5), SIGNED_D2);
        // The same key signed anew by the account's active device: the store keeps this one.
        const resigned = { stream: S2, epoch: 0, recipient: 'pat', ...env('d1', 'k', 's-d1') };
        expect(await store.envelopes.put(resigned)).toEqual({ created: true });
        // Another key under the same epoch is never taken in place of the first.
        const other = { stream: S, epoch: 0, recipient: 'pat', ...env('d1', 'k-other', 's-other') };
        expect(await store.envelopes.put(other)).toEqual({ created: false });
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried).toMatchObject({ deviceRevocations: 1, envelopes: 1 });
    const store = await openSqliteStore({ dataDir });
    try {
      const held = (await store.envelopes.list('pat')).map((e) => [e.stream, e.keyId, e.createdBy, e.sig]);
      expect(held).toEqual([
        [S2, 'k', 'd1', 's-d1'],
        [S, 'k0', 'd2', 's0-d2'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('ends a grant revoked after the backup even when its stored revocation fails the check', async () => {
    // Keys here are not real, so no signature verifies: the grant must still end (fail closed).
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await store.accounts.register(makeAccount('pat'), makeDevice('d1', 'pat'));
        await store.accounts.put(makeAccount('doc', { role: 'provider' }));
        await store.grants.put(grant('g1'));
        await store.grants.put(grant('g2'));
      },
      async (store) => {
        await store.grants.revoke('g1', isoAt(7), { revocation: { grantId: 'g1' }, sig: 'bogus' });
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried?.grantRevocations).toBe(1);
    expect(result.warnings).toEqual([expect.stringContaining('grant g1')]);
    const store = await openSqliteStore({ dataDir });
    try {
      const g1 = await store.grants.get('g1');
      expect([g1?.revokedAt, g1?.revocation]).toEqual([isoAt(7), undefined]);
      expect((await store.grants.get('g2'))?.revokedAt).toBeUndefined();
      expect(await store.grants.countUnended({ patientId: 'pat' }, isoAt(10))).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('ends a grant replaced after the backup; its replacement, stored after it, is gone (reported)', async () => {
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await store.accounts.register(makeAccount('pat'), makeDevice('d1', 'pat'));
        await store.accounts.put(makeAccount('doc', { role: 'provider' }));
        for (const id of ['g1', 'g2']) await store.grants.put(grant(id));
      },
      async (store) => {
        expect(await store.grants.supersede(grant('g3'), 'g1', isoAt(8))).toBe('stored');
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried?.grantRevocations).toBe(1);
    // No revocation that fails a check is reported: a replaced grant has none.
    expect(result.warnings).toEqual([
      expect.stringMatching(/^grant g1: replaced after the backup by grant g3/),
    ]);
    const store = await openSqliteStore({ dataDir });
    try {
      expect(await store.grants.get('g1')).toStrictEqual({ ...grant('g1'), revokedAt: isoAt(8) });
      expect(await store.grants.get('g3')).toBeNull();
      expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(10))).toStrictEqual([grant('g2')]);
    } finally {
      await store.close();
    }
  });

  it('a kind that cannot be read is left as the backup had it, with a warning; the others are carried', async () => {
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await write(store, S, ['a']);
      },
      async (store) => {
        await write(store, S, ['b', 'c']);
      },
    );
    const raw = new Database(join(dataDir, SQLITE_FILE_NAME));
    raw.exec('DROP TABLE envelopes');
    raw.close();
    const result = await restore(backupFile, dataDir);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^Could not carry key envelopes .*no such table/),
    ]);
    expect(result.carried?.streamHeads).toBe(1);
    const store = await openSqliteStore({ dataDir });
    try {
      expect(await head(store, S)).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('keeps deleted blobs deleted: after a backup taken after the deletion, and one taken before it', async () => {
    const blob = (blobId: string): BlobManifest => ({
      blobId,
      stream: 'pat/document',
      size: 70_000,
      chunkSize: 65_536,
      chunkCount: 2,
      digests: ['d0', 'd1'],
      createdBy: 'd1',
      createdAt: isoAt(1),
    });
    const chunks = (fill: number) => [
      new Uint8Array(65_536).fill(fill),
      new Uint8Array(70_000 - 65_536).fill(fill),
    ];
    const put = async (store: SqliteStore, blobId: string, fill: number) => {
      await store.blobs.putManifest(blob(blobId));
      for (const [i, bytes] of chunks(fill).entries()) await store.blobs.putChunk(blobId, i, bytes);
    };
    const deletion = { deletedBy: 'd1', deletedAt: isoAt(5) };
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await put(store, 'gone-before', 1);
        await store.blobs.delete('gone-before', deletion);
        await put(store, 'gone-after', 2);
        await put(store, 'kept', 3);
      },
      async (store) => {
        await store.blobs.delete('gone-after', deletion);
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.warnings).toEqual([]);
    expect(result.carried?.blobDeletions).toBe(1);
    const store = await openSqliteStore({ dataDir });
    try {
      for (const blobId of ['gone-before', 'gone-after']) {
        expect(await store.blobs.getManifest(blobId)).toBeNull();
        expect(await store.blobs.chunkIndexes(blobId)).toEqual([]);
        expect(await store.blobs.getTombstone(blobId)).toStrictEqual({
          blobId,
          stream: 'pat/document',
          ...deletion,
        });
        await expect(store.blobs.putManifest(blob(blobId))).rejects.toMatchObject({ code: 'DELETED' });
      }
      expect(await store.blobs.chunkIndexes('kept')).toEqual([0, 1]);
      // Not left in the restored file either (the copy deletes with secure_delete, as the store does).
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      const file = readFileSync(store.file);
      expect(file.includes(Buffer.alloc(2048, 2))).toBe(false);
      expect(file.includes(Buffer.alloc(2048, 3))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('carries nothing from another server’s store, and says so', async () => {
    const { dataDir, backupFile } = await scenario(
      async (store) => {
        await store.meta.put('server-signing-seed', 'seed-of-this-server');
        await write(store, S, ['a']);
      },
      async (store) => {
        await write(store, S, ['b', 'c']);
        await store.meta.put('server-signing-seed', 'seed-of-another-server');
      },
    );
    const result = await restore(backupFile, dataDir);
    expect(result.carried).toBeNull();
    expect(result.warnings).toEqual([expect.stringContaining("another server's")]);
    const store = await openSqliteStore({ dataDir });
    try {
      expect(await head(store, S)).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('restore without a readable store to replace', () => {
  it('restores into an empty directory, drops every session and warns on stderr by default', async () => {
    const { backupFile } = await scenario(
      async (store) => {
        await store.accounts.register(makeAccount('pat'), makeDevice('d1', 'pat'));
        await store.sessions.put({ tokenHash: 't', deviceId: 'd1', accountId: 'pat', expiresAt: isoAt(9e6) });
      },
      async () => {},
    );
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const target = newDir();
    const result = await restoreSqlite(backupFile, target);
    const printed = stderr.mock.calls.map((c) => String(c[0])).join('');
    stderr.mockRestore();
    expect(result.carried).toBeNull();
    expect(result.warnings).toHaveLength(1);
    expect(printed).toBe(`warning: ${result.warnings[0]}\n`);
    expect(printed).toMatch(/No store was replaced.*revocations.*redo them.*pull again from the start/);
    const store = await openSqliteStore({ dataDir: target });
    try {
      expect(await store.sessions.get('t')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('brings back deleted blobs, revoked invites and an older audit chain end, and the warning names them', async () => {
    const manifest: BlobManifest = {
      blobId: 'b1',
      stream: 'pat/document',
      size: 10,
      chunkSize: 65_536,
      chunkCount: 1,
      digests: ['d0'],
      createdBy: 'd1',
      createdAt: isoAt(1),
    };
    const codeHash = 'c'.repeat(64);
    const entry = (id: string, authorSeq: number) => ({
      doc: makeDocInput(AUDIT, id, '1-a', { audit: { authorSeq, prevHash: null, at: isoAt(2) } }),
      assumedRev: null,
    });
    const { backupFile } = await scenario(
      async (store) => {
        await store.blobs.putManifest(manifest);
        await store.blobs.putChunk('b1', 0, new Uint8Array(26).fill(7));
        await store.invites.put({
          codeHash,
          uses: 1,
          usesLeft: 1,
          expiresAt: isoAt(9e6),
          createdAt: isoAt(0),
        });
        await store.docs.writeDocs([entry('e1', 1)], isoAt(2));
      },
      async (store) => {
        await store.blobs.delete('b1', { deletedBy: 'd1', deletedAt: isoAt(5) });
        await store.invites.revoke(codeHash, isoAt(5));
        await store.docs.writeDocs([entry('e2', 2)], isoAt(5));
      },
    );
    const target = newDir();
    const warnings: string[] = [];
    const result = await restoreSqlite(backupFile, target, { onWarning: (w) => warnings.push(w) });
    const store = await openSqliteStore({ dataDir: target });
    try {
      expect(result.carried).toBeNull();
      // What the warning must name: each is back as the backup had it.
      expect(await store.blobs.getManifest('b1')).toStrictEqual(manifest);
      expect(await store.blobs.getChunk('b1', 0)).not.toBeNull();
      expect((await store.invites.list()).map((i) => [i.codeHash, i.revokedAt])).toEqual([
        [codeHash, undefined],
      ]);
      expect((await store.docs.auditChainEnd(AUDIT, 'device-a'))?.audit?.authorSeq).toBe(1);
    } finally {
      await store.close();
    }
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning).toMatch(/blob deletions/);
    expect(warning).toMatch(/deleted blobs can be downloaded again/);
    expect(warning).toMatch(/invite revocations/);
    expect(warning).toMatch(/revoked invite codes admit sign-ups again/);
    expect(warning).toMatch(/audit log continues from the backup's last entry/);
    // What devices do since they remember how far they verified each chain: report it cut, not forked.
    expect(warning).toMatch(/report the server's chain as cut .*\(`deleted`, naming the restore/);
    expect(warning).not.toMatch(/inserted|fork/);
  });

  it('restores over a store file that is not a database, and warns', async () => {
    const { backupFile } = await scenario(
      async (store) => {
        await write(store, S, ['a']);
      },
      async () => {},
    );
    const target = newDir();
    writeFileSync(join(target, SQLITE_FILE_NAME), new Uint8Array(8192).fill(0x5a));
    const result = await restore(backupFile, target);
    expect(result.movedAside).not.toBeNull();
    expect(result.warnings).toEqual([expect.stringMatching(/^The replaced store could not be read/)]);
    const store = await openSqliteStore({ dataDir: target });
    try {
      expect(await head(store, S)).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('store incarnation', () => {
  it('exists from the first open, stays across opens, and every restore replaces it', async () => {
    const { dataDir, backupFile, incarnationBefore } = await scenario(
      async () => {},
      async () => {},
    );
    expect(incarnationBefore).not.toBeNull();
    expect(validate(Incarnation, incarnationBefore).ok).toBe(true);
    const reopened = await openSqliteStore({ dataDir });
    expect(await reopened.meta.get(INCARNATION_META_KEY)).toBe(incarnationBefore);
    await reopened.close();

    const backup = new Database(backupFile, { readonly: true });
    const inBackup = backup.prepare('SELECT value FROM meta WHERE key = ?').get(INCARNATION_META_KEY);
    backup.close();
    expect(inBackup).toEqual({ value: incarnationBefore });

    const seen = new Set([incarnationBefore]);
    for (let i = 0; i < 2; i++) {
      const result = await restore(backupFile, dataDir);
      expect(seen.has(result.incarnation)).toBe(false);
      seen.add(result.incarnation);
      const store = await openSqliteStore({ dataDir });
      expect(await store.meta.get(INCARNATION_META_KEY)).toBe(result.incarnation);
      await store.close();
    }
  });

  it('a store whose incarnation is gone gets one at its next open', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir });
    await store.close();
    const raw = new Database(join(dataDir, SQLITE_FILE_NAME));
    raw.prepare('DELETE FROM meta WHERE key = ?').run(INCARNATION_META_KEY);
    raw.close();
    const again = await openSqliteStore({ dataDir });
    try {
      expect(validate(Incarnation, await again.meta.get(INCARNATION_META_KEY)).ok).toBe(true);
    } finally {
      await again.close();
    }
  });
});
