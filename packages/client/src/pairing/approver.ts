/**
 * Pairing on a signed-in device (`HaleSession.devices.approvePairing`): answers the new device's code,
 * checks its key against the commitment it made before this side's nonce existed, shows the digits and the
 * new device's name, and — only once `approve()` is called — seals the account root to the key of this
 * pairing's transcript.
 *
 * | call | does | then |
 * |---|---|---|
 * | `approvePairing(code)` | claims the code, sends this side's key, waits for the new device's | a `PairingRequest` with `sas`, `newDeviceName` |
 * | `request.approve()` | seals and sends the root payload; waits for the new device's `done` | its new device id |
 * | `request.refuse(reason)` | tells the new device (`refused`, or `mismatch`: other digits) | — |
 *
 * Invariants: the root leaves this device only inside `approve()`, sealed under a key derived from an
 * X25519 exchange with the key the new device committed to; a reveal that does not open the commitment
 * is refused before any digits are shown; the root copy and the ephemeral secrets are zeroed when the
 * pairing ends; a locked account approves nothing (AccountError LOCKED).
 * Failure modes: a malformed code → INVALID_PAIRING_CODE before anything is sent; PAIRING_UNKNOWN,
 * PAIRING_TAKEN from the relay; PAIRING_TAMPERED (this side tells the new device); PAIRING_REFUSED,
 * PAIRING_EXPIRED while waiting; `approve` twice or after `refuse` → PAIRING_WRONG_STATE.
 */
import { base64urlDecode, base64urlEncode } from '@hale/crypto';
import {
  PairingDonePayload,
  PairingNamePayload,
  normalizePairingCode,
  type AccountRole,
  type PairingCancelReason,
} from '@hale/protocol';
import { isHaleClientError } from '../api/errors';
import { PairingError } from './errors';
import { createInbox } from './inbox';
import { reasonToTell } from './new-device';
import {
  bytesOf,
  forget,
  newEphemeralSide,
  opensCommit,
  openPayload,
  pairingKeys,
  sealPayload,
  shortAuthenticationString,
  transcriptHash,
} from './pairing-crypto';
import type { PairingRelay } from './relay-client';

/** What the approving device hands over, read when the person approves. */
export interface ApprovingAccount {
  readonly accountId: string;
  readonly role: AccountRole;
  readonly loginName: string | null;
  readonly deviceId: string;
  readonly deviceName: string;
  /** A copy of the root (zeroed by the caller of this function); throws LOCKED once the account is locked. */
  readonly root: () => Uint8Array;
}

/** A new device asking to join, as an approving device shows it. */
export interface PairingRequest {
  /** The six digits: the person checks the new device shows the same. */
  readonly sas: string;
  /** The name the new device gave itself (sealed to this pairing: the relay cannot change it). */
  readonly newDeviceName: string;
  readonly expiresAt: string;
  /** Sends the account to the new device and waits until it joined; resolves with its device id. */
  approve(): Promise<{ readonly deviceId: string }>;
  /** Ends the pairing without sending anything: `mismatch` when the digits differ. */
  refuse(reason?: 'refused' | 'mismatch'): Promise<void>;
}

export interface ApproverDeps {
  readonly relay: PairingRelay;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
  readonly pollMs?: number;
  /** Called once the new device reported its id (e.g. to reload the device list). */
  readonly onJoined?: (deviceId: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const mapRelayError = (e: unknown): unknown => {
  if (!isHaleClientError(e)) return e;
  if (e.code === 'PAIRING_UNKNOWN') {
    return new PairingError(
      'PAIRING_UNKNOWN',
      'no pairing has this code on this server: check it, or start pairing again on the new device (a code lasts 10 minutes)',
      { cause: e },
    );
  }
  if (e.code === 'PAIRING_TAKEN') {
    return new PairingError(
      'PAIRING_TAKEN',
      'another device already answered this code. If that was not you, cancel on the new device and start again',
      { cause: e },
    );
  }
  if (e.status === 404 && e.code === 'NOT_FOUND') {
    return new PairingError(
      'PAIRING_UNSUPPORTED',
      'this server cannot pair devices (it is older than pairing)',
      {
        cause: e,
      },
    );
  }
  return e;
};

export async function approvePairing(
  deps: ApproverDeps,
  account: ApprovingAccount,
  typedCode: string,
): Promise<PairingRequest> {
  const code = normalizePairingCode(typedCode);
  if (code === null) {
    throw new PairingError(
      'INVALID_PAIRING_CODE',
      'this is not a pairing code: type the 10 letters and digits the new device shows, or scan its QR code',
    );
  }
  let claimed;
  try {
    claimed = await deps.relay.claim(code);
  } catch (e) {
    throw mapRelayError(e);
  }
  const now = deps.now ?? Date.now;
  const { token } = claimed;
  const commit = base64urlDecode(claimed.commit);
  const side = newEphemeralSide();
  const abort = new AbortController();
  const inbox = createInbox({
    relay: deps.relay,
    code,
    token,
    expiresAt: Date.parse(claimed.expiresAt),
    now,
    wait: deps.wait ?? sleep,
    signal: abort.signal,
    ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
  });
  const tell = (reason: PairingCancelReason): Promise<void> =>
    deps.relay.post(code, token, { t: 'cancel', reason }).catch(() => undefined);
  let keysToForget: Uint8Array[] = [];
  let ended = false;
  const end = (): void => {
    ended = true;
    abort.abort();
    forget(side.secretKey, ...keysToForget);
  };
  const stop = async (e: unknown): Promise<never> => {
    if (!ended) {
      const reason = reasonToTell(e);
      if (reason !== null) await tell(reason);
      end();
    }
    throw mapRelayError(e);
  };

  let sas: string;
  let newDeviceName: string;
  let toNew: Uint8Array;
  let toApprover: Uint8Array;
  try {
    if (!commit.ok || commit.value.length !== 32)
      throw new PairingError('PAIRING_TAMPERED', 'bad commitment');
    await deps.relay.post(code, token, {
      t: 'offer',
      key: base64urlEncode(side.publicKey),
      nonce: base64urlEncode(side.nonce),
    });
    const reveal = await inbox.next('reveal');
    const newKey = bytesOf(reveal.key, 32, "the new device's key");
    const newNonce = bytesOf(reveal.nonce, 32, "the new device's nonce");
    if (!opensCommit(commit.value, newKey, newNonce)) {
      throw new PairingError(
        'PAIRING_TAMPERED',
        "the new device's key is not the one it committed to: the relay swapped it. Nothing was sent; start again",
      );
    }
    const transcript = transcriptHash({
      code,
      commit: commit.value,
      approverKey: side.publicKey,
      approverNonce: side.nonce,
      newKey,
      newNonce,
    });
    ({ toNew, toApprover } = pairingKeys(side.secretKey, newKey, transcript));
    keysToForget = [toNew, toApprover];
    newDeviceName = openPayload(
      toApprover,
      reveal.name,
      PairingNamePayload,
      "the new device's name",
    ).deviceName;
    sas = shortAuthenticationString(transcript);
  } catch (e) {
    return stop(e);
  }

  let step: 'asking' | 'approving' | 'ended' = 'asking';
  return {
    sas,
    newDeviceName,
    expiresAt: claimed.expiresAt,
    async approve() {
      if (step !== 'asking' || ended) {
        throw new PairingError('PAIRING_WRONG_STATE', 'this pairing was already approved, refused or ended');
      }
      step = 'approving';
      try {
        // The new device may have cancelled while the person looked: then nothing is sealed at all.
        await inbox.check();
        const root = account.root();
        try {
          const box = sealPayload(toNew, {
            k: 'root',
            accountId: account.accountId,
            root: base64urlEncode(root),
            role: account.role,
            loginName: account.loginName,
            approverDeviceId: account.deviceId,
            approverDeviceName: account.deviceName,
          });
          await deps.relay.post(code, token, { t: 'sealed', box });
        } finally {
          forget(root);
        }
        const done = await inbox.next('done');
        const { deviceId } = openPayload(toApprover, done.box, PairingDonePayload, "the new device's answer");
        end();
        step = 'ended';
        deps.onJoined?.(deviceId);
        return { deviceId };
      } catch (e) {
        step = 'ended';
        return stop(e);
      }
    },
    async refuse(reason = 'refused') {
      if (ended) return;
      step = 'ended';
      await tell(reason);
      end();
    },
  };
}
