/**
 * Follows the account's passphrase for an open device session, so a passphrase changed on another
 * device (say, because the old one leaked) stops opening this device as soon as it is online, without
 * the app having to remember to call `refreshWrappedRoot`.
 *
 * The server reports the generation of the account's current passphrase wrap on the sync socket
 * (`ready.wrappedRootGen` at every connection, `wrappedRootChanged` while connected).
 * The watch compares it with the generation this device holds — the vault's when it has the vault, else
 * the one the account object was unlocked with (account.ts), else the first one the server reported in
 * this session — and, when they differ and it was given both the vault and the API, runs
 * `refreshWrappedRoot`, which fetches the wrap over HTTP and takes it only if it is newer and signed by the
 * account. The outcome is the session's `SyncState.passphrase` (engine.ts), plus a `SyncIssue` when
 * something went wrong.
 *
 * Invariants:
 * - The served generation is a hint, never trusted: nothing is written on its word alone; the vault
 *   changes only through `refreshWrappedRoot`, and only when both `vault` and `api` were given.
 * - Never on the sync path: reports return at once; refreshes run one at a time in the background, the
 *   latest report winning over older ones that arrived meanwhile.
 * - Once per generation: a refresh that ended (taken, refused, or failed for good) is not run again for
 *   the same reported generation; one that failed for a passing reason (network, server busy) is retried
 *   when the server next reports that generation (the next connection).
 * - A refusal, or a generation older than this device's (a rollback), reads `refused` until the server
 *   reports this device's generation again or a newer one is taken; `updated` stays until the session
 *   ends, so the person can be told.
 * - Issues carry generation numbers and error codes, never passphrases, wraps or keys. A failed refresh's
 *   issue (`id` WRAPPED_ROOT_ISSUE_ID) leaves the issues once this device holds the server's generation
 *   (taken, or found equal): it is over then. A refusal's stays (the person must be told).
 * - Authenticating signs with a copy of the session's device key, taken once the session is found still
 *   usable (not locked, not closed) after the last await before it: never with bytes lock() or close() may
 *   be zeroing. A session found locked starts no refresh (`onUnusable`; the generation is not settled, so
 *   the next session tries again); one locked while it authenticates ends LOCKED in `refreshWrappedRoot`,
 *   the vault unchanged, and is reported as the session reports a lock (`onUnusable`, once), unsettled.
 * - A change this device makes itself is not announced to it (the server skips the changer); at the next
 *   connection it compares equal when the vault or the account object changePassphrase was given is known.
 * Failure modes: without a vault, and with an account object the account functions did not produce, the
 * device's own generation is unknown: the first report only sets the baseline (status stays `unknown`), a
 * change made before this session is not noticed and one made by this device reads as changed elsewhere.
 * A failed refresh is reported as a SyncIssue (its error code) and leaves the vault as it was.
 */
import type { Ed25519 } from '@hale/crypto';
import { isAccountError } from '../core/account-error';
import {
  heldWrappedRootGen,
  knownWrappedRootGen,
  refreshWrappedRoot,
  type WrapHolder,
} from '../account/account';
import type { Vault } from '../account/vault';
import { isHaleClientError } from '../api/errors';
import type { HttpApi } from '../api/http-api';
import { openSession, type SessionDevice } from '../api/session-manager';
import type { PassphraseStatus, SyncIssue } from '../sync/engine';

/** The HTTP routes a session needs to take a newer wrap: a bearer session and the wrap itself. */
export type WrappedRootApi = Pick<HttpApi, 'challenge' | 'session' | 'getWrappedRoot'>;

export interface PassphraseWatchDeps {
  readonly account: WrapHolder;
  /** The session's own copy of the device key (zeroed by its close()): what authenticating signs with. */
  readonly device: SessionDevice;
  /** Whether the session may still use its keys: not once the account was locked, nor after close(). */
  readonly usable: () => boolean;
  /** A refresh was not started because the session may no longer use its keys. */
  readonly onUnusable: () => void;
  readonly ed: Ed25519;
  /** This device's vault; without it the watch compares with the account object's generation. */
  readonly vault?: Vault | undefined;
  /** With the vault, lets the watch take a newer wrap itself. */
  readonly api?: WrappedRootApi | undefined;
  onStatus(status: PassphraseStatus): void;
  onIssue(issue: Omit<SyncIssue, 'at'>): void;
  /** Drops the issues about `id` reported earlier, whatever their code (engine `clearIssues`). */
  clearIssues(match: { id: string }): void;
}

/** The `id` of the issues of a passphrase refresh that failed (no record's: the account's wrap). */
export const WRAPPED_ROOT_ISSUE_ID = 'wrapped-root';

export interface PassphraseWatch {
  /** The server reported generation `gen` (from `ready` or `wrappedRootChanged`). Returns at once. */
  served(gen: number): void;
  /** Reports received afterwards are ignored. */
  stop(): void;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const createPassphraseWatch = (deps: PassphraseWatchDeps): PassphraseWatch => {
  let status: PassphraseStatus = 'unknown';
  /** First generation the server reported in this session: the reference when nothing better is known. */
  let baseline: number | undefined;
  /** Most recent report not yet acted on. */
  let next: number | undefined;
  /** The reported generation whose refresh ended for good (not retried for the same report). */
  let settled: number | undefined;
  let running: Promise<void> | null = null;
  let stopped = false;

  const set = (to: PassphraseStatus): void => {
    if (to === status) return;
    status = to;
    deps.onStatus(to);
  };
  const failed = (code: string, message: string): void =>
    deps.onIssue({ code, message, id: WRAPPED_ROOT_ISSUE_ID });
  /** This device holds the server's generation: what failed before is over. */
  const caughtUp = (): void => deps.clearIssues({ id: WRAPPED_ROOT_ISSUE_ID });
  const refused = (message: string): void => {
    set('refused');
    deps.onIssue({ code: 'WRAPPED_ROOT_REFUSED', message });
  };

  /** What this device holds, or undefined when only the baseline is known and this report set it. */
  const heldGeneration = async (gen: number): Promise<number | undefined> => {
    if (deps.vault) return heldWrappedRootGen({ vault: deps.vault }, deps.account);
    const known = knownWrappedRootGen(deps.account);
    if (known !== undefined) return known;
    if (baseline === undefined) {
      baseline = gen;
      return undefined;
    }
    return baseline;
  };

  const check = async (gen: number): Promise<void> => {
    const held = await heldGeneration(gen);
    if (held === undefined) return;
    if (gen === held) {
      // `updated` stays: the person must still be told that the old passphrase no longer opens this device.
      if (status !== 'updated') set('current');
      caughtUp();
      return;
    }
    if (settled === gen) return;
    const { vault, api } = deps;
    if (!vault || !api) {
      settled = gen;
      if (gen > held) set('changed-elsewhere');
      else
        refused(
          `The server reports passphrase generation ${gen}, older than this device's ${held}; this device keeps its own. Report it.`,
        );
      return;
    }
    if (gen > held) set('changed-elsewhere');
    if (!deps.usable()) {
      deps.onUnusable();
      return;
    }
    // Its own copy: openSession signs only after fetching the challenge, and close() may wipe the session's
    // meanwhile.
    const device = { deviceId: deps.device.deviceId, secretKey: deps.device.secretKey.slice() };
    try {
      const { token } = await openSession(api, device, deps.ed);
      const result = await refreshWrappedRoot({ api, vault, ed: deps.ed }, { account: deps.account, token });
      if (result.status === 'updated') {
        settled = gen;
        set('updated');
        caughtUp();
      } else if (status !== 'updated') {
        // The server served the wrap this device holds after all (its report ran ahead of what it
        // serves): nothing changed here; a later report of the same generation tries again.
        set('current');
      }
    } catch (e) {
      if (isHaleClientError(e) && e.retry) {
        failed(
          e.code,
          `Could not fetch the account's current passphrase (generation ${gen}); will retry on reconnect: ${e.message}`,
        );
        return;
      }
      // Locked meanwhile: the session reports the lock, once (not settled: the next session tries again).
      if (isAccountError(e) && e.code === 'LOCKED') {
        deps.onUnusable();
        return;
      }
      settled = gen;
      if (isAccountError(e) && e.code === 'WRAPPED_ROOT_REFUSED') {
        refused(`The server offered a passphrase this device refused; it keeps its own. ${e.message}`);
        return;
      }
      failed(
        isAccountError(e) || isHaleClientError(e) ? e.code : 'PASSPHRASE_REFRESH_FAILED',
        `Could not take the account's current passphrase (generation ${gen}): ${messageOf(e)}`,
      );
    } finally {
      device.secretKey.fill(0);
    }
  };

  const drain = async (): Promise<void> => {
    while (next !== undefined && !stopped) {
      const gen = next;
      next = undefined;
      try {
        await check(gen);
      } catch (e) {
        // Reading this device's generation failed (vault unreadable or holding another account).
        failed(
          isAccountError(e) ? e.code : 'PASSPHRASE_REFRESH_FAILED',
          `Could not compare this device's passphrase with the server's: ${messageOf(e)}`,
        );
      }
    }
  };

  // A report that lands after drain's last look but before it settled starts the next drain.
  const kick = (): void => {
    if (running || stopped || next === undefined) return;
    running = drain().finally(() => {
      running = null;
      kick();
    });
  };

  return {
    served(gen) {
      if (stopped) return;
      next = gen;
      kick();
    },
    stop() {
      stopped = true;
    },
  };
};
