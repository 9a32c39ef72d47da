/*
 * The SQLite store's sign-in state (types.ts `challenges` and `sessions`).
 *
 * Invariants:
 * - A challenge is taken once (`take` deletes it as it reads it).
 * - A session of a revoked device is not found; a session is stored only for an existing device of the
 *   account it names (checked in one transaction with the insert).
 *
 * Failure modes: unknown device → NOT_FOUND; a device of another account, or a time that is not ISO →
 * INVALID.
 */
import { StoreError, type Session, type SyncStore } from './types';
import { rowToChallenge, rowToSession } from './sqlite-rows';
import { invalid, requireText, timeMs } from './store-checks';
import type { Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

export const sqliteSessions = ({ db, call }: SqliteContext): Pick<SyncStore, 'challenges' | 'sessions'> => {
  const sessionTx = db.transaction((s: Statements, session: Session, expiresMs: number) => {
    const device = s.deviceGet.get(session.deviceId);
    if (device === undefined) throw new StoreError('NOT_FOUND', `device ${session.deviceId} does not exist`);
    if (device.account_id !== session.accountId) {
      throw invalid(`device ${session.deviceId} does not belong to account ${session.accountId}`);
    }
    s.sessionInsert.run(session.tokenHash, session.deviceId, session.accountId, session.expiresAt, expiresMs);
  });

  return {
    challenges: {
      put: (c) =>
        call((s) => {
          requireText(c.challengeId, 'challengeId');
          s.challengeInsert.run(
            c.challengeId,
            c.deviceId,
            c.nonce,
            c.expiresAt,
            timeMs(c.expiresAt, 'expiresAt'),
          );
        }),
      take: (challengeId) =>
        call((s) => {
          const row = s.challengeTake.get(challengeId);
          return row === undefined ? null : rowToChallenge(row);
        }),
      deleteExpired: (now) => call((s) => s.challengesDeleteExpired.run(timeMs(now, 'now')).changes),
    },

    sessions: {
      put: (session) =>
        call((s) => {
          requireText(session.tokenHash, 'tokenHash');
          sessionTx.immediate(s, session, timeMs(session.expiresAt, 'expiresAt'));
        }),
      get: (tokenHash) =>
        call((s) => {
          const row = s.sessionGet.get(tokenHash);
          return row === undefined ? null : rowToSession(row);
        }),
      deleteForDevice: (deviceId) => call((s) => s.sessionsDeleteForDevice.run(deviceId).changes),
      deleteExpired: (now) => call((s) => s.sessionsDeleteExpired.run(timeMs(now, 'now')).changes),
    },
  };
};
