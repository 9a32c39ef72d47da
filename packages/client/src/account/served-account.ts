/**
 * Checks of the server's account answer against the keys derived from the root.
 *
 * | check | refused as |
 * | ----- | ---------- |
 * | identity and wrapping keys are the ones the root derives (ids are self-certifying) | ACCOUNT_NOT_FOUND / server mismatch |
 * | `roleSig` present: the identity key's signature over {accountId, identityPublicKey, role} | ROLE_REFUSED |
 * | `roleSig` absent where required (`requireRoleSig`, or this vault saw it published) | ROLE_UNSIGNED |
 * | the role answered is this vault's (own account) | ROLE_REFUSED |
 *
 * - An answer without `roleSig` that is not required is taken as the server's word (vault `roleSig:
 *   'unverified'`): a new device cannot tell an account that never published from a server that dropped it.
 */
import { type HttpAccountResponse, roleSignaturePayload } from '@hale/protocol';
import {
  type AccountKeys,
  base64urlEncode,
  type Ed25519,
  base64urlDecode,
  verifyCanonical,
} from '@hale/crypto';
import { AccountError } from '../core/account-error';
import type { HttpApi } from '../api/http-api';
import { isHaleClientError } from '../api/errors';
import type { VaultRecord } from './vault';
import type { Role } from './account-deps';

export function checkServerAccount(server: HttpAccountResponse, keys: AccountKeys): void {
  if (
    server.accountId !== keys.accountId ||
    server.identityPublicKey !== base64urlEncode(keys.identity.publicKey) ||
    server.wrappingPublicKey !== base64urlEncode(keys.wrapping.publicKey)
  ) {
    throw new AccountError('ACCOUNT_MISMATCH', 'the server account record does not match our keys');
  }
}

export async function fetchAccount(
  api: Pick<HttpApi, 'getAccount'>,
  keys: AccountKeys,
): Promise<HttpAccountResponse> {
  try {
    const server = await api.getAccount(keys.accountId);
    checkServerAccount(server, keys);
    return server;
  } catch (e) {
    if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
      throw new AccountError('ACCOUNT_NOT_FOUND', 'the server knows no such account');
    }
    throw e;
  }
}

/** Whether `roleSig` is the identity key's signature over this account's id, identity key and `role`. */
async function roleSigned(ed: Ed25519, keys: AccountKeys, role: Role, roleSig: string): Promise<boolean> {
  const sig = base64urlDecode(roleSig);
  const payload = roleSignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    role,
  });
  return sig.ok && verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/** Why a join must be answered with the role signature (`requireRoleSig`), or null. */
export const requiredAtJoin = (input: { readonly requireRoleSig?: boolean }): string | null =>
  input.requireRoleSig === true ? 'which this join was told to require' : null;

const roleUnsigned = (why: string): AccountError =>
  new AccountError(
    'ROLE_UNSIGNED',
    `the server answered this account without its role signature, ${why}: nothing was done; try again ` +
      'later or on another network, and tell the server operator if it persists',
  );

/**
 * The check of an account answer's role. Refuses (ROLE_REFUSED) an answer whose role the account did not
 * sign: `roleSig` present but not the identity key's signature over this account's id, identity key and
 * the role answered. An answer without `roleSig` (an account that has not published it, or a server
 * dropping it) is ROLE_UNSIGNED when `required` says why it must
 * carry one, else taken as it stands (see the module header). Returns the vault's `roleSig`.
 */
export async function checkServedRole(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
  required: string | null,
): Promise<NonNullable<VaultRecord['roleSig']>> {
  if (server.roleSig === undefined) {
    if (required !== null) throw roleUnsigned(required);
    return 'unverified';
  }
  if (await roleSigned(ed, keys, server.role, server.roleSig)) return 'published';
  throw new AccountError(
    'ROLE_REFUSED',
    `the server answered this account as a ${server.role} account, which the account did not sign: ` +
      'nothing was done; try again later or on another network, and tell the server operator if it persists',
  );
}

/**
 * The check a device makes of its own account's answer against its vault `record`: the role answered must
 * be the vault's (ROLE_REFUSED otherwise), then as `checkServedRole`, an answer without the signature
 * refused once the vault records it as published. True when it carries a valid one.
 */
export async function checkOwnRole(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
  record: VaultRecord,
): Promise<boolean> {
  if (server.role !== record.role) {
    throw new AccountError(
      'ROLE_REFUSED',
      `the server answered this account as a ${server.role} account, but this device holds it as a ` +
        `${record.role} account: nothing was sent; tell the server operator if it persists`,
    );
  }
  const required = record.roleSig === 'published' ? 'which this device saw it publish' : null;
  return (await checkServedRole(ed, keys, server, required)) === 'published';
}
