import { describe, expect, it } from 'vitest';
import { createDeviceMeta, isDeviceMetaError } from './device-meta';
import { SYNC_STATE } from '../sync/stored-state';
import { AUDIT_STATE } from '../audit/stored-state';

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
    expect(await meta.get('pending', SYNC_STATE.pending)).toEqual(['01J00000000000000000000001']);
    expect(await meta.get('absent', SYNC_STATE.pending)).toBeNull();
  });

  it('treats a value of the wrong shape as absent and reports it, instead of casting it', async () => {
    store.set('grants', [{ grant: { v: 1, grantId: 'not-a-ulid' }, sig: 'x' }]);
    store.set('audit-chain/p', { seq: -1, hash: 7 });
    expect(await meta.get('grants', AUDIT_STATE.grants)).toBeNull();
    expect(await meta.get('audit-chain/p', AUDIT_STATE.auditChain)).toBeNull();
    expect(problems).toEqual(['grants', 'audit-chain/p']);
  });

  it('updates from the stored value, and never writes over a value it cannot read', async () => {
    expect(await meta.update('outbox-ok', SYNC_STATE.pending, (v) => [...(v ?? []), 'a'])).toEqual(['a']);
    expect(await meta.update('outbox-ok', SYNC_STATE.pending, (v) => [...(v ?? []), 'b'])).toEqual([
      'a',
      'b',
    ]);
    const unreadable = [{ stream: 's', id: 7 }];
    store.set('auditOutbox', unreadable);
    await expect(meta.update('auditOutbox', AUDIT_STATE.auditOutbox, () => [])).rejects.toThrow(
      'not overwritten',
    );
    expect(store.get('auditOutbox')).toBe(unreadable);
    expect(problems).toContain('auditOutbox');
  });

  it("refuses an update of a damaged value as get's strict read does: DeviceMetaError META_INVALID", async () => {
    const damaged = { seq: 'x', hash: 7 };
    store.set('audit-chain/damaged', damaged);
    const outcome = async (run: () => Promise<unknown>) => {
      try {
        await run();
        return 'settled';
      } catch (e) {
        return isDeviceMetaError(e, 'META_INVALID') ? { code: e.code, key: e.key } : 'another error';
      }
    };
    let changed = false;
    const byUpdate = await outcome(() =>
      meta.update('audit-chain/damaged', AUDIT_STATE.auditChain, () => {
        changed = true;
        return { seq: 0, hash: null };
      }),
    );
    const byGet = await outcome(() =>
      meta.get('audit-chain/damaged', AUDIT_STATE.auditChain, { strict: true }),
    );
    expect(byGet).toEqual({ code: 'META_INVALID', key: 'audit-chain/damaged' });
    expect(byUpdate).toEqual(byGet);
    // Refused before the change runs: nothing written over.
    expect(changed).toBe(false);
    expect(store.get('audit-chain/damaged')).toBe(damaged);
  });
});

describe('device metadata writes of one key', () => {
  // A store whose reads and writes take a few turns, as RxDB's local documents do at rest.
  const slowStore = () => {
    const store = new Map<string, unknown>();
    let writes = 0;
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await Promise.resolve();
    };
    const meta = createDeviceMeta({
      read: async (key) => {
        await turns(3);
        return store.get(key);
      },
      write: async (key, value) => {
        await turns(3);
        writes++;
        store.set(key, value);
      },
    });
    return { store, meta, writes: () => writes };
  };

  it('run one at a time: concurrent read-change-writes never undo each other', async () => {
    const { store, meta } = slowStore();
    const ids = Array.from({ length: 8 }, (_, i) => `01J0000000000000000000000${i}`);
    await Promise.all(ids.map((id) => meta.update('pending', SYNC_STATE.pending, (v) => [...(v ?? []), id])));
    expect(store.get('pending')).toEqual(ids);
  });

  it('a set queued behind an update lands after it', async () => {
    const { store, meta } = slowStore();
    const first = meta.update('pending', SYNC_STATE.pending, () => ['01J00000000000000000000001']);
    const second = meta.set('pending', ['01J00000000000000000000002']);
    await Promise.all([first, second]);
    expect(store.get('pending')).toEqual(['01J00000000000000000000002']);
  });

  it('a change that answers the stored value writes nothing; a failed write does not stop the next', async () => {
    const { meta, writes } = slowStore();
    await meta.set('pending', ['01J00000000000000000000001']);
    const before = writes();
    expect(await meta.update('pending', SYNC_STATE.pending, (v) => v)).toEqual([
      '01J00000000000000000000001',
    ]);
    expect(await meta.update('absent', SYNC_STATE.pending, (v) => v)).toBeNull();
    expect(writes()).toBe(before);
    await expect(
      meta.update('pending', SYNC_STATE.pending, () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(
      await meta.update('pending', SYNC_STATE.pending, (v) => [...(v ?? []), '01J00000000000000000000002']),
    ).toEqual(['01J00000000000000000000001', '01J00000000000000000000002']);
  });
});
