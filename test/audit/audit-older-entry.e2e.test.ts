// An entry a device of the previous release appended through `audit.append(patientId, detail)` —
// which took any detail then — with a free-text `reason`, as a clinician's app records why it opened a
// chart. Signed by a certified device, never modified: a device of this build must not read it as forged.
import { describe, expect, it } from 'vitest';
import { makeAuditEntry, type AuditBody } from '@hale/client/advanced';
import { base64urlDecode } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { ed, getAccountFrom, patientWithAuditedGrant } from '../support/devices';

describe('audit entries appended by the previous release', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it("a grantee's record-viewed entry with a free-text reason verifies and is listed", async () => {
    const t = server.t;
    const { patient, provider, p, d } = await patientWithAuditedGrant(t, sessions);
    expect((await p.audit.verify()).ok).toBe(true);

    // What the previous release's append(patient, { action: 'record-viewed', reason, ... }) signed and pushed.
    const acct = await getAccountFrom(t)(patient.accountId);
    const wrapping = base64urlDecode(acct.wrappingPublicKey);
    if (!wrapping.ok) throw new Error('wrapping key');
    const device = { deviceId: provider.device.keys.deviceId, secretKey: provider.device.keys.secretKey };
    const viewed = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: wrapping.value,
      device,
      ed,
      now: Date.now,
      chain: { seq: 0, hash: null },
      body: {
        action: 'record-viewed',
        summary: 'opened the allergy list',
        reason: 'pre-operative assessment',
        kind: 'AuditEntry',
        actorId: provider.accountId,
        actorDeviceId: device.deviceId,
        at: new Date().toISOString(),
      } as unknown as AuditBody,
    });
    const reply = await d.connection.request({ t: 'push', rows: [{ doc: viewed.doc, assumedRev: null }] });
    expect(reply).toMatchObject({ results: [{ status: 'ok' }] });

    const verification = await p.audit.verify();
    expect(verification.problems).toEqual([]);
    const who = await p.audit.whoAccessed();
    expect(who.some((w) => w.source === 'grantee' && w.action === 'record-viewed')).toBe(true);
  });
});
