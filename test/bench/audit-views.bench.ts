// What a patient's audit views cost as the log grows: a log of AUDIT_BENCH_ENTRIES entries (default 5,000:
// the server's access events of a provider's reads, and a second patient device's record changes, half
// each, interleaved) written straight into a real server's store, then a patient device times two
// consecutive `whoAccessed()` calls, one more after a few new entries, `verify()`, and `whoAccessed()`
// with the connection down. The patient device has what @hale/platform-node gives a device: libsodium's
// secretbox (installed for the thread, `useSecretbox`) and node:crypto's Ed25519 verifying in the threadpool.
// Run: npm run bench:audit   (prints one JSON line)
import { makeAuditEntry, type DeviceSession } from '@hale/client/advanced';
import { loadSodiumSecretbox, useSecretbox } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { AuditEntryBody, AccessEventBody } from '@hale/protocol';
import { addDevice, registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import { ed, openDevice, waitOnline, x25519 } from '../support/devices';

const ENTRIES = Number(process.env['AUDIT_BENCH_ENTRIES'] ?? 5_000);
const BATCH = 500;

interface Author {
  deviceId: string;
  secretKey: Uint8Array;
  chain: { seq: number; hash: string | null };
}

const write = async (
  t: TestServer,
  patientId: string,
  wrapping: Uint8Array,
  authors: { server: Author; device: Author },
  bodies: Array<{ by: 'server' | 'device'; body: AuditEntryBody | AccessEventBody }>,
): Promise<void> => {
  let clock = Date.now() - bodies.length * 60_000;
  for (let done = 0; done < bodies.length; done += BATCH) {
    const rows = [];
    for (const { by, body } of bodies.slice(done, done + BATCH)) {
      const author = authors[by];
      const now = (clock += 60_000);
      const made = await makeAuditEntry({
        patientId,
        patientWrappingKey: wrapping,
        device: author,
        ed,
        x25519,
        chain: author.chain,
        body: { ...body, at: new Date(now).toISOString() },
        now: () => now,
      });
      author.chain = made.chain;
      const ct = Buffer.from(made.doc.ct, 'base64url');
      rows.push({ doc: { ...made.doc, ct, size: ct.length }, assumedRev: null });
    }
    await t.store.docs.writeDocs(rows, new Date().toISOString());
  }
};

/** Wall time, and the process's CPU time (all its threads: the server's too, which runs in it). */
const time = async <T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> => {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(cpu);
  return {
    ms: Math.round(performance.now() - start),
    cpuMs: Math.round((used.user + used.system) / 1000),
    value,
  };
};

useSecretbox(await loadSodiumSecretbox());
const t = await startServer({ realClock: true, config: { auditEntriesPerAccountPerDay: 1_000_000 } });
let p: DeviceSession | null = null;
try {
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const second = await addDevice(t, patient);
  const identity = t.server.server;
  const authors = {
    server: { deviceId: identity.serverId, secretKey: identity.secretKey, chain: { seq: 0, hash: null } },
    device: { deviceId: second.deviceId, secretKey: second.keys.secretKey, chain: { seq: 0, hash: null } },
  };
  const actor = { actorId: provider.accountId, actorDeviceId: provider.device.deviceId, at: '' };
  const deviceActor = { actorId: patient.accountId, actorDeviceId: second.deviceId, at: '' };
  const bodies = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) =>
      (from + i) % 2 === 0
        ? {
            by: 'server' as const,
            body: {
              kind: 'AccessEvent' as const,
              action: 'pull',
              ...actor,
              stream: `${patient.accountId}/allergy` as const,
              count: 1 + ((from + i) % 7),
            },
          }
        : {
            by: 'device' as const,
            body: {
              kind: 'AuditEntry' as const,
              action: 'records-changed',
              ...deviceActor,
              summary: '3 record change(s)',
              changes: [0, 1, 2].map((k) => ({
                action: 'update' as const,
                kind: 'Allergy',
                id: `01J${String(from + i).padStart(8, '0')}${k}ABCDEFGHJKMNPQ`.slice(0, 26),
              })),
            },
          },
    );
  const wrapping = patient.keys.wrapping.publicKey;
  const built = await time(() => write(t, patient.accountId, wrapping, authors, bodies(ENTRIES, 0)));

  p = await openDevice(t, patient, { ed: createNodeEd25519({ verify: 'threadpool' }) });
  await waitOnline(p);
  const session = p;
  const fetched = await time(() => session.audit.fetchAll(patient.accountId));
  const first = await time(() => session.audit.whoAccessed());
  const second1 = await time(() => session.audit.whoAccessed());
  await write(t, patient.accountId, wrapping, authors, bodies(10, ENTRIES));
  const afterTen = await time(() => session.audit.whoAccessed());
  const verify = await time(() => session.audit.verify());
  const afterVerify = await time(() => session.audit.whoAccessed());
  const result = {
    entries: ENTRIES,
    buildMs: built.ms,
    fetchAllMs: fetched.ms,
    firstWhoAccessedMs: first.ms,
    firstWhoAccessedCpuMs: first.cpuMs,
    secondWhoAccessedMs: second1.ms,
    afterTenNewMs: afterTen.ms,
    verifyMs: verify.ms,
    verifyCpuMs: verify.cpuMs,
    whoAccessedAfterVerifyMs: afterVerify.ms,
    listed: [first.value.length, second1.value.length, afterTen.value.length, afterVerify.value.length],
    verifyOk: verify.value.ok,
    issues: session.audit.issues(),
  };
  console.log(JSON.stringify(result));
} finally {
  await p?.close();
  await t.stop();
}
