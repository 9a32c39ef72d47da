// A device whose chain state went back (two copies of one device, as two browser tabs were before the
// device lock) appends an entry at a position it already holds in a patient's log. The server refuses it
// APPEND_ONLY, naming where it holds the device's chain end; the device neither resends it for ever nor
// gives it up: it re-signs it after that end. The patient's log keeps one entry at each position, so the
// patient's devices verify it whole. (A device rolled back by a backup: audit-position-continue.e2e.)
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, openPatientAndProvider, waitOnline } from '../support/devices';

describe('an audit entry at a chain position its device already holds', () => {
  const server = useServer({ realClock: true });

  it('is refused, then continued after the chain end the server names; the log stays whole', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await grantRead(p, provider.accountId, 'allergy', 3600_000, 'follow-up');
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(0);

    // The same device from another copy of its local state: its chain for the patient starts over.
    const copy = await openDevice(t, provider, { device: provider.device });
    server.sessions.push(copy);
    await waitOnline(copy);
    await copy.audit.append(patient.accountId, { action: 'record-viewed' });
    await copy.audit.flush();
    expect(await copy.audit.pendingCount()).toBe(0);
    // (Its entry in its own account's log collides the same way: counted apart.)
    const about = (kind: string) =>
      copy.audit.issues().filter((i) => i.startsWith(kind) && i.includes(patient.accountId));
    expect(about('APPEND_ONLY')).toHaveLength(1);
    expect(about('AUDIT_CHAIN_CONTINUED')).toHaveLength(1);
    expect(about('AUDIT_GIVEN_UP')).toEqual([]);
    // Nothing left to resend.
    await copy.audit.flush();
    expect(about('APPEND_ONLY')).toHaveLength(1);

    const served = (await p.audit.fetchAll(patient.accountId)).filter(
      (e) => e.author === provider.device.keys.deviceId,
    );
    expect(served.map((e) => e.audit?.authorSeq)).toEqual([1, 2]);
    await eventually(async () => (await p.audit.verify()).ok, 'the log verifies whole');
  });
});
