// A grantee's key fetch decides access when it starts, then waits: on the store for the envelopes, then on
// writing its access event (the patient's chain lock, the server's signature, the disk). A grant that ends
// in that wait (the clock passes its end, or a revocation commits) must keep that stream's envelopes out
// of the answer (left out, as streams it may not fetch are: docs/protocol.md `getEnvelopes`), and the
// patient's log must not claim a key fetch of it. The waits are held open by a store whose next envelope
// read runs a step of the test before the fetch goes on (testing/held-reads.ts) and by an Ed25519 whose
// next signature waits (testing/gated-ed.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  makeEnvelope,
  makeRevocation,
  principalOf,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { accessLogged, consentSteps, startRecheck, type Recheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
let arm: Recheck['arm'];
let armRead: Recheck['armRead'];

beforeEach(async () => {
  let deps: Recheck['deps'];
  ({ t, patient, provider, arm, armRead, deps } = await startRecheck());
  // Longer than any grant here lasts, so a second fetch is a repeat inside the first one's window.
  service = createSyncService({ ...deps, accessWindowMs: 600_000 });
});
afterEach(async () => {
  await service.drainAccessLog();
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({ t, patient, provider, service }));

const allergy = () => streamOf(patient.accountId, 'allergy');
const medication = () => streamOf(patient.accountId, 'medication');

/** An allergy grant ending at `allergyEnd` (or lasting), a lasting medication grant, an envelope of each. */
const setUp = async (allergyEnd?: number) => {
  const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }], allergyEnd);
  await grantTo([{ type: 'medication', access: 'read' }]);
  await service.putEnvelopes(principalOf(patient), [
    await makeEnvelope(patient, patient.device, provider, 'allergy'),
    await makeEnvelope(patient, patient.device, provider, 'medication'),
  ]);
  return allergyGrant;
};

const fetchBoth = async () =>
  (await service.getEnvelopes(principalOf(provider), [allergy(), medication()])).map((e) => e.stream);

const loggedFetches = async () =>
  (await accessLogged({ t, patient }, 'key-fetch')).map((e) => [e.stream, e.count]);

describe('while the key fetch reads its envelopes', () => {
  it("a grant's end passed hands out and logs nothing of its stream", async () => {
    await setUp(t.clock.now + 60_000);
    const moved = armRead('listEnvelopes', () => t.clock.advance(61_000));
    const answer = await fetchBoth();
    await moved;

    expect(answer).toEqual([medication()]);
    expect(await loggedFetches()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed in the store by another process hands out and logs nothing of its stream', async () => {
    const allergyGrant = await setUp();
    const revocation = await makeRevocation(patient, allergyGrant);
    const moved = armRead('listEnvelopes', async () => {
      await t.store.grants.revoke(allergyGrant, new Date(t.clock.now).toISOString(), revocation);
    });
    const answer = await fetchBoth();
    await moved;

    expect(answer).toEqual([medication()]);
    expect(await loggedFetches()).toEqual([[medication(), 1]]);
  });

  it('a repeat inside an open window whose grant ended is neither handed out nor counted', async () => {
    await setUp(t.clock.now + 60_000);
    const fetchAllergy = async () =>
      (await service.getEnvelopes(principalOf(provider), [allergy()])).map((e) => e.stream);
    // Opens the window (logged before it answers); the next fetch is a repeat inside it.
    expect(await fetchAllergy()).toEqual([allergy()]);

    t.clock.advance(50_000);
    const moved = armRead('listEnvelopes', () => t.clock.advance(11_000));
    const answer = await fetchAllergy();
    await moved;
    expect(answer).toEqual([]);

    // Ends the window: its tally would be written now. Only the fetch that was answered is in the log.
    service.stopAccessLog();
    await service.drainAccessLog();
    expect(await loggedFetches()).toEqual([[allergy(), 1]]);
  });
});

describe('while the key fetch logs its access', () => {
  it("a grant's end passed hands out none of its stream's keys and logs no fetch of it", async () => {
    await setUp(t.clock.now + 60_000);
    const held = arm('sign');
    const fetching = fetchBoth();
    await held.reached;
    t.clock.advance(61_000);
    held.release();

    expect(await fetching).toEqual([medication()]);
    expect(await loggedFetches()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed through the service hands out none of its keys and logs no fetch of it', async () => {
    const allergyGrant = await setUp();
    const held = arm('sign');
    const fetching = fetchBoth();
    await held.reached;
    const { revoking } = await revokeCommitted(allergyGrant);
    held.release();
    const answer = await fetching;
    await revoking;

    expect(answer).toEqual([medication()]);
    expect(await loggedFetches()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed in the store by another process hands out and logs nothing of its stream', async () => {
    const allergyGrant = await setUp();
    const revocation = await makeRevocation(patient, allergyGrant);
    const held = arm('sign');
    const fetching = fetchBoth();
    await held.reached;
    await t.store.grants.revoke(allergyGrant, new Date(t.clock.now).toISOString(), revocation);
    held.release();

    expect(await fetching).toEqual([medication()]);
    expect(await loggedFetches()).toEqual([[medication(), 1]]);
  });

  it('without a change in the waits every key is handed out and logged (the seams refuse nothing)', async () => {
    await setUp(t.clock.now + 60_000);
    const moved = armRead('listEnvelopes', () => t.clock.advance(29_000));
    const held = arm('sign');
    const fetching = fetchBoth();
    await held.reached;
    t.clock.advance(30_000);
    held.release();
    const answer = await fetching;
    await moved;

    expect(answer).toEqual([allergy(), medication()]);
    expect(await loggedFetches()).toEqual([
      [allergy(), 1],
      [medication(), 1],
    ]);
  });
});
