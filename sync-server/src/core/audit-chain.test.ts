// The server's per-patient audit chain (access events it signs and appends to `${patientId}/audit`) under
// failure and load: a crash between committing entries and recording the chain position, concurrent
// appends for the same patients, a failed audit write during a provider push, a corrupt chain state left
// by an older version, and a patient whose entries cannot be sealed. Each runs a real server on a real SQLite file, with faults injected by wrapping the
// store, and checks the chain the way a device does (consecutive positions, each linked to the previous
// entry's hash, each signed by the server).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  auditSignaturePayload,
  type EnvelopesFrame,
  type PulledFrame,
  type PushDoc,
  type PushedFrame,
  type ServedDoc,
  type ServerFrame,
} from '@hale/protocol';
import { buildApp, type HaleServer } from '../app';
import { createLogger } from '../logger';
import { StoreError, isAuditStream, openSqliteStore, type SqliteStore, type SyncStore } from '../store/index';
import {
  connect,
  createBlob,
  digestOf,
  endpoint,
  http,
  makeDoc,
  makeEnvelope,
  makeGrant,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type Endpoint,
  type TestAccount,
  type WsClient,
} from '../testing/harness';
import { auditEntryHash, verifyPayload } from './sync-service';
import { createNodeEd25519 } from '@hale/crypto/node';
import { newId } from '@hale/model';

const ed = createNodeEd25519();

/** Faults armed by a test; each counter is how many more times the fault fires. */
interface Faults {
  /** A batch holding audit entries commits, then the call rejects (as if the process died right after). */
  failAfterAuditCommit: number;
  /** A batch holding audit entries rejects before anything is stored. */
  failAuditWrite: number;
  /** Writing an `audit-chain/…` meta key rejects (the second of the two writes the old code made). */
  failChainMetaPut: number;
  /** Reads of a chain's last entry answer a little later, as from a store over the network. */
  slowChainReads: boolean;
}

const noFaults = (): Faults => ({
  failAfterAuditCommit: 0,
  failAuditWrite: 0,
  failChainMetaPut: 0,
  slowChainReads: false,
});

const withFaults = (store: SqliteStore, faults: Faults): SyncStore => ({
  ...store,
  docs: {
    ...store.docs,
    writeDocs: async (rows, now) => {
      const audit = rows.some((r) => isAuditStream(r.doc.stream));
      if (audit && faults.failAuditWrite > 0) {
        faults.failAuditWrite--;
        throw new StoreError('UNAVAILABLE', 'injected: audit write failed');
      }
      const results = await store.docs.writeDocs(rows, now);
      if (audit && faults.failAfterAuditCommit > 0) {
        faults.failAfterAuditCommit--;
        throw new StoreError('UNAVAILABLE', 'injected: failed after the audit entries committed');
      }
      return results;
    },
    auditChainEnd: async (stream, author) => {
      if (faults.slowChainReads) await new Promise((resolve) => setTimeout(resolve, 2));
      return store.docs.auditChainEnd(stream, author);
    },
  },
  meta: {
    ...store.meta,
    put: async (key, value) => {
      if (key.startsWith('audit-chain/') && faults.failChainMetaPut > 0) {
        faults.failChainMetaPut--;
        throw new StoreError('UNAVAILABLE', 'injected: chain head write failed');
      }
      return store.meta.put(key, value);
    },
  },
});

interface Running extends Endpoint {
  server: HaleServer;
  store: SqliteStore;
  faults: Faults;
  logs: string[];
  stop(): Promise<void>;
}

/** A server like the harness's, over a fault-injecting wrapper of a real store, logging into `logs`. */
const startFaulty = async (dataDir: string): Promise<Running> => {
  const store = await openSqliteStore({ dataDir });
  const faults = noFaults();
  const logs: string[] = [];
  const server = await buildApp({
    store: withFaults(store, faults),
    logger: createLogger('info', { write: (line: string) => void logs.push(line) }),
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
      // Every access its own entry: these tests follow the chain, not the windows of repeated access.
      accessAuditWindowMs: 0,
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
    },
  };
};

const pull = (c: WsClient, stream: PushDoc['stream'], since = 0) =>
  c.request<PulledFrame | Extract<ServerFrame, { t: 'error' }>>({
    t: 'pull',
    rid: c.rid(),
    streams: [{ stream, since }],
    limit: 1000,
    maxBytes: 1 << 22,
  });

const push = (c: WsClient, docs: PushDoc[]) =>
  c.request<PushedFrame | Extract<ServerFrame, { t: 'error' }>>({
    t: 'push',
    rid: c.rid(),
    rows: docs.map((doc) => ({ doc, assumedRev: null })),
  });

interface Scene {
  patient: TestAccount;
  provider: TestAccount;
  phone: WsClient;
  doctor: WsClient;
  allergy: PushDoc['stream'];
}

/** A patient with two allergy records, and a provider granted read and write on allergies. */
const scene = async (t: Endpoint): Promise<Scene> => {
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const phone = await connect(t, patient.device);
  const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }]);
  expect((await phone.request({ t: 'grant', rid: phone.rid(), grant })).t).toBe('ok');
  const docs = [
    await makeDoc(patient, patient.device, 'allergy', { n: 1 }),
    await makeDoc(patient, patient.device, 'allergy', { n: 2 }),
  ];
  expect(await push(phone, docs)).toMatchObject({ t: 'pushed' });
  const doctor = await connect(t, provider.device);
  return { patient, provider, phone, doctor, allergy: streamOf(patient.accountId, 'allergy') };
};

/**
 * Damages the patient's stored wrapping key (disk corruption, a bad manual edit), so no access to the
 * patient's records can be logged; answers a function that puts the key back.
 */
const damagePatientKey = async (t: Running, s: Scene): Promise<() => void> => {
  const original = (await t.store.accounts.get(s.patient.accountId))!.wrappingPublicKey;
  const set = t.store.db.prepare('UPDATE accounts SET wrapping_public_key = ? WHERE account_id = ?');
  set.run('!not base64url!', s.patient.accountId);
  return () => void set.run(original, s.patient.accountId);
};

/** The server's entries in the patient's audit stream, as the patient's device is served them. */
const serverEntries = async (s: Scene, serverId: string): Promise<ServedDoc[]> => {
  const reply = await pull(s.phone, streamOf(s.patient.accountId, 'audit'));
  if (reply.t !== 'pulled') throw new Error(`audit pull failed: ${JSON.stringify(reply)}`);
  return reply.docs.filter((d) => d.author === serverId);
};

/**
 * What a device would object to in the server's chain (the checks of `verifyAuditLog` in @hale/client,
 * for one author): every entry signed by the server, positions 1, 2, 3… in served order, each entry
 * linked to the hash of the one before. Empty when the chain is sound.
 */
const chainProblems = async (entries: ServedDoc[], serverKey: Uint8Array): Promise<string[]> => {
  const problems: string[] = [];
  let previous: ServedDoc | null = null;
  for (const [i, e] of entries.entries()) {
    if (!e.audit || e.sig === undefined) {
      problems.push(`${e.id}: no audit header or signature`);
      continue;
    }
    const payload = auditSignaturePayload({ ...e, audit: e.audit });
    if (!(await verifyPayload(ed, serverKey, payload, e.sig))) problems.push(`${e.id}: bad signature`);
    if (e.audit.authorSeq !== i + 1)
      problems.push(`${e.id}: position ${e.audit.authorSeq}, expected ${i + 1}`);
    const expected: string | null =
      previous === null
        ? null
        : auditEntryHash(auditSignaturePayload({ ...previous, audit: previous.audit! }), previous.sig!);
    if (e.audit.prevHash !== expected) problems.push(`${e.id}: does not link to the previous entry`);
    previous = e;
  }
  return problems;
};

describe('server audit chain', () => {
  const dirs: string[] = [];
  const stops: Array<() => Promise<unknown>> = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-audit-chain-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Three provider pulls with `arm` applied before the second, then a restart on the same data directory
   * and a fourth pull; answers the second pull's reply and the server's entries as the patient sees them.
   */
  const pullsAcrossRestart = async (arm: (faults: Faults) => void) => {
    const dataDir = await tempDir();
    const first = await startFaulty(dataDir);
    stops.push(() => first.stop());
    const s = await scene(first);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    expect(await pull(s.doctor, s.allergy)).toMatchObject({ t: 'pulled', docs: [{}, {}] });
    arm(first.faults);
    const faulted = await pull(s.doctor, s.allergy);
    const faults = { ...first.faults };
    first.faults.failAfterAuditCommit = 0;
    first.faults.failChainMetaPut = 0;
    expect(await pull(s.doctor, s.allergy)).toMatchObject({ t: 'pulled', docs: [{}, {}] });

    // The process goes away; a new one on the same data directory carries the chain on.
    await Promise.all([s.phone.close(), s.doctor.close()]);
    await first.stop();
    stops.splice(0);
    const second = await startServer({ dataDir, config: { accessAuditWindowMs: 0 } });
    stops.push(() => second.stop({ keepData: true }));
    const again: Scene = {
      ...s,
      phone: await connect(second, s.patient.device),
      doctor: await connect(second, s.provider.device),
    };
    stops.push(() => Promise.all([again.phone.close(), again.doctor.close()]));
    expect(await pull(again.doctor, again.allergy)).toMatchObject({ t: 'pulled', docs: [{}, {}] });
    const { serverId, publicKey } = second.server.server;
    const entries = await serverEntries(again, serverId);
    return { faulted, faults, entries, problems: await chainProblems(entries, publicKey) };
  };

  it('does not fork when the process fails right after committing entries, also across a restart', async () => {
    const run = await pullsAcrossRestart((faults) => {
      faults.failAfterAuditCommit = 1;
    });
    expect(run.faults.failAfterAuditCommit).toBe(0);
    expect(run.entries.map((e) => e.audit?.authorSeq)).toEqual([1, 2, 3, 4]);
    expect(run.problems).toEqual([]);
    // The failed pull served nothing; its access event is stored (over-reporting, never under).
    expect(run.faulted).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    expect(run.faulted).not.toHaveProperty('docs');
  });

  it('does not depend on writing a chain head to meta (older versions wrote one after the entries)', async () => {
    const run = await pullsAcrossRestart((faults) => {
      faults.failChainMetaPut = Number.POSITIVE_INFINITY;
    });
    expect(run.entries.map((e) => e.audit?.authorSeq)).toEqual([1, 2, 3, 4]);
    expect(run.problems).toEqual([]);
    expect(run.faulted).toMatchObject({ t: 'pulled', docs: [{}, {}] });
  });

  it('chains concurrent accesses one after another: three providers pushing to and pulling from two patients', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    t.faults.slowChainReads = true;
    const patients = [await registerAccount(t), await registerAccount(t)];
    const providers: TestAccount[] = [];
    for (let i = 0; i < 3; i++) providers.push(await registerAccount(t, 'provider'));
    const phones = await Promise.all(patients.map((p) => connect(t, p.device)));
    const doctors = await Promise.all(providers.map((p) => connect(t, p.device)));
    stops.push(() => Promise.all([...phones, ...doctors].map((c) => c.close())));
    for (const [i, patient] of patients.entries()) {
      const phone = phones[i]!;
      for (const provider of providers) {
        const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }]);
        expect((await phone.request({ t: 'grant', rid: phone.rid(), grant })).t).toBe('ok');
      }
      expect(await push(phone, [await makeDoc(patient, patient.device, 'allergy', {})])).toMatchObject({
        t: 'pushed',
      });
    }
    const streams = patients.map((p) => streamOf(p.accountId, 'allergy'));
    const rounds = 5;
    // Each provider's frames are pipelined on its socket; the sockets run concurrently. Their pushes name
    // the patients in alternating orders, so taking both patients' chains must not deadlock (it takes
    // three parties: two that each hold one chain and a third queued ahead of one of them).
    const work = doctors.map(async (doctor, d) => {
      const order = d % 2 === 0 ? patients : [...patients].reverse();
      const replies: Array<Promise<ServerFrame>> = [];
      for (let round = 0; round < rounds; round++) {
        const docs = await Promise.all(
          order.map((p) => makeDoc(p, providers[d]!.device, 'allergy', { round })),
        );
        replies.push(push(doctor, docs));
        replies.push(
          doctor.request({
            t: 'pull',
            rid: doctor.rid(),
            streams: streams.map((stream) => ({ stream, since: 0 })),
            limit: 1000,
            maxBytes: 1 << 22,
          }),
        );
      }
      return Promise.all(replies);
    });
    for (const replies of await Promise.all(work)) {
      expect(replies.map((r) => r.t)).toEqual(
        Array.from({ length: rounds }, () => ['pushed', 'pulled']).flat(),
      );
    }

    const { serverId, publicKey } = t.server.server;
    for (const [i, patient] of patients.entries()) {
      const entries = await serverEntries(
        { patient, provider: providers[0]!, phone: phones[i]!, doctor: doctors[0]!, allergy: streams[i]! },
        serverId,
      );
      // Per provider and round: one entry for the push, one for the pull.
      expect(entries).toHaveLength(providers.length * rounds * 2);
      expect(await chainProblems(entries, publicKey)).toEqual([]);
    }
  });

  it('commits a provider push and its access event together: a failed audit write stores neither', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    const s = await scene(t);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    const written = await makeDoc(s.patient, s.provider.device, 'allergy', { by: 'doctor' });

    t.faults.failAuditWrite = 1;
    expect(await push(s.doctor, [written])).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    expect(await t.store.docs.getDoc(s.allergy, written.id)).toBeNull();
    expect(await serverEntries(s, t.server.server.serverId)).toEqual([]);

    // The provider retries unchanged: stored once, logged once, chain intact.
    const retried = await push(s.doctor, [written]);
    expect(retried).toMatchObject({ t: 'pushed', results: [{ status: 'ok', id: written.id }] });
    const entries = await serverEntries(s, t.server.server.serverId);
    expect(entries).toHaveLength(1);
    expect(await chainProblems(entries, t.server.server.publicKey)).toEqual([]);

    // A pull whose access cannot be logged serves nothing.
    t.faults.failAuditWrite = 1;
    const refused = await pull(s.doctor, s.allergy);
    expect(refused).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    expect(refused).not.toHaveProperty('docs');
  });

  it('ignores a corrupt chain state left in meta by an older version: access is served and logged', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    const { serverId, publicKey } = t.server.server;
    const s = await scene(t);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    expect(await pull(s.doctor, s.allergy)).toMatchObject({ t: 'pulled' });

    await t.store.meta.put(`audit-chain/${serverId}/${s.patient.accountId}`, '{"seq":');
    expect(await pull(s.doctor, s.allergy)).toMatchObject({ t: 'pulled', docs: [{}, {}] });
    const written = await makeDoc(s.patient, s.provider.device, 'allergy', { by: 'doctor' });
    expect(await push(s.doctor, [written])).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
    await t.store.meta.put(`audit-chain/${serverId}/${s.patient.accountId}`, '{"seq":1,"hash":null}');
    expect(await pull(s.doctor, s.allergy)).toMatchObject({ t: 'pulled' });

    const entries = await serverEntries(s, serverId);
    expect(entries.map((e) => e.audit?.authorSeq)).toEqual([1, 2, 3, 4]);
    expect(await chainProblems(entries, publicKey)).toEqual([]);
  });

  it('serves and stores nothing for a provider when the access cannot be sealed to the patient, and says why', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    const s = await scene(t);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    const envelope = await makeEnvelope(s.patient, s.patient.device, s.provider, 'allergy');
    expect((await s.phone.request({ t: 'putEnvelopes', rid: s.phone.rid(), envelopes: [envelope] })).t).toBe(
      'ok',
    );
    // The stored wrapping key of the patient is damaged (disk corruption, a bad manual edit).
    await damagePatientKey(t, s);

    const refused = await pull(s.doctor, s.allergy);
    expect(refused).toMatchObject({ t: 'error', code: 'INTERNAL' });
    expect(refused).not.toHaveProperty('docs');
    const envelopes = await s.doctor.request<EnvelopesFrame | Extract<ServerFrame, { t: 'error' }>>({
      t: 'getEnvelopes',
      rid: s.doctor.rid(),
    });
    expect(envelopes).toMatchObject({ t: 'error', code: 'INTERNAL' });
    const written = await makeDoc(s.patient, s.provider.device, 'allergy', { by: 'doctor' });
    expect(await push(s.doctor, [written])).toMatchObject({ t: 'error', code: 'INTERNAL' });
    expect(await t.store.docs.getDoc(s.allergy, written.id)).toBeNull();

    // The operator's log names the cause; the server keeps serving everyone else, the patient included.
    const errors = t.logs.map((line) => JSON.parse(line) as { level: number; err?: { message?: string } });
    expect(errors.some((l) => l.level >= 50 && /wrapping key/.test(l.err?.message ?? ''))).toBe(true);
    expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);
    expect(await pull(s.phone, s.allergy)).toMatchObject({ t: 'pulled', docs: [{}, {}] });
    expect(await serverEntries(s, t.server.server.serverId)).toEqual([]);
  });

  it('stores no blob chunk a provider uploads while the access cannot be logged', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    const s = await scene(t);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    const blobId = newId();
    const chunk = new Uint8Array(200).fill(7);
    const manifest = {
      blobId,
      stream: s.allergy,
      size: 100,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(chunk)],
    };
    expect((await createBlob(t, await sessionToken(t, s.patient.device), manifest)).status).toBe(200);
    const doctorToken = await sessionToken(t, s.provider.device);

    const restoreKey = await damagePatientKey(t, s);
    expect(await putChunk(t, doctorToken, blobId, 0, chunk)).toMatchObject({
      status: 500,
      body: { code: 'INTERNAL' },
    });
    expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([]);

    restoreKey();
    expect((await putChunk(t, doctorToken, blobId, 0, chunk)).status).toBe(200);
    expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([0]);
    expect(await serverEntries(s, t.server.server.serverId)).toHaveLength(1);
  });

  it('delivers nothing live to a provider while the access cannot be logged, then catches up once it can', async () => {
    const t = await startFaulty(await tempDir());
    stops.push(() => t.stop());
    const s = await scene(t);
    stops.push(() => Promise.all([s.phone.close(), s.doctor.close()]));
    const isChanges = (f: ServerFrame): f is Extract<ServerFrame, { t: 'changes' }> => f.t === 'changes';
    const delivered = () => s.doctor.unsolicited.filter(isChanges).flatMap((f) => f.docs.map((d) => d.id));

    // Damaged before the provider follows the stream: not even the records already there go out.
    const restoreKey = await damagePatientKey(t, s);
    expect(
      (
        await s.doctor.request({
          t: 'subscribe',
          rid: s.doctor.rid(),
          streams: [{ stream: s.allergy, since: 0 }],
        })
      ).t,
    ).toBe('ok');
    const third = await makeDoc(s.patient, s.patient.device, 'allergy', { n: 3 });
    expect(await push(s.phone, [third])).toMatchObject({ t: 'pushed' });
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered()).toEqual([]);
    expect(await serverEntries(s, t.server.server.serverId)).toEqual([]);

    restoreKey();
    const fourth = await makeDoc(s.patient, s.patient.device, 'allergy', { n: 4 });
    expect(await push(s.phone, [fourth])).toMatchObject({ t: 'pushed' });
    const caughtUp = await s.doctor.waitFor(
      (f): f is Extract<ServerFrame, { t: 'changes' }> =>
        isChanges(f) && f.docs.some((d) => d.id === fourth.id),
    );
    // From the cursor it stood at, in one page: the two older records, the one held back, the new one.
    expect(delivered()).toEqual([]);
    const ids = caughtUp.docs.map((d) => d.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(ids.slice(2)).toEqual([third.id, fourth.id]);
    const entries = await serverEntries(s, t.server.server.serverId);
    expect(entries).toHaveLength(1);
  });
});
