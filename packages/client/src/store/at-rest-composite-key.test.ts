// An encrypted field that is part of a composite primary key would be written in clear inside the id.
import { describe, expect, it } from 'vitest';
import { fillWithDefaultSettings } from 'rxdb';
import type { RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { openInstance } from './at-rest.test-util';

interface Doc {
  id: string;
  tag: string;
  secret: string;
}
const schemaOf = (): RxJsonSchema<Doc> => ({
  version: 0,
  primaryKey: { key: 'id', fields: ['tag', 'secret'], separator: '|' },
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 100 },
    tag: { type: 'string', maxLength: 20 },
    secret: { type: 'string', maxLength: 60 },
  },
  required: ['id', 'tag', 'secret'],
  encrypted: ['secret'],
});

describe('an encrypted field in a composite primary key', () => {
  it('refuses the schema (AT_REST_UNSUPPORTED_SCHEMA), as for a primary encrypted path', async () => {
    const storage = wrapWithAtRestEncryption({
      storage: getRxStorageMemory(),
      key: new Uint8Array(32).fill(1),
    });
    const created = openInstance<Doc>(
      storage as never,
      `pk${Date.now()}`,
      fillWithDefaultSettings(schemaOf()),
    );
    await expect(created).rejects.toMatchObject({ code: 'AT_REST_UNSUPPORTED_SCHEMA' });
  });
});
