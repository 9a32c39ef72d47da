/**
 * Which fields of a schema are sealed at rest, and the checks that keep them sealed (at-rest-encryption.ts).
 *
 * - `encryptedFieldsOf`: the schema's `encrypted` top-level fields (and `data` of local documents, unless
 *   disabled; `docData` and `checkpointData` of replication-meta documents).
 * - `checkSchema`: attachments, or a nested, primary (or part of a composite primary key) or indexed
 *   encrypted path → AT_REST_UNSUPPORTED_SCHEMA when the instance is created.
 * - `rejectEncryptedFieldQuery`: a query selecting or sorting on an encrypted field (it would compare
 *   ciphertext) → AT_REST_QUERY_ON_ENCRYPTED_FIELD.
 */
import { getCollectionLocalInstanceName, RX_LOCAL_DOCUMENT_SCHEMA } from 'rxdb/plugins/local-documents';
import {
  type RxJsonSchema,
  type RxDocumentData,
  META_INSTANCE_SCHEMA_TITLE,
  type JsonSchema,
  type FilledMangoQuery,
} from 'rxdb';
import { AtRestError, isRecord } from '../offload/at-rest-jobs';

const LOCAL_DOCS_PREFIX = getCollectionLocalInstanceName('');

/** The field of a replication-meta document holding its copy of a replicated document (composites). */
export const META_DOC_FIELD = 'docData';

/**
 * The field of a replication-meta checkpoint document holding where the next pull (per stream) or push
 * starts. RxDB leaves it clear; sealed here, since one moved ahead on disk would make the device skip what
 * the server serves, or never push its own edits, with nothing failing.
 */
export const META_CHECKPOINT_FIELD = 'checkpointData';

export function encryptedFieldsOf<T>(
  collectionName: string,
  schema: RxJsonSchema<RxDocumentData<T>>,
  encryptLocalDocuments: boolean,
): string[] {
  const fields = new Set(schema.encrypted ?? []);
  // RxDB seals a replicated document's meta copy (`docData`) but leaves its checkpoints clear.
  if (schema.title === META_INSTANCE_SCHEMA_TITLE && fields.has(META_DOC_FIELD)) {
    fields.add(META_CHECKPOINT_FIELD);
  }
  if (
    encryptLocalDocuments &&
    collectionName.startsWith(LOCAL_DOCS_PREFIX) &&
    schema.title === RX_LOCAL_DOCUMENT_SCHEMA.title
  ) {
    fields.add('data');
  }
  return [...fields];
}

export function checkSchema<T>(
  schema: RxJsonSchema<RxDocumentData<T>>,
  fields: readonly string[],
  primaryPath: string,
  collection: string,
): void {
  const unsupported = (message: string) =>
    new AtRestError('AT_REST_UNSUPPORTED_SCHEMA', message, { collection });
  if (schema.attachments) throw unsupported('attachments would be stored in clear; keep files elsewhere');
  const properties = schema.properties as Record<string, JsonSchema | undefined>;
  // A composite primary key is written in clear from its fields' values.
  const compositeKeyFields: readonly string[] =
    typeof schema.primaryKey === 'object' ? (schema.primaryKey.fields as readonly string[]) : [];
  for (const field of fields) {
    if (field.includes('.')) throw unsupported(`only top-level fields can be encrypted: ${field}`);
    if (field === primaryPath || compositeKeyFields.includes(field))
      throw unsupported('the primary key (or a field it is composed of) cannot be encrypted');
    if (properties[field] === undefined) throw unsupported(`encrypted field not in schema: ${field}`);
    for (const index of schema.indexes ?? []) {
      const parts: readonly string[] = typeof index === 'string' ? [index] : index;
      if (parts.some((p) => p === field || p.startsWith(`${field}.`))) {
        throw unsupported(`encrypted field cannot be indexed: ${field}`);
      }
    }
  }
}

const SELECTOR_OPERATORS_WITH_SUBSELECTORS = new Set(['$and', '$or', '$nor']);

export function rejectEncryptedFieldQuery<T>(
  query: FilledMangoQuery<T>,
  encrypted: ReadonlySet<string>,
  collection: string,
): void {
  const check = (path: string) => {
    const top = path.split('.')[0] ?? path;
    if (encrypted.has(top)) {
      throw new AtRestError(
        'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
        `cannot select or sort on encrypted field ${top}`,
        { collection, field: top },
      );
    }
  };
  const walk = (selector: unknown) => {
    if (!isRecord(selector)) return;
    for (const [k, v] of Object.entries(selector)) {
      if (SELECTOR_OPERATORS_WITH_SUBSELECTORS.has(k) && Array.isArray(v)) {
        for (const sub of v as unknown[]) walk(sub);
      } else if (!k.startsWith('$')) {
        check(k);
      }
    }
  };
  walk(query.selector);
  for (const part of query.sort) for (const k of Object.keys(part)) check(k);
}
