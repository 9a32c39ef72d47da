/**
 * The account's devices as a person manages them ("which devices can open my records; revoke the lost
 * one"), checked against the account's identity key rather than taken as the server's word.
 *
 * Invariants: a device is listed active only with a certificate the account's identity key signed, for
 * this account and that device (a server cannot add one); what the server lists that does not verify is
 * counted (`unverified`), never shown as a device. A revoked device's `revokedAt` is the account's signed
 * time when its signed revocation verifies (`signed: true`), else the server's (`signed: false`: a server
 * could move it). What the server leaves out of the list (a device it hides) cannot be seen here; every
 * other device of the account learns of a revocation it verifies for good (sync/device-directory.ts).
 * Failure modes: AccountError ACCOUNT_NOT_FOUND (the server knows no such account), ACCOUNT_MISMATCH (its
 * answer names other keys than this account's); transport errors as HaleClientError. A revoked device whose
 * own answer cannot be had (an older server, the request failed, or past MAX_REVOKED_DETAILS) is still
 * listed, by id alone. Names are sealed to the account in the certificates (`sealedName`): a device's name is
 * shown when the caller passes the account's wrapping key pair (`input.wrapping`) and it opens, bound to
 * that device; otherwise (a locked account, a name that does not open) the device is listed without it. A
 * device renamed since (device-rename.ts) shows the newest name record its account signed.
 */
import { base64urlEncode, openDeviceName, verifyDeviceCertificate } from '@hale/crypto';
import type { BoxKeyPair, Ed25519, VerifiedDevice, X25519 } from '@hale/crypto';
import type { HttpAccountDeviceResponse, HttpAccountResponse } from '@hale/protocol';
import { isHaleClientError } from '../api/errors';
import type { HttpApi } from '../api/http-api';
import { signedRevocationTime } from '../sync/device-directory';
import { AccountError } from '../core/account-error';
import { newestNames } from './device-rename';

/** An active device of the account, with what its account-signed certificate says of it. */
export interface ListedDevice {
  readonly deviceId: string;
  /** Opened from the certificate the account signed; absent when it could not be opened (see the header). */
  readonly name?: string;
  readonly createdAt: string;
  /** The device this list was asked from (`input.deviceId`). */
  readonly current: boolean;
}

/**
 * A revoked device of the account: its id and, when the server's certificate verifies, its name and when it
 * was revoked. At most `MAX_REVOKED_DETAILS` are opened in detail.
 */
export interface ListedRevokedDevice {
  readonly deviceId: string;
  /** From its certificate, when the server answered one that verifies. */
  readonly name?: string;
  readonly createdAt?: string;
  /** The account's signed time (`signed`), else the server's; absent when neither was had. */
  readonly revokedAt?: string;
  readonly signed: boolean;
}

/** The account's devices as `listDevices` read and verified them: active ones and revoked ones. */
export interface DeviceList {
  readonly active: readonly ListedDevice[];
  readonly revoked: readonly ListedRevokedDevice[];
  /** Certificates the server listed as active that the account did not sign: not shown. */
  readonly unverified: number;
}

/** Revoked devices whose own answers are asked for at once. */
const REVOKED_LOOKUPS_AT_ONCE = 8;
/**
 * Revoked devices whose own answers are asked for at all; the rest are listed by id. No person revokes
 * more; a server listing thousands must not make one listing cost thousands of requests.
 */
export const MAX_REVOKED_DETAILS = 100;

/**
 * The account's active and revoked devices, each checked against its identity key (see the header).
 * Needs no secret key: a locked account can list its devices too.
 */
export async function listDevices(
  deps: {
    readonly api: Pick<HttpApi, 'getAccount' | 'getAccountDevice'>;
    readonly ed: Ed25519;
    /** The host's X25519 for opening the names (tweetnacl by default). */
    readonly x25519?: X25519;
  },
  input: {
    readonly accountId: string;
    readonly identityPublicKey: Uint8Array;
    readonly deviceId?: string;
    /** The account's wrapping key pair: opens the devices' names. */
    readonly wrapping?: BoxKeyPair;
  },
): Promise<DeviceList> {
  const { accountId } = input;
  const identity = base64urlEncode(input.identityPublicKey);
  let server: HttpAccountResponse;
  try {
    server = await deps.api.getAccount(accountId);
  } catch (e) {
    if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
      throw new AccountError('ACCOUNT_NOT_FOUND', 'the server knows no such account');
    }
    throw e;
  }
  if (server.accountId !== accountId || server.identityPublicKey !== identity) {
    throw new AccountError('ACCOUNT_MISMATCH', 'the server account record does not match our keys');
  }
  const renamed = await newestNames(deps.ed, input.identityPublicKey, accountId, server.deviceNames);
  const nameOf = (v: VerifiedDevice): { name?: string } => {
    if (input.wrapping === undefined) return {};
    const sealed = renamed.get(v.deviceId)?.sealedName ?? v.sealedName;
    const opened = openDeviceName(sealed, input.wrapping, v.deviceId, deps.x25519);
    return opened.ok ? { name: opened.value } : {};
  };
  const certified = async (cert: unknown, deviceId?: string) => {
    const v = await verifyDeviceCertificate(cert, deps.ed, {
      accountId,
      ...(deviceId === undefined ? {} : { deviceId }),
    });
    return v.ok && base64urlEncode(v.value.identityPublicKey) === identity ? v.value : null;
  };

  const revokedIds = [...new Set(server.revokedDevices)];
  const revokedSet = new Set(revokedIds);
  const active: ListedDevice[] = [];
  const seen = new Set<string>();
  let unverified = 0;
  for (const cert of server.devices) {
    const v = await certified(cert);
    if (v === null) unverified++;
    // Listed revoked too: revoked (a revocation is final); listed twice: once.
    else if (!revokedSet.has(v.deviceId) && !seen.has(v.deviceId)) {
      seen.add(v.deviceId);
      active.push({
        deviceId: v.deviceId,
        ...nameOf(v),
        createdAt: v.createdAt,
        current: v.deviceId === input.deviceId,
      });
    }
  }

  const revokedOne = async (deviceId: string): Promise<ListedRevokedDevice> => {
    let answer: HttpAccountDeviceResponse;
    try {
      answer = await deps.api.getAccountDevice(accountId, deviceId);
    } catch {
      return { deviceId, signed: false };
    }
    const v = await certified(answer.certificate, deviceId);
    const about = v === null ? {} : { ...nameOf(v), createdAt: v.createdAt };
    const signedAt = await signedRevocationTime(
      deps.ed,
      input.identityPublicKey,
      accountId,
      deviceId,
      answer.revocation,
    );
    if (signedAt !== null) return { deviceId, ...about, revokedAt: signedAt, signed: true };
    return {
      deviceId,
      ...about,
      ...(answer.revokedAt === undefined ? {} : { revokedAt: answer.revokedAt }),
      signed: false,
    };
  };
  const revoked: ListedRevokedDevice[] = [];
  const detailed = revokedIds.slice(0, MAX_REVOKED_DETAILS);
  for (let from = 0; from < detailed.length; from += REVOKED_LOOKUPS_AT_ONCE) {
    revoked.push(
      ...(await Promise.all(detailed.slice(from, from + REVOKED_LOOKUPS_AT_ONCE).map(revokedOne))),
    );
  }
  for (const deviceId of revokedIds.slice(MAX_REVOKED_DETAILS)) revoked.push({ deviceId, signed: false });
  return { active, revoked, unverified };
}
