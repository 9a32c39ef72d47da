// A grant change whose live re-evaluation fails (app.ts `onGrantsChanged`, hub.ts): the promise that no
// change committed after a `revoke` answer reaches a cut-off device (sync-service.ts, `onGrantsChanged`)
// must hold when the store cannot load the grantee's grants at that moment. A real server over a real
// SQLite file, with the fault injected by wrapping the store; the grantee follows the stream on a real
// socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangesFrame, PulledFrame, PushDoc, ServerFrame } from '@hale/protocol';
import { buildApp, type HaleServer } from './app';
import { createLogger } from './logger';
import { StoreError, openSqliteStore, type SqliteStore, type SyncStore } from './store/index';
import {
  connect,
  endpoint,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  streamOf,
  type Endpoint,
  type TestAccount,
  type WsClient,
} from './testing/harness';

interface Running extends Endpoint {
  server: HaleServer;
  store: SqliteStore;
  /**
   * `failGrantLoads`: while set, loading an account's unended grants (what a live connection holds) fails.
   * `holdNextGrantLoad`: the next such load reads the store at once and answers only when released.
   * `failEndedLoads`: while set, reading a pair's ended grants (to name a refusal's reason) fails.
   */
  faults: { failGrantLoads: boolean; holdNextGrantLoad: Hold | null; failEndedLoads: boolean };
  logs: string[];
  stop(): Promise<void>;
}

/** A grant load held after it read the store: `entered` resolves then; `release` lets it answer. */
interface Hold {
  /** Whose grants (as grantee) are held. */
  granteeId: string;
  entered: Promise<void>;
  release: () => void;
  /** Called by the held load: marks it entered, resolves on release. */
  enter: () => Promise<void>;
}

const createHold = (granteeId: string): Hold => {
  let entered: () => void = () => undefined;
  let release: () => void = () => undefined;
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    granteeId,
    entered: enteredP,
    release,
    enter: () => {
      entered();
      return released;
    },
  };
};

const startFaulty = async (): Promise<Running> => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-fail-closed-'));
  const store = await openSqliteStore({ dataDir });
  const faults: Running['faults'] = { failGrantLoads: false, holdNextGrantLoad: null, failEndedLoads: false };
  const logs: string[] = [];
  /** A load of unended grants (of `granteeId` as grantee, if any), with the faults applied. */
  const loaded = async <T>(granteeId: string | null, load: () => Promise<T>): Promise<T> => {
    if (faults.failGrantLoads) throw new StoreError('UNAVAILABLE', 'injected: grant load failed');
    const rows = await load();
    const hold = faults.holdNextGrantLoad;
    if (hold && granteeId === hold.granteeId) {
      faults.holdNextGrantLoad = null;
      await hold.enter();
    }
    return rows;
  };
  const wrapped: SyncStore = {
    ...store,
    grants: {
      ...store.grants,
      listUnended: async (...args) => {
        const [of] = args;
        return loaded('granteeId' in of ? of.granteeId : null, () => store.grants.listUnended(...args));
      },
      // What a subscribe or a pull reads: the named patients' grants only.
      listUnendedFrom: async (...args) => loaded(args[0], () => store.grants.listUnendedFrom(...args)),
      endedScopes: async (...args) => {
        if (faults.failEndedLoads) throw new StoreError('UNAVAILABLE', 'injected: ended grants not read');
        return store.grants.endedScopes(...args);
      },
    },
  };
  const server = await buildApp({
    store: wrapped,
    logger: createLogger('info', { write: (line: string) => void logs.push(line) }),
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
    },
  });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    ...endpoint(url),
    server,
    store,
    faults,
    logs,
    async stop() {
      await server.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

const isChanges = (f: ServerFrame): f is ChangesFrame => f.t === 'changes';

/** Whether a `changes` frame carrying document `id` reaches `c` within `withinMs`. */
const delivered = (c: WsClient, id: string, withinMs: number): Promise<boolean> =>
  c
    .waitFor((f): f is ChangesFrame => isChanges(f) && f.docs.some((d) => d.id === id), withinMs)
    .then(
      () => true,
      () => false,
    );

describe('a grant change the live hub must act on', () => {
  let t: Running;
  beforeEach(async () => {
    t = await startFaulty();
  });
  afterEach(async () => {
    await t.stop();
  });

  const push = async (c: WsClient, doc: PushDoc) => {
    const reply = await c.request({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] });
    expect(reply).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
  };

  /** A patient and a provider granted read on allergies (until `expiresAt`), both connected. */
  const granted = async (expiresAt?: number) => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const phone = await connect(t, patient.device);
    const grant = await makeGrant(
      patient,
      provider,
      [{ type: 'allergy', access: 'read' }],
      expiresAt === undefined ? {} : { expiresAt },
    );
    expect((await phone.request({ t: 'grant', rid: phone.rid(), grant })).t).toBe('ok');
    const stream = streamOf(patient.accountId, 'allergy');
    const doctor = await connect(t, provider.device);
    return { patient, provider, phone, doctor, stream, grant };
  };

  /** As `granted`, with the provider following the stream live and one record delivered. */
  const scene = async () => {
    const { patient, provider, phone, doctor, stream, grant } = await granted();
    const sub = await doctor.request({ t: 'subscribe', rid: doctor.rid(), streams: [{ stream, since: 0 }] });
    expect(sub.t).toBe('ok');
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'penicillin' });
    await push(phone, first);
    expect((await doctor.waitFor(isChanges)).docs.map((d) => d.id)).toEqual([first.id]);
    return { patient, provider, phone, doctor, stream, grantId: grant.grant.grantId };
  };

  const revoke = async (phone: WsClient, patient: TestAccount, grantId: string) =>
    phone.request({ t: 'revoke', rid: phone.rid(), revocation: await makeRevocation(patient, grantId) });

  it('closes the grantee connection before the revoke answers, so nothing committed after it is delivered', async () => {
    const { patient, provider, phone, doctor, stream, grantId } = await scene();
    t.faults.failGrantLoads = true;
    const answer = await revoke(phone, patient, grantId);
    // The revocation is stored whatever happened to the live re-evaluation.
    expect(answer.t).toBe('ok');
    expect((await t.store.grants.get(grantId))?.revokedAt).toBeDefined();

    const later = await makeDoc(patient, patient.device, 'allergy', { substance: 'latex' });
    await push(phone, later);
    // Well past the server's one-second sweep, which fails too while grants cannot be loaded.
    expect(await delivered(doctor, later.id, 2_500)).toBe(false);
    // Closed by the server, with a code a device retries on after backing off.
    expect(await doctor.closed).toMatchObject({ code: 4000 });
    expect(doctor.unsolicited).toContainEqual(expect.objectContaining({ t: 'error', code: 'UNAVAILABLE' }));
    expect(t.logs.some((line) => line.includes('live re-evaluation failed'))).toBe(true);

    // Once grants load again, the reconnecting device is re-checked from the store: the stream is gone.
    t.faults.failGrantLoads = false;
    const again = await connect(t, provider.device);
    const refused = await again.request({
      t: 'subscribe',
      rid: again.rid(),
      streams: [{ stream, since: 0 }],
    });
    expect(refused).toMatchObject({ t: 'error', code: 'CONSENT_REVOKED' });
    const pulled = await again.request<PulledFrame>({
      t: 'pull',
      rid: again.rid(),
      streams: [{ stream, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.docs).toEqual([]);
    await again.close();
    await phone.close();
  });

  it('re-decides a subscribe that read the grants before a revoke committed: nothing after the revoke is delivered', async () => {
    const { patient, provider, phone, doctor, stream, grant } = await granted();
    // The subscribe reads the provider's grants while the grant is unended, and is held there.
    const hold = createHold(provider.accountId);
    t.faults.holdNextGrantLoad = hold;
    const subscribing = doctor.request({
      t: 'subscribe',
      rid: doctor.rid(),
      streams: [{ stream, since: 0 }],
    });
    await hold.entered;
    // The revoke commits while the subscribe is held (its answer then waits for the live re-evaluation).
    const revoking = revoke(phone, patient, grant.grant.grantId);
    await vi.waitFor(
      async () => expect((await t.store.grants.get(grant.grant.grantId))?.revokedAt).toBeDefined(),
      { timeout: 5_000, interval: 5 },
    );
    hold.release();
    expect((await revoking).t).toBe('ok');
    // Decided on what it read (ok), or refused: either way the revoke must win from here on.
    await subscribing;

    const later = await makeDoc(patient, patient.device, 'allergy', { substance: 'latex' });
    await push(phone, later);
    // Well past the server's one-second sweep, whose position is already past the revoke.
    expect(await delivered(doctor, later.id, 2_500)).toBe(false);
    await doctor.close();
    await phone.close();
  });

  it('lets nothing through past an expiry whose re-decision fails on the store, and reports the failure', async () => {
    const { patient, phone, doctor, stream } = await granted(Date.now() + 1_500);
    expect(
      (await doctor.request({ t: 'subscribe', rid: doctor.rid(), streams: [{ stream, since: 0 }] })).t,
    ).toBe('ok');
    // At the expiry the stream is re-decided (boundary timer, then the sweep), reading the pair's ended
    // grants to name the reason: that read fails, so the subscription stays; delivery must still refuse.
    t.faults.failEndedLoads = true;
    await vi.waitFor(
      () => expect(t.logs.some((line) => line.includes('injected: ended grants'))).toBe(true),
      {
        timeout: 5_000,
        interval: 50,
      },
    );
    t.faults.failEndedLoads = false;
    // Nothing after the expiry reaches the provider, and the server still answers.
    const later = await makeDoc(patient, patient.device, 'allergy', { substance: 'latex' });
    await push(phone, later);
    expect(await delivered(doctor, later.id, 1_500)).toBe(false);
    await doctor.close();
    await phone.close();
  });

  it('closes the grantee connection when the sweep finds a change made elsewhere and cannot reload it', async () => {
    const { patient, phone, doctor, grantId } = await scene();
    // The sweep's position is taken past everything so far.
    await t.server.hub.sweep();
    t.faults.failGrantLoads = true;
    // Revoked through another process sharing the store: only the sweep learns of it.
    const signed = await makeRevocation(patient, grantId);
    await t.store.grants.revoke(grantId, new Date().toISOString(), signed);
    // Whichever sweep takes the change (this one, or the server's own every second) fails to reload.
    await t.server.hub.sweep().catch(() => undefined);
    await Promise.race([doctor.closed, new Promise((resolve) => setTimeout(resolve, 1_500))]);
    t.faults.failGrantLoads = false;
    // Later sweeps see no change: without failing closed, nothing would ever reload the connection.
    await t.server.hub.sweep();

    const later = await makeDoc(patient, patient.device, 'allergy', { substance: 'latex' });
    await push(phone, later);
    expect(await delivered(doctor, later.id, 2_500)).toBe(false);
    expect(await doctor.closed).toMatchObject({ code: 4000 });
    await phone.close();
  });
});
