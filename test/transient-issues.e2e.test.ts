// A dropped link fails the replication's request in flight (`NETWORK`), which the device lists in
// `errors` while it retries. Once the same direction works again (the push is answered, or a pull pass
// is stored and the device is online) that issue has ended and leaves the list: a person must not be
// shown "connection lost" on a device that is caught up. Issues of other kinds stay.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client';
import { useServer } from './support/fixture';
import { allPushed, eventually, losingAnswer, openDevice, waitOnline } from './support/devices';
import { input } from './support/records';

const codes = (s: DeviceSession): string[] => s.sync.state().errors.map((e) => e.code);

describe('issues of a replication request lost with its link', () => {
  const server = useServer({ realClock: true });

  /** A patient device online, whose socket loses the answer to the next `t` frame once armed. */
  const onlineLosing = async (t: 'push' | 'pull') => {
    const net = losingAnswer(t);
    const p = await openDevice(server.t, await registerAccount(server.t), {
      createWebSocket: net.createWebSocket,
    });
    server.sessions.push(p);
    await waitOnline(p);
    return { net, p };
  };

  it('a push whose answer was lost: listed while it retries, gone once the push is answered; other issues stay', async () => {
    const { net, p } = await onlineLosing('push');
    p.engine.reportIssue({ code: 'UPLOAD_REFUSED', id: 'blob-1', message: 'a file was refused' });

    net.arm();
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'latex' }));
    await net.cut;
    await eventually(() => codes(p).includes('NETWORK'), 'the lost push listed');

    await allPushed(p);
    await waitOnline(p);
    await eventually(() => !codes(p).includes('NETWORK'), 'the push issue cleared');
    expect(codes(p)).toEqual(['UPLOAD_REFUSED']);
    const stored = server.t.store.db
      .prepare('SELECT COUNT(*) AS n FROM docs WHERE id = ?')
      .get(allergy.id) as { n: number };
    expect(stored.n).toBe(1);
  });

  it('a pull whose answer was lost: listed while it retries, gone once the device is online again', async () => {
    const { net, p } = await onlineLosing('pull');
    await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);

    // The reconnect's catch-up pull is the next one sent.
    net.arm();
    p.connection.drop();
    await net.cut;
    await eventually(() => codes(p).includes('NETWORK'), 'the lost pull listed');

    await waitOnline(p);
    await eventually(() => !codes(p).includes('NETWORK'), 'the pull issue cleared');
    expect(p.sync.state().errors).toEqual([]);
  });
});
