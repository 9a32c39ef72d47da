// A provider device's metadata lies on its disk sealed, but the names of its entries (RxDB local documents'
// ids) lie there in clear. The audit log kept per-patient state under names made of the patient's account
// id (`audit-chain/<patient>`, `audit-kept/<patient>`, `audit-seen/<patient>`): on a provider's device, its
// patient list in clear, left there even after access ended. They are named by a keyed digest of the id,
// the same across restarts.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantWrite, openDevice, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/** The device database's local documents (device metadata) as the memory storage holds them: id → JSON. */
const localDocs = (dbName: string): Map<string, string> => {
  const out = new Map<string, string>();
  for (const [key, state] of getRxStorageMemory().collectionStates) {
    if (!key.startsWith(`${dbName}--`) || !key.includes('plugin-local-documents')) continue;
    // Removed documents too: RxDB keeps them (`_deleted`) until they are cleaned up.
    for (const [id, doc] of state.documents) out.set(id, JSON.stringify(doc));
  }
  return out;
};

/** The local documents whose id or stored text names one of `ids`. */
const naming = (dbName: string, ids: readonly string[]): string[] =>
  [...localDocs(dbName)]
    .filter(([id, text]) => ids.some((x) => id.includes(x) || text.includes(x)))
    .map(([id]) => id);

/** Positions of `author`'s chain in the patient's log as `reader` (a patient device) is served it. */
const positionsOf = async (reader: DeviceSession, author: string): Promise<number[]> =>
  (await reader.audit.fetchAll(reader.account.accountId))
    .filter((e) => e.author === author)
    .map((e) => e.audit?.authorSeq ?? 0)
    .sort((a, b) => a - b);

const problemsWith = async (reader: DeviceSession, author: string) =>
  (await reader.audit.verify()).problems.filter((x) => x.author === author);

/**
 * A provider device (database `dbName`) holding write consent from two patients, each of whom has the
 * provider's key verified; the provider's device has both streams.
 */
const providerOfTwo = async (t: TestServer, sessions: DeviceSession[], dbName: string) => {
  const now = () => t.clock.now;
  const first = await providerWithLabWrite(t, sessions, {
    lab: input('LabResult', { testName: 'ferritin' }),
    dbName,
    now,
  });
  const second: TestAccount = await registerAccount(t);
  const pb = await openDevice(t, second, { now });
  sessions.push(pb);
  await waitOnline(pb);
  await pb.consent.verifyProvider(first.provider.accountId);
  await grantWrite(pb, first.provider.accountId, 'lab-result', HOUR);
  const streamB = `${second.accountId}/lab-result`;
  await eventually(
    () => first.d.engine.access().some((a) => a.stream === streamB && a.access === 'write'),
    'the provider may write to the second patient',
  );
  return { ...first, t, sessions, now, second, pb, patients: [first.patient.accountId, second.accountId] };
};

/** `d` writes a lab result for each of `patients`; its audit entries for them are acknowledged. */
const writeFor = async (d: DeviceSession, patients: readonly string[], testName: string): Promise<void> => {
  for (const patientId of patients) {
    await d.records.add('LabResult', input('LabResult', { testName }), { patientId });
  }
  await d.audit.flushChanges();
  await eventually(async () => (await d.audit.pendingCount()) === 0, `the entries for ${testName} stored`);
};

/** The provider's device restarted on `dbName` writes again: each patient sees its chain whole, at 1, 2. */
const restartAndWriteAgain = async (f: Awaited<ReturnType<typeof providerOfTwo>>, dbName: string) => {
  const author = f.d.account.device.deviceId;
  const again = await openDevice(f.t, f.provider, { dbName, now: f.now });
  f.sessions.push(again);
  await waitOnline(again);
  await writeFor(again, f.patients, 'second visit');
  for (const reader of [f.p, f.pb]) {
    expect(await positionsOf(reader, author)).toEqual([1, 2]);
    expect(await problemsWith(reader, author)).toEqual([]);
  }
  return again;
};

const closeSession = async (sessions: DeviceSession[], s: DeviceSession): Promise<void> => {
  sessions.splice(sessions.indexOf(s), 1);
  await s.close();
};

describe("a provider device's audit metadata on its disk", () => {
  const server = useServer();
  const sessions = server.sessions;

  it('names none of its patients, and the same state is found again after a restart', async () => {
    const t = server.t;
    const dbName = `meta-keys-${Date.now()}`;
    const f = await providerOfTwo(t, sessions, dbName);
    const { d, p, pb, patients } = f;
    const author = d.account.device.deviceId;
    await writeFor(d, patients, 'first visit');
    expect(await positionsOf(p, author)).toEqual([1]);
    expect(await positionsOf(pb, author)).toEqual([1]);
    await closeSession(sessions, d);

    const names = [...localDocs(dbName).keys()];
    const audit = names.filter((id) => id.startsWith('meta-audit-chain') || id.startsWith('meta-audit-kept'));
    console.log(`audit metadata on disk: ${audit.join(', ')}`);
    // Per patient, its chain position and the entries kept for a restore (the provider's own account: a chain).
    expect(audit).toHaveLength(5);
    expect(naming(dbName, patients)).toEqual([]);

    // Restarted: the same chains continue (a state not found again would start at position 1: a fork).
    await closeSession(sessions, await restartAndWriteAgain(f, dbName));
    expect(naming(dbName, patients)).toEqual([]);
  });
});
