// A push and a key fetch decide access when they start, then wait: a push on its signature checks and the
// audit chain's lock, a key fetch on writing its access event. A revocation committed, or a grant ended by
// the clock, in that wait must still refuse: the push stores nothing of the refused stream (its rows
// answer the consent code, row by row), the key fetch hands out no key of it. Here the wait is held open
// by an Ed25519 whose next verification or signature waits until released, and the revocation (or the
// clock) moves while it is held.
import type { PushDoc } from '@hale/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  makeDoc,
  makeEnvelope,
  principalOf,
  serverAccessEntries,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { consentSteps, startRecheck, type Recheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
let arm: Recheck['arm'];

beforeEach(async () => {
  let deps: Recheck['deps'];
  ({ t, patient, provider, arm, deps } = await startRecheck());
  service = createSyncService(deps);
});
afterEach(async () => {
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({ t, patient, provider, service }));

const stored = async (doc: PushDoc) => (await t.store.docs.getDoc(doc.stream, doc.id)) !== null;

describe('push', () => {
  it('a revocation committed while a push awaits its signature checks refuses its rows; nothing of them is stored', async () => {
    const allergyGrant = await grantTo([{ type: 'allergy', access: 'write' }]);
    await grantTo([{ type: 'medication', access: 'write' }]);
    const allergy = await makeDoc(patient, provider.device, 'allergy', { substance: 'peanut' });
    const medication = await makeDoc(patient, provider.device, 'medication', { title: 'salbutamol' });

    const held = arm('verify');
    const pushing = service.push(principalOf(provider), {
      rows: [
        { doc: allergy, assumedRev: null },
        { doc: medication, assumedRev: null },
      ],
    });
    await held.reached;
    const { revoking } = await revokeCommitted(allergyGrant);
    held.release();
    const results = await pushing;
    await revoking;

    // The revoked grant's stream answers the consent code row by row; the other grant's row is stored.
    expect(results.map((r) => (r.status === 'error' ? r.code : r.status))).toEqual(['CONSENT_REVOKED', 'ok']);
    expect(await stored(allergy)).toBe(false);
    expect(await stored(medication)).toBe(true);
    // Only what was stored is logged.
    const pushes = (await serverAccessEntries(t, patient)).filter((e) => e.action === 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([[medication.stream, 1]]);
  });

  it("a grant's end passed while a push awaits its signature checks refuses it CONSENT_EXPIRED", async () => {
    await grantTo([{ type: 'allergy', access: 'write' }], t.clock.now + 60_000);
    const doc = await makeDoc(patient, provider.device, 'allergy', { substance: 'latex' });

    const held = arm('verify');
    const pushing = service.push(principalOf(provider), { rows: [{ doc, assumedRev: null }] });
    await held.reached;
    t.clock.advance(61_000);
    held.release();

    const [result] = await pushing;
    expect(result).toMatchObject({ status: 'error', id: doc.id, code: 'CONSENT_EXPIRED' });
    expect(await stored(doc)).toBe(false);
    expect((await t.store.docs.streamHeads([doc.stream]))[0]?.head).toBe(0);
  });

  it('without a change in the wait the same push is stored (the gate itself refuses nothing)', async () => {
    await grantTo([{ type: 'allergy', access: 'write' }], t.clock.now + 60_000);
    const doc = await makeDoc(patient, provider.device, 'allergy', { substance: 'latex' });
    const held = arm('verify');
    const pushing = service.push(principalOf(provider), { rows: [{ doc, assumedRev: null }] });
    await held.reached;
    t.clock.advance(59_000);
    held.release();
    expect((await pushing)[0]).toMatchObject({ status: 'ok', id: doc.id });
    expect(await stored(doc)).toBe(true);
  });
});

describe('key fetch', () => {
  const setUp = async (expiresAt?: number) => {
    const grantId = await grantTo([{ type: 'allergy', access: 'read' }], expiresAt);
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    await service.putEnvelopes(principalOf(patient), [envelope]);
    return { grantId, stream: envelope.stream };
  };

  it('a revocation committed while a key fetch logs its access hands out none of its keys', async () => {
    const { grantId, stream } = await setUp();
    // The first fetch opens its access window: logged (the server signs its entry) before it is served.
    const held = arm('sign');
    const fetching = service.getEnvelopes(principalOf(provider), [stream]);
    await held.reached;
    const { revoking } = await revokeCommitted(grantId);
    held.release();
    expect(await fetching).toEqual([]);
    await revoking;
  });

  it("a grant's end passed while a key fetch logs its access hands out none of its keys", async () => {
    const { stream } = await setUp(t.clock.now + 60_000);
    const held = arm('sign');
    const fetching = service.getEnvelopes(principalOf(provider), [stream]);
    await held.reached;
    t.clock.advance(61_000);
    held.release();
    expect(await fetching).toEqual([]);
  });

  it('without a change in the wait the key is handed out', async () => {
    const { stream } = await setUp(t.clock.now + 60_000);
    const held = arm('sign');
    const fetching = service.getEnvelopes(principalOf(provider), [stream]);
    await held.reached;
    held.release();
    expect((await fetching).map((e) => e.stream)).toEqual([stream]);
  });
});
