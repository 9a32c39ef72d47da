/**
 * Device metadata kept beside the records (RxDB local documents, encrypted at rest): pending ids,
 * quarantine, audit outbox and chain state, issued grants, pinned provider keys.
 *
 * Invariant: every value read back from disk is checked against its schema before use; a value that
 * does not match is treated as absent and reported (`onInvalid`), never cast into shape.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PushDoc, SignedGrant, Grant, validate } from '@hale/protocol';

const IsoText = Type.String({ maxLength: 40 });

export const META_SCHEMAS = {
  pending: Type.Array(Type.String({ maxLength: 64 })),
  quarantine: Type.Array(
    Type.Object({
      stream: Type.String(),
      id: Type.String(),
      seq: Type.Integer({ minimum: 0 }),
      rev: Type.String(),
      reason: Type.Union([
        Type.Literal('NO_KEY'),
        Type.Literal('WRONG_KEY'),
        Type.Literal('TAMPERED'),
        Type.Literal('CONTEXT_MISMATCH'),
        Type.Literal('BAD_TAG'),
        Type.Literal('BAD_AUTHOR'),
        Type.Literal('BAD_SIGNATURE'),
        Type.Literal('BAD_CONTENT'),
      ]),
      message: Type.String(),
      at: IsoText,
    }),
  ),
  signedIn: Type.Boolean(),
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
      rotatedAt: Type.Optional(IsoText),
    }),
  ),
  pinnedKeys: Type.Record(Type.String(), Type.String()),
} as const satisfies Record<string, TSchema>;

export interface DeviceMeta {
  get<S extends TSchema>(key: string, schema: S): Promise<Static<S> | null>;
  set(key: string, value: unknown): Promise<void>;
}

/** Wraps raw storage (`read` answers the stored value or undefined) with schema checks on read. */
export const createDeviceMeta = (raw: {
  read(key: string): Promise<unknown>;
  write(key: string, value: unknown): Promise<void>;
  onInvalid?: (key: string, reason: string) => void;
}): DeviceMeta => ({
  async get<S extends TSchema>(key: string, schema: S): Promise<Static<S> | null> {
    const value = await raw.read(key);
    if (value === undefined || value === null) return null;
    const checked = validate(schema, value);
    if (!checked.ok) {
      raw.onInvalid?.(key, checked.error.message);
      return null;
    }
    return checked.value;
  },
  set: (key, value) => raw.write(key, value),
});
