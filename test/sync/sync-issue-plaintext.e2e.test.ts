// Sync issues are written for a person and kept in the state: a push that fails as a whole must not
// put the records it carried (decrypted) into them. RxDB's own error for a failed push (RC_PUSH) holds
// the whole batch in its message; the issue reports the error the push handler met instead, cut short.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession, SyncIssue, WebSocketLike } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { createWebSocket, eventually, openDevice } from '../support/devices';
import { input } from '../support/records';

const server = useServer();
const onServer = (id: string) =>
  server.t.store.db.prepare('SELECT 1 FROM docs WHERE id = ?').get(id) !== undefined;

/**
 * A socket that answers the first `t` request about an allergy stream itself with a server error frame
 * (as a busy server would) instead of sending it; everything else goes through.
 */
const failingFirst =
  (t: 'push' | 'pull', message: string) =>
  (url: string): WebSocketLike => {
    const ws = createWebSocket(url);
    let failed = false;
    const wrapper: WebSocketLike = {
      get readyState() {
        return ws.readyState;
      },
      send(data: string) {
        const frame = JSON.parse(data) as { t: string; rid?: number };
        if (!failed && frame.t === t && data.includes('/allergy"')) {
          failed = true;
          const reply = { t: 'error', rid: frame.rid, code: 'UNAVAILABLE', message };
          setTimeout(() => wrapper.onmessage?.({ data: JSON.stringify(reply) }), 0);
          return;
        }
        ws.send(data);
      },
      close: (code?: number, reason?: string) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = (ev) => wrapper.onopen?.(ev);
    ws.onmessage = (ev) => wrapper.onmessage?.(ev);
    ws.onclose = (ev) => wrapper.onclose?.(ev);
    ws.onerror = (ev) => wrapper.onerror?.(ev);
    return wrapper;
  };

/** Every issue `s` listed from now on (a failed request's issue goes once the retry passed). */
const listed = (s: DeviceSession): SyncIssue[] => {
  const seen: SyncIssue[] = [];
  s.sync.state$.subscribe((state) => {
    for (const e of state.errors) if (!seen.includes(e)) seen.push(e);
  });
  return seen;
};

describe('sync issues of a push or pull that failed as a whole', () => {
  it('name the error met, not the records carried, and are cut short', async () => {
    const { t, sessions } = server;
    const long = `the server is busy ${'and says so at length '.repeat(40)}`.slice(0, 900);
    const p = await openDevice(t, await registerAccount(t), {
      offline: true,
      createWebSocket: failingFirst('push', long),
    });
    sessions.push(p);
    const seen = listed(p);
    const allergy = await p.records.add(
      'Allergy',
      input('Allergy', { substance: 'Antiretroviral (HIV) - abacavir' }),
    );
    p.sync.goOnline();
    // RxDB retries the batch after a second: the failure is over by then.
    await eventually(() => onServer(allergy.id), 'pushed after the retry');
    expect(seen.filter((e) => e.message.includes('abacavir')).map((e) => e.code)).toEqual([]);
    expect(seen.filter((e) => e.message.length > 500).map((e) => e.code)).toEqual([]);
    // The error met, cut short.
    expect(seen.filter((e) => e.code === 'UNAVAILABLE').map((e) => e.message.length)).toEqual([500]);
    // The push passed once retried: the failure is over, and so is its issue.
    await eventually(() => p.sync.state().errors.length === 0, 'the issue gone after the retry');
  });

  it('a failed pull is reported by the error met', async () => {
    const { t, sessions } = server;
    const p = await openDevice(t, await registerAccount(t), {
      createWebSocket: failingFirst('pull', 'the server is busy'),
    });
    sessions.push(p);
    const seen = listed(p);
    await eventually(() => p.sync.state().status === 'online', 'online after the retry');
    expect(seen.map((e) => [e.code, e.message])).toContainEqual(['UNAVAILABLE', 'the server is busy']);
    expect(p.sync.state().errors).toEqual([]);
  });
});
