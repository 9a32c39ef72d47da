// Shared by the at-rest tests: opens a bare storage instance (wrapped or raw) the way RxDB would.
import type { RxDocumentData, RxJsonSchema, RxStorage, RxStorageInstance } from 'rxdb';

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
