/**
 * Renaming one of the account's devices: the new name sealed to the account's wrapping key (bound to the
 * device id, as its certificate's is), numbered, signed by the account's identity key over the protocol's
 * `deviceNamePayload`, and sent to the server (`renameDevice`), which keeps the highest number per device.
 *
 * Invariants:
 * - A name record counts only when the account's identity key signed it for this account and that device
 *   (`newestNames`): the server relays it and can neither read, change nor forge one.
 * - The record of the highest `seq` is the device's name; the certificate's own name is seq 0.
 * - A rename takes the number after the highest it sees; a CONFLICT (another device renamed it meanwhile)
 *   is sent once more after the server's.
 * - Renaming this device rewrites the name its vault record keeps (shown before the list loads).
 * Failure modes: AccountError LOCKED, INVALID_DEVICE_NAME; the server's refusals (NOT_FOUND,
 * DEVICE_REVOKED, CONFLICT) as HaleClientError.
 */
import { base64urlDecode, sealDeviceName, verifyCanonical, type Ed25519 } from '@hale/crypto';
import {
  type DeviceName,
  type HttpDeviceNameResponse,
  SignedDeviceName,
  deviceNamePayload,
  validate,
} from '@hale/protocol';
import { isHaleClientError } from '../api/errors';
import { type AccountDeps, type UnlockedAccount, checkDeviceName, signPayload } from './account-deps';
import { assertUnlocked } from './lock-state';
import { rememberDeviceName } from './publications';

/**
 * The newest name record of each device among `records` (the account answer's `deviceNames`) that the
 * identity key `identity` signed for `accountId`; anything else is left out.
 */
export async function newestNames(
  ed: Ed25519,
  identity: Uint8Array,
  accountId: string,
  records: readonly unknown[] | undefined,
): Promise<Map<string, DeviceName>> {
  const newest = new Map<string, DeviceName>();
  for (const record of records ?? []) {
    const signed = validate(SignedDeviceName, record);
    if (!signed.ok || signed.value.name.accountId !== accountId) continue;
    const { name, sig } = signed.value;
    if ((newest.get(name.deviceId)?.seq ?? 0) >= name.seq) continue;
    const bytes = base64urlDecode(sig);
    const payload = deviceNamePayload(name);
    if (bytes.ok && (await verifyCanonical(ed, identity, payload.label, payload, bytes.value)))
      newest.set(name.deviceId, name);
  }
  return newest;
}

/** The stored seq a CONFLICT names, when `e` is one. */
const conflictSeq = (e: unknown): number | null => {
  if (!isHaleClientError(e) || e.code !== 'CONFLICT') return null;
  const seq = e.details?.['seq'];
  return typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : null;
};

/** Renames `deviceId` (any active device of the account, this one included) to `name`; see the header. */
export async function renameDevice(
  deps: Pick<AccountDeps, 'api' | 'ed' | 'vault' | 'x25519'>,
  input: { readonly account: UnlockedAccount; readonly deviceId: string; readonly name: string },
): Promise<HttpDeviceNameResponse> {
  const { account, deviceId } = input;
  assertUnlocked(account);
  const name = input.name.trim();
  checkDeviceName(name);
  const { accountId, keys } = account;
  const served = await deps.api.getAccount(accountId);
  const known = await newestNames(deps.ed, keys.identity.publicKey, accountId, served.deviceNames);
  const send = async (seq: number): Promise<HttpDeviceNameResponse> => {
    // After an answer: lock() may have zeroed the identity key meanwhile.
    assertUnlocked(account);
    const record: DeviceName = {
      v: 1,
      accountId,
      deviceId,
      sealedName: sealDeviceName(name, keys.wrapping.publicKey, deviceId, deps.x25519),
      seq,
    };
    const sig = await signPayload(deps.ed, keys.identity.secretKey, deviceNamePayload(record));
    return deps.api.renameDevice({ name: record, sig });
  };
  let answer: HttpDeviceNameResponse;
  try {
    answer = await send((known.get(deviceId)?.seq ?? 0) + 1);
  } catch (e) {
    const stored = conflictSeq(e);
    if (stored === null) throw e;
    answer = await send(stored + 1);
  }
  if (deviceId === account.device.deviceId) await rememberDeviceName(deps.vault, account, name);
  return answer;
}
