// `session.consent.change` through `openHale`, against a real server, with the patient's two devices and
// the clinician's device open at once: a change adds a kind, turns read into write and moves the end
// without re-keying what stays; a kind left out is re-keyed at once and nothing written after reaches the
// clinician; the grant replaced gives nothing beyond the new one (not revoked, not changed again, not
// changed twice at once from two devices); both sides see the change.
import { describe, expect, it } from 'vitest';
import { isHaleError, type GrantView, type HaleSession, type ReceivedGrant } from '@hale/client';
import { useServer } from '../support/fixture';
import { createdSession, joinedSession, online, useHaleSessions, when } from './hale-devices';

const DAY = 24 * 3_600_000;

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'done',
    (e: unknown) => (isHaleError(e) ? e.code : String(e)),
  );

const stateIn = (list: readonly GrantView[], id: string) => list.find((g) => g.grant.grantId === id)?.state;

/** A patient (two devices) and a clinician, the clinician's key compared by invite. */
const parties = async (url: string, sessions: HaleSession[]) => {
  const { session: laptop, loginName } = await createdSession(url, sessions);
  const phone = await joinedSession(url, sessions, loginName);
  const { session: clinic } = await createdSession(url, sessions, { role: 'provider' });
  await Promise.all([online(laptop), online(phone), online(clinic)]);
  await laptop.consent.acceptInvite(clinic.consent.invite());
  const chartOf = (list: readonly ReceivedGrant[]) =>
    list.find((c) => c.patientId === laptop.account.accountId);
  return { laptop, phone, clinic, chartOf, patientId: laptop.account.accountId };
};

describe('session.consent.change', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('adds a kind, turns read into write and extends the end, re-keying nothing; both sides see it', async () => {
    const { laptop, phone, clinic, chartOf, patientId } = await parties(server.t.url, sessions);
    const clinicId = clinic.account.accountId;
    const first = await laptop.consent.grant({
      granteeId: clinicId,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'lab-result', access: 'read' },
      ],
      durationMs: DAY,
      purpose: 'allergy review',
    });
    await laptop.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'severe',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await when(clinic.records.list('Allergy', { patientId }), (p) => p.total === 1, 'the clinician has it');

    const changed = await laptop.consent.change(first.grant.grantId, {
      scope: [
        { type: 'allergy', access: 'write' },
        { type: 'lab-result', access: 'read' },
        { type: 'condition', access: 'read' },
      ],
      durationMs: 30 * DAY,
    });
    // Kept kinds, read or write, keep their keys: nothing was minted.
    expect(changed).toMatchObject({ rotated: [], pending: [] });
    expect(changed.grant.grant).toMatchObject({ supersedes: first.grant.grantId, granteeId: clinicId });
    // The purpose stays the grant's own unless another is given.
    const listed = await when(laptop.consent.grants, (g) => g.length === 2, 'both grants listed');
    expect(stateIn(listed, first.grant.grantId)).toBe('replaced');
    expect(stateIn(listed, changed.grant.grant.grantId)).toBe('active');
    expect(listed.find((g) => g.grant.grantId === changed.grant.grant.grantId)?.purpose).toBe(
      'allergy review',
    );

    // The patient's other device learns both from the server's list.
    phone.consent.refresh();
    const onPhone = await when(
      phone.consent.grants,
      (g) =>
        stateIn(g, first.grant.grantId) === 'replaced' &&
        stateIn(g, changed.grant.grant.grantId) === 'active',
      'the phone lists the change',
    );
    expect(onPhone.find((g) => g.grant.grantId === first.grant.grantId)?.supersededBy).toBe(
      changed.grant.grant.grantId,
    );

    // The clinician sees the new kinds, the write access and the new end, without a gap.
    const shared = await when(
      clinic.consent.grantsReceived,
      (list) => chartOf(list)?.streams.length === 3 && chartOf(list)?.streams[0]?.access === 'write',
      'the clinician lists the changed chart',
    );
    expect(chartOf(shared)?.streams.map((s) => [s.type, s.access, s.expiresAt])).toEqual([
      ['allergy', 'write', changed.grant.grant.expiresAt],
      ['condition', 'read', changed.grant.grant.expiresAt],
      ['lab-result', 'read', changed.grant.grant.expiresAt],
    ]);
    // The allergy it held stays: access never lapsed, nothing was purged.
    expect((await clinic.records.query('Allergy', { patientId })).total).toBe(1);

    // Now they may add an allergy, and the patient's devices take it as theirs to show.
    await clinic.records.add(
      'Allergy',
      { substance: 'Latex', severity: 'mild', recordedAt: new Date().toISOString(), active: true },
      { patientId },
    );
    await clinic.sync.awaitInSync();
    await when(
      laptop.records.list('Allergy'),
      (p) => p.total === 2,
      'the patient has the clinician’s allergy',
    );
    await when(phone.records.list('Allergy'), (p) => p.total === 2, 'and on the phone');
  });

  it('a kind left out is re-keyed at once: the clinician loses it and nothing written after reaches them', async () => {
    const { laptop, clinic, chartOf, patientId } = await parties(server.t.url, sessions);
    const first = await laptop.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'condition', access: 'read' },
      ],
      durationMs: 7 * DAY,
      purpose: 'second opinion',
    });
    await laptop.records.add('Condition', { name: 'Asthma', clinicalStatus: 'active' });
    await when(clinic.records.list('Condition', { patientId }), (p) => p.total === 1, 'the clinician has it');

    const changed = await laptop.consent.change(first.grant.grantId, {
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 2 * DAY,
    });
    // The condition stream alone was re-keyed.
    expect(changed.rotated.map((r) => r.stream)).toEqual([`${patientId}/condition`]);
    expect(changed.pending).toEqual([]);
    await when(
      clinic.consent.grantsReceived,
      (list) =>
        chartOf(list)
          ?.streams.map((s) => s.type)
          .join() === 'allergy' && chartOf(list)?.ended.some((e) => e.type === 'condition') === true,
      'the clinician lists condition as ended',
    );

    // Written after the change: the allergy reaches the clinician, the condition does not.
    await laptop.records.add('Condition', { name: 'Migraine', clinicalStatus: 'active' });
    await laptop.records.add('Allergy', {
      substance: 'Peanuts',
      severity: 'severe',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await laptop.sync.awaitInSync();
    await when(clinic.records.list('Allergy', { patientId }), (p) => p.total === 1, 'the later allergy');
    await clinic.sync.awaitInSync();
    expect((await clinic.records.query('Condition', { patientId })).total).toBe(0);
  });

  // Real timers in this one test: the end is 3 s away, and both the server and the devices keep it.
  it('an end brought forward ends access then, re-keyed as an expiry is', async () => {
    const { laptop, clinic, chartOf } = await parties(server.t.url, sessions);
    const first = await laptop.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 30 * DAY,
      purpose: 'care',
    });
    await when(clinic.consent.grantsReceived, (list) => chartOf(list)?.state === 'active', 'shared');
    const changed = await laptop.consent.change(first.grant.grantId, {
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 3_000,
    });
    // Nothing is rotated by the change itself: the kind is kept.
    expect(changed.rotated).toEqual([]);
    await when(
      clinic.consent.grantsReceived,
      (list) => chartOf(list)?.state === 'ended',
      'ended at the new end',
    );
    // The list is read again every minute while shown: asked now, until the re-keying is done.
    const ticking = setInterval(() => laptop.consent.refresh(), 250);
    const listed = await when(
      laptop.consent.grants,
      (g) => stateIn(g, changed.grant.grant.grantId) === 'expired',
      'the new grant expired and re-keyed',
    ).finally(() => clearInterval(ticking));
    expect(stateIn(listed, first.grant.grantId)).toBe('replaced');
  });

  it('the grant replaced gives nothing beyond the new one: no revoke, no second change, one of two at once', async () => {
    const { laptop, phone, clinic, chartOf, patientId } = await parties(server.t.url, sessions);
    const first = await laptop.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [{ type: 'allergy', access: 'write' }],
      durationMs: 7 * DAY,
      purpose: 'care',
    });
    phone.consent.refresh();
    await when(phone.consent.grants, (g) => g.length === 1, 'the phone lists the grant');

    // The two devices change it at the same moment: one change stands, the other is refused.
    const outcomes = await Promise.all([
      codeOf(
        laptop.consent.change(first.grant.grantId, {
          scope: [{ type: 'allergy', access: 'read' }],
          durationMs: DAY,
        }),
      ),
      codeOf(
        phone.consent.change(first.grant.grantId, {
          scope: [{ type: 'allergy', access: 'read' }],
          durationMs: 3 * DAY,
        }),
      ),
    ]);
    expect(outcomes.filter((o) => o === 'done')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'done')).toEqual([
      expect.stringMatching(/^(GRANT_NOT_SUPERSEDABLE|GRANT_ENDED)$/),
    ]);
    laptop.consent.refresh();
    const listed = await when(laptop.consent.grants, (g) => g.length === 2, 'one change listed');
    const current = listed.find((g) => g.state === 'active');
    expect(current?.grant.supersedes).toBe(first.grant.grantId);

    // The replaced grant can be neither changed again nor revoked: it ended.
    expect(
      await codeOf(
        laptop.consent.change(first.grant.grantId, {
          scope: [{ type: 'allergy', access: 'write' }],
          durationMs: DAY,
        }),
      ),
    ).toBe('GRANT_ENDED');

    // Its write access is gone on the clinician's device: the new grant is read only.
    await when(
      clinic.consent.grantsReceived,
      (list) => chartOf(list)?.streams[0]?.access === 'read',
      'the clinician reads only',
    );
    expect(
      await codeOf(
        clinic.records.add(
          'Allergy',
          { substance: 'Latex', severity: 'mild', recordedAt: new Date().toISOString(), active: true },
          { patientId },
        ),
      ),
    ).toBe('NOT_WRITABLE');

    // Revoking the new grant ends it all: the chart is ended for the clinician.
    await laptop.consent.revoke(current!.grant.grantId);
    await when(clinic.consent.grantsReceived, (list) => chartOf(list)?.state === 'ended', 'the chart ended');
  });
});
