// A grantee's pull decides again once its pages are read (a grants read), then logs what it serves, each
// write of the log carrying a guard that decides the streams it logs. Two consequences pinned here, on a
// store that counts the grant reads and can run a step of the test right after a write committed:
// - a stream logged by one write is served on that decision: a later write of the same pull (a repeat
//   written on its own) is not refused for it, so the log claims no pull that was not answered;
// - a stream whose page is empty hands out nothing and is not decided again: a caught-up pull reads its
//   grants once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SyncStore } from '../store/index';
import {
  makeDoc,
  makeRevocation,
  principalOf,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { accessLogged, consentSteps, startRecheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
/** Grant reads by patient (`listUnendedFrom`), as decisions on named streams make them. */
let grantReads = 0;
/** Run once, right after the next document write committed, before its caller resumes. */
let afterNextWrite: (() => Promise<void>) | null = null;

const counting = (store: SyncStore): SyncStore => ({
  ...store,
  docs: {
    ...store.docs,
    writeDocs: async (...args) => {
      const results = await store.docs.writeDocs(...args);
      const step = afterNextWrite;
      afterNextWrite = null;
      await step?.();
      return results;
    },
  },
  grants: {
    ...store.grants,
    listUnendedFrom: (...args) => {
      grantReads++;
      return store.grants.listUnendedFrom(...args);
    },
  },
});

beforeEach(async () => {
  const r = await startRecheck();
  ({ t, patient, provider } = r);
  grantReads = 0;
  afterNextWrite = null;
  // Longer than the test, so a second pull is a repeat inside the first one's window.
  service = createSyncService({ ...r.deps, store: counting(r.deps.store), accessWindowMs: 600_000 });
});
afterEach(async () => {
  await service.drainAccessLog();
  await t.stop();
});

const { grantTo } = consentSteps(() => ({ t, patient, provider, service }));
const allergy = () => streamOf(patient.accountId, 'allergy');
const medication = () => streamOf(patient.accountId, 'medication');

const seed = async (...types: string[]) => {
  const rows = [];
  for (const type of types) {
    rows.push({ doc: await makeDoc(patient, patient.device, type, { n: 1 }), assumedRev: null });
  }
  const results = await service.push(principalOf(patient), { rows });
  expect(results.map((r) => r.status)).toEqual(types.map(() => 'ok'));
};

const pull = (...cursors: Array<[ReturnType<typeof allergy>, number]>) =>
  service.pull(principalOf(provider), {
    streams: cursors.map(([stream, since]) => ({ stream, since })),
    limit: 100,
    maxBytes: 1 << 20,
  });

const loggedPulls = async () => (await accessLogged({ t, patient }, 'pull')).map((e) => [e.stream, e.count]);

describe('a pull that logs in more than one write', () => {
  it('serves a stream whose log committed although its grant is revoked before the later write', async () => {
    const allergyGrant = await grantTo([{ type: 'allergy', access: 'read' }]);
    await grantTo([{ type: 'medication', access: 'read' }]);
    await seed('allergy', 'medication');
    // Opens the medication window: in the next pull medication is a repeat, allergy opens its own.
    expect((await pull([medication(), 0])).docs).toHaveLength(1);

    const revocation = await makeRevocation(patient, allergyGrant);
    // Once the allergy entry committed: the revocation commits, and through the service, which ends the
    // provider's windows, so the medication repeat is written on its own, with a guard of its own.
    afterNextWrite = async () => {
      await service.revoke(principalOf(patient), revocation);
    };
    const answer = await pull([allergy(), 0], [medication(), 0]);
    expect(afterNextWrite).toBeNull();

    // The allergy pull is in the log, so it was answered.
    expect(answer.docs.map((d) => d.stream)).toEqual([allergy(), medication()]);
    expect(answer.denied).toEqual([]);
    service.stopAccessLog();
    await service.drainAccessLog();
    expect(await loggedPulls()).toEqual([
      [medication(), 1],
      [allergy(), 1],
      [medication(), 1],
    ]);
  });
});

describe('grant reads of a pull', () => {
  it('a caught-up pull reads its grants once; a pull that hands out documents reads them again', async () => {
    await grantTo([{ type: 'allergy', access: 'read' }]);
    await seed('allergy');

    grantReads = 0;
    const first = await pull([allergy(), 0]);
    expect(first.docs).toHaveLength(1);
    expect(grantReads).toBe(2);

    const since = first.streams[0]!.checkpoint;
    grantReads = 0;
    const idle = await pull([allergy(), since]);
    expect(idle).toEqual({
      docs: [],
      streams: [{ stream: allergy(), checkpoint: since, done: true }],
      denied: [],
    });
    expect(grantReads).toBe(1);
  });
});
