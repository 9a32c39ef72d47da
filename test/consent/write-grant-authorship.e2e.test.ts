// A provider's record is signed by one of its certified devices, which proves who wrote it, not that the
// patient let that account write. The server refuses pushes from read-only grantees, but a hostile server
// (or one whose store was altered) can take them: the patient's devices hold the grants the patient signed
// and refuse a version whose author held no write grant covering its stream at the version's time
// (NO_WRITE_GRANT). The server's misbehaviour is played by altering its store: the grant row's `scope` or
// `expires_at` (which the server decides access by) while the signed grant it lists to the patient stays
// genuine.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  grantWrite,
  interceptedWebSocket,
  openDevice,
  openPatientAndProvider,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/** The server's own view of a grant, as a hostile server would change it: the signed grant is left alone. */
const alterGrantRow = (t: TestServer, granteeId: string, set: 'scope' | 'expires_at', value: string) => {
  const changed = t.store.db
    .prepare(`UPDATE grants SET ${set} = ? WHERE grantee_id = ?`)
    .run(value, granteeId).changes;
  expect(changed).toBe(1);
};

/** Waits until `s` either stored record `id` or set it aside; answers its quarantine entries for it. */
const judged = async (s: DeviceSession, id: string) => {
  await eventually(
    async () => s.sync.quarantine().some((q) => q.id === id) || (await s.records.get(id)) !== null,
    'the device took or set aside the served version',
  );
  return s.sync.quarantine().filter((q) => q.id === id);
};

describe('records written by accounts the patient did not let write', () => {
  const server = useServer({ realClock: true });

  it("a read-only grantee's signed lab result, taken by the server, is set aside on the patient's devices (NO_WRITE_GRANT)", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const reader = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    const patientId = patient.accountId;
    const stream = `${patientId}/lab-result`;
    await p.consent.verifyProvider(reader.accountId);
    await grantRead(p, reader.accountId, 'lab-result', 24 * HOUR, 'second opinion');
    // The server now lets the read-only grantee write; its devices learn it at their next listing.
    alterGrantRow(t, reader.accountId, 'scope', JSON.stringify([{ type: 'lab-result', access: 'write' }]));
    const r = await openDevice(t, reader);
    server.sessions.push(r);
    await waitOnline(r);
    await eventually(() => r.engine.writable(stream), 'the server lets the reader write');

    // Signed by the reader's genuine certified device: authorship and signature verify.
    const forged = await r.records.add('LabResult', input('LabResult', { value: 412 }), { patientId });
    await allPushed(r);

    const entries = await judged(p, forged.id);
    expect(entries.map((q) => [q.stream, q.reason])).toEqual([[stream, 'NO_WRITE_GRANT']]);
    expect(entries[0]?.message).toContain(reader.accountId);
    expect(await p.records.get(forged.id)).toBeNull();
    expect(await p.records.query('LabResult')).toEqual([]);
    expect(p.sync.state().errors.find((e) => e.code === 'QUARANTINED' && e.id === forged.id)).toBeDefined();

    // Another device of the patient, syncing from scratch, learns the (read) grant and refuses it too.
    const q = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(q);
    expect((await judged(q, forged.id)).map((x) => x.reason)).toEqual(['NO_WRITE_GRANT']);
    await waitOnline(q);
    expect(await q.records.get(forged.id)).toBeNull();
  });

  it('a lab result dated after the end of the write grant the patient signed is refused, one dated within it shown', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    // Both devices of the provider are certified before the patient's device first lists its devices.
    const second = await addDevice(t, provider);
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    const patientId = patient.accountId;
    const stream = `${patientId}/lab-result`;
    await p.consent.verifyProvider(provider.accountId);
    await grantWrite(p, provider.accountId, 'lab-result', HOUR);
    // The server keeps the grant in force for a year; the grant the patient signed ends in an hour.
    alterGrantRow(t, provider.accountId, 'expires_at', new Date(Date.now() + 365 * 24 * HOUR).toISOString());

    // A device of the provider two hours ahead dates its write after the signed end.
    const late = await openDevice(t, provider, { now: () => Date.now() + 2 * HOUR });
    server.sessions.push(late);
    await waitOnline(late);
    await eventually(() => late.engine.writable(stream), 'the provider device may write');
    const after = await late.records.add('LabResult', input('LabResult', { value: 77 }), { patientId });
    await allPushed(late);
    // One on time, from a device whose clock is right.
    const d = await openDevice(t, provider, { device: second });
    server.sessions.push(d);
    await waitOnline(d);
    await eventually(() => d.engine.writable(stream), 'the provider device may write');
    const onTime = await d.records.add('LabResult', input('LabResult', { value: 98 }), { patientId });
    await allPushed(d);

    expect((await judged(p, after.id)).map((q) => q.reason)).toEqual(['NO_WRITE_GRANT']);
    expect(await p.records.get(after.id)).toBeNull();
    await eventually(
      async () => (await p.records.get(onTime.id)) !== null,
      'the patient shows the one on time',
    );
    expect((await p.records.get<'LabResult'>(onTime.id))?.record.value).toBe(98);
    expect(p.sync.quarantine().map((q) => q.id)).toEqual([after.id]);
  });

  it("a patient device connected while another of the patient's devices grants shows the grantee's write at once, with no issue", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    // Reads the server's grant list at its connect and then every 5 minutes (the default).
    const q = await openDevice(t, patient, { device: await addDevice(t, patient) });
    const d = await openDevice(t, provider);
    server.sessions.push(p, q, d);
    await Promise.all([waitOnline(p), waitOnline(q), waitOnline(d)]);
    const patientId = patient.accountId;
    const stream = `${patientId}/lab-result`;
    await p.consent.verifyProvider(provider.accountId);
    await grantWrite(p, provider.accountId, 'lab-result', 24 * HOUR);
    await eventually(() => d.engine.writable(stream), 'the provider may write');
    const issues: string[] = [];
    const seen = q.sync.state$.subscribe((s) => {
      for (const e of s.errors) if (e.code === 'QUARANTINED') issues.push(e.message);
    });
    const lab = await d.records.add('LabResult', input('LabResult', { value: 98 }), { patientId });
    await allPushed(d);

    // A legitimate write is not set aside until the next reading of the list: the device reads it when
    // its copy lets the writer write nothing then.
    await eventually(
      async () => (await q.records.get(lab.id)) !== null,
      'the other patient device shows it',
      10_000,
    );
    seen.unsubscribe();
    expect(issues).toEqual([]);
    expect(q.sync.quarantine()).toEqual([]);
    expect((await q.consent.list()).map((g) => g.grant.granteeId)).toEqual([provider.accountId]);
  });

  it('a second patient device that learns the write grant late sets the lab result aside, then shows it', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const patientId = patient.accountId;
    const stream = `${patientId}/lab-result`;
    await p.consent.verifyProvider(provider.accountId);
    await grantWrite(p, provider.accountId, 'lab-result', 24 * HOUR);
    await eventually(() => d.engine.writable(stream), 'the provider may write');
    const lab = await d.records.add('LabResult', input('LabResult', { value: 98 }), { patientId });
    await allPushed(d);
    // The device that made the grant shows the provider's lab result.
    await eventually(async () => (await p.records.get(lab.id)) !== null, 'the patient shows the lab result');

    // A new device of the patient is told of no grant at first (the server's grant listings reach it
    // empty), so it cannot tell the provider was let write.
    let hideGrants = true;
    const hidden = interceptedWebSocket({
      received: (text, deliver) => {
        const frame = JSON.parse(text) as { t?: string; rid?: unknown };
        if (hideGrants && frame.t === 'grants')
          deliver(JSON.stringify({ t: 'grants', rid: frame.rid, grants: [] }));
        else deliver();
      },
    });
    const q = await openDevice(t, patient, {
      device: await addDevice(t, patient),
      createWebSocket: hidden,
      grantRefreshMs: 500,
    });
    server.sessions.push(q);
    expect((await judged(q, lab.id)).map((x) => x.reason)).toEqual(['NO_WRITE_GRANT']);
    expect(await q.records.get(lab.id)).toBeNull();
    expect(await q.consent.list()).toEqual([]);

    // Its next reading of the grant list brings the grant: the lab result is fetched again and shown.
    hideGrants = false;
    await eventually(
      async () => (await q.records.get(lab.id)) !== null,
      'the second device shows it',
      20_000,
    );
    expect((await q.records.get<'LabResult'>(lab.id))?.record.value).toBe(98);
    await eventually(() => q.sync.quarantine().length === 0, 'the entry leaves the quarantine');
    await eventually(
      () => !q.sync.state().errors.some((e) => e.code === 'QUARANTINED'),
      'its issue ends with it',
    );
  });
});
