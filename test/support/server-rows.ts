// Reading what the server stored, as a test checks what a grantee could decrypt from it.
import { openRecordVersion, unwrapKey, type AccountKeys } from '@hale/crypto';
import { parseRevTag } from '@hale/protocol';
import { x25519, type TestServer } from '@hale/sync-server/testing';

interface StoredRow {
  stream: string;
  ct: Buffer;
  epoch: number;
  rev: string;
}

/** The stored version of record `id`, or undefined when the server holds none. */
export const storedRow = (t: TestServer, id: string) =>
  t.store.db.prepare('SELECT stream, ct, epoch, rev FROM docs WHERE id = ?').get(id) as StoredRow | undefined;

/** The context a stored version was sealed in: its revision number is its tag's write counter. */
export const sealedContext = (row: StoredRow, id: string) => {
  const tag = parseRevTag(row.rev);
  if (!tag) throw new Error(`${id}: stored rev ${row.rev} is not a revision tag`);
  return { stream: row.stream, id, epoch: row.epoch, rev: tag.n };
};

/** Whether a key that one of `grantee`'s envelopes on the server opens to decrypts the record as stored. */
export const granteeOpens = (
  t: TestServer,
  grantee: { accountId: string; keys: AccountKeys },
  id: string,
): boolean => {
  const row = storedRow(t, id);
  if (!row) throw new Error(`${id} is not on the server`);
  const envelopes = t.store.db
    .prepare('SELECT epoch, wrapped FROM envelopes WHERE stream = ? AND recipient = ?')
    .all(row.stream, grantee.accountId) as Array<{ epoch: number; wrapped: string }>;
  return envelopes.some((e) => {
    const key = unwrapKey(e.wrapped, grantee.keys.wrapping, { stream: row.stream, epoch: e.epoch }, x25519);
    return key.ok && openRecordVersion(key.value, new Uint8Array(row.ct), sealedContext(row, id)).ok;
  });
};

/** The stream keys `grantee`'s envelopes on the server open to, for `stream` (every epoch it was given). */
export const granteeKeys = (
  t: TestServer,
  grantee: { accountId: string; keys: AccountKeys },
  stream: string,
): Array<{ epoch: number; key: Uint8Array }> =>
  (
    t.store.db
      .prepare('SELECT epoch, wrapped FROM envelopes WHERE stream = ? AND recipient = ?')
      .all(stream, grantee.accountId) as Array<{ epoch: number; wrapped: string }>
  ).flatMap((e) => {
    const key = unwrapKey(e.wrapped, grantee.keys.wrapping, { stream, epoch: e.epoch }, x25519);
    return key.ok ? [{ epoch: e.epoch, key: key.value }] : [];
  });
