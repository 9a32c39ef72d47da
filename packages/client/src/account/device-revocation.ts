/**
 * Revoking one of the account's devices.
 *
 * - The revocation is signed by the account's identity key (a protocol payload, label inside and as prefix).
 * - A revocation the server took is handed to the listeners of the account, by account id (`onDeviceRevoked`:
 *   the directory of each session open on it in this app) before `revokeDevice` resolves, so this device
 *   stops trusting the revoked one at once.
 * - Server refusals stay HaleClientError (e.g. DEVICE_REVOKED).
 */
import {
  type SignedDeviceRevocation,
  type HttpDeviceRevokeResponse,
  deviceRevocationPayload,
} from '@hale/protocol';
import type { AccountKeys } from '@hale/crypto';
import { isHaleClientError } from '../api/errors';
import { type AccountDeps, type UnlockedAccount, isoAt, signPayload } from './account-deps';
import { assertUnlocked } from './lock-state';

/** A device revocation this device signed and the server took, with the server's time of it. */
export interface DeviceRevoked {
  readonly signed: SignedDeviceRevocation;
  readonly revokedAt: string;
}

// Who wants to know at once of a revocation this device made (an open device session: its device
// directory would otherwise trust the revoked device until its cached list is reloaded, up to 5 minutes).
// Keyed by account id, not by key object as lock listeners are: a session opened with one account object
// hears of a revocation sent with another of the same account (a second unlock in the same app). The
// account id names the identity key that signed the revocation, which the directory verifies.
type RevocationListener = (revoked: DeviceRevoked) => Promise<unknown>;

const revocationListeners = new Map<string, Set<RevocationListener>>();

/**
 * Calls `listener` when `revokeDevice` with any account object of `account`'s account (same account id)
 * was answered by the server; `revokeDevice` waits for it. Returns the call that stops listening.
 */
export function onDeviceRevoked(
  account: { readonly accountId: string },
  listener: RevocationListener,
): () => void {
  const { accountId } = account;
  const set = revocationListeners.get(accountId) ?? new Set<RevocationListener>();
  set.add(listener);
  revocationListeners.set(accountId, set);
  return () => {
    set.delete(listener);
    if (set.size === 0 && revocationListeners.get(accountId) === set) revocationListeners.delete(accountId);
  };
}

/**
 * Signed device revocation; the server cuts the device off at once (sessions and sockets). LOCKED when the
 * account is locked, also before the second signature a refused revokedAt asks for. Once the server took
 * it, the listeners of the account (`onDeviceRevoked`: the directory of each device session open on it in
 * this app, whichever account object opened it) are handed the revocation sent, and waited for; one that
 * fails does not fail the revocation, which stands.
 */
export async function revokeDevice(
  deps: Pick<AccountDeps, 'api' | 'ed' | 'now'>,
  input: { readonly account: UnlockedAccount; readonly deviceId: string },
): Promise<HttpDeviceRevokeResponse> {
  assertUnlocked(input.account);
  const { accountId, keys } = input.account;
  const { answer, signed } = await sendDeviceRevocation(
    deps,
    { accountId, keys },
    input.deviceId,
    deps.now ?? Date.now,
  );
  const revoked: DeviceRevoked = { signed, revokedAt: answer.revokedAt };
  await Promise.all(
    [...(revocationListeners.get(accountId) ?? [])].map((listener) =>
      // A listener that throws at once is as one that rejects: the revocation stands either way.
      Promise.resolve()
        .then(() => listener(revoked))
        .catch(() => undefined),
    ),
  );
  return answer;
}

/**
 * Sends the revocation, signed again at the server's time if it refuses this clock's: the server's answer,
 * and the signed revocation it took.
 */
export async function sendDeviceRevocation(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  { accountId, keys }: { readonly accountId: string; readonly keys: AccountKeys },
  deviceId: string,
  now: () => number,
): Promise<{ answer: HttpDeviceRevokeResponse; signed: SignedDeviceRevocation }> {
  const send = async (at: () => number) => {
    // The second attempt comes after an answer: lock() may have zeroed the identity key meanwhile.
    assertUnlocked({ keys });
    const revocation = { v: 1 as const, accountId, deviceId, revokedAt: isoAt(at) };
    const sig = await signPayload(deps.ed, keys.identity.secretKey, deviceRevocationPayload(revocation));
    const signed: SignedDeviceRevocation = { revocation, sig };
    return { answer: await deps.api.revokeDevice(signed), signed };
  };
  try {
    return await send(now);
  } catch (e) {
    // The server refuses a revokedAt far from its clock (this device's clock is off): a lost phone must
    // still be revocable, so it is signed once more at the time the server answered with.
    const serverTime = revokedAtRefusedAt(e);
    if (serverTime === null) throw e;
    return send(() => serverTime);
  }
}

/** The server's time, when `e` refuses a device revocation's revokedAt as too far from it; else null. */
const revokedAtRefusedAt = (e: unknown): number | null => {
  if (!isHaleClientError(e) || e.code !== 'BAD_MESSAGE' || e.details?.['field'] !== 'revokedAt') return null;
  const at = e.details['serverTime'];
  const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isFinite(ms) ? ms : null;
};
