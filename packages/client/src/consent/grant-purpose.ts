// A grant's purpose, as the person typed it, sealed to the two accounts that may read it: the patient
// and the grantee (`SealedPurpose` in @hale/protocol, `sealGrantPurpose` in @hale/crypto). The server
// stores and relays the sealed form only.
//
// | invariant                                                  | how                                      |
// | ---------------------------------------------------------- | ---------------------------------------- |
// | the server cannot read a purpose                           | sealed boxes to two wrapping keys        |
// | the server cannot swap one (from another grant or its own) | the grant's signature covers both slots; |
// |                                                            | each is bound to its grant id            |
// | the grantee's slot is sealed to its verified, pinned key   | consent seals it with `wrappingKeyOf`'s  |
//
// Failure modes: `openGrantPurpose` answers null when the reader is neither party or its slot does not
// open; it never throws.
import { openGrantPurpose as openSealedPurpose, type BoxKeyPair, type X25519 } from '@hale/crypto';
import type { Grant } from '@hale/protocol';

export { sealGrantPurpose } from '@hale/crypto';

/**
 * The purpose of `grant` as `reader` (the patient or the grantee, with its wrapping key pair and the host's
 * X25519, tweetnacl by default) opens it.
 */
export const openGrantPurpose = (
  grant: Pick<Grant, 'grantId' | 'patientId' | 'granteeId' | 'purpose'>,
  reader: { readonly accountId: string; readonly wrapping: BoxKeyPair; readonly x25519?: X25519 | undefined },
): string | null => {
  const slot =
    reader.accountId === grant.patientId
      ? grant.purpose.patient
      : reader.accountId === grant.granteeId
        ? grant.purpose.grantee
        : null;
  if (slot === null) return null;
  const opened = openSealedPurpose(grant.purpose, slot, grant.grantId, reader.wrapping, reader.x25519);
  return opened.ok ? opened.value : null;
};
