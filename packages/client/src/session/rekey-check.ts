// The connect-time re-keying check (consent's `rotateExpired`) and the one sync issue it keeps, `id`
// REKEY_CHECK_ID. Each connect starts a check; only the latest check's outcome is shown:
//
// | outcome of the latest check                        | issue kept                                       |
// | -------------------------------------------------- | ------------------------------------------------ |
// | passed                                             | none (an earlier one of this check is cleared)   |
// | lost its connection (SyncError NETWORK or TIMEOUT) | that code: a connection failure, not a re-keying |
// | the app stopped the connection (STOPPED)           | none new (offline is the status, not an issue)   |
// | anything else (refused, unconfirmed epoch…)        | REKEY_PENDING                                    |
//
// Invariants: at most one issue of this check is kept (a new outcome replaces the last); a check
// superseded by a later connect's reports nothing, so a socket dropped under an old check cannot file
// an issue after a newer check passed.
import { CONNECTION_CODES, SyncError } from '../sync/connection';
import type { SyncIssue } from '../sync/engine';

/** The `id` of the issue the connect-time re-keying check keeps (there is no record it is about). */
export const REKEY_CHECK_ID = 'rekey-check';

export interface RekeyCheckDeps {
  /** Runs the check (consent's `rotateExpired`); null while consent is not set up. */
  rotate: () => Promise<unknown> | null;
  report: (issue: Omit<SyncIssue, 'at'>) => void;
  clear: (match: { id: string }) => void;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Answers the function the session calls at each `ready`: starts a check and shows its outcome. */
export const createRekeyCheck = (deps: RekeyCheckDeps): (() => void) => {
  let latest = 0;
  return () => {
    const run = ++latest;
    const started = deps.rotate();
    if (started === null) return;
    void started.then(
      () => {
        if (run === latest) deps.clear({ id: REKEY_CHECK_ID });
      },
      (error: unknown) => {
        if (run !== latest) return;
        const connection = error instanceof SyncError && CONNECTION_CODES.has(error.code);
        if (connection && error.code === 'STOPPED') return;
        deps.clear({ id: REKEY_CHECK_ID });
        deps.report(
          connection
            ? {
                code: error.code,
                id: REKEY_CHECK_ID,
                message:
                  'the connection was lost while checking re-keying after ended grants; checked again at ' +
                  `the next connect: ${messageOf(error)}`,
              }
            : {
                code: 'REKEY_PENDING',
                id: REKEY_CHECK_ID,
                message: `re-keying after an ended grant not done yet; retried at the next connect: ${messageOf(error)}`,
              },
        );
      },
    );
  };
};
