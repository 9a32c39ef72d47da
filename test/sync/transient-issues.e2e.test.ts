// A dropped link fails the replication's request in flight (`NETWORK`), which the device lists in
// `errors` while it retries. Once the same direction works again (the push is answered, or a pull pass
// is stored and the device is online) that issue has ended and leaves the list: a person must not be
// shown "connection lost" on a device that is caught up. Issues of other kinds stay.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  interceptedWebSocket,
  losingAnswer,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

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

  it('a live subscription that failed: listed, gone once the next connection subscribes', async () => {
    // The first subscribe frame is sent broken, so the server refuses it (BAD_MESSAGE); the rest pass.
    let broke = false;
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t: string; rid?: number };
        if (broke || frame.t !== 'subscribe') return send(text);
        broke = true;
        send(JSON.stringify({ t: 'subscribe', rid: frame.rid, streams: 'not a list' }));
      },
    });
    const patient = await registerAccount(server.t);
    const p = await openDevice(server.t, patient, { createWebSocket });
    server.sessions.push(p);
    await eventually(() => codes(p).includes('SUBSCRIBE_FAILED'), 'the failed subscription listed');

    p.connection.drop();
    await eventually(() => p.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(p);
    await eventually(() => !codes(p).includes('SUBSCRIBE_FAILED'), 'the subscription issue cleared');
    expect(p.sync.state().errors).toEqual([]);
    // Subscribed: another device's record arrives live.
    const q = await openDevice(server.t, patient, { device: await addDevice(server.t, patient) });
    server.sessions.push(q);
    const later = await q.records.add('Allergy', input('Allergy'));
    await eventually(async () => (await p.records.get(later.id)) !== null, 'the live change arrives');
  });
});
