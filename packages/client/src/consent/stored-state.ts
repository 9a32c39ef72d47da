/**
 * What consent keeps in device metadata (store/device-meta.ts), by schema: registered as the module
 * `consent` (core/stored-state.ts). Keys: consent-types.ts.
 */
import { Type } from '@sinclair/typebox';
import { SignedRevocation } from '@hale/protocol';
import { storedState } from '../core/stored-state';

export const CONSENT_STATE = storedState('consent', {
  /**
   * Stream → the epoch this device claimed (or lost the claim of) and has still to wrap for the remaining
   * holders; `minted` when this device's claim won (it then logs the rotation). Key `rotation-wraps-owed`.
   */
  wrapsOwed: Type.Record(
    Type.String(),
    Type.Object({ epoch: Type.Integer({ minimum: 1 }), minted: Type.Boolean() }),
  ),
  /**
   * Stream (own, or granted to this account) → the highest key epoch this device held for it; the current
   * epoch never goes below it (keyring write guard). Key `stream-epochs`.
   */
  streamEpochs: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  pinnedKeys: Type.Record(Type.String(), Type.String()),
  /**
   * Revocations signed on this device that the server has not taken yet (consent.ts): each is sent at the
   * next connection, unchanged, and kept until the server takes it or refuses it for good; `marked`, the
   * revocation set its grant's audit mark (removed if it is refused for good). Key `revocations-pending`.
   */
  revocationsPending: Type.Array(
    Type.Object({ signed: SignedRevocation, marked: Type.Boolean() }, { additionalProperties: false }),
  ),
  /**
   * Kept revocations the server refused for good when sent again in the background (no call answered
   * then): the grant, when it was revoked and the refusal's words, told again (REVOCATION_REFUSED) at each
   * session until a revocation of the grant is taken or the grant ends. Key `revocations-refused`.
   */
  revocationsRefused: Type.Array(
    Type.Object(
      {
        grantId: Type.String({ minLength: 1, maxLength: 64 }),
        revokedAt: Type.String({ maxLength: 64 }),
        message: Type.String({ maxLength: 600 }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 1000 },
  ),
});
