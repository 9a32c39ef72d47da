import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, waitOnline, allPushed, openTwoDevices } from '../support/devices';
import { input } from '../support/records';

type Request = DeviceSession['connection']['request'];

describe('engine: status', () => {
  const server = useServer({ realClock: true });

  it('is not online when the connection went away while the last page of a pull was applied', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, server.sessions);
    await waitOnline(a);
    await waitOnline(b);
    b.sync.goOffline();
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
    await allPushed(a);

    // At the next connection the pull brings the record; the person goes offline (or the network goes)
    // just as its answer arrives.
    const conn = b.connection as { request: Request };
    const send = conn.request.bind(conn);
    let stoppedAfterPull = false;
    conn.request = (async (frame: Parameters<Request>[0]) => {
      const reply = await send(frame);
      if (frame.t === 'pull' && !stoppedAfterPull) {
        stoppedAfterPull = true;
        b.sync.goOffline();
      }
      return reply;
    }) as Request;
    b.sync.goOnline();
    // RxDB stores what the pull handler returned, so the handler has finished.
    await eventually(async () => (await b.records.get(rec.id)) !== null, 'the pulled record is stored');
    expect(stoppedAfterPull).toBe(true);
    expect(b.connection.status()).toBe('stopped');
    expect(b.sync.state().status).toBe('stopped');
  });
});
