// A connection removed (its socket closed) while its `subscribe` waits on the grant reload. The subscription
// used to be registered after the reload all the same: the removed connection stayed in the stream's set of
// followers for as long as the process ran (nothing removes it again) and the device's last request was
// answered ok. The SQLite store answers within a turn, but the cluster store's reads are real awaits, so a
// socket can close in between. A real server and store; a hub of the test's own over a service whose
// reload of a patient's grants the test holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  makeGrant,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createHub, type Hub, type LiveConnection } from './hub';
import { recordingConnection } from './hub.test-util';
import type { SyncService } from './sync-service';

describe('a connection removed while its subscribe reloads grants', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let hub: Hub;
  let hold: { entered: () => void; released: Promise<void> } | null;

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    hold = null;
    const real = t.server.service;
    const service: SyncService = {
      ...real,
      grantsFrom: async (p, patientIds) => {
        const rows = await real.grantsFrom(p, patientIds);
        const h = hold;
        if (h) {
          hold = null;
          h.entered();
          await h.released;
        }
        return rows;
      },
    };
    hub = createHub({ store: t.store, service, now: () => t.clock.now });
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    await t.server.service.grant(
      { accountId: patient.accountId, deviceId: patient.device.deviceId, role: 'patient' },
      signed,
    );
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    await t.stop();
  });

  /**
   * Adds the provider's connection and subscribes it to the allergy stream with its grant reload held;
   * `during` runs while it is held. Answers the subscribe's answer.
   */
  const subscribeHeld = async (during: (conn: LiveConnection) => void) => {
    const conn = recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      [],
    );
    await hub.add(conn);
    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      hold = { entered: resolve, released: new Promise<void>((r) => (release = r)) };
    });
    const answer = hub.subscribe(conn, [{ stream: streamOf(patient.accountId, 'allergy'), since: 0 }]);
    await entered;
    during(conn);
    release();
    return answer;
  };

  it('answers no ok once the connection is gone, and follows nothing for it', async () => {
    const answer = await subscribeHeld((conn) => hub.remove(conn));
    expect(answer).toEqual({ ok: false, code: 'UNAUTHENTICATED', denied: [] });
    expect(hub.subscriptions()).toBe(0);
  });

  it('still subscribes a connection that stays (the hold itself changes nothing)', async () => {
    expect(await subscribeHeld(() => undefined)).toEqual({ ok: true });
    expect(hub.subscriptions()).toBe(1);
  });
});
