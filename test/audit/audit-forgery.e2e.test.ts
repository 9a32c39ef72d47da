import { describe, expect, it } from 'vitest';
import { makeAuditEntry } from '@hale/client/advanced';
import { base64urlDecode } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { ed, getAccountFrom, patientWithAuditedGrant } from '../support/devices';

describe('audit views trust an entry only as far as its author', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it("a grantee's forged access event and consent grant neither cancel the server's count nor add a disclosure", async () => {
    const t = server.t;
    const { patient, provider, p, d } = await patientWithAuditedGrant(t, sessions);
    const before = await p.audit.disclosures();
    expect(before).toHaveLength(1);
    const disclosed = before[0]!.documentsDisclosed;
    expect(disclosed).toBeGreaterThan(0);

    // The provider appends, with its own (certified) device key, what only the server and the patient
    // may say: an access event with a negative count, and a consent grant to a third party.
    const acct = await getAccountFrom(t)(patient.accountId);
    const wrapping = base64urlDecode(acct.wrappingPublicKey);
    if (!wrapping.ok) throw new Error('wrapping key');
    const device = { deviceId: provider.device.keys.deviceId, secretKey: provider.device.keys.secretKey };
    const common = {
      patientId: patient.accountId,
      patientWrappingKey: wrapping.value,
      device,
      ed,
      now: Date.now,
    };
    const at = new Date().toISOString();
    const negative = await makeAuditEntry({
      ...common,
      chain: { seq: 0, hash: null },
      body: {
        kind: 'AccessEvent',
        action: 'pull',
        actorId: provider.accountId,
        actorDeviceId: device.deviceId,
        stream: `${patient.accountId}/allergy`,
        count: -disclosed,
        at,
      },
    });
    const fakeGrant = await makeAuditEntry({
      ...common,
      chain: negative.chain,
      body: {
        kind: 'AuditEntry',
        action: 'consent-grant',
        actorId: provider.accountId,
        actorDeviceId: device.deviceId,
        granteeId: 'AAAAAAAAAAAAAAAAAAAAAA',
        scope: [{ type: 'medication', access: 'write' }],
        purpose: 'sold to insurer',
        expiresAt: '2099-01-01T00:00:00.000Z',
        at,
      },
    });
    const reply = await d.connection.request({
      t: 'push',
      rows: [
        { doc: negative.doc, assumedRev: null },
        { doc: fakeGrant.doc, assumedRev: null },
      ],
    });
    expect(reply).toMatchObject({ results: [{ status: 'ok' }, { status: 'ok' }] });

    // Nothing was tampered with: the entries are the provider's, signed by it.
    expect((await p.audit.verify()).ok).toBe(true);
    const after = await p.audit.disclosures();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ recipient: provider.accountId, purpose: 'pre-operative assessment' });
    expect(after[0]!.documentsDisclosed).toBeGreaterThanOrEqual(disclosed);
    expect(after.some((x) => x.purpose === 'sold to insurer')).toBe(false);

    // They are still listed, as what they are: the provider's own claims, without counts.
    const who = await p.audit.whoAccessed();
    expect(who.every((w) => w.count === undefined || w.count > 0)).toBe(true);
    const claims = who.filter((w) => w.source === 'grantee');
    expect(claims).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actorId: provider.accountId,
          actorDeviceId: device.deviceId,
          action: 'pull',
        }),
        expect.objectContaining({ actorId: provider.accountId, action: 'consent-grant' }),
      ]),
    );
    expect(claims.every((c) => c.count === undefined)).toBe(true);
    const logged = who.filter((w) => w.source === 'server');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.every((w) => w.actorId === provider.accountId && (w.count ?? 0) > 0)).toBe(true);
    const entries = await p.audit.entries();
    expect(entries.find((e) => e.id === fakeGrant.doc.id)).toMatchObject({
      source: 'grantee',
      authorAccountId: provider.accountId,
    });
    expect(entries.find((e) => e.body.action === 'consent-grant' && e.source === 'patient')).toBeDefined();
  });
});
