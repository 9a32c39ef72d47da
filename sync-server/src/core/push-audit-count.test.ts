// A grantee's push is written to the patient's audit log as one access event per stream whose `count`
// says how many of its rows were stored. It counted every row that passed the service's checks, so rows
// the store then refused (a conflict: the device's assumed revision is not the stored one; a re-push of a
// revision already stored, answered ok but storing nothing) were logged as written. Now only rows the push
// stored count; a push that stored none of a stream's rows logs nothing for it (the event has no field
// for refused rows: the push metrics count them by outcome). A push whose counted rows keep changing
// under it gives up after MAX_PUSH_RECOUNTS counts, UNAVAILABLE, storing and logging nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDoc, principalOf, type TestAccount, type TestServer } from '../testing/harness';
import type { SyncStore } from '../store/index';
import { accessLogged, consentSteps, startRecheck, type Recheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
/** Runs once, after the next `getDoc` answered and before its caller resumes. */
let afterGetDoc: (() => Promise<void>) | undefined;
/** Makes the next write holding a server access event fail, as a store failure would. */
let failEntriesWrite = false;
/** While set, `getDoc` answers records as absent, as a read racing ever-changing writes would. */
let staleReads = false;
/** How many times `getDoc` was called. */
let getDocCalls = 0;
/** What the service reported through `onAccessLogError`. */
let logErrors: unknown[] = [];

beforeEach(async () => {
  let deps: Recheck['deps'];
  ({ t, patient, provider, deps } = await startRecheck());
  getDocCalls = 0;
  staleReads = false;
  const getDoc: SyncStore['docs']['getDoc'] = async (...args) => {
    getDocCalls += 1;
    const answer = staleReads ? null : await deps.store.docs.getDoc(...args);
    const step = afterGetDoc;
    afterGetDoc = undefined;
    await step?.();
    return answer;
  };
  const writeDocs: SyncStore['docs']['writeDocs'] = async (...args) => {
    if (failEntriesWrite && args[0].some((w) => w.doc.author === deps.server.serverId)) {
      failEntriesWrite = false;
      throw new Error('disk full');
    }
    return deps.store.docs.writeDocs(...args);
  };
  logErrors = [];
  service = createSyncService({
    ...deps,
    store: { ...deps.store, docs: { ...deps.store.docs, getDoc, writeDocs } },
    onAccessLogError: (error) => logErrors.push(error),
  });
});
afterEach(async () => {
  await t.stop();
});

const { grantTo } = consentSteps(() => ({ t, patient, provider, service }));
const outcomes = (results: Awaited<ReturnType<SyncService['push']>>) =>
  results.map((r) => (r.status === 'error' ? r.code : r.status));

describe("a grantee's push in the patient's audit log", () => {
  it('counts the rows stored, not those in conflict nor a revision stored already', async () => {
    await grantTo([
      { type: 'allergy', access: 'write' },
      { type: 'medication', access: 'write' },
    ]);
    const first = await makeDoc(patient, provider.device, 'allergy', { substance: 'peanut' });
    expect(
      outcomes(await service.push(principalOf(provider), { rows: [{ doc: first, assumedRev: null }] })),
    ).toEqual(['ok']);

    const fresh = await makeDoc(patient, provider.device, 'allergy', { substance: 'latex' });
    // The same id again as new: the stored version is not what it assumes.
    const conflicting = await makeDoc(
      patient,
      provider.device,
      'allergy',
      { substance: 'pollen' },
      { id: first.id },
    );
    const medication = await makeDoc(patient, provider.device, 'medication', { title: 'salbutamol' });
    const results = await service.push(principalOf(provider), {
      rows: [
        { doc: fresh, assumedRev: null },
        { doc: conflicting, assumedRev: null },
        { doc: medication, assumedRev: null },
      ],
    });
    expect(outcomes(results)).toEqual(['ok', 'conflict', 'ok']);
    // A retry of the first push whose answer was lost: answered ok, nothing stored.
    expect(
      outcomes(await service.push(principalOf(provider), { rows: [{ doc: first, assumedRev: null }] })),
    ).toEqual(['ok']);

    const pushes = await accessLogged({ t, patient }, 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([
      [first.stream, 1],
      [fresh.stream, 1],
      [medication.stream, 1],
    ]);
  });

  it('logs a row stored after its read found it in conflict (another write gave it the revision it assumed)', async () => {
    await grantTo([{ type: 'allergy', access: 'write' }]);
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    const second = await makeDoc(
      patient,
      patient.device,
      'allergy',
      { substance: 'latex' },
      { id: first.id, rv: 2 },
    );
    expect(
      outcomes(await service.push(principalOf(patient), { rows: [{ doc: first, assumedRev: null }] })),
    ).toEqual(['ok']);
    // The provider's update assumes the patient's second version, stored only once its row was read.
    const update = await makeDoc(
      patient,
      provider.device,
      'allergy',
      { substance: 'pollen' },
      { id: first.id, rv: 3 },
    );
    afterGetDoc = async () => {
      expect(
        outcomes(
          await service.push(principalOf(patient), { rows: [{ doc: second, assumedRev: first.rev }] }),
        ),
      ).toEqual(['ok']);
    };
    const results = await service.push(principalOf(provider), {
      rows: [{ doc: update, assumedRev: second.rev }],
    });
    expect(outcomes(results)).toEqual(['ok']);
    expect(afterGetDoc).toBeUndefined();
    const pushes = await accessLogged({ t, patient }, 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([[update.stream, 1]]);
  });

  it('a row stored after its read found it in conflict commits with its event: when that cannot be written, nothing is stored and the push fails, and its retry stores and logs it', async () => {
    await grantTo([{ type: 'allergy', access: 'write' }]);
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    const second = await makeDoc(
      patient,
      patient.device,
      'allergy',
      { substance: 'latex' },
      { id: first.id, rv: 2 },
    );
    expect(
      outcomes(await service.push(principalOf(patient), { rows: [{ doc: first, assumedRev: null }] })),
    ).toEqual(['ok']);
    const update = await makeDoc(
      patient,
      provider.device,
      'allergy',
      { substance: 'pollen' },
      { id: first.id, rv: 3 },
    );
    afterGetDoc = async () => {
      await service.push(principalOf(patient), { rows: [{ doc: second, assumedRev: first.rev }] });
      failEntriesWrite = true;
    };
    // The audit trail is what the patient reads to see who wrote what: the row and its event land
    // together or not at all, and the device, answered an error, sends the row again.
    await expect(
      service.push(principalOf(provider), { rows: [{ doc: update, assumedRev: second.rev }] }),
    ).rejects.toThrow('disk full');
    expect(failEntriesWrite).toBe(false);
    expect((await t.store.docs.getDoc(update.stream, update.id))?.rev).toBe(second.rev);
    expect(await accessLogged({ t, patient }, 'push')).toEqual([]);
    expect(logErrors).toEqual([]);

    expect(
      outcomes(
        await service.push(principalOf(provider), { rows: [{ doc: update, assumedRev: second.rev }] }),
      ),
    ).toEqual(['ok']);
    expect((await t.store.docs.getDoc(update.stream, update.id))?.rev).toBe(update.rev);
    const pushes = await accessLogged({ t, patient }, 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([[update.stream, 1]]);
  });

  it('a push whose counted rows keep changing under it gives up after 3 counts: UNAVAILABLE, nothing stored or logged', async () => {
    await grantTo([{ type: 'allergy', access: 'write' }]);
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    expect(
      outcomes(await service.push(principalOf(patient), { rows: [{ doc: first, assumedRev: null }] })),
    ).toEqual(['ok']);
    const update = await makeDoc(
      patient,
      provider.device,
      'allergy',
      { substance: 'pollen' },
      { id: first.id, rv: 2 },
    );
    // Each count reads the row as one the store will refuse, and each write finds it storable: the
    // store refuses the batch (the count would be wrong) every time.
    staleReads = true;
    getDocCalls = 0;
    const refused = await service
      .push(principalOf(provider), { rows: [{ doc: update, assumedRev: first.rev }] })
      .then(
        () => null,
        (e: unknown) => e as { code?: unknown; message?: unknown },
      );
    expect(refused?.code).toBe('UNAVAILABLE');
    expect(String(refused?.message)).toMatch(/nothing was stored/);
    expect(getDocCalls).toBe(3);
    expect((await t.store.docs.getDoc(update.stream, update.id))?.rev).toBe(first.rev);
    expect(await accessLogged({ t, patient }, 'push')).toEqual([]);

    // Read as it is, the same push stores the row and logs it once.
    staleReads = false;
    expect(
      outcomes(await service.push(principalOf(provider), { rows: [{ doc: update, assumedRev: first.rev }] })),
    ).toEqual(['ok']);
    const pushes = await accessLogged({ t, patient }, 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([[update.stream, 1]]);
  });

  it("counts two rows of one record in one push as the store takes them, in the push's own event", async () => {
    await grantTo([{ type: 'allergy', access: 'write' }]);
    // A version and the next one of a new record: the second assumes the first, stored by the same batch.
    const first = await makeDoc(patient, provider.device, 'allergy', { substance: 'peanut' });
    const next = await makeDoc(
      patient,
      provider.device,
      'allergy',
      { substance: 'latex' },
      { id: first.id, rv: 2 },
    );
    expect(
      outcomes(
        await service.push(principalOf(provider), {
          rows: [
            { doc: first, assumedRev: null },
            { doc: next, assumedRev: first.rev },
          ],
        }),
      ),
    ).toEqual(['ok', 'ok']);
    // Two first versions of another record: the batch stores the first, the second conflicts with it.
    const one = await makeDoc(patient, provider.device, 'allergy', { substance: 'pollen' });
    const other = await makeDoc(patient, provider.device, 'allergy', { substance: 'dust' }, { id: one.id });
    expect(
      outcomes(
        await service.push(principalOf(provider), {
          rows: [
            { doc: one, assumedRev: null },
            { doc: other, assumedRev: null },
          ],
        }),
      ),
    ).toEqual(['ok', 'conflict']);
    const pushes = await accessLogged({ t, patient }, 'push');
    expect(pushes.map((e) => [e.stream, e.count])).toEqual([
      [first.stream, 2],
      [one.stream, 1],
    ]);
  });
});
