// A grant change that commits while `hub.add` is loading the connection's grants. `add` used to read the
// grants, then register the connection: a change announced in between (`grantsChanged`, or a sweep that
// found it) found no connection to re-decide, and the connection kept the grants of its read — the revoked
// one among them — until some later change. What it announces is diffed against those, so the device was
// never told of the revocation, and a later grant of the same stream was never announced (the connection
// believed the device had it). A real server and store; a hub of the test's own over a service whose
// grant load the test holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import {
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createHub, type Hub, type LiveConnection } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';
import type { SyncService } from './sync-service';

/** A grant load held after it read the store: `entered` resolves then; `release` lets it answer. */
const createHold = () => {
  let entered: () => void = () => undefined;
  let release: () => void = () => undefined;
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    entered: enteredP,
    release: () => release(),
    enter: () => {
      entered();
      return released;
    },
  };
};

describe('a grant change committed while a connection is being added', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let hub: Hub;
  let frames: ServerFrame[];
  let hold: ReturnType<typeof createHold> | null;

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    frames = [];
    hold = null;
    const real = t.server.service;
    // The next load of all of the provider's grants (what `add` reads) is held once it has read the store.
    const service: SyncService = {
      ...real,
      grantsFor: async (p, streams) => {
        const rows = await real.grantsFor(p, streams);
        const h = hold;
        if (h && streams === undefined && p.accountId === provider.accountId) {
          hold = null;
          await h.enter();
        }
        return rows;
      },
    };
    hub = createHub({ store: t.store, service, now: () => t.clock.now });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    await t.stop();
  });

  const patientPrincipal = () => ({
    accountId: patient.accountId,
    deviceId: patient.device.deviceId,
    role: 'patient' as const,
  });
  /** Grants allergy (read) to the provider; the server's own hub has no connection, this one is told. */
  const grant = async () => {
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    await t.server.service.grant(patientPrincipal(), signed);
    return signed.grant.grantId;
  };
  const providerConnection = (): LiveConnection =>
    recordingConnection(
      { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
      frames,
    );
  const accessChanged = () => accessChangedIn(frames);

  /**
   * Adds the provider's connection, holding its grant load while `during` commits and announces a change;
   * the announcement is awaited only after the load is released (it may wait for the connection).
   */
  const addWhile = async (during: () => Promise<{ announced: Promise<void> }>) => {
    const h = createHold();
    hold = h;
    const adding = hub.add(providerConnection());
    await h.entered;
    const { announced } = await during();
    h.release();
    await adding;
    await announced;
  };

  const revokeInStore = async (grantId: string) =>
    t.store.grants.revoke(
      grantId,
      new Date(t.clock.now).toISOString(),
      await makeRevocation(patient, grantId),
    );

  it('re-decides after the load when this process announces a revoke during it, and announces a later grant', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    const first = await grant();
    // The revoke commits and is announced (as app.ts does, through `grantsChanged`) while `add` is held
    // after reading the grant as unended; the announcement settles only once the connection is re-decided.
    await addWhile(async () => {
      await revokeInStore(first);
      return { announced: hub.grantsChanged(provider.accountId, patient.accountId) };
    });
    expect(accessChanged()).toEqual([
      expect.objectContaining({ streams: [], removed: [{ stream: allergy, reason: 'revoked' }] }),
    ]);

    // The patient grants the stream again: the device is told, with the new grant.
    frames.length = 0;
    const second = await grant();
    await hub.grantsChanged(provider.accountId, patient.accountId);
    expect(accessChanged()).toEqual([
      expect.objectContaining({
        streams: [expect.objectContaining({ stream: allergy, grantId: second })],
        removed: [],
      }),
    ]);
  });

  it('re-decides after the load when a sweep finds a change made elsewhere during it', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    const first = await grant();
    // The sweep's position is taken past everything so far.
    await hub.sweep();
    await addWhile(async () => {
      // Revoked through another process sharing the store: only the sweep learns of it, once.
      await revokeInStore(first);
      return { announced: hub.sweep() };
    });
    expect(accessChanged()).toEqual([
      expect.objectContaining({ streams: [], removed: [{ stream: allergy, reason: 'revoked' }] }),
    ]);
    // Later sweeps see no change.
    frames.length = 0;
    await hub.sweep();
    expect(accessChanged()).toEqual([]);
  });
});
