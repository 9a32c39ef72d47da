import { Kind, Type, type Static, type TLiteral, type TUnion, type TUnsafe } from '@sinclair/typebox';
import { PARTIAL_DATE_PATTERN, TEXT_KIND, VISIBLE_CHARACTER_PATTERN, registerFormats } from './formats';
import { ACCOUNT_ID_PATTERN, ID_PATTERN } from './ids';

// Schemas check with `date` / `date-time` formats, so the checkers must exist wherever a schema does.
registerFormats();

export const BLOB_ID_PATTERN = '^[A-Za-z0-9_-]{16,128}$';
export const SHA256_HEX_PATTERN = '^[0-9a-f]{64}$';
export const MEDIA_TYPE_PATTERN =
  "^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+'-]{0,126}$";
export const AUDIT_ACTION_PATTERN = '^[a-z][a-z0-9._-]{0,63}$';

/** A JSON Schema enum spelled as `anyOf` of `const`s, which both TypeBox and Ajv understand. */
export const StringEnum = <const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> =>
  Type.Union(values.map((value) => Type.Literal(value)));

/**
 * Free text: well-formed Unicode (no lone surrogate) of at most `maxLength` code points; `minLength` 1
 * for fields that must say something, which must then also show something: at least one visible
 * character (not only spaces or zero-width characters). As JSON Schema it is a plain
 * `{ type: 'string', maxLength }`, plus `minLength` and the visible-character `pattern` (read with the
 * `u` flag, Ajv's default) for required text; lengths count code points by the spec. The TypeBox check
 * behind it (TEXT_KIND, formats.ts) applies the same rules and also refuses lone surrogates, which JSON
 * Schema cannot express.
 */
export const boundedText = (maxLength: number, minLength = 0): TUnsafe<string> =>
  Type.Unsafe<string>({
    [Kind]: TEXT_KIND,
    type: 'string',
    ...(minLength > 0 ? { minLength, pattern: VISIBLE_CHARACTER_PATTERN } : {}),
    maxLength,
  });

/** A record id (ULID). References to other records use it. */
export const IdSchema = Type.String({ pattern: ID_PATTERN, maxLength: 26 });
/** An account id (22 base64url characters). References to people use it. */
export const AccountIdSchema = Type.String({ pattern: ACCOUNT_ID_PATTERN, maxLength: 22 });
/** A device id: same construction as an account id, over the device key. */
export const DeviceIdSchema = Type.String({ pattern: ACCOUNT_ID_PATTERN, maxLength: 22 });

/** An instant: ISO-8601 date-time with a zone. */
export const DateTimeSchema = Type.String({ format: 'date-time', maxLength: 40 });
/** A calendar day, `YYYY-MM-DD`. */
export const DateSchema = Type.String({ format: 'date', maxLength: 10 });
/** A calendar day or, when known, the instant (FHIR `dateTime` style, e.g. onset, administration). */
export const DateOrDateTimeSchema = Type.Union([DateSchema, DateTimeSchema]);
/** A year (`YYYY`) or a month (`YYYY-MM`): FHIR's partial date, for what is known only that far. */
export const PartialDateSchema = Type.String({ pattern: PARTIAL_DATE_PATTERN, maxLength: 7 });
/**
 * DateOrDateTimeSchema that also takes a year or a month, for dates patients copy from a vaccination
 * card or remember (`1995`, `2009-06`). Not for dates a cross-field rule compares, nor a birth date.
 */
export const PartialDateOrDateTimeSchema = Type.Union([DateSchema, DateTimeSchema, PartialDateSchema]);
/** A day, or only its year or month (FHIR `date`): another person's birth date as a source knows it. */
export const PartialDaySchema = Type.Union([DateSchema, PartialDateSchema]);

/** An encrypted blob held by the sync server, described by what a reader needs to fetch and verify it. */
export const FileRefSchema = Type.Object(
  {
    blobId: Type.String({ pattern: BLOB_ID_PATTERN, maxLength: 128 }),
    fileName: boundedText(255, 1),
    mediaType: Type.String({ pattern: MEDIA_TYPE_PATTERN, maxLength: 192 }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** SHA-256 of the plaintext file, lowercase hex. */
    sha256: Type.String({ pattern: SHA256_HEX_PATTERN, maxLength: 64 }),
  },
  { additionalProperties: false, title: 'FileRef' },
);
export type FileRef = Static<typeof FileRefSchema>;

/** Who produced a version of a clinical record, from which device, when and why. */
export const ProvenanceSchema = Type.Object(
  {
    by: AccountIdSchema,
    deviceId: DeviceIdSchema,
    at: DateTimeSchema,
    reason: Type.Optional(boundedText(1000)),
  },
  { additionalProperties: false, title: 'Provenance' },
);
export type Provenance = Static<typeof ProvenanceSchema>;

export const ContactSchema = Type.Object(
  {
    phone: Type.Optional(boundedText(40)),
    email: Type.Optional(boundedText(254)),
    address: Type.Optional(boundedText(500)),
  },
  { additionalProperties: false, title: 'Contact' },
);
export type Contact = Static<typeof ContactSchema>;

/** A code of a code system (FHIR Coding): SNOMED CT, ICD-10, RxNorm, LOINC, … as a source system sent it. */
export const CodingSchema = Type.Object(
  {
    /** The code system's URI, e.g. `http://snomed.info/sct`. */
    system: boundedText(200, 1),
    code: boundedText(64, 1),
    display: Type.Optional(boundedText(500)),
  },
  { additionalProperties: false, title: 'Coding' },
);
export type Coding = Static<typeof CodingSchema>;

/** Codings of one concept beside its text (at most MAX_CODINGS). */
export const MAX_CODINGS = 10;
export const CodingsSchema = Type.Array(CodingSchema, { maxItems: MAX_CODINGS });

/**
 * A code of a concept as a source sent it (`Concept.codes`): R4 lets a coding leave its system out (a
 * local answer code, `LA6669-1` with only its display); its code and display are kept all the same.
 */
export const ConceptCodingSchema = Type.Object(
  {
    system: Type.Optional(boundedText(200, 1)),
    code: boundedText(64, 1),
    display: Type.Optional(boundedText(500)),
  },
  { additionalProperties: false, title: 'ConceptCoding' },
);
export type ConceptCoding = Static<typeof ConceptCodingSchema>;

/**
 * Where an imported record came from (FHIR import, docs/data-model.md "Import"): the system or file it was
 * read from, the resource it was read from there, and when it was imported. Absent on records typed in
 * Hale. Importing the same resource again finds the record by it and writes nothing.
 */
export const RecordOriginSchema = Type.Object(
  {
    /** The source: the sending system (`Bundle.meta.source`, a Hale export's account) or the file's name. */
    source: boundedText(500, 1),
    /** The FHIR resource type read, e.g. `Observation`. */
    resourceType: boundedText(64, 1),
    /** The resource's identity in the source: its fullUrl (`urn:uuid:…`, an absolute URL) or `Type/id`. */
    originalId: boundedText(500, 1),
    importedAt: DateTimeSchema,
    /**
     * Who the resource is in its source (fhir-import-identity.ts): its business identifiers, else the
     * patient's identifier + type + id; with the keys of resources read into this record (a blood type
     * into the profile). A second import finds the record by any of them, whatever the file is called.
     */
    identity: Type.Optional(Type.Array(boundedText(600, 1), { maxItems: 20 })),
    /** A digest of the source resource as imported: the same digest again is no change. */
    digest: Type.Optional(Type.String({ pattern: '^[0-9a-f]{28}$' })),
    /** A digest of the record's content as the import wrote it: another digest now is an edit in Hale. */
    recordDigest: Type.Optional(Type.String({ pattern: '^[0-9a-f]{28}$' })),
    /**
     * The source resource as imported (fhir-source.ts; at most MAX_KEPT_SOURCE_BYTES as JSON, checked by
     * `validateRecord`): export writes Hale's fields over it. Never rendered as HTML.
     */
    resource: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 100 }),
    ),
    /** The source's elements Hale keeps only in `resource` (exported as they came, even after an edit). */
    sourceOnly: Type.Optional(Type.Array(boundedText(64, 1), { maxItems: 100 })),
  },
  { additionalProperties: false, title: 'RecordOrigin' },
);
export type RecordOrigin = Static<typeof RecordOriginSchema>;

/** Fields every patient record carries. */
export const patientRecordFields = {
  id: IdSchema,
  /** The patient account that owns the record (and its stream). */
  patientId: AccountIdSchema,
  createdAt: DateTimeSchema,
  updatedAt: DateTimeSchema,
  /** Set by a FHIR import: where the record was read from. */
  origin: Type.Optional(RecordOriginSchema),
};
