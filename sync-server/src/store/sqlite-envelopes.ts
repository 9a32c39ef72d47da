/*
 * The SQLite store's key envelopes (types.ts `envelopes`).
 *
 * Invariants:
 * - One envelope per (stream, epoch, recipient), except that one created by a device revoked since is
 *   replaced by one of the same key id from an active device of the same account (ENVELOPE_ON_CONFLICT_SQL,
 *   sqlite-statements.ts): the revocation as the database holds it inside the insert's transaction.
 * - `putAll` inserts its batch in one BEGIN IMMEDIATE transaction, so a write checking `expectedEpoch`
 *   (sqlite-docs.ts, sqlite-blobs.ts) sees all of it or none.
 *
 * Failure modes: malformed envelope or limit → INVALID (nothing written).
 */
import type { Envelope, SyncStore } from './types';
import { rowToEnvelope } from './sqlite-rows';
import { requireCount, validateEnvelope } from './store-checks';
import type { Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

const insertEnvelope = (s: Statements, e: Envelope): { created: boolean } => {
  const { changes } = s.envelopeInsert.run(
    e.stream,
    e.epoch,
    e.recipient,
    e.keyId,
    e.wrapped,
    e.createdBy,
    e.sig ?? null,
    e.createdAt,
  );
  return { created: changes === 1 };
};

export const sqliteEnvelopes = ({ db, call }: SqliteContext): Pick<SyncStore, 'envelopes'> => {
  const envelopesTx = db.transaction((s: Statements, envelopes: readonly Envelope[]) =>
    envelopes.map((e) => insertEnvelope(s, e)),
  );

  return {
    envelopes: {
      put: (e) =>
        call((s) => {
          validateEnvelope(e);
          return insertEnvelope(s, e);
        }),
      putAll: (envelopes) =>
        call((s) => {
          envelopes.forEach(validateEnvelope);
          return envelopesTx.immediate(s, envelopes);
        }),
      list: (recipient, streams, limit) =>
        call((s) => {
          if (limit !== undefined) requireCount(limit);
          const most = limit ?? -1;
          return (
            streams === undefined
              ? s.envelopesForRecipient.all(recipient, most)
              : s.envelopesForRecipientIn.all(recipient, JSON.stringify(streams), most)
          ).map(rowToEnvelope);
        }),
      currentEpoch: (stream) => call((s) => s.envelopeMaxEpoch.get(stream)?.epoch ?? null),
      currentEpochs: (streams) =>
        call((s) => {
          const found = new Map(
            s.envelopeMaxEpochs.all(JSON.stringify(streams)).map((r) => [r.stream, r.epoch]),
          );
          return streams.map((stream) => found.get(stream) ?? null);
        }),
      holders: (streams, limit) =>
        call((s) => s.envelopeHolders.all(JSON.stringify(streams), limit).map((r) => ({ ...r }))),
    },
  };
};
