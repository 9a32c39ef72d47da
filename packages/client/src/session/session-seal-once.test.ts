// Seal once (docs/architecture.md "Seal once"): a session's own write is stored as the version it travels
// as (`s1.`), and read again by a session opened later, offline.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { UnlockedAccount } from '../account/account';
import { openDeviceSession } from './session';
import { anAccount } from './session.test-util';

describe('seal once', () => {
  const storage = getRxStorageMemory();
  let n = 0;
  const open = (account: UnlockedAccount, dbName: string) =>
    openDeviceSession({
      account,
      serverUrl: 'http://127.0.0.1:1',
      createWebSocket: () => {
        throw new Error('offline test: no socket');
      },
      storage,
      getAccount: () => Promise.reject(new Error('offline test: no server')),
      offline: true,
      dbName,
    });
  /** Adds an allergy; answers its id and `data` as the storage holds it. */
  const stored = async () => {
    const account = anAccount();
    const dbName = `seal-once-default-${++n}`;
    const session = await open(account, dbName);
    const added = await session.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'mild',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await session.close();
    let data = '';
    for (const [key, state] of storage.collectionStates) {
      if (!key.startsWith(`${dbName}--`) || !key.includes('--records--')) continue;
      data = String((state.documents.get(added.id) as { data?: unknown } | undefined)?.data);
    }
    return { account, dbName, id: added.id, data };
  };

  it('stores an own write as the version it travels as, read again by a later session', async () => {
    const { account, dbName, id, data } = await stored();
    expect(data).toMatch(/^s1\.0\./);
    const again = await open(account, dbName);
    try {
      expect((await again.records.get<'Allergy'>(id))?.record.substance).toBe('Penicillin');
    } finally {
      await again.close();
    }
  });
});
