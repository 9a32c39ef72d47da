/*
 * Invite codes: what the operator hands out (`hale-sync-server invite`) and what the store keeps of them.
 *
 * Invariants:
 * - A code is 20 random bytes (160 bits, node:crypto) written as 32 Crockford base32 symbols (the
 *   encoder in @hale/crypto, the recovery key's alphabet and bit order), shown in groups of four
 *   (`7K3M-Q9XD-…`); the wire carries it without separators (`normalizeInviteCode` in @hale/protocol
 *   folds what a person typed). Guessing one is hopeless, so the store needs no secret
 *   comparison: it looks the code up by its hash.
 * - The store keeps only `inviteCodeHash(code)` = hex SHA-256 of the wire form; the code is shown once,
 *   when it is created, and can never be read back (not from the store, a backup or a listing).
 * - An invite's id in listings is the first INVITE_ID_LENGTH hex digits of its hash: enough to tell the
 *   operator's invites apart and revoke one without the code, nothing that helps find the code.
 *
 * Failure modes: none here (pure functions); the store's `invites` methods and `accounts.register` say
 * theirs (types.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { crockfordBase32Encode } from '@hale/crypto';

export const INVITE_CODE_BYTES = 20;

/** Hex digits of the hash that name an invite in listings and `invite --revoke`. */
export const INVITE_ID_LENGTH = 12;

/** A fresh invite code in its wire form (32 symbols, no separators). */
export const newInviteCode = (): string => crockfordBase32Encode(randomBytes(INVITE_CODE_BYTES));

/** The code as shown to people: groups of four symbols joined by hyphens. */
export const formatInviteCode = (code: string): string => (code.match(/.{1,4}/g) ?? []).join('-');

/** What the store keeps of a code (its wire form, see `normalizeInviteCode`): hex SHA-256. */
export const inviteCodeHash = (code: string): string =>
  createHash('sha256').update(code, 'utf8').digest('hex');

export const inviteId = (codeHash: string): string => codeHash.slice(0, INVITE_ID_LENGTH);
