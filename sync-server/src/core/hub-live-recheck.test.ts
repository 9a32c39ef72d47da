// A live page that opens an audit window is logged before it is sent; that write waits on the patient's
// chain lock, the server's signature and the disk. A grant that ends in that wait (the clock passes its
// end, or a revocation commits, in this process or another sharing the store) must keep the page from the
// device, and the patient's log must not claim a live delivery of it. The wait is held open by an Ed25519
// whose next signature waits (testing/gated-ed.ts), used by the service the hub logs through.
import { newId } from '@hale/model';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeRevocation, streamOf, type TestAccount, type TestServer } from '../testing/harness';
import { createHub, type Hub } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';
import { accessLogged, consentSteps, startRecheck, type Recheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
let hub: Hub;
let frames: ServerFrame[];
let errors: unknown[];
let arm: Recheck['arm'];

beforeEach(async () => {
  let deps: Recheck['deps'];
  ({ t, patient, provider, arm, deps } = await startRecheck());
  frames = [];
  errors = [];
  // Wired to the hub as app.ts wires the server's own.
  service = createSyncService({
    ...deps,
    onGrantEnding: (granteeId, grantId) => hub.grantEnding(granteeId, grantId),
    onGrantsChanged: (granteeId, patientId) => hub.grantsChanged(granteeId, patientId),
  });
  hub = createHub({
    store: t.store,
    service,
    now: () => t.clock.now,
    onError: (error) => void errors.push(error),
  });
});
afterEach(async () => {
  hub.stop();
  await hub.drain();
  await service.drainAccessLog();
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({ t, patient, provider, service }));

const allergy = () => streamOf(patient.accountId, 'allergy');

/** An allergy read grant ending at `expiresAt` (or lasting); the provider follows the stream from 0. */
const follow = async (expiresAt?: number) => {
  const grantId = await grantTo([{ type: 'allergy', access: 'read' }], expiresAt);
  const conn = recordingConnection(
    { accountId: provider.accountId, deviceId: provider.device.deviceId, role: 'provider' },
    frames,
  );
  await hub.add(conn);
  expect(await hub.subscribe(conn, [{ stream: allergy(), since: 0 }])).toEqual({ ok: true });
  return grantId;
};

/** Commits one record to the patient's allergy stream, as the patient's device would. */
const write = async () => {
  const ct = new Uint8Array(64).fill(7);
  const doc = {
    stream: allergy(),
    id: newId(),
    rev: `1-${'a'.repeat(24)}`,
    deleted: false,
    epoch: 0,
    ct,
    size: ct.length,
    author: patient.device.deviceId,
  };
  await t.store.docs.writeDocs([{ doc, assumedRev: null }], new Date(t.clock.now).toISOString());
};

const sent = () =>
  frames.filter((f): f is ChangesFrame => f.t === 'changes').reduce((n, f) => n + f.docs.length, 0);
const removed = () => accessChangedIn(frames).flatMap((f) => f.removed);
const loggedLive = async () => (await accessLogged({ t, patient }, 'live')).map((e) => e.count);

/** Waits until the page went out or the stream was taken away, then for the hub's audit writes. */
const delivered = async () => {
  await vi.waitFor(() => expect(sent() > 0 || removed().length > 0).toBe(true));
  hub.stop();
  await hub.drain();
};

describe('while the page opening a live window is logged', () => {
  it("a grant's end passed sends nothing and logs no live delivery; the stream is removed, expired", async () => {
    await follow(t.clock.now + 60_000);
    const held = arm('sign');
    await write();
    await held.reached;
    t.clock.advance(61_000);
    held.release();
    await delivered();

    expect(sent()).toBe(0);
    expect(removed()).toEqual([{ stream: allergy(), reason: 'expired' }]);
    expect(await loggedLive()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a revocation committed through the service sends nothing and logs no live delivery', async () => {
    const grantId = await follow();
    const held = arm('sign');
    await write();
    await held.reached;
    const { revoking } = await revokeCommitted(grantId);
    held.release();
    await revoking;
    await delivered();

    expect(sent()).toBe(0);
    expect(removed()).toEqual([{ stream: allergy(), reason: 'revoked' }]);
    expect(await loggedLive()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a revocation committed in the store by another process sends nothing and logs no live delivery', async () => {
    const grantId = await follow();
    const revocation = await makeRevocation(patient, grantId);
    const held = arm('sign');
    await write();
    await held.reached;
    // Not through this service: the hub hears nothing of it until its sweep.
    await t.store.grants.revoke(grantId, new Date(t.clock.now).toISOString(), revocation);
    held.release();
    await delivered();

    expect(sent()).toBe(0);
    expect(removed()).toEqual([{ stream: allergy(), reason: 'revoked' }]);
    expect(await loggedLive()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('without a change in the wait the page is sent and logged (the gate refuses nothing)', async () => {
    await follow(t.clock.now + 60_000);
    const held = arm('sign');
    await write();
    await held.reached;
    t.clock.advance(59_000);
    held.release();
    await delivered();

    expect(sent()).toBe(1);
    expect(removed()).toEqual([]);
    expect(await loggedLive()).toEqual([1]);
    expect(errors).toEqual([]);
  });
});
