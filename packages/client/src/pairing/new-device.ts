/**
 * Pairing on the new device (`Hale.startPairing`): shows a code, learns the approver's key, shows the
 * digits, and — once its person confirms they match the approver's — opens the root sealed to it and joins.
 *
 * | step (`state`) | meaning | next |
 * |---|---|---|
 * | `waiting` | the code (and QR link) is shown; no approver yet | `compare` when one answers |
 * | `compare` | both screens show `sas`; the person compares | `confirm()` → `approving`; `cancel()` |
 * | `approving` | confirmed here; waiting for the approver's person | `joining` when the sealed root comes |
 * | `joining` | registering this device with the account | `joined` |
 * | `joined` | this device is a device of the account | — |
 * | `failed` | `error` says why (PairingError, or the join's AccountError / HaleClientError) | — |
 *
 * Invariants: nothing from the approver is used before this device's person confirmed the digits (a server
 * or a bystander that answered the code gets as far as `compare`, never further); the root is read only
 * from a box sealed under the key of this pairing's transcript, and is zeroed once the join used it; the
 * ephemeral secret key is zeroed when the pairing ends, whichever way.
 * Failure modes: see `errors.ts`; `confirm` before `compare` or twice is PAIRING_WRONG_STATE; a failed join
 * tells the approver (`cancel` with reason `failed`) and leaves this device's vault as the join leaves it.
 */
import { base64urlEncode, deriveAccountKeys } from '@hale/crypto';
import {
  PairingRootPayload,
  formatPairingCode,
  pairingLink,
  type AccountRole,
  type PairingCancelReason,
} from '@hale/protocol';
import { isHaleClientError } from '../api/errors';
import type { HaleError } from '../core/hale-error';
import { observedValue, type Observed } from '../core/observed';
import { PairingError, isPairingError } from './errors';
import { cancelled, createInbox, type Inbox } from './inbox';
import {
  bytesOf,
  forget,
  newEphemeralSide,
  openPayload,
  pairingCommit,
  pairingKeys,
  sealPayload,
  shortAuthenticationString,
  transcriptHash,
  type PairingKeys,
} from './pairing-crypto';
import type { PairingRelay } from './relay-client';

/** Where a new device's pairing stands: waiting, the code to compare, done or failed. */
export type NewDevicePairingState =
  | { readonly step: 'waiting' }
  | { readonly step: 'compare'; readonly sas: string }
  | { readonly step: 'approving'; readonly sas: string }
  | { readonly step: 'joining' }
  | { readonly step: 'joined'; readonly deviceId: string }
  | { readonly step: 'failed'; readonly error: HaleError | Error };

/** A pairing a new device started (`hale.startPairing`): the code to show and its state. */
export interface NewDevicePairing<S> {
  /** The code as sent (`K7M3Q9XDPA`); show `displayCode`. */
  readonly code: string;
  /** The code as a person reads it: `K7M3Q-9XDPA`. */
  readonly displayCode: string;
  /** What the QR code holds: a link into the web app on this server that carries the code. */
  readonly link: string;
  /** When the pairing ends if not finished (ISO). */
  readonly expiresAt: string;
  readonly state: Observed<NewDevicePairingState>;
  /** Resolves with the digits once a device answered the code (then compare them with its screen). */
  readonly digits: Promise<string>;
  /**
   * The person saw the same digits on both screens: waits for the approver's person to approve, joins,
   * and resolves with the session of this new device.
   */
  confirm(): Promise<S>;
  /** Ends the pairing (the other side is told); `mismatch` when the person saw other digits. */
  cancel(reason?: 'refused' | 'mismatch'): Promise<void>;
}

/** What the join is given once the root arrived. */
export interface PairedAccount {
  readonly root: Uint8Array;
  readonly accountId: string;
  readonly role: AccountRole;
  readonly loginName: string | null;
  readonly approverDeviceName: string;
}

export interface NewDevicePairingDeps<S> {
  readonly relay: PairingRelay;
  /** The server's base URL, for the QR link. */
  readonly server: string;
  /** Joins the account with the root (registers this device) and opens its session. */
  readonly join: (account: PairedAccount) => Promise<{ readonly session: S; readonly deviceId: string }>;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
  readonly pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const unsupported = (): PairingError =>
  new PairingError(
    'PAIRING_UNSUPPORTED',
    'this server cannot pair devices (it is older than pairing): join with the passphrase or the recovery key',
  );

/** What this side tells the other when it stops on `e`: nothing when the other side or the relay ended it. */
export function reasonToTell(e: unknown): PairingCancelReason | null {
  if (!isPairingError(e)) return 'failed';
  if (e.byOtherDevice) return null;
  switch (e.code) {
    case 'PAIRING_TAMPERED':
      return 'tampered';
    case 'PAIRING_EXPIRED':
    case 'PAIRING_UNKNOWN':
    case 'PAIRING_CANCELLED':
      return null;
    default:
      return 'failed';
  }
}

/** Starts a pairing: resolves once the relay gave it a code. */
export async function startNewDevicePairing<S>(
  deps: NewDevicePairingDeps<S>,
  input: { readonly deviceName: string },
): Promise<NewDevicePairing<S>> {
  const now = deps.now ?? Date.now;
  const side = newEphemeralSide();
  const commit = pairingCommit(side.publicKey, side.nonce);
  let created;
  try {
    created = await deps.relay.create(base64urlEncode(commit));
  } catch (e) {
    forget(side.secretKey);
    // A server without the relay answers its generic 404 for an unknown route.
    if (isHaleClientError(e) && e.status === 404) throw unsupported();
    throw e;
  }
  const { code, token } = created;
  const abort = new AbortController();
  const state = observedValue<NewDevicePairingState>({ step: 'waiting' });
  const inbox: Inbox = createInbox({
    relay: deps.relay,
    code,
    token,
    expiresAt: Date.parse(created.expiresAt),
    now,
    wait: deps.wait ?? sleep,
    signal: abort.signal,
    ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
  });
  let keys: PairingKeys | null = null;
  let ended = false;

  const end = (): void => {
    ended = true;
    abort.abort();
    forget(side.secretKey, keys?.toNew, keys?.toApprover);
  };
  const tell = (reason: PairingCancelReason): Promise<void> =>
    deps.relay.post(code, token, { t: 'cancel', reason }).catch(() => undefined);
  const fail = async (error: unknown, reason: PairingCancelReason | null): Promise<never> => {
    if (!ended) {
      if (reason !== null) await tell(reason);
      end();
      state.set({ step: 'failed', error: error instanceof Error ? error : new Error(String(error)) });
    }
    throw error;
  };
  const digits = (async () => {
    try {
      const offer = await inbox.next('offer');
      const approverKey = bytesOf(offer.key, 32, "the other device's key");
      const approverNonce = bytesOf(offer.nonce, 32, "the other device's nonce");
      const transcript = transcriptHash({
        code,
        commit,
        approverKey,
        approverNonce,
        newKey: side.publicKey,
        newNonce: side.nonce,
      });
      keys = pairingKeys(side.secretKey, approverKey, transcript);
      await deps.relay.post(code, token, {
        t: 'reveal',
        key: base64urlEncode(side.publicKey),
        nonce: base64urlEncode(side.nonce),
        name: sealPayload(keys.toApprover, { k: 'name', deviceName: input.deviceName }),
      });
      const sas = shortAuthenticationString(transcript);
      state.set({ step: 'compare', sas });
      return sas;
    } catch (e) {
      return fail(e, reasonToTell(e));
    }
  })();
  // Read through `state` or `digits`; an unread failure must not surface as an unhandled rejection.
  digits.catch(() => undefined);

  let confirming: Promise<S> | null = null;
  const confirmNow = async (sas: string, pairingKeysNow: PairingKeys): Promise<S> => {
    state.set({ step: 'approving', sas });
    let account: PairedAccount;
    try {
      const sealed = await inbox.next('sealed');
      const payload = openPayload(pairingKeysNow.toNew, sealed.box, PairingRootPayload, 'the account sent');
      const root = bytesOf(payload.root, 32, 'the account root sent');
      const derived = deriveAccountKeys(root).accountId;
      if (derived !== payload.accountId) {
        forget(root);
        throw new PairingError(
          'PAIRING_TAMPERED',
          'the account sent does not match its own id; nothing was taken',
        );
      }
      account = {
        root,
        accountId: payload.accountId,
        role: payload.role,
        loginName: payload.loginName,
        approverDeviceName: payload.approverDeviceName,
      };
    } catch (e) {
      return fail(e, reasonToTell(e));
    }
    state.set({ step: 'joining' });
    let joined: { session: S; deviceId: string };
    try {
      // A copy: the session keeps the root it is given, and this one is zeroed below.
      joined = await deps.join({ ...account, root: account.root.slice() });
    } catch (e) {
      return fail(e, 'failed');
    } finally {
      forget(account.root);
    }
    await deps.relay
      .post(code, token, {
        t: 'done',
        box: sealPayload(pairingKeysNow.toApprover, { k: 'done', deviceId: joined.deviceId }),
      })
      .catch(() => undefined);
    end();
    state.set({ step: 'joined', deviceId: joined.deviceId });
    return joined.session;
  };

  return {
    code,
    displayCode: formatPairingCode(code),
    link: pairingLink(deps.server, code),
    expiresAt: created.expiresAt,
    state,
    digits,
    confirm() {
      const now = state.get();
      if (confirming !== null) return confirming;
      if (now.step !== 'compare' || keys === null) {
        return Promise.reject(
          ended
            ? cancelled()
            : new PairingError(
                'PAIRING_WRONG_STATE',
                'no digits to confirm yet: wait until the other device answered the code and both show digits',
              ),
        );
      }
      confirming = confirmNow(now.sas, keys);
      return confirming;
    },
    async cancel(reason = 'refused') {
      if (ended) return;
      await tell(reason);
      end();
      state.set({ step: 'failed', error: cancelled() });
    },
  };
}
