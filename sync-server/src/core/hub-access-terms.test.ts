// `accessChanged` names streams added *or changed* (protocol.md): a stream the device already follows
// whose terms change — read became write or back, another grant, another expiry — is announced too, since
// the device's write guard and expiry checks go by what it was told. The hub used to diff stream ids only,
// so a write grant added beside a read one reached the device only at its next connect. A reload that
// changes nothing announces nothing, whatever order the merged grants come in.
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
import { createHub, type Hub } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';

describe('accessChanged for a followed stream whose terms change', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let hub: Hub;
  let frames: ServerFrame[];

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    frames = [];
    hub = createHub({ store: t.store, service: t.server.service, now: () => t.clock.now });
    await hub.add(
      recordingConnection(
        { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
        frames,
      ),
    );
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
  /** Grants allergy with `access` for `hours`, and tells the hub as app.ts does. */
  const grant = async (access: 'read' | 'write', hours: number) => {
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access }], {
      now: t.clock.now,
      expiresAt: t.clock.now + hours * 3600_000,
    });
    await t.server.service.grant(patientPrincipal(), signed);
    await hub.grantsChanged(provider.accountId, patient.accountId);
    return signed.grant;
  };
  const revoke = async (grantId: string) => {
    await t.store.grants.revoke(
      grantId,
      new Date(t.clock.now).toISOString(),
      await makeRevocation(patient, grantId),
    );
    await hub.grantsChanged(provider.accountId, patient.accountId);
  };
  const announced = () => {
    const out = accessChangedIn(frames);
    frames.length = 0;
    return out;
  };

  it('announces write added beside read, read again once it is revoked, and nothing for a reload alone', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    const read = await grant('read', 48);
    expect(announced()).toEqual([
      expect.objectContaining({ streams: [expect.objectContaining({ stream: allergy, access: 'read' })] }),
    ]);

    const write = await grant('write', 24);
    expect(announced()).toEqual([
      expect.objectContaining({
        streams: [
          expect.objectContaining({
            stream: allergy,
            access: 'write',
            grantId: write.grantId,
            expiresAt: write.expiresAt,
          }),
        ],
        removed: [],
      }),
    ]);

    // Reloads that change nothing (one patient's grants merged anew, then all of them) announce nothing.
    await hub.grantsChanged(provider.accountId, patient.accountId);
    await hub.grantsChanged(provider.accountId);
    expect(announced()).toEqual([]);

    await revoke(write.grantId);
    expect(announced()).toEqual([
      expect.objectContaining({
        streams: [expect.objectContaining({ stream: allergy, access: 'read', grantId: read.grantId })],
        removed: [],
      }),
    ]);
  });

  it('announces a longer-lasting grant of the same access as the new expiry', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    await grant('read', 2);
    announced();
    const longer = await grant('read', 72);
    expect(announced()).toEqual([
      expect.objectContaining({
        streams: [expect.objectContaining({ stream: allergy, access: 'read', expiresAt: longer.expiresAt })],
        removed: [],
      }),
    ]);
    // A shorter one beside them changes nothing the device goes by.
    await grant('read', 1);
    expect(announced()).toEqual([]);
  });
});
