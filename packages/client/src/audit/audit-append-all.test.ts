// appendAll: one entry per patient named, or none when a patient's wrapping key cannot be had (the
// quarantine dismissal's all-or-none record, session.ts).
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import { providerAudit } from './audit-log.test-util';
import { isAuditError } from './errors';

describe('audit appendAll', () => {
  it('appends one entry to each patient named, in order', async () => {
    const f = providerAudit({ patients: 2 });
    const log = f.open();
    const [a, b] = f.patients.map((p) => p.accountId) as [string, string];
    const docs = await log.appendAll([
      { patientId: a, detail: { action: 'one' } },
      { patientId: b, detail: { action: 'two' } },
    ]);
    expect(docs.map((d) => d.stream)).toEqual([`${a}/audit`, `${b}/audit`]);
    expect(await log.pendingCount()).toBe(2);
  });

  it('appends nothing when one patient has no wrapping key to be had, even one named after a patient that has', async () => {
    const f = providerAudit({ patients: 1 });
    const log = f.open();
    const stranger = deriveAccountKeys(generateRootSecret()).accountId;
    await expect(
      log.appendAll([
        { patientId: f.patients[0]!.accountId, detail: { action: 'one' } },
        { patientId: stranger, detail: { action: 'two' } },
      ]),
    ).rejects.toSatisfy(
      (e) => isAuditError(e, 'AUDIT_NO_WRAPPING_KEY') && e.message === `no wrapping key for ${stranger}`,
    );
    expect(await log.pendingCount()).toBe(0);
  });

  it('refuses a single entry for an account the directory does not know, typed, appending nothing', async () => {
    const f = providerAudit({ patients: 1 });
    const log = f.open();
    const stranger = deriveAccountKeys(generateRootSecret()).accountId;
    await expect(log.append(stranger, { action: 'view' })).rejects.toSatisfy((e) =>
      isAuditError(e, 'AUDIT_NO_WRAPPING_KEY'),
    );
    expect(await log.pendingCount()).toBe(0);
    expect(f.server.pushes).toEqual([]);
  });

  it("reading a patient's log the server refuses is AuditError AUDIT_NOT_READABLE with the server's code", async () => {
    const f = providerAudit({ patients: 1, pulls: 'deny' });
    const log = f.open();
    const patient = f.patients[0]!.accountId;
    const refused = await log.verify(patient).catch((e: unknown) => e);
    expect(isAuditError(refused, 'AUDIT_NOT_READABLE')).toBe(true);
    expect(refused).toMatchObject({ reason: 'FORBIDDEN', message: 'audit log not readable: FORBIDDEN' });
    expect(await log.fetchAll(patient).catch((e: unknown) => e)).toMatchObject({
      code: 'AUDIT_NOT_READABLE',
      reason: 'FORBIDDEN',
    });
  });
});
