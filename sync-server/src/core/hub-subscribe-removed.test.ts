// A connection removed (its socket closed) while its `subscribe` waits on the grant reload. The subscription
// used to be registered after the reload all the same: the removed connection stayed in the stream's set of
// followers for as long as the process ran (nothing removes it again) and the device's last request was
// answered ok. The SQLite store answers within a turn, but the cluster store's reads are real awaits, so a
// socket can close in between. A real server and store; a hub of the test's own over a service whose
// reload of a patient's grants the test holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import {
  makeGrant,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createHub, type Hub } from './hub';
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

  it('answers no ok once the connection is gone, and follows nothing for it', async () => {
    const frames: ServerFrame[] = [];
    const conn = recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      frames,
    );
    await hub.add(conn);
    const stream = streamOf(patient.accountId, 'allergy');

    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      hold = { entered: resolve, released: new Promise<void>((r) => (release = r)) };
    });
    const answer = hub.subscribe(conn, [{ stream, since: 0 }]);
    await entered;
    hub.remove(conn);
    release();

    expect(await answer).toEqual({ ok: false, code: 'UNAUTHENTICATED', denied: [] });
    expect(hub.subscriptions()).toBe(0);
  });

  it('still subscribes a connection that stays (the hold itself changes nothing)', async () => {
    const conn = recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      [],
    );
    await hub.add(conn);
    const stream = streamOf(patient.accountId, 'allergy');
    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      hold = { entered: resolve, released: new Promise<void>((r) => (release = r)) };
    });
    const answer = hub.subscribe(conn, [{ stream, since: 0 }]);
    await entered;
    release();
    expect(await answer).toEqual({ ok: true });
    expect(hub.subscriptions()).toBe(1);
  });
});
