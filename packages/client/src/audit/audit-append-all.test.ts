// appendAll: one entry per patient named, or none when a patient's wrapping key cannot be had (the
// quarantine dismissal's all-or-none record, session.ts).
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import { providerAudit } from './audit-log.test-util';

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
    ).rejects.toThrow(`no wrapping key for ${stranger}`);
    expect(await log.pendingCount()).toBe(0);
  });
});
