import type { Static, TSchema } from '@sinclair/typebox';
import { ModelError } from './errors';
import { KIND_DESCRIPTIONS } from './kind-descriptions';
import type { StreamType } from './stream-types';

export interface RecordKindInfo {
  readonly schema: TSchema;
  /** The stream the kind replicates in; null for objects that are not patient streams. */
  readonly streamType: StreamType | null;
  /** The FHIR R4 resource the kind maps to (see docs/data-model.md). */
  readonly fhirResource: string;
}

type Descriptions = typeof KIND_DESCRIPTIONS;

/** Every record kind: schema, stream and FHIR resource, read from its description (kind-descriptions.ts). */
export const RECORD_KINDS = Object.fromEntries(
  Object.entries(KIND_DESCRIPTIONS).map(([kind, d]) => [
    kind,
    { schema: d.schema, streamType: d.streamType, fhirResource: d.fhir.resource },
  ]),
) as {
  readonly [K in keyof Descriptions]: {
    readonly schema: Descriptions[K]['schema'];
    readonly streamType: Descriptions[K]['streamType'];
    readonly fhirResource: Descriptions[K]['fhir']['resource'];
  };
};

export type RecordKind = keyof typeof RECORD_KINDS;

/** The TypeScript type of a record of kind `K`, e.g. `RecordOf<'Allergy'>`. */
export type RecordOf<K extends RecordKind> = Static<(typeof RECORD_KINDS)[K]['schema']>;

/** Any record, as a union over all kinds. */
export type AnyRecord = { [K in RecordKind]: RecordOf<K> }[RecordKind];

export const RECORD_KIND_NAMES = Object.keys(RECORD_KINDS) as readonly RecordKind[];

export const isRecordKind = (value: unknown): value is RecordKind =>
  typeof value === 'string' && Object.hasOwn(RECORD_KINDS, value);

/** Guards entry points reachable with strings from storage or the wire. */
export const assertRecordKind: (value: unknown) => asserts value is RecordKind = (value) => {
  if (!isRecordKind(value)) {
    const kind = String(value);
    throw new ModelError({
      code: 'UNKNOWN_KIND',
      message: `unknown record kind ${JSON.stringify(kind)}`,
      kind,
    });
  }
};

/** The kinds that travel in a stream type (the `note` stream carries MedicalNote and NoteVersion). */
export const kindsForStream = (streamType: StreamType): RecordKind[] =>
  RECORD_KIND_NAMES.filter((kind) => RECORD_KINDS[kind].streamType === streamType);

/** Plain JSON Schema (TypeBox symbols stripped) for Fastify/Ajv and RxDB. Returns a fresh copy each call. */
export const toJsonSchema = (kind: RecordKind): Record<string, unknown> => {
  assertRecordKind(kind);
  const parsed: unknown = JSON.parse(JSON.stringify(RECORD_KINDS[kind].schema));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('unreachable: a record schema serialises to an object');
  }
  return { ...parsed };
};
