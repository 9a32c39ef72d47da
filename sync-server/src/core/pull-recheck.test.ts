// A grantee's pull decides access when it starts, then waits: on the store for each stream's page, then on
// writing its access event (the patient's chain lock, the server's signature, the disk). A grant that ends
// in that wait (the clock passes its end, or a revocation commits) must still keep that stream's documents
// out of the answer, with the usual consent code in `denied`, and the patient's log must not claim a pull
// of them. The waits are held open by a store whose next page read runs a step of the test before the pull
// goes on (testing/held-reads.ts) and by an Ed25519 whose next signature waits (testing/gated-ed.ts).
import type { GrantScopeEntry } from '@hale/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatedEd } from '../testing/gated-ed';
import { heldReads } from '../testing/held-reads';
import {
  makeDoc,
  makeGrant,
  makeRevocation,
  principalOf,
  registerAccount,
  serverAccessEntries,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
let arm: ReturnType<typeof gatedEd>['arm'];
let armRead: ReturnType<typeof heldReads>['arm'];

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
  const gated = gatedEd();
  arm = gated.arm;
  const held = heldReads(t.store);
  armRead = held.arm;
  service = createSyncService({
    store: held.store,
    now: () => t.clock.now,
    ed: gated.gate,
    server: t.server.server,
    // Longer than any grant here lasts, so a second pull is a repeat inside the first one's window.
    accessWindowMs: 600_000,
  });
});
afterEach(async () => {
  await service.drainAccessLog();
  await t.stop();
});

const grantTo = async (scope: GrantScopeEntry[], expiresAt?: number) => {
  const signed = await makeGrant(patient, provider, scope, {
    now: t.clock.now,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
  await service.grant(principalOf(patient), signed);
  return signed.grant.grantId;
};

/** Starts revoking `grantId` through the service; resolves once the store holds the revocation. */
const revokeCommitted = async (grantId: string): Promise<{ revoking: Promise<void> }> => {
  const revoking = service.revoke(principalOf(patient), await makeRevocation(patient, grantId));
  await vi.waitFor(async () => expect((await t.store.grants.get(grantId))?.revokedAt).toBeDefined());
  return { revoking };
};

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

const pullBoth = () =>
  service.pull(principalOf(provider), {
    streams: [
      { stream: allergy(), since: 0 },
      { stream: medication(), since: 0 },
    ],
    limit: 100,
    maxBytes: 1 << 20,
  });

/** The streams of the answer's documents, its checkpoints and its refusals, compared at once. */
const shape = (answer: Awaited<ReturnType<SyncService['pull']>>) => ({
  docs: answer.docs.map((d) => d.stream),
  streams: answer.streams.map((s) => s.stream),
  denied: answer.denied,
});

const loggedPulls = async () =>
  (await serverAccessEntries(t, patient)).filter((e) => e.action === 'pull').map((e) => [e.stream, e.count]);

describe('while the pull reads its pages', () => {
  it("a grant's end passed serves and logs nothing of its stream: CONSENT_EXPIRED", async () => {
    await grantTo([{ type: 'allergy', access: 'read' }], t.clock.now + 60_000);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

    // After the allergy page is read, before the medication page.
    const moved = armRead('readDocs', () => t.clock.advance(61_000));
    const answer = await pullBoth();
    await moved;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code: 'CONSENT_EXPIRED' }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed through the service serves and logs nothing of its stream: CONSENT_REVOKED', async () => {
    const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }]);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

    let revoking: Promise<void> = Promise.resolve();
    const moved = armRead('readDocs', async () => {
      ({ revoking } = await revokeCommitted(allergyGrant));
    });
    const answer = await pullBoth();
    await moved;
    await revoking;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code: 'CONSENT_REVOKED' }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed in the store by another process serves and logs nothing of its stream', async () => {
    const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }]);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

    // Not through this service: it hears nothing of the revocation.
    const revocation = await makeRevocation(patient, allergyGrant);
    const moved = armRead('readDocs', async () => {
      await t.store.grants.revoke(allergyGrant, new Date(t.clock.now).toISOString(), revocation);
    });
    const answer = await pullBoth();
    await moved;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code: 'CONSENT_REVOKED' }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a repeat inside an open window whose grant ended is neither served nor counted', async () => {
    await grantTo([{ type: 'allergy', access: 'read' }], t.clock.now + 60_000);
    await seed('allergy');
    const pullAllergy = () =>
      service.pull(principalOf(provider), {
        streams: [{ stream: allergy(), since: 0 }],
        limit: 100,
        maxBytes: 1 << 20,
      });
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
  it("a grant's end passed serves nothing of its stream and logs no pull of it: CONSENT_EXPIRED", async () => {
    await grantTo([{ type: 'allergy', access: 'read' }], t.clock.now + 60_000);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

    const held = arm('sign');
    const pulling = pullBoth();
    await held.reached;
    t.clock.advance(61_000);
    held.release();
    const answer = await pulling;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code: 'CONSENT_EXPIRED' }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a revocation committed serves nothing of its stream and logs no pull of it: CONSENT_REVOKED', async () => {
    const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }]);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

    const held = arm('sign');
    const pulling = pullBoth();
    await held.reached;
    const { revoking } = await revokeCommitted(allergyGrant);
    held.release();
    const answer = await pulling;
    await revoking;

    expect(shape(answer)).toEqual({
      docs: [medication()],
      streams: [medication()],
      denied: [{ stream: allergy(), code: 'CONSENT_REVOKED' }],
    });
    expect(await loggedPulls()).toEqual([[medication(), 1]]);
  });

  it('a repeat served beside a stream refused at the log is counted once, as it was served once', async () => {
    await grantTo([{ type: 'allergy', access: 'read' }]);
    const medicationGrant = await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');
    // Opens the allergy window; allergy is a repeat inside it in the next pull, medication opens its own.
    const pulled = await service.pull(principalOf(provider), {
      streams: [{ stream: allergy(), since: 0 }],
      limit: 100,
      maxBytes: 1 << 20,
    });
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
    await grantTo([{ type: 'allergy', access: 'read' }], t.clock.now + 60_000);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');

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
