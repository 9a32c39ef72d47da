// A grantee's key envelopes are published only once the server took the grant, so its device can pull a
// stream's records before their key lands and set them aside (NO_KEY) until its quarantine retry, 30–60 s
// later. Envelopes stored for an account other than the patient are now announced to that account's
// connections (`accessChanged`, current epoch, nothing removed) for the streams each follows, and to no
// other account, nor to one whose grant has ended (expired, though no timer or sweep re-decided the
// connection yet; or revoked); a notice that fails is reported and leaves the connection open.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AccessChangedFrame, KeyEnvelope, ServerFrame } from '@hale/protocol';
import {
  ed,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  principalOf,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createHub, type Hub } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';
import { createSyncService } from './sync-service';

describe('accessChanged once envelopes for a grantee are stored', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let other: TestAccount;
  let hub: Hub;
  let service: ReturnType<typeof createSyncService>;
  const errors: unknown[] = [];
  const closed: number[] = [];
  /** Frames each connection was sent, by connection id (1: provider, 2: other provider). */
  const frames = new Map<number, ServerFrame[]>();

  const connect = async (id: number, a: TestAccount) => {
    const sent: ServerFrame[] = [];
    frames.set(id, sent);
    await hub.add(
      recordingConnection(
        { accountId: a.accountId, deviceId: a.device.deviceId, role: a.role },
        sent,
        () => void closed.push(id),
        id,
      ),
    );
  };
  const announced = (id: number): AccessChangedFrame[] => {
    const sent = frames.get(id) ?? [];
    const out = accessChangedIn(sent);
    sent.length = 0;
    return out;
  };
  const grantAllergy = async (grantee: TestAccount) => {
    const signed = await makeGrant(patient, grantee, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 24 * 3600_000,
    });
    await service.grant(principalOf(patient), signed);
    return signed.grant;
  };
  const publish = (envelopes: KeyEnvelope[]) => service.putEnvelopes(principalOf(patient), envelopes);

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    other = await registerAccount(t, 'provider');
    errors.length = 0;
    closed.length = 0;
    frames.clear();
    // A service of its own, wired to this hub as app.ts wires the app's.
    service = createSyncService({
      store: t.store,
      now: () => t.clock.now,
      ed,
      server: t.server.server,
      onGrantsChanged: (granteeId, patientId) => hub.grantsChanged(granteeId, patientId),
      onEnvelopesStored: (recipientId, patientId, streams) => hub.keysStored(recipientId, patientId, streams),
    });
    hub = createHub({
      store: t.store,
      service,
      now: () => t.clock.now,
      onError: (error) => void errors.push(error),
    });
    await connect(1, provider);
    await connect(2, other);
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    await t.stop();
  });

  it("tells the grantee's connection of the streams it follows, with the current epoch, and no other account", async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    const granted = await grantAllergy(provider);
    await grantAllergy(other);
    announced(1);
    announced(2);

    // Allergy at epoch 1 (the patient's own envelope too: the stream's current epoch), and a lab-result
    // envelope the provider holds no grant for: only the allergy is followed.
    await publish([
      await makeEnvelope(patient, patient.device, patient, 'allergy', 1),
      await makeEnvelope(patient, patient.device, provider, 'allergy', 1),
      await makeEnvelope(patient, patient.device, provider, 'lab-result', 0),
    ]);
    expect(announced(1)).toEqual([
      {
        t: 'accessChanged',
        streams: [
          {
            stream: allergy,
            patientId: patient.accountId,
            type: 'allergy',
            access: 'read',
            head: 0,
            epoch: 1,
            grantId: granted.grantId,
            expiresAt: granted.expiresAt,
          },
        ],
        removed: [],
      },
    ]);
    // The other provider follows the allergy too, but nothing was addressed to it.
    expect(announced(2)).toEqual([]);

    // A stream the grantee does not follow announces nothing.
    await publish([await makeEnvelope(patient, patient.device, provider, 'lab-result', 1)]);
    expect(announced(1)).toEqual([]);
    // Nor do the patient's envelopes to itself, to any connection.
    await publish([await makeEnvelope(patient, patient.device, patient, 'allergy', 2)]);
    expect(announced(1)).toEqual([]);
    expect(announced(2)).toEqual([]);
    expect(errors).toEqual([]);
    expect(closed).toEqual([]);
  });

  it('tells a grantee whose grant expired nothing, though its connection was not re-decided yet', async () => {
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 60_000,
    });
    await service.grant(principalOf(patient), signed);
    announced(1);
    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 0)]);
    expect(announced(1)).toEqual([expect.objectContaining({ removed: [] })]);

    // Past the expiry on the server clock; the connection's timer (real time) has not fired, and no sweep
    // ran, so it still holds the grant and the stream as followed.
    t.clock.advance(61_000);
    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 1)]);
    expect(announced(1)).toEqual([]);
    expect(errors).toEqual([]);
    expect(closed).toEqual([]);
  });

  it('tells a grantee whose grant was revoked nothing', async () => {
    const granted = await grantAllergy(provider);
    announced(1);
    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 0)]);
    expect(announced(1)).toEqual([expect.objectContaining({ removed: [] })]);

    await service.revoke(principalOf(patient), await makeRevocation(patient, granted.grantId));
    expect(announced(1)).toEqual([expect.objectContaining({ streams: [], removed: [expect.anything()] })]);
    // The patient's device may still address envelopes to it (the server stores them): no notice.
    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 1)]);
    expect(announced(1)).toEqual([]);
    expect(errors).toEqual([]);
    expect(closed).toEqual([]);
  });

  it('reports a notice that fails and keeps the connection, which is told at the next one', async () => {
    await grantAllergy(provider);
    announced(1);
    const failing = vi
      .spyOn(t.store.envelopes, 'currentEpochs')
      .mockRejectedValueOnce(new Error('disk unavailable'));

    // The envelopes are stored and the publish answers ok even though the notice failed.
    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 0)]);
    expect(failing).toHaveBeenCalled();
    expect(errors).toEqual([expect.objectContaining({ message: 'disk unavailable' })]);
    expect(closed).toEqual([]);
    expect(announced(1)).toEqual([]);

    await publish([await makeEnvelope(patient, patient.device, provider, 'allergy', 1)]);
    expect(announced(1)).toEqual([
      expect.objectContaining({ streams: [expect.objectContaining({ epoch: 1 })], removed: [] }),
    ]);
    expect(closed).toEqual([]);
  });
});
