/**
 * What the server keeps of a SMART Health Link that only the patient reads, sealed to the patient's
 * wrapping key with `sealText` (anonymous sealed box, padded to 128-byte buckets):
 *
 * | text | sealed by | label | bound to |
 * | ---- | --------- | ----- | -------- |
 * | the link's details (its label and record counts, JSON) | the patient's device at creation | `hale/shl-details/v1` | the link id |
 * | the name a viewer typed (`recipient`) | the server, on receipt | `hale/shl-recipient/v1` | the link id |
 *
 * Invariants: only the holder of the wrapping secret key opens either (WRONG_KEY, TAMPERED otherwise); one
 * moved to another link, or used as the other kind, does not open (CONTEXT_MISMATCH).
 * Not provided: who sealed it. Anyone holding the public key (the server) can seal a text for a link.
 */
import type { Result } from './errors';
import type { BoxKeyPair } from './account-keys';
import { openSealedText, sealText } from './sealed-text';
import type { X25519 } from './stream-keys';

export const SHL_DETAILS_LABEL = 'hale/shl-details/v1';
export const SHL_RECIPIENT_LABEL = 'hale/shl-recipient/v1';

/** A link's details (JSON text) sealed for link `linkId` to the patient's wrapping public key. */
export const sealLinkDetails = (
  details: string,
  patientWrappingPublicKey: Uint8Array,
  linkId: string,
  x25519?: X25519,
): string => sealText(details, patientWrappingPublicKey, { label: SHL_DETAILS_LABEL, bind: linkId }, x25519);

/** The details text of link `linkId`, for the holder of the patient's wrapping key. */
export const openLinkDetails = (
  sealed: string,
  patientWrapping: BoxKeyPair,
  linkId: string,
  x25519?: X25519,
): Result<string> =>
  openSealedText(sealed, patientWrapping, { label: SHL_DETAILS_LABEL, bind: linkId }, x25519);

/** A viewer's `recipient` sealed for link `linkId` to the patient's wrapping public key. */
export const sealLinkRecipient = (
  recipient: string,
  patientWrappingPublicKey: Uint8Array,
  linkId: string,
  x25519?: X25519,
): string =>
  sealText(recipient, patientWrappingPublicKey, { label: SHL_RECIPIENT_LABEL, bind: linkId }, x25519);

/** The `recipient` a viewer of link `linkId` gave, for the holder of the patient's wrapping key. */
export const openLinkRecipient = (
  sealed: string,
  patientWrapping: BoxKeyPair,
  linkId: string,
  x25519?: X25519,
): Result<string> =>
  openSealedText(sealed, patientWrapping, { label: SHL_RECIPIENT_LABEL, bind: linkId }, x25519);
