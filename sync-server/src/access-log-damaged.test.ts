// The server logs a grantee's access to a patient's streams before serving it; an access event whose
// stream is no stream id (damaged state: events come only from access decisions) must fail the write, never
// be skipped, so no access goes unlogged while the rest of the batch is logged. Real SQLite store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  makeGrant,
  registerAccount,
  serverAccessEntries,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from './testing/harness';

describe('an access event naming no stream', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t, 'patient');
    provider = await registerAccount(t, 'provider');
    const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
      expiresAt: t.clock.now + 3600_000,
    });
    await t.server.service.grant(
      { accountId: patient.accountId, deviceId: patient.device.deviceId, role: 'patient' },
      signed,
    );
  });
  afterEach(async () => {
    await t.stop();
  });

  it('fails the whole write (INTERNAL) and logs nothing of the batch', async () => {
    const principal = {
      accountId: provider.accountId,
      deviceId: provider.device.deviceId,
      role: 'provider' as const,
    };
    const before = await serverAccessEntries(t, patient);
    await expect(
      t.server.service.recordGranteeAccess(principal, [
        { action: 'pull', stream: streamOf(patient.accountId, 'allergy'), count: 1 },
        { action: 'pull', stream: 'not-a-stream', count: 1 },
      ]),
    ).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await serverAccessEntries(t, patient)).toEqual(before);
    // The same batch without the damaged event is logged.
    await t.server.service.recordGranteeAccess(principal, [
      { action: 'pull', stream: streamOf(patient.accountId, 'allergy'), count: 1 },
    ]);
    expect((await serverAccessEntries(t, patient)).length).toBe(before.length + 1);
  });
});
