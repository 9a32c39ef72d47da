// A provider that follows many patients reads more streams than one request may name
// (MAX_STREAMS_PER_REQUEST): a clinic's patients each grant several record types. Its device must still
// receive every consented stream. It once asked for all of them in one pull, which the server refuses as
// malformed, so the device never finished its initial sync and received nothing at all.
//
// The other patients' grants are written straight into the store (`insertRawGrants`), as granting them
// one by one through the protocol would make this test minutes long; their streams are empty. So are
// their accounts (`storedPatient`: the rows a registration stores, signed as a client signs them), made
// once for the file's one server: each test's provider is new and granted by as many of them as it needs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GRANTABLE_STREAM_TYPES, MAX_STREAMS_PAGE, MAX_STREAMS_PER_REQUEST } from '@hale/protocol';
import { insertRawGrants, registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { storedPatient } from '../support/stored-accounts';

const HOUR = 3600_000;

describe('a provider following more streams than one request may name', () => {
  let t: TestServer;
  const sessions: DeviceSession[] = [];
  /** Patients stored so far, the oldest first. */
  const patients: Array<{ accountId: string }> = [];
  beforeAll(async () => {
    t = await startServer({ realClock: true });
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });
  afterAll(() => t.stop());

  const scope = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));

  /**
   * A provider granted every type by `others` patients, then an allergy by a real patient's device, which
   * registers last so its streams come last in whatever order the server lists grants in (by issue time).
   * Answers once the provider's device is online and holds the allergy.
   */
  const clinic = async (others: number) => {
    const provider = await registerAccount(t, 'provider');
    while (patients.length < others) patients.push(await storedPatient(t));
    for (const patient of patients.slice(0, others)) {
      insertRawGrants(t.store, patient, provider, 1, { now: Date.now(), scope });
    }
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    const allergy = await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');

    const d = await openDevice(t, provider);
    sessions.push(d);
    await waitOnline(d);
    expect(d.sync.state().errors).toEqual([]);
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider has the allergy');
    return { provider, p, d };
  };

  it('receives the records of every consented stream and goes online', { timeout: 120_000 }, async () => {
    // Past the first request's worth of streams.
    const { p, d } = await clinic(Math.ceil((MAX_STREAMS_PER_REQUEST + 1) / scope.length));

    // Live: a record added now reaches the provider too (its stream is subscribed).
    const later = await p.records.add('Allergy', input('Allergy'));
    await eventually(
      async () => (await d.records.get(later.id)) !== null,
      'the provider has the new allergy',
    );
  });

  // The server's stream list comes in pages of MAX_STREAMS_PAGE (protocol version 7). The device takes a
  // stream missing from the list as access ended: reading only the first page, it dropped the rest.
  it('reads every page of the stream list and follows every stream', { timeout: 180_000 }, async () => {
    const others = Math.ceil((MAX_STREAMS_PAGE + 1) / scope.length);
    const { provider, d } = await clinic(others);
    const granted = d.engine.access().filter((a) => a.patientId !== provider.accountId);
    expect(granted.length).toBe(others * scope.length + 1);
  });
});
