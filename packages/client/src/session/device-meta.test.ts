import { describe, expect, it } from 'vitest';
import { createDeviceMeta, META_SCHEMAS } from './device-meta';

describe('device metadata read back from disk', () => {
  const store = new Map<string, unknown>();
  const problems: string[] = [];
  const meta = createDeviceMeta({
    read: async (key) => store.get(key),
    write: async (key, value) => {
      store.set(key, value);
    },
    onInvalid: (key) => problems.push(key),
  });

  it('returns values that match their schema', async () => {
    await meta.set('pending', ['01J00000000000000000000001']);
    expect(await meta.get('pending', META_SCHEMAS.pending)).toEqual(['01J00000000000000000000001']);
    expect(await meta.get('absent', META_SCHEMAS.pending)).toBeNull();
  });

  it('treats a value of the wrong shape as absent and reports it, instead of casting it', async () => {
    store.set('grants', [{ grant: { v: 1, grantId: 'not-a-ulid' }, sig: 'x' }]);
    store.set('audit-chain/p', { seq: -1, hash: 7 });
    expect(await meta.get('grants', META_SCHEMAS.grants)).toBeNull();
    expect(await meta.get('audit-chain/p', META_SCHEMAS.auditChain)).toBeNull();
    expect(problems).toEqual(['grants', 'audit-chain/p']);
  });

  it('updates from the stored value, and never writes over a value it cannot read', async () => {
    expect(await meta.update('outbox-ok', META_SCHEMAS.pending, (v) => [...(v ?? []), 'a'])).toEqual(['a']);
    expect(await meta.update('outbox-ok', META_SCHEMAS.pending, (v) => [...(v ?? []), 'b'])).toEqual([
      'a',
      'b',
    ]);
    const unreadable = [{ stream: 's', id: 7 }];
    store.set('auditOutbox', unreadable);
    await expect(meta.update('auditOutbox', META_SCHEMAS.auditOutbox, () => [])).rejects.toThrow(
      'not overwritten',
    );
    expect(store.get('auditOutbox')).toBe(unreadable);
    expect(problems).toContain('auditOutbox');
  });
});
