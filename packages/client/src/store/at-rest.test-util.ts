// Shared by the at-rest tests: opens a bare storage instance (wrapped or raw) the way RxDB would, reads
// and tampers with what the inner storage really holds, and expects refusals.
import { expect } from 'vitest';
import nacl from 'tweetnacl';
import type { RxDocumentData, RxJsonSchema, RxStorage, RxStorageInstance } from 'rxdb';
import { AtRestError, type AtRestErrorCode, type AtRestErrorDetails } from './at-rest-encryption';

export function openInstance<T>(
  storage: RxStorage<unknown, unknown>,
  databaseName: string,
  schema: RxJsonSchema<RxDocumentData<T>>,
  collectionName = 'things',
): Promise<RxStorageInstance<T, unknown, unknown>> {
  return storage.createStorageInstance<T>({
    databaseInstanceToken: `tok-${databaseName}`,
    databaseName,
    collectionName,
    schema,
    options: {},
    multiInstance: false,
    devMode: false,
  });
}

/** A document as the inner storage holds it: encrypted fields are strings. */
export type Raw = Record<string, unknown>;

/** The schema the inner storage gets for `schema` (as the wrapper makes it): encrypted fields as strings. */
export const rawSchemaOf = <T>(
  schema: RxJsonSchema<RxDocumentData<T>>,
): RxJsonSchema<RxDocumentData<Raw>> => {
  const { encrypted, ...rest } = structuredClone(schema) as RxJsonSchema<RxDocumentData<Raw>>;
  const properties = { ...(rest.properties as Record<string, unknown>) };
  for (const field of encrypted ?? []) properties[field] = { type: 'string' };
  return { ...rest, properties } as RxJsonSchema<RxDocumentData<Raw>>;
};

/** The stored document `id` of a raw (unwrapped) instance, deleted or not. */
export async function rawGet(instance: RxStorageInstance<Raw, unknown, unknown>, id: string) {
  const [found] = await instance.findDocumentsById([id], true);
  if (!found) throw new Error(`raw doc ${id} not found`);
  return found;
}

/** Rewrites the stored document `id` of a raw instance: members merged in, or a function of it. */
export async function rawReplace(
  instance: RxStorageInstance<Raw, unknown, unknown>,
  id: string,
  change: Raw | ((d: RxDocumentData<Raw>) => RxDocumentData<Raw>),
) {
  const previous = await rawGet(instance, id);
  const document = typeof change === 'function' ? change({ ...previous }) : { ...previous, ...change };
  expect((await instance.bulkWrite([{ previous, document }], 'tamper')).error).toEqual([]);
}

/** Inserts `docs` as new documents in one bulk write; answers RxDB's result (its `error` list included). */
export const insertAll = <T>(instance: RxStorageInstance<T, unknown, unknown>, docs: RxDocumentData<T>[]) =>
  instance.bulkWrite(
    docs.map((document) => ({ document })),
    'test',
  );

/** `s` with the character at `i` changed (to 'A', or 'B' if it was 'A'). */
export const flipAt = (s: string, i: number): string =>
  s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);

/**
 * Expects `promise` to reject with an `AtRestError` of `code` (and of `reason`, when given) whose
 * message does not contain `secret` (when given); answers the error.
 */
export async function expectAtRest(
  promise: Promise<unknown>,
  code: AtRestErrorCode,
  reason?: AtRestErrorDetails['reason'],
  secret?: string,
): Promise<AtRestError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AtRestError);
  const atRest = error as AtRestError;
  expect(atRest.code).toBe(code);
  if (reason !== undefined) expect(atRest.details.reason).toBe(reason);
  if (secret !== undefined) expect(atRest.message).not.toContain(secret);
  return atRest;
}

// The wrapper seals through @hale/crypto's secretbox, which calls tweetnacl's low-level functions
// (exported at run time, undeclared in its types): spy on these to count seals and opens.
export type LowLevelBox = (c: Uint8Array, m: Uint8Array, d: number, n: Uint8Array, k: Uint8Array) => number;
export const naclLowLevel = (
  nacl as unknown as { lowlevel: { crypto_secretbox: LowLevelBox; crypto_secretbox_open: LowLevelBox } }
).lowlevel;
