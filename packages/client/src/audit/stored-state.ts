/**
 * What the audit log keeps in device metadata (store/device-meta.ts), by schema: registered as the
 * module `audit` (core/stored-state.ts).
 *
 * - `grants` is the device's copy of the grants this account issued: consent/grant-copy.ts writes it, the
 *   audit checks and disclosures read it; its schema lies here, below both.
 */
import { Type } from '@sinclair/typebox';
import { Grant, PushDoc, SignedGrant } from '@hale/protocol';
import { storedState } from '../core/stored-state';

const IsoText = Type.String({ maxLength: 40 });

export const AUDIT_STATE = storedState('audit', {
  auditChain: Type.Object({
    seq: Type.Integer({ minimum: 0 }),
    hash: Type.Union([Type.String(), Type.Null()]),
  }),
  auditOutbox: Type.Array(PushDoc),
  auditOwn: Type.Array(
    Type.Object({
      id: Type.String(),
      patientId: Type.String(),
      body: Type.Object({ action: Type.String() }, { additionalProperties: true }),
    }),
  ),
  grants: Type.Array(
    Type.Object({
      grant: Grant,
      sig: SignedGrant.properties.sig,
      revokedAt: Type.Optional(IsoText),
      supersededBy: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      rotatedAt: Type.Optional(IsoText),
    }),
  ),
});

/** A grant as the device keeps it (`grants`): the signed grant, and what this device learnt of its end. */
export interface StoredGrant {
  grant: Grant;
  sig: string;
  /** When it ended early: its signed revocation's time, or its successor's signed `issuedAt`. */
  revokedAt?: string;
  /** The grant that replaced it (a change: the successor names it in `supersedes`, signed). */
  supersededBy?: string;
  /**
   * When this device first found every stream of the ended grant (revoked or expired) re-keyed without
   * it, by itself or another device of the patient. Informational: re-keying is decided from the keys.
   */
  rotatedAt?: string;
}
