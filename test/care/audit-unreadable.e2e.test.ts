// A grantee appends well-signed audit entries whose content the patient cannot open: the log still
// verifies, the access history names the account and device that wrote each and says what it means,
// and the grantee's later (readable) entries keep their place in its chain.
import { describe, expect, it } from 'vitest';
import { makeAuditEntry, UNREADABLE_ENTRY_ACTION } from '@hale/client/advanced';
import { base64urlDecode, deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { ed, getAccountFrom, patientWithAuditedGrant } from '../support/devices';

describe("a grantee's audit entries whose content the patient cannot read", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('leave the log intact and are listed by who wrote them, with what they mean', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await patientWithAuditedGrant(t, sessions);
    const acct = await getAccountFrom(t)(patient.accountId);
    const wrapping = base64urlDecode(acct.wrappingPublicKey);
    if (!wrapping.ok) throw new Error('wrapping key');
    const device = { deviceId: provider.device.keys.deviceId, secretKey: provider.device.keys.secretKey };
    const at = new Date().toISOString();
    const actor = { actorId: provider.accountId, actorDeviceId: device.deviceId, at };
    // Sealed to a key that is not the patient's: well signed by the provider's certified device, unreadable.
    const stranger = deriveAccountKeys(generateRootSecret());
    const unreadable = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: stranger.wrapping.publicKey,
      device,
      ed,
      now: Date.now,
      chain: { seq: 0, hash: null },
      body: { kind: 'AuditEntry', action: 'record-viewed', ...actor },
    });
    // The same device's next entry, readable and linked to the unreadable one.
    const readable = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: wrapping.value,
      device,
      ed,
      now: Date.now,
      chain: unreadable.chain,
      body: { kind: 'AuditEntry', action: 'record-viewed', summary: 'looked at the allergy list', ...actor },
    });
    const reply = await d.connection.request({
      t: 'push',
      rows: [
        { doc: unreadable.doc, assumedRev: null },
        { doc: readable.doc, assumedRev: null },
      ],
    });
    expect(reply).toMatchObject({ results: [{ status: 'ok' }, { status: 'ok' }] });

    const verification = await p.audit.verify();
    expect(verification.problems).toEqual([]);
    expect(verification.ok).toBe(true);
    expect(verification.unreadable).toEqual([
      expect.objectContaining({
        entryId: unreadable.doc.id,
        author: device.deviceId,
        authorAccountId: provider.accountId,
        authorSeq: 1,
      }),
    ]);
    expect(verification.unreadable?.[0]?.meaning).toContain(provider.accountId);
    expect(verification.unreadable?.[0]?.meaning).toMatch(/does not open with your key/);

    const who = await p.audit.whoAccessed();
    const named = who.filter((w) => w.unreadable === true);
    expect(named).toEqual([
      expect.objectContaining({
        source: 'grantee',
        actorId: provider.accountId,
        actorDeviceId: device.deviceId,
        action: UNREADABLE_ENTRY_ACTION,
      }),
    ]);
    expect(named[0]?.summary).toMatch(/says nothing that can be read/);
    // The readable entry after it is listed as the provider's claim, in its own words.
    expect(who).toContainEqual(
      expect.objectContaining({
        source: 'grantee',
        action: 'record-viewed',
        summary: 'looked at the allergy list',
      }),
    );
    // No disclosure is added or taken away by it.
    expect(await p.audit.disclosures()).toHaveLength(1);

    // Checked again (the view cache past what was verified), the answer is the same.
    expect((await p.audit.verify()).ok).toBe(true);
    expect((await p.audit.whoAccessed()).filter((w) => w.unreadable === true)).toHaveLength(1);
  });
});
