// Dismissing a quarantine entry is a person setting aside what may be someone's clinical content: it is
// written to the patient's signed audit log (one `quarantine-dismiss` entry per patient per call, naming
// the versions, never their content), before it is stored; a refused dismissal writes nothing.
import { describe, expect, it } from 'vitest';
import { lock, type DeviceSession, type OpenedEntry, type UnlockedAccount } from '@hale/client/advanced';
import { flipStoredCiphertext, useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  newDevice,
  openDevice,
  patientWithAuditedGrant,
  providerWithLabWrite,
  sessionAccount,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const DISMISS = 'quarantine-dismiss';

/** This device's own appends of dismissals (delivered or still in its outbox). */
const ownDismissals = async (s: DeviceSession) =>
  (await s.audit.ownActions()).filter((a) => a.body.action === DISMISS);

/** The dismissal entries of the patient's log as served and verified, read by one of its devices. */
const servedDismissals = async (s: DeviceSession): Promise<OpenedEntry[]> =>
  (await s.audit.entries()).filter((e) => e.body.kind === 'AuditEntry' && e.body.action === DISMISS);

const failureOf = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => null,
    (e: unknown) => e,
  );

describe('a quarantine entry dismissed, in the audit log', () => {
  const server = useServer({ realClock: true });

  it('on the patient’s device: one entry in the patient’s log, listed as the patient’s own; refusals write none', async () => {
    const { provider, p, d, lab, stream, patient } = await providerWithLabWrite(server.t, server.sessions, {
      lab: input('LabResult', { value: 98 }),
    });
    // A second device of the patient, whose account object can be locked without closing the first.
    const account: UnlockedAccount = {
      ...sessionAccount(patient, await newDevice(server.t, patient)),
      deviceName: 'second',
    };
    const p2 = await openDevice(server.t, patient, { sessionAccount: account });
    server.sessions.push(p2);
    await eventually(async () => (await p2.records.get(lab.id)) !== null, 'p2 holds the lab');
    await Promise.all([waitOnline(p), waitOnline(p2), waitOnline(d)]);

    // The grantee's modified client changes the value in place instead of writing its next version.
    const doc = await d.db.records.findOne(lab.id).exec();
    if (!doc) throw new Error('the provider does not hold the lab');
    await doc.incrementalModify((stored) => ({
      ...stored,
      rv: stored.rv + 1,
      updatedAt: new Date().toISOString(),
      author: d.account.device.deviceId,
      by: d.account.accountId,
      data: { ...stored.data, value: 140, version: 1, versions: [] },
    }));
    await allPushed(d);
    await eventually(() => p2.sync.quarantine().some((q) => q.id === lab.id), 'p2 sets it aside');
    const entry = p2.sync.quarantine().find((q) => q.id === lab.id)!;
    expect(entry.reason).toBe('BAD_TRANSITION');
    expect(await ownDismissals(p2)).toEqual([]);

    // Refused: an entry not listed (beside one that is); nothing is dismissed or written.
    const unknown = { stream, id: lab.id, rev: `9-${'0'.repeat(24)}` };
    expect(await failureOf(p2.sync.dismissQuarantined(entry, unknown))).toMatchObject({
      code: 'NOT_QUARANTINED',
    });
    expect(p2.sync.quarantine()).toHaveLength(1);
    expect(await ownDismissals(p2)).toEqual([]);

    await p2.sync.dismissQuarantined(entry);
    expect(p2.sync.quarantine()).toEqual([]);
    const own = await ownDismissals(p2);
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({
      patientId: patient.accountId,
      body: {
        kind: 'AuditEntry',
        action: DISMISS,
        actorId: patient.accountId,
        actorDeviceId: account.device.deviceId,
        stream,
        count: 1,
        summary: `dismissed 1 quarantined version: lab-result ${lab.id} rev ${entry.rev} BAD_TRANSITION by ${provider.accountId}`,
      },
    });

    // Sent at once, and read back by the patient's other device as the patient's own entry.
    await eventually(async () => (await p2.audit.pendingCount()) === 0, 'the entry is stored');
    const served = await servedDismissals(p);
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({
      source: 'patient',
      authorAccountId: patient.accountId,
      author: account.device.deviceId,
      body: own[0]!.body,
    });
    // A patient's own action, not an access to the record: not in "who saw my records".
    expect((await p.audit.whoAccessed()).filter((a) => a.action === DISMISS)).toEqual([]);

    // Dismissed already, then locked: refused, and nothing more written.
    expect(await failureOf(p2.sync.dismissQuarantined(entry))).toMatchObject({ code: 'NOT_QUARANTINED' });
    lock(account);
    expect(await failureOf(p2.sync.dismissQuarantined(entry))).toMatchObject({
      name: 'AccountError',
      code: 'LOCKED',
    });
    expect(await ownDismissals(p2)).toHaveLength(1);
  });

  it('on a grantee’s device: the entry goes to the patient’s log, listed there as the grantee’s claim', async () => {
    const { provider, p, d } = await patientWithAuditedGrant(server.t, server.sessions);
    // Written while the provider is away, and altered by the server before it pulls it.
    d.sync.goOffline();
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(p);
    flipStoredCiphertext(server.t, allergy.id);
    d.sync.goOnline();
    await eventually(
      () => d.sync.quarantine().some((q) => q.id === allergy.id),
      'the provider sets it aside',
    );
    const entry = d.sync.quarantine().find((q) => q.id === allergy.id)!;
    expect(entry.reason).toBe('TAMPERED');

    await d.sync.dismissQuarantined(entry);
    const own = await ownDismissals(d);
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({
      patientId: p.account.accountId,
      body: {
        action: DISMISS,
        actorId: provider.accountId,
        stream: entry.stream,
        count: 1,
        summary: `dismissed 1 quarantined version: allergy ${allergy.id} rev ${entry.rev} TAMPERED`,
      },
    });
    await eventually(async () => (await d.audit.pendingCount()) === 0, 'the entry is stored');
    const served = await servedDismissals(p);
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ source: 'grantee', authorAccountId: provider.accountId });
    const claims = (await p.audit.whoAccessed()).filter((a) => a.action === DISMISS);
    expect(claims).toEqual([
      expect.objectContaining({ source: 'grantee', actorId: provider.accountId, stream: entry.stream }),
    ]);
  });
});
