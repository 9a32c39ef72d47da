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
  const sessions = server.sessions;

  it('a push whose answer was lost: listed while it retries, gone once the push is answered', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const net = losingAnswer('push');
    const p = await openDevice(t, patient, { createWebSocket: net.createWebSocket });
    sessions.push(p);
    await waitOnline(p);

    net.arm();
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'latex' }));
    await net.cut;
    await eventually(() => codes(p).includes('NETWORK'), 'the lost push listed');

    await allPushed(p);
    await waitOnline(p);
    await eventually(() => !codes(p).includes('NETWORK'), 'the push issue cleared');
    expect(p.sync.state().errors).toEqual([]);
    const stored = t.store.db.prepare('SELECT COUNT(*) AS n FROM docs WHERE id = ?').get(allergy.id) as {
      n: number;
    };
    expect(stored.n).toBe(1);
  });

  it('a pull whose answer was lost: listed while it retries, gone once the device is online again', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const net = losingAnswer('pull');
    const p = await openDevice(t, patient, { createWebSocket: net.createWebSocket });
    sessions.push(p);
    await waitOnline(p);
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

  it('an issue of another kind reported meanwhile stays', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const net = losingAnswer('push');
    const p = await openDevice(t, patient, { createWebSocket: net.createWebSocket });
    sessions.push(p);
    await waitOnline(p);
    p.engine.reportIssue({ code: 'UPLOAD_REFUSED', id: 'blob-1', message: 'a file was refused' });

    net.arm();
    await p.records.add('Allergy', input('Allergy'));
    await net.cut;
    await eventually(() => codes(p).includes('NETWORK'), 'the lost push listed');
    await allPushed(p);
    await waitOnline(p);
    await eventually(() => !codes(p).includes('NETWORK'), 'the push issue cleared');
    expect(codes(p)).toEqual(['UPLOAD_REFUSED']);
  });
});
