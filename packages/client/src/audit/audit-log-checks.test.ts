// What the patient's views take from the served log, and what an append leaves behind when it fails:
// a grantee's dismissal shown with its summary; an entry of another patient's log refused; a failed
// append leaving neither a hole in the chain nor an entry its caller was told is not there.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { ServedDoc } from '@hale/protocol';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta, providerAudit, servingLog } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const AT = '2026-01-01T00:00:00.000Z';

/**
 * A patient device (`own`) reading its log from a scripted server that serves `served`: entries by the
 * server's audit key, by the patient's other device, and by a provider's device (a grantee), each
 * sealed to the patient unless `sealedTo` says otherwise, in the patient's stream unless `patientId`
 * names another.
 */
const setup = () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const provider = deriveAccountKeys(generateRootSecret());
  const elsewhere = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const grantee = generateDeviceKeys();
  const server = generateDeviceKeys();
  const served: ServedDoc[] = [];
  const states = new Map<string, ChainState>();
  const add = async (
    author: typeof server,
    body: Record<string, unknown>,
    where: { patientId?: string; chain?: ChainState } = {},
  ): Promise<ServedDoc> => {
    const made = await makeAuditEntry({
      patientId: where.patientId ?? patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: author.deviceId, secretKey: author.secretKey },
      ed,
      chain: where.chain ?? states.get(author.deviceId) ?? { seq: 0, hash: null },
      body: { at: AT, ...body } as AuditBody,
      now: () => Date.parse(AT),
    });
    if (where.chain === undefined) states.set(author.deviceId, made.chain);
    const doc: ServedDoc = { ...made.doc, seq: served.length + 1, at: AT };
    served.push(doc);
    return doc;
  };
  const connection = servingLog(served);
  const directory = {
    authorKey: async (accountId: string, deviceId: string) => {
      if (accountId === provider.accountId)
        return deviceId === grantee.deviceId ? { key: grantee.publicKey } : null;
      if (accountId !== patient.accountId) return null;
      if (deviceId === other.deviceId) return { key: other.publicKey };
      return deviceId === own.deviceId ? { key: own.publicKey } : null;
    },
  } as unknown as DeviceDirectory;
  const open = auditLogOpener({
    keys: patient,
    device: own,
    ed,
    now: () => Date.parse(AT),
    connection,
    directory,
    meta: memoryMeta().meta,
    serverKey: async () => ({ serverId: server.deviceId, publicKey: server.publicKey }),
  });
  const dismissal = (actorId: string, actorDeviceId: string) => ({
    kind: 'AuditEntry',
    action: 'quarantine-dismiss',
    actorId,
    actorDeviceId,
    summary: `dismissed 1 quarantined version: allergy rec-1 rev 1-abc TAMPERED`,
    count: 1,
    stream: `${patient.accountId}/allergy`,
  });
  const access = () => ({
    kind: 'AccessEvent',
    action: 'pull',
    actorId: provider.accountId,
    actorDeviceId: grantee.deviceId,
    stream: `${patient.accountId}/allergy`,
    count: 2,
  });
  const grant = (purpose: string) => ({
    kind: 'AuditEntry',
    action: 'consent-grant',
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    grantId: `grant-${purpose}`,
    granteeId: provider.accountId,
    scope: [{ type: 'allergy', access: 'read' }],
    expiresAt: '2027-01-01T00:00:00.000Z',
    purpose,
  });
  return {
    patient,
    provider,
    elsewhere,
    own,
    other,
    grantee,
    server,
    served,
    add,
    open,
    dismissal,
    access,
    grant,
  };
};

const kinds = (v: { problems: Array<{ kind: string; author: string; authorSeq: number }> }) =>
  v.problems.map((p) => [p.kind, p.author, p.authorSeq]);

describe("whoAccessed: a grantee's quarantine dismissal", () => {
  it('is listed with its summary, as entries() shows a patient device’s', async () => {
    const s = setup();
    await s.add(s.other, s.dismissal(s.patient.accountId, s.other.deviceId));
    await s.add(s.grantee, s.dismissal(s.provider.accountId, s.grantee.deviceId));
    const log = s.open();
    const summary = s.dismissal('', '').summary;
    const listed = await log.entries();
    expect(listed.map((e) => [e.source, e.body.kind === 'AuditEntry' ? e.body.summary : null])).toEqual([
      ['patient', summary],
      ['grantee', summary],
    ]);
    expect(await log.whoAccessed()).toEqual([
      {
        at: AT,
        source: 'grantee',
        actorId: s.provider.accountId,
        actorDeviceId: s.grantee.deviceId,
        action: 'quarantine-dismiss',
        stream: `${s.patient.accountId}/allergy`,
        summary,
      },
    ]);
  });

  it('a grantee entry without a summary has none; a server access never carries one', async () => {
    const s = setup();
    await s.add(s.server, s.access());
    const { summary: _summary, ...bare } = s.dismissal(s.provider.accountId, s.grantee.deviceId);
    await s.add(s.grantee, bare);
    const who = await s.open().whoAccessed();
    expect(who).toHaveLength(2);
    for (const record of who) expect(record).not.toHaveProperty('summary');
  });
});

describe("an entry of another patient's log served in this one", () => {
  it('is refused (inserted) and listed by no view, whoever signed it', async () => {
    const s = setup();
    await s.add(s.server, s.access());
    // Signed for another patient's stream (the signature covers it), yet sealed to this patient.
    const claim = await s.add(s.grantee, s.dismissal(s.provider.accountId, s.grantee.deviceId), {
      patientId: s.elsewhere.accountId,
    });
    const grant = await s.add(s.other, s.grant('moved'), { patientId: s.elsewhere.accountId });
    const log = s.open();
    const v = await log.verify();
    expect(v.problems).toEqual([
      expect.objectContaining({ kind: 'inserted', entryId: claim.id, author: s.grantee.deviceId }),
      expect.objectContaining({ kind: 'inserted', entryId: grant.id, author: s.other.deviceId }),
    ]);
    expect(v.problems[0]!.detail).toContain(`${s.elsewhere.accountId}/audit`);
    expect(await log.whoAccessed()).toHaveLength(1);
    expect(await log.disclosures()).toEqual([]);
    expect((await log.entries()).map((e) => e.author)).toEqual([s.server.deviceId]);
  });

  it('served past the view cache: refused the same, the cache not extended with it', async () => {
    const s = setup();
    await s.add(s.server, s.access());
    const log = s.open();
    expect(await log.whoAccessed()).toHaveLength(1);
    // The grantee's first entry anywhere in this log, at position 1 of its chain: links as a genuine one.
    await s.add(s.grantee, s.dismissal(s.provider.accountId, s.grantee.deviceId), {
      patientId: s.elsewhere.accountId,
    });
    expect(await log.whoAccessed()).toHaveLength(1);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/)]);
    expect(kinds(await log.verify())).toEqual([['inserted', s.grantee.deviceId, 1]]);
  });
});

describe('a failed append', () => {
  it('whose outbox write fails leaves the chain where it was: no hole in the stored log', async () => {
    const f = providerAudit();
    const patientId = f.patients[0]!.accountId;
    const log = f.open();
    await log.connected('incarnation-000000000');
    f.failNextWrite('audit-outbox');
    await expect(log.append(patientId, { action: 'export', count: 1 })).rejects.toThrow(/audit-outbox/);
    expect(await log.pendingCount()).toBe(0);
    await log.append(patientId, { action: 'export', count: 2 });
    await log.flush();
    expect(f.server.positions(`${patientId}/audit`)).toEqual([1]);
    expect((await f.verifyStored(patientId)).problems).toEqual([]);
  });

  it('whose outbox write is stored but reported failed is appended: no second entry at its position', async () => {
    const f = providerAudit();
    const patientId = f.patients[0]!.accountId;
    const log = f.open();
    await log.connected('incarnation-000000000');
    f.failNextWrite('audit-outbox', 'stored');
    const doc = await log.append(patientId, { action: 'export', count: 1 });
    expect(doc.audit?.authorSeq).toBe(1);
    await log.append(patientId, { action: 'export', count: 2 });
    await log.flush();
    expect(f.server.positions(`${patientId}/audit`)).toEqual([1, 2]);
    expect((await f.verifyStored(patientId)).problems).toEqual([]);
  });

  it('whose list of own actions cannot be written is still appended (it is in the outbox): answered, reported', async () => {
    const f = providerAudit();
    const patientId = f.patients[0]!.accountId;
    const log = f.open();
    await log.connected('incarnation-000000000');
    f.failNextWrite('audit-own');
    const doc = await log.append(patientId, { action: 'export', count: 1 });
    expect(doc.audit?.authorSeq).toBe(1);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_OWN_NOT_KEPT: .*audit-own/)]);
    await log.flush();
    expect(f.server.positions(`${patientId}/audit`)).toEqual([1]);
  });

  it('record changes whose list of own actions failed are not appended twice', async () => {
    const f = providerAudit();
    const patientId = f.patients[0]!.accountId;
    const log = f.open();
    await log.connected('incarnation-000000000');
    void log.noteRecordChange(patientId, { action: 'create', kind: 'Allergy', id: 'rec-1' });
    f.failNextWrite('audit-own');
    await log.flushChanges().catch(() => undefined);
    await log.close();
    await f.open().resumeNoted();
    await f.open().flush();
    expect(f.server.positions(`${patientId}/audit`)).toEqual([1]);
  });
});
