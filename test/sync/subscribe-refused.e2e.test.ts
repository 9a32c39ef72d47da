import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  interceptedWebSocket,
  newDevice,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

// the TSDoc of @hale/client/advanced, `status`: "`online` (caught up and live on every stream it may read …)". A subscribe
// the server refuses once is asked again on the same connection (SUBSCRIBE_FAILED, "asked again while
// connected"), so a device shown online receives what other devices change; before, nothing asked again
// until the next reconnect and sync stalled behind a green status.

/** A socket factory whose first `subscribe` the server refuses (BAD_MESSAGE: the frame is sent broken). */
const refusingFirstSubscribe = () => {
  let refused = 0;
  const factory = interceptedWebSocket({
    sent: (data, send) => {
      const frame = JSON.parse(data) as { t: string; streams?: unknown };
      if (frame.t !== 'subscribe' || refused > 0) return send(data);
      refused++;
      send(JSON.stringify({ ...frame, streams: 'none' }));
    },
  });
  return { factory, refused: () => refused };
};

describe('a subscribe the server refused', () => {
  const server = useServer({ realClock: true });

  it(
    'is asked again: a device shown online receives changes made elsewhere',
    { timeout: 60_000 },
    async () => {
      const t = server.t;
      const patient = await registerAccount(t);
      const second = await newDevice(t, patient);
      const a = await openDevice(t, patient);
      const socket = refusingFirstSubscribe();
      const b = await openDevice(t, patient, { device: second, createWebSocket: socket.factory });
      server.sessions.push(a, b);
      await waitOnline(a);
      await waitOnline(b);
      await eventually(() => socket.refused() === 1, 'the subscribe refused once');
      await eventually(
        () => b.sync.state().errors.some((e) => e.code === 'SUBSCRIBE_FAILED'),
        'SUBSCRIBE_FAILED reported',
      );

      // Another device of the patient adds an allergy; the server takes it.
      const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
      await allPushed(a);

      // Within 8 s the device either receives it, or does not claim to be online (caught up and live).
      const until = Date.now() + 8_000;
      let received = false;
      while (Date.now() < until && !received) {
        received = (await b.records.get(rec.id)) !== null;
        if (!received) await new Promise((r) => setTimeout(r, 100));
      }
      const status = b.sync.state().status;
      expect({ received, status }).not.toEqual({ received: false, status: 'online' });
      expect(received).toBe(true);
      // The subscription passed: the issue is gone.
      await eventually(
        () => !b.sync.state().errors.some((e) => e.code === 'SUBSCRIBE_FAILED'),
        'SUBSCRIBE_FAILED gone',
      );
    },
  );
});
