// A grantee's pull decides access when it starts, then waits: on the store for each stream's page, then on
// writing its access event (the patient's chain lock, the server's signature, the disk). A grant that ends
// in that wait (the clock passes its end, or a revocation commits) must still keep that stream's documents
// out of the answer, with the usual consent code in `denied`, and the patient's log must not claim a pull
// of them. The waits are held open by a store whose next page read runs a step of the test before the pull
// goes on (testing/held-reads.ts) and by an Ed25519 whose next signature waits (testing/gated-ed.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  makeDoc,
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
  // Longer than any grant here lasts, so a second pull is a repeat inside the first one's window.
  service = createSyncService({ ...deps, accessWindowMs: 600_000 });
});
afterEach(async () => {
  await service.drainAccessLog();
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({ t, patient, provider, service }));

const allergy = () => streamOf(patient.accountId, 'allergy');
const medication = () => streamOf(patient.accountId, 'medication');

/** The patient stores one record in each of `types`' streams. */
const seed = async (...types: string[]) => {
  const rows = [];
  for (const type of types) {
    rows.push({ doc: await makeDoc(patient, patient.device, type, { n: 1 }), assumedRev: null });
  }
  const results = await service.push(principalOf(patient), { rows });
  expect(results.map((r) => r.status)).toEqual(types.map(() => 'ok'));
};

/** An allergy grant ending at `allergyEnd` (or lasting), a lasting medication grant, a record in each. */
const setUp = async (allergyEnd?: number) => {
  const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }], allergyEnd);
  await grantTo([{ type: 'medication', access: 'read' }]);
  await seed('allergy', 'medication');
  return allergyGrant;
};

/** The provider pulls `streams` from their start. */
const pullFromStart = (...streams: ReturnType<typeof allergy>[]) =>
  service.pull(principalOf(provider), {
    streams: streams.map((stream) => ({ stream, since: 0 })),
    limit: 100,
    maxBytes: 1 << 20,
  });

const pullBoth = () => pullFromStart(allergy(), medication());

/** The streams of the answer's documents, its checkpoints and its refusals, compared at once. */
const shape = (answer: Awaited<ReturnType<SyncService['pull']>>) => ({
  docs: answer.docs.map((d) => d.stream),
  streams: answer.streams.map((s) => s.stream),
  denied: answer.denied,
});

const loggedPulls = async () => (await accessLogged({ t, patient }, 'pull')).map((e) => [e.stream, e.count]);

type Ending = 'its end passes' | 'a revocation through the service' | 'a revocation by another process';

/**
 * Sets up (`setUp`) with the allergy grant to be ended as `how` says. `end` ends it and resolves once it
 * ended, to the revocation still going on, if any; `code` is what its stream is then refused with.
 */
const ending = async (how: Ending) => {
  const allergyGrant = await setUp(how === 'its end passes' ? t.clock.now + 60_000 : undefined);
  const ended = { revoking: Promise.resolve() };
  switch (how) {
    case 'its end passes':
      return {
        code: 'CONSENT_EXPIRED',
        end: async () => {
          t.clock.advance(61_000);
          return ended;
        },
      };
    case 'a revocation through the service':
      return { code: 'CONSENT_REVOKED', end: () => revokeCommitted(allergyGrant) };
    case 'a revocation by another process': {
      // Not through this service: it hears nothing of the revocation.
      const revocation = await makeRevocation(patient, allergyGrant);
      return {
        code: 'CONSENT_REVOKED',
        end: async () => {
          await t.store.grants.revoke(allergyGrant, new Date(t.clock.now).toISOString(), revocation);
          return ended;
        },
      };
    }
  }
};

describe('while the pull reads its pages', () => {
  it.each<[string, Ending]>([
    ["a grant's end passed serves and logs nothing of its stream: CONSENT_EXPIRED", 'its end passes'],
    [
      'a revocation committed through the service serves and logs nothing of its stream: CONSENT_REVOKED',
      'a revocation through the service',
    ],
    [
      'a revocation committed in the store by another process serves and logs nothing of its stream',
      'a revocation by another process',
    ],
  ])('%s', async (_name, how) => {
    const { code, end } = await ending(how);

    let revoking: Promise<void> = Promise.resolve();
    // After the allergy page is read, before the medication page.
    const moved = armRead('readDocs', async () => {
      ({ revoking } = await end());
    });
    const answer = await pullBoth();
    await moved;
    await revoking;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a repeat inside an open window whose grant ended is neither served nor counted', async () => {
    await grantTo([{ type: 'allergy', access: 'read' }], t.clock.now + 60_000);
    await seed('allergy');
    const pullAllergy = () => pullFromStart(allergy());
    // Opens the window (logged before it answers); the next pull is a repeat inside it.
    expect((await pullAllergy()).docs).toHaveLength(1);

    t.clock.advance(50_000);
    const moved = armRead('readDocs', () => t.clock.advance(11_000));
    const answer = await pullAllergy();
    await moved;
    expect(shape(answer)).toEqual({
      docs: [],
      streams: [],
      denied: [{ stream: allergy(), code: 'CONSENT_EXPIRED' }],
    });

    // Ends the window: its tally would be written now. Only the pull that was served is in the log.
    service.stopAccessLog();
    await service.drainAccessLog();
    expect(await loggedPulls()).toEqual([[allergy(), 1]]);
  });
});

describe('while the pull logs its access', () => {
  it.each<[string, Ending]>([
    [
      "a grant's end passed serves nothing of its stream and logs no pull of it: CONSENT_EXPIRED",
      'its end passes',
    ],
    [
      'a revocation committed serves nothing of its stream and logs no pull of it: CONSENT_REVOKED',
      'a revocation through the service',
    ],
  ])('%s', async (_name, how) => {
    const { code, end } = await ending(how);

    const held = arm('sign');
    const pulling = pullBoth();
    await held.reached;
    const { revoking } = await end();
    held.release();
    const answer = await pulling;
    await revoking;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a repeat served beside a stream refused at the log is counted once, as it was served once', async () => {
    await grantTo([{ type: 'allergy', access: 'read' }]);
    const medicationGrant = await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');
    // Opens the allergy window; allergy is a repeat inside it in the next pull, medication opens its own.
    const pulled = await pullFromStart(allergy());
    expect(pulled.docs).toHaveLength(1);

    const revocation = await makeRevocation(patient, medicationGrant);
    const held = arm('sign');
    const pulling = pullBoth();
    await held.reached;
    await t.store.grants.revoke(medicationGrant, new Date(t.clock.now).toISOString(), revocation);
    held.release();
    const answer = await pulling;
    expect(shape(answer)).toEqual({
      docs: [allergy()],
      streams: [allergy()],
      denied: [{ stream: medication(), code: 'CONSENT_REVOKED' }],
    });

    // Ends the window: its tally counts the one repeat served.
    service.stopAccessLog();
    await service.drainAccessLog();
    expect(await loggedPulls()).toEqual([
      [allergy(), 1],
      [allergy(), 1],
    ]);
  });

  it('without a change in the waits the answer is served whole and logged (the seams refuse nothing)', async () => {
    await setUp(t.clock.now + 60_000);

    const moved = armRead('readDocs', () => t.clock.advance(29_000));
    const held = arm('sign');
    const pulling = pullBoth();
    await held.reached;
    t.clock.advance(30_000);
    held.release();
    const answer = await pulling;
    await moved;

    expect(shape(answer)).toEqual({
      docs: [allergy(), medication()],
      streams: [allergy(), medication()],
      denied: [],
    });
    expect(await loggedPulls()).toEqual([
      [allergy(), 1],
      [medication(), 1],
    ]);
  });
});
