/**
 * Signatures an account publishes once on the server, each checked by those who rely on it:
 *
 * | signature | over | relied on by |
 * | --------- | ---- | ------------ |
 * | `wrappingKeySig` | the wrapping key | other accounts wrapping keys to this one |
 * | `roleSig` | {accountId, identityPublicKey, role} | joins writing the role to their vault |
 *
 * - Each is sent at registration; an account registered without it publishes it here (`unlock` runs these
 *   in the background; a join runs `publishAtJoin`). Best effort: a failure is tried again at the next
 *   unlock.
 * - The vault remembers once the server relays a valid signature, so later unlocks send nothing.
 * - A device signs only what its own vault holds, and only when the server's copy is exactly that: a device
 *   that joined on an unsigned role (vault 'unverified') never signs it (`withheld`): the server's word
 *   would become the account's.
 */
import type { HttpApi } from '../api/http-api';
import {
  type Ed25519,
  type AccountKeys,
  base64urlDecode,
  verifyCanonical,
  base64urlEncode,
  type DeviceKeys,
} from '@hale/crypto';
import { openSession } from '../api/session-manager';
import {
  type HttpAccountResponse,
  wrappingKeySignaturePayload,
  type HttpWrappingKeyResponse,
  roleSignaturePayload,
} from '@hale/protocol';
import type { Vault, VaultRecord } from './vault';
import { type WrapHolder, signPayload, type AccountDeps, VAULT_KEY, type Role } from './account-deps';
import { assertUnlocked } from './lock-state';
import { exclusive, readRecord } from './vault-record';
import { fetchAccount, checkOwnRole } from './served-account';
import { ownRecord } from './passphrase-change';

/** A bearer token when first needed: the caller's, or a session opened then. */
type Bearer = () => Promise<string>;

const bearerOf = (token: string | undefined, open: () => Promise<{ token: string }>): Bearer =>
  token !== undefined ? () => Promise.resolve(token) : async () => (await open()).token;

/**
 * A session of `account`'s device, signed with a copy of its key (like the publications' own signatures:
 * a lock meanwhile zeroes the account's); LOCKED once the account is locked.
 */
export const openHolderSession = async (
  api: Pick<HttpApi, 'challenge' | 'session'>,
  ed: Ed25519,
  account: WrapHolder,
) => {
  assertUnlocked(account);
  const secretKey = account.device.secretKey.slice();
  try {
    return await openSession(api, { deviceId: account.device.deviceId, secretKey }, ed);
  } finally {
    secretKey.fill(0);
  }
};

/** Opens at most one session, at the first call; later calls share it (or its failure). */
export const sharedBearer = (open: () => Promise<{ token: string }>): Bearer => {
  let session: Promise<string> | undefined;
  return () => (session ??= open().then((s) => s.token));
};

/** The HTTP routes `publishWrappingKey` uses: the account answer, a bearer session, the publication. */
export type WrappingKeyApi = Pick<HttpApi, 'getAccount' | 'challenge' | 'session' | 'putWrappingKey'>;

/** What `unlock` uses when given `api`: the routes of both background publications. */
export type UnlockApi = WrappingKeyApi & RoleSigApi;

/**
 * `publishWrappingKey`'s answer: `present` (the server already relays the account's signature over its
 * wrapping key) or `published` (sent now and taken).
 */
export type PublishWrappingKeyResult = 'present' | 'published';

/** Whether `server` (already checked to be this account's answer) relays a valid wrapping-key signature. */
async function wrappingKeySigned(
  ed: Ed25519,
  keys: AccountKeys,
  server: HttpAccountResponse,
): Promise<boolean> {
  if (server.wrappingKeySig === undefined) return false;
  const sig = base64urlDecode(server.wrappingKeySig);
  if (!sig.ok) return false;
  const payload = wrappingKeySignaturePayload(server);
  return verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/** Signs the wrapping-key statement with `identitySecretKey` and PUTs it in a session of `device`. */
async function putWrappingKeySig(
  deps: {
    readonly api: Pick<WrappingKeyApi, 'challenge' | 'session' | 'putWrappingKey'>;
    readonly ed: Ed25519;
  },
  keys: Pick<AccountKeys, 'accountId' | 'identity' | 'wrapping'>,
  identitySecretKey: Uint8Array,
  bearer: Bearer,
  beforeSending: () => void = () => undefined,
  extra: { readonly roleSig?: string } = {},
): Promise<HttpWrappingKeyResponse> {
  const payload = wrappingKeySignaturePayload({
    accountId: keys.accountId,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
  });
  const sig = await signPayload(deps.ed, identitySecretKey, payload);
  const token = await bearer();
  beforeSending();
  return deps.api.putWrappingKey({ sig, ...extra }, token);
}

/**
 * A join is online anyway: publishes the signature there and then when the server's answer lacks it.
 * True when the server now relays it; false (the next unlock retries) when publishing failed.
 */
export async function publishAtJoin(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  device: DeviceKeys,
  server: HttpAccountResponse,
  token?: string,
): Promise<boolean> {
  try {
    if (await wrappingKeySigned(deps.ed, keys, server)) return true;
    const bearer = bearerOf(token, () => openSession(deps.api, device, deps.ed));
    await putWrappingKeySig(deps, keys, keys.identity.secretKey, bearer);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `update(record)` once every earlier vault write has ended, if the vault then still holds this
 * device's record and `update` returns one (null: nothing to record). A record removed or replaced
 * meanwhile (the account removed, another one joined) is left as it is: what is learnt about this
 * device's account must not land on another's.
 */
async function updateOwnRecord(
  vault: Vault,
  account: WrapHolder,
  update: (record: VaultRecord) => VaultRecord | null,
): Promise<void> {
  await exclusive(vault, async () => {
    const record = await readRecord(vault);
    if (
      record === null ||
      record.accountId !== account.accountId ||
      record.deviceId !== account.device.deviceId
    ) {
      return;
    }
    const next = update(record);
    if (next !== null) await vault.set(VAULT_KEY, JSON.stringify(next));
  });
}

/** Records this device's new name in its vault record (device-rename.ts), if the vault still holds it. */
export async function rememberDeviceName(vault: Vault, account: WrapHolder, name: string): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    record.deviceName === name ? null : { ...record, deviceName: name },
  );
}

/** Records in the vault that the server relays the signature, if the vault still holds this device. */
async function rememberWrappingKeyPublished(vault: Vault, account: WrapHolder): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    record.wrappingKeyPublished === true ? null : { ...record, wrappingKeyPublished: true },
  );
}

/**
 * Makes sure the server relays this account's identity signature over its wrapping key, without which
 * other accounts' devices wrap nothing to it (no grant can reach it). Reads the account answer first:
 * `present` when it already carries a valid signature, else signs `wrappingKeySignaturePayload` with the
 * identity key and PUTs it in a session of this device (`token`, or one it opens): `published`.
 * Idempotent. With `vault`, records the outcome there so `unlock` stops checking. `unlock` runs this
 * itself when given `api` and `ed`; call it directly to wait for the outcome or see its error
 * (HaleClientError, AccountError ACCOUNT_MISMATCH/ACCOUNT_NOT_FOUND/LOCKED). Signs with a copy of the
 * identity key, and sends nothing once the account is locked.
 */
export async function publishWrappingKey(
  deps: { readonly api: WrappingKeyApi; readonly ed: Ed25519; readonly vault?: Vault },
  input: { readonly account: WrapHolder; readonly token?: string },
): Promise<PublishWrappingKeyResult> {
  const { account } = input;
  return publishWrappingKeyWith(
    deps,
    account,
    bearerOf(input.token, () => openHolderSession(deps.api, deps.ed, account)),
  );
}

export async function publishWrappingKeyWith(
  deps: { readonly api: WrappingKeyApi; readonly ed: Ed25519; readonly vault?: Vault },
  account: WrapHolder,
  bearer: Bearer,
): Promise<PublishWrappingKeyResult> {
  assertUnlocked(account);
  const server = await fetchAccount(deps.api, account.keys);
  const record = deps.vault === undefined ? null : await readRecord(deps.vault);
  const own = record !== null && record.accountId === account.accountId ? record : null;
  const roleSigned = own !== null && (await checkOwnRole(deps.ed, account.keys, server, own));
  let status: PublishWrappingKeyResult = 'present';
  if (!(await wrappingKeySigned(deps.ed, account.keys, server))) {
    assertUnlocked(account);
    const identitySecret = account.keys.identity.secretKey.slice();
    try {
      await putWrappingKeySig(deps, account.keys, identitySecret, bearer, () => assertUnlocked(account));
    } finally {
      identitySecret.fill(0);
    }
    status = 'published';
  }
  if (deps.vault !== undefined) await rememberWrappingKeyPublished(deps.vault, account);
  // Read anyway: a device that took its role unsigned learns here that the account signed it since.
  if (deps.vault !== undefined && own !== null && roleSigned) {
    await rememberRoleSig(deps.vault, account, own.role, false);
  }
  return status;
}

/** The HTTP routes `publishRoleSig` uses: the account answer, a session, the PUT. */
export type RoleSigApi = Pick<HttpApi, 'getAccount' | 'challenge' | 'session' | 'putWrappingKey'>;

/**
 * `present`: the server relays the account's valid signature over this device's role. `published`: this
 * device signed its role and the server took it. `withheld`: nothing published and nothing recorded — this
 * device took its role unsigned at its join (vault `roleSig: 'unverified'`: the server's word would become
 * the account's).
 */
export type PublishRoleSigResult = 'present' | 'published' | 'withheld';

/**
 * Makes sure the server relays the account's identity signature over its role (`roleSignaturePayload`),
 * for an account registered without it: joining devices otherwise take the role (patient or provider) as
 * the server's word. Reads the account answer first (ROLE_REFUSED when it names another role than this
 * device's vault, or relays a signature that does not verify for it; ROLE_UNSIGNED when it lacks one the
 * vault records as published); `present` when it carries a valid one. Else signs the vault's role with the
 * identity key and PUTs it beside the wrapping-key signature (`PUT /v1/accounts/me/wrapping-key`) in a
 * session of this device (`token`, or one it opens): `published`. Records `roleSig: 'published'` in the vault once the server relays a valid signature, after which `unlock` stops
 * calling it. Idempotent; `unlock` runs it in the background when given `api` and `ed`. Signs with a copy
 * of the identity key and sends nothing once the account is locked (LOCKED). Errors: those above,
 * HaleClientError, AccountError ACCOUNT_MISMATCH/ACCOUNT_NOT_FOUND, VAULT_CORRUPT / NO_ACCOUNT.
 */
export async function publishRoleSig(
  deps: { readonly api: RoleSigApi; readonly ed: Ed25519; readonly vault: Vault },
  input: { readonly account: WrapHolder; readonly token?: string },
): Promise<PublishRoleSigResult> {
  const { account } = input;
  return publishRoleSigWith(
    deps,
    account,
    bearerOf(input.token, () => openHolderSession(deps.api, deps.ed, account)),
  );
}

export async function publishRoleSigWith(
  deps: { readonly api: RoleSigApi; readonly ed: Ed25519; readonly vault: Vault },
  account: WrapHolder,
  bearer: Bearer,
): Promise<PublishRoleSigResult> {
  assertUnlocked(account);
  const record = await ownRecord(deps.vault, account);
  const server = await fetchAccount(deps.api, account.keys);
  if (await checkOwnRole(deps.ed, account.keys, server, record)) {
    await rememberRoleSig(deps.vault, account, record.role, false);
    return 'present';
  }
  // A role this device took unsigned is the server's word: signing it would make it the account's.
  if (record.roleSig === 'unverified') return 'withheld';
  assertUnlocked(account);
  const identitySecret = account.keys.identity.secretKey.slice();
  let roleSig: string;
  try {
    roleSig = await signPayload(
      deps.ed,
      identitySecret,
      roleSignaturePayload({
        accountId: account.accountId,
        identityPublicKey: base64urlEncode(account.keys.identity.publicKey),
        role: record.role,
      }),
    );
    // The route publishes the wrapping-key signature too (the same one as ever: Ed25519 is deterministic).
    await putWrappingKeySig(deps, account.keys, identitySecret, bearer, () => assertUnlocked(account), {
      roleSig,
    });
  } finally {
    identitySecret.fill(0);
  }
  await rememberRoleSig(deps.vault, account, record.role, true);
  return 'published';
}

/**
 * Records `roleSig: 'published'` (and `wrappingKeyPublished` when the same PUT carried it) if the vault
 * still holds this device with `role`.
 */
async function rememberRoleSig(
  vault: Vault,
  account: WrapHolder,
  role: Role,
  wrappingKeyToo: boolean,
): Promise<void> {
  await updateOwnRecord(vault, account, (record) =>
    record.role !== role ||
    (record.roleSig === 'published' && (!wrappingKeyToo || record.wrappingKeyPublished === true))
      ? null
      : {
          ...record,
          roleSig: 'published',
          ...(wrappingKeyToo ? { wrappingKeyPublished: true as const } : {}),
        },
  );
}
