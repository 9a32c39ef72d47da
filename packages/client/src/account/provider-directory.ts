/**
 * The provider directory: publishing this provider's signed profile, searching others', safety numbers.
 *
 * - A profile is signed by the account's identity key; a search answers only entries whose signature
 *   verifies under the identity key their account id names (self-certifying), dropping the others.
 */
import {
  ProviderProfile,
  type SignedProviderProfile,
  validate,
  directoryProfilePayload,
  type DirectoryEntry,
} from '@hale/protocol';
import { AccountError } from '../core/account-error';
import {
  type Ed25519,
  base64urlDecode,
  accountIdFromIdentityKey,
  verifyCanonical,
  unwrapResult,
  keyFingerprint,
  safetyNumber,
} from '@hale/crypto';
import { type AccountDeps, type UnlockedAccount, signPayload } from './account-deps';
import { assertUnlocked } from './lock-state';

/**
 * A provider's directory profile as `publishProviderProfile` takes it: everything but the account id, which
 * is the publishing account's.
 */
export type ProviderProfileInput = Omit<ProviderProfile, 'accountId'>;

/** Publishes (or replaces) this provider's directory entry, signed by its identity key. */
export async function publishProviderProfile(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  input: {
    readonly account: UnlockedAccount;
    readonly profile: ProviderProfileInput;
    readonly token: string;
  },
): Promise<SignedProviderProfile> {
  const { account } = input;
  assertUnlocked(account);
  if (account.role !== 'provider') {
    throw new AccountError('NOT_A_PROVIDER', 'only provider accounts publish a directory profile');
  }
  const p: Partial<ProviderProfileInput> = input.profile ?? {};
  // Checked before it is signed: from untyped code a missing field would fail as no HaleError.
  const checked = validate(ProviderProfile, {
    accountId: account.accountId,
    displayName: p.displayName,
    specialty: p.specialty,
    clinic: p.clinic,
    identifier: p.identifier,
    ...(p.contact === undefined ? {} : { contact: p.contact }),
  });
  if (!checked.ok) {
    const issue = checked.error.details.issues[0];
    const field = issue?.path.split('/')[1] || undefined;
    throw new AccountError(
      'INVALID_PROFILE',
      `the directory profile's ${field ?? 'content'} ${issue?.reason ?? 'is not valid'}`,
      field === undefined ? {} : { field },
    );
  }
  const profile: ProviderProfile = checked.value;
  const sig = await signPayload(deps.ed, account.keys.identity.secretKey, directoryProfilePayload(profile));
  const signed: SignedProviderProfile = { profile, sig };
  await deps.api.putDirectory(signed, input.token);
  return signed;
}

/**
 * A directory entry whose signature `searchProviders` checked on this device, with its key fingerprint.
 * - Compare `fingerprint` (or `safetyNumberWith`) out of band before sharing records with the provider.
 */
export interface VerifiedProvider extends DirectoryEntry {
  /** keyFingerprint of the identity key, for out-of-band comparison. */
  readonly fingerprint: string;
}

async function verifyEntry(ed: Ed25519, entry: DirectoryEntry): Promise<boolean> {
  const identity = base64urlDecode(entry.identityPublicKey);
  const sig = base64urlDecode(entry.sig);
  if (!identity.ok || !sig.ok || identity.value.length !== 32) return false;
  // Without this a server could pair any profile with a key of its own and a matching signature.
  if (accountIdFromIdentityKey(identity.value) !== entry.profile.accountId) return false;
  const payload = directoryProfilePayload(entry.profile);
  return verifyCanonical(ed, identity.value, payload.label, payload, sig.value);
}

/**
 * Searches the provider directory, one page per call (by display name): without `cursor` the first page,
 * with the `next` of a page (and the same `q`) the one after it; `next` is absent on the last page. A
 * search box shows the first matches and loads more when asked, instead of pulling a whole clinic's
 * directory.
 * Every entry is checked on the device: its identity key must derive the profile's account id and sign
 * the profile; entries that fail are dropped and counted.
 */
export async function searchProviders(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  input: { readonly q: string; readonly limit?: number; readonly cursor?: string; readonly token: string },
): Promise<{ providers: VerifiedProvider[]; dropped: number; next?: string }> {
  const paging = input.cursor !== undefined ? { cursor: input.cursor } : {};
  const answer = await deps.api.searchDirectory(
    { q: input.q, ...(input.limit === undefined ? {} : { limit: input.limit }), ...paging },
    input.token,
  );
  const providers: VerifiedProvider[] = [];
  let dropped = 0;
  for (const entry of answer.providers) {
    if (!(await verifyEntry(deps.ed, entry))) {
      dropped++;
      continue;
    }
    const identity = unwrapResult(base64urlDecode(entry.identityPublicKey));
    providers.push({ ...entry, fingerprint: keyFingerprint(identity) });
  }
  return { providers, dropped, ...(answer.next === undefined ? {} : { next: answer.next }) };
}

/** Safety number between this account's identity key and another's (base64url or bytes). */
export function safetyNumberWith(
  account: UnlockedAccount,
  otherIdentityPublicKey: Uint8Array | string,
): string {
  const other =
    typeof otherIdentityPublicKey === 'string'
      ? unwrapResult(base64urlDecode(otherIdentityPublicKey))
      : otherIdentityPublicKey;
  return safetyNumber(account.keys.identity.publicKey, other);
}
