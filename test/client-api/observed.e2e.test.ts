// What a screen shows, through the public surface against a real server: a clinician's list of shared
// charts and the patient's grants with their states, a record's history, a second device's first-sync
// progress, downloads and uploads with progress, and the directory search as an Observed.
import { describe, expect, it } from 'vitest';
import type { GrantView, ReceivedGrant } from '@hale/client';
import { useServer } from '../support/fixture';
import { createdSession, joinedSession, online, useHaleSessions, when } from './hale-devices';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('HaleSession observables', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it("consent: the clinician's shared charts and the patient's grants, with their states, through a revocation", async () => {
    const { session: patient } = await createdSession(server.t.url, sessions);
    const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await Promise.all([online(patient), online(clinic)]);
    const patientId = patient.account.accountId;
    const allergy = await patient.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'moderate',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await patient.sync.awaitInSync();
    expect(clinic.consent.grantsReceived.get()).toEqual([]);

    // The clinician's invite (its QR code or link), accepted: the key compared and pinned. Both sides
    // compute the same safety number (what two screens compare QR to QR).
    const clinicId = clinic.account.accountId;
    expect(await patient.consent.describeProvider(clinicId)).toMatchObject({ verified: 'no' });
    expect(clinic.consent.invite()).toMatch(new RegExp(`^hale-invite:1:${clinicId}:[0-9a-f]{32}$`));
    await patient.consent.acceptInvite(clinic.consent.invite());
    const described = await patient.consent.describeProvider(clinicId);
    expect(described.verified).toBe('yes');
    expect((await clinic.consent.describeProvider(patientId)).safetyNumber).toBe(described.safetyNumber);
    const lasting = await patient.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 30 * DAY,
      purpose: 'allergy review',
    });
    const ending = await patient.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [{ type: 'medication', access: 'read' }],
      durationMs: 12 * HOUR,
      purpose: 'one visit',
    });
    const given = await when(patient.consent.grants, (g) => g.length === 2, 'both grants listed');
    const stateOf = (list: readonly GrantView[], id: string) =>
      list.find((g) => g.grant.grantId === id)?.state;
    expect(stateOf(given, lasting.grant.grantId)).toBe('active');
    // A 12-hour grant is `expiring` only in its last fifth (grant-views.test.ts): active when just given.
    expect(stateOf(given, ending.grant.grantId)).toBe('active');

    const chartOf = (list: readonly ReceivedGrant[]) => list.find((c) => c.patientId === patientId);
    const shared = await when(
      clinic.consent.grantsReceived,
      (list) => chartOf(list)?.streams.length === 2,
      'the clinician lists the shared chart',
    );
    // The soonest end is the 12-hour grant's, within the week the clinician goes by: the chart is expiring.
    expect(chartOf(shared)).toMatchObject({
      state: 'expiring',
      endsAt: ending.grant.expiresAt,
      streams: [
        { type: 'allergy', access: 'read', grantId: lasting.grant.grantId },
        { type: 'medication', access: 'read', grantId: ending.grant.grantId },
      ],
      ended: [],
    });
    await when(
      clinic.records.list('Allergy', { patientId }),
      (p) => p.total === 1,
      'the clinician has the allergy',
    );

    await patient.consent.revoke(lasting.grant.grantId);
    await patient.consent.revoke(ending.grant.grantId);
    const revoked = await when(
      patient.consent.grants,
      (g) => g.every((x) => x.status === 'revoked'),
      'both grants revoked',
    );
    // Re-keyed when revoke answered: nothing is left to rotate.
    expect(revoked.map((g) => g.state)).toEqual(['revoked', 'revoked']);
    const ended = await when(
      clinic.consent.grantsReceived,
      (list) => chartOf(list)?.state === 'ended' && chartOf(list)?.ended.length === 2,
      'the clinician lists the chart as ended',
    );
    expect(chartOf(ended)?.streams).toEqual([]);
    expect(chartOf(ended)?.ended.map((e) => [e.type, e.reason, e.purged])).toEqual([
      ['allergy', 'revoked', 1],
      ['medication', 'revoked', 0],
    ]);
    expect(await clinic.records.get(allergy.id)).toBeNull();
  });

  it("records.history: a lab result's versions, newest first, each with its reason", async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const lab = await session.records.add('LabResult', {
      testName: 'Glucose',
      status: 'final',
      value: 98,
      units: 'mg/dL',
      effectiveAt: '2025-05-01T08:10:00.000Z',
      version: 1,
      provenance: {
        by: session.account.accountId,
        deviceId: session.account.deviceId,
        at: new Date().toISOString(),
        reason: 'first result',
      },
      versions: [],
    });
    const history = session.records.history<'LabResult'>(lab.id);
    const first = await when(history, (h) => h !== null, 'the history is read');
    expect(first?.versions.map((v) => [v.version, v.current, v.reason])).toEqual([[1, true, 'first result']]);
    await session.records.update('LabResult', lab.id, { value: 89 }, { reason: 'transcription error' });
    const second = await when(history, (h) => h?.versions.length === 2, 'the new version shows');
    expect(second?.versions.map((v) => [v.version, v.current, v.reason, v.content['value']])).toEqual([
      [2, true, 'transcription error', 89],
      [1, false, 'first result', 98],
    ]);
    expect(second?.versions[0]?.by).toBe(session.account.accountId);
  });

  it("sync.initialSync: a second device's first sync counts the records it fetches, n of m", async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    for (let i = 0; i < 12; i++) {
      await laptop.records.add('Allergy', {
        substance: `Substance ${i}`,
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
      });
    }
    await laptop.sync.awaitInSync();
    const phone = await joinedSession(server.t.url, sessions, loginName);
    const seen: Array<[number, number]> = [];
    const stop = phone.sync.initialSync.subscribe(() => {
      const p = phone.sync.initialSync.get();
      seen.push([p.done, p.total]);
    });
    const done = await when(
      phone.sync.initialSync,
      (p) => p.complete && p.total >= 12,
      'the first sync completes',
    );
    stop();
    expect(done.done).toBe(done.total);
    // Never going down.
    expect(seen.every(([d, t], i) => i === 0 || (d >= seen[i - 1]![0] && t >= seen[i - 1]![1]))).toBe(true);
    const phoneAllergies = phone.records.list('Allergy');
    // Before the store answered, the list says so (not "none").
    expect(phoneAllergies.get()).toEqual({ items: [], total: 0, loading: true });
    const all = await when(phoneAllergies, (p) => p.total === 12, 'all on the phone');
    expect([all.total, all.loading]).toEqual([12, undefined]);
  });

  it('files: a download lists its progress while it runs; a queued upload its share confirmed', async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    await online(laptop);
    // Three chunks of a MiB at most: the upload and the download each report progress between them.
    const bytes = new Uint8Array(2_500_000).map((_, i) => (i * 31) % 251);
    const uploadSeen: number[] = [];
    const stopUploads = laptop.files.uploads.subscribe(() => {
      for (const u of laptop.files.uploads.get()) uploadSeen.push(u.progress);
    });
    const file = await laptop.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'scan.pdf',
      mediaType: 'application/pdf',
    });
    await when(laptop.files.uploads, (list) => list.length === 0, 'the queued file is uploaded');
    stopUploads();
    expect(uploadSeen.some((p) => p > 0 && p < 1)).toBe(true);

    const phone = await joinedSession(server.t.url, sessions, loginName);
    await online(phone);
    const downloadSeen: Array<[number, number]> = [];
    const stopDownloads = phone.files.downloads.subscribe(() => {
      for (const d of phone.files.downloads.get()) downloadSeen.push([d.receivedBytes, d.size]);
    });
    const got = await phone.files.get(file, { type: 'document' });
    stopDownloads();
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    expect(downloadSeen.map(([received]) => received)).toEqual([0, 1_048_576, 2_097_152, 2_500_000]);
    expect(phone.files.downloads.get()).toEqual([]);
  });

  it('search: ranked records with the field matched, updated live by changes from another device', async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    const allergy = await laptop.records.add('Allergy', {
      substance: 'Penicillin',
      reaction: 'Hives',
      severity: 'moderate',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await laptop.records.add('Medication', {
      name: 'Amoxicillin',
      instructions: 'Avoid: penicillin allergy',
      active: true,
    });
    await laptop.sync.awaitInSync();
    const phone = await joinedSession(server.t.url, sessions, loginName);
    const penicillin = phone.search('penic');
    const found = await when(penicillin, (r) => r.ready && r.total === 2, 'both records found');
    expect(found.hits.map((h) => [h.kind, h.field])).toEqual([
      ['Allergy', 'substance'],
      ['Medication', 'instructions'],
    ]);
    expect(found.hits[0]?.record.record.id).toBe(allergy.id);

    const latex = phone.search('latex hives');
    expect((await when(latex, (r) => r.ready, 'ready')).total).toBe(0);
    await laptop.records.update('Allergy', allergy.id, { substance: 'Latex' });
    const moved = await when(latex, (r) => r.total === 1, 'the edit from the laptop is found');
    expect(moved.hits[0]?.fields).toEqual(['substance', 'reaction']);
    expect(
      (await when(penicillin, (r) => r.total === 1, 'the old word no longer matches it')).hits[0]?.kind,
    ).toBe('Medication');

    // Shown at the lock: the index forgets, and the screen's results empty.
    const stop = penicillin.subscribe(() => undefined);
    await phone.lock();
    expect(penicillin.get()).toMatchObject({ ready: false, hits: [], total: 0 });
    stop();
    const afterLock = phone.search('latex');
    afterLock.subscribe(() => undefined)();
    expect(afterLock.error()).toMatchObject({ code: 'LOCKED' });
  });

  it('directory.results: the providers matching a name, page after page', async () => {
    const { session: patient } = await createdSession(server.t.url, sessions);
    const names = ['Dr. Ada Okafor', 'Dr. Ada Lindqvist', 'Dr. Ada Moreau'];
    for (const displayName of names) {
      const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
      await clinic.directory.publishProfile({
        displayName,
        specialty: 'Allergy',
        clinic: 'Riverside',
        identifier: 'NPI 1234567893',
      });
    }
    const results = patient.directory.results('Ada', { limit: 2 });
    const first = await when(results, (r) => r.status === 'done', 'the first page');
    expect(first.providers).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    results.more();
    const all = await when(results, (r) => r.status === 'done' && !r.hasMore, 'every page');
    expect(all.providers.map((p) => p.profile.displayName).sort()).toEqual([...names].sort());
    expect(all.dropped).toBe(0);
  });
});
