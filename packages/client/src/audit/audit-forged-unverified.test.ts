// A hostile or broken server that serves entries no device can check now (each names, as its actor, an
// account whose device list the server withholds) while it cuts genuine entries. What cannot be checked
// is reported `unverified`; what was verified before and is no longer served is still reported `deleted`,
// and `recorded` (consent's question "is this grant in the log?") answers for every grant no unchecked
// entry may be the entry of, instead of throwing at every ask for as long as the list is withheld.
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  chainLinkHash,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { newId } from '@hale/model';
import { auditSignaturePayload, type ServedDoc } from '@hale/protocol';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, verifyAuditLog, type AuditBody, type ChainState } from './audit-chain';
import { isAuditError } from './errors';
import { AT, auditLogOpener, memoryMeta, servingLog } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;

const setup = () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const provider = deriveAccountKeys(generateRootSecret());
  const clinic = generateDeviceKeys();
  const hidden = deriveAccountKeys(generateRootSecret());
  const forger = generateDeviceKeys();
  const served: ServedDoc[] = [];
  const states = new Map<string, ChainState>();
  let seq = 0;
  type Signer = { deviceId: string; secretKey: Uint8Array };
  /** Appends `body` to `signer`'s chain (or after `after`), served at the next stream position. */
  const add = async (signer: Signer, body: AuditBody, after?: ChainState): Promise<ServedDoc> => {
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: signer,
      ed,
      chain: after ?? states.get(signer.deviceId) ?? { seq: 0, hash: null },
      body,
      now: () => Date.parse(AT),
    });
    if (after === undefined) states.set(signer.deviceId, made.chain);
    const doc: ServedDoc = { ...made.doc, seq: ++seq, at: AT };
    served.push(doc);
    return doc;
  };
  /** The server no longer serves `author`'s entries at `positions`. */
  const cut = (author: string, positions: readonly number[]): void => {
    const kept = served.filter((d) => d.author !== author || !positions.includes(d.audit!.authorSeq));
    served.splice(0, served.length, ...kept);
  };
  /** Accounts whose device list the server withholds (HTTP 503 for those ids alone). */
  const withheld = new Set<string>([hidden.accountId]);
  const directory = {
    authorKey: async (accountId: string, deviceId: string) => {
      if (withheld.has(accountId)) return { unavailable: 'HTTP 503' };
      if (accountId === provider.accountId)
        return deviceId === clinic.deviceId ? { key: clinic.publicKey } : null;
      if (accountId !== patient.accountId) return null;
      if (deviceId === other.deviceId) return { key: other.publicKey };
      return deviceId === own.deviceId ? { key: own.publicKey } : null;
    },
  } as unknown as DeviceDirectory;
  const log = auditLogOpener({
    keys: patient,
    device: own,
    ed,
    now: () => Date.parse(AT),
    connection: { ...servingLog(served), onStatusChange: () => () => undefined },
    directory,
    meta: memoryMeta().meta,
  })();
  const grantEntry = (grantId: string, actorId = patient.accountId, by = other.deviceId): AuditBody => ({
    kind: 'AuditEntry',
    action: 'consent-grant',
    actorId,
    actorDeviceId: by,
    at: AT,
    grantId,
    granteeId: provider.accountId,
    scope: [{ type: 'allergy', access: 'read' }],
    expiresAt: '2026-02-01T00:00:00.000Z',
    purpose: 'second opinion',
  });
  const patientEntry = (action: string): AuditBody => ({
    kind: 'AuditEntry',
    action,
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    at: AT,
  });
  const clinicEntry = (actorId = provider.accountId): AuditBody => ({
    kind: 'AuditEntry',
    action: 'export',
    actorId,
    actorDeviceId: clinic.deviceId,
    at: AT,
  });
  /** The clinic's device id under another key: a forgery anyone (the server) can make, naming that device. */
  const forgedClinic = { deviceId: clinic.deviceId, secretKey: forger.secretKey };
  return {
    patient,
    other,
    clinic,
    hidden,
    forger,
    provider,
    served,
    add,
    cut,
    withheld,
    log,
    grantEntry,
    patientEntry,
    clinicEntry,
    forgedClinic,
  };
};

const kinds = (v: { problems: Array<{ kind: string; author: string; authorSeq: number }> }) =>
  v.problems.map((p) => [p.kind, p.author, p.authorSeq]);

describe('recorded, when the log holds an entry no device can check now and a genuine entry is cut', () => {
  it('answers the grants it finds, the cut one as not recorded, and reports both problems', async () => {
    const s = setup();
    const kept = newId(() => 1);
    const lost = newId(() => 2);
    await s.add(s.other, s.grantEntry(kept));
    expect((await s.log.verify()).ok).toBe(true);
    // The patient's other device records a second grant, then goes on writing.
    await s.add(s.other, s.grantEntry(lost));
    await s.add(s.other, s.patientEntry('export'));
    // The server cuts the second grant's entry out of that chain and serves a forgery claiming that very
    // grant, naming as its actor an account whose device list it withholds.
    s.cut(s.other.deviceId, [2]);
    const forged = await s.add(s.forger, s.grantEntry(lost, s.hidden.accountId, s.forger.deviceId));

    const found = await s.log.recorded({ 'consent-grant': [kept, lost] });
    expect(found).toEqual({ 'consent-grant': new Set([kept]), 'consent-revoke': new Set() });
    expect(s.log.issues()).toEqual([
      expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*\(unverified: 1, deleted: 1\)/),
    ]);
    const v = await s.log.verify();
    expect(kinds(v)).toEqual([
      ['unverified', s.forger.deviceId, 1],
      ['deleted', s.other.deviceId, 3],
    ]);
    expect(v.problems[0]!.entryId).toBe(forged.id);
  });

  it("still asks again later when an unchecked entry may be the patient's entry looked for", async () => {
    const s = setup();
    const maybe = newId(() => 1);
    const absent = newId(() => 2);
    await s.add(s.other, s.grantEntry(maybe));
    // The patient's own device list does not load now: the entry of `maybe` cannot be checked.
    s.withheld.add(s.patient.accountId);
    await expect(s.log.recorded({ 'consent-grant': [maybe] })).rejects.toThrow(/could not be checked now/);
    await expect(s.log.recorded({ 'consent-grant': [maybe, absent] })).rejects.toThrow(
      /could not be checked now/,
    );
    // No unchecked entry is the entry of `absent` (nor of a revocation): answered.
    expect(await s.log.recorded({ 'consent-grant': [absent], 'consent-revoke': [maybe] })).toEqual({
      'consent-grant': new Set(),
      'consent-revoke': new Set(),
    });
    s.withheld.delete(s.patient.accountId);
    expect((await s.log.recorded({ 'consent-grant': [maybe] }))['consent-grant']).toEqual(new Set([maybe]));
  });

  // Consent tells this "ask again later" from a lookup that failed by its code, not by its message.
  it('refuses with AuditError AUDIT_LOOKUP_UNVERIFIED, and appends and keeps nothing for it', async () => {
    const s = setup();
    const granted = newId(() => 1);
    const revoked = newId(() => 2);
    await s.add(s.other, s.grantEntry(granted));
    await s.add(s.other, {
      kind: 'AuditEntry',
      action: 'consent-revoke',
      actorId: s.patient.accountId,
      actorDeviceId: s.other.deviceId,
      at: AT,
      grantId: revoked,
    });
    s.withheld.add(s.patient.accountId);
    const servedBefore = s.served.length;
    // A grant with no entry at all is looked up beside them: it is decided (missing), not held back.
    const absent = newId(() => 3);
    const lookup = { 'consent-grant': [granted, absent], 'consent-revoke': [revoked] };
    const error: unknown = await s.log.recorded(lookup).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isAuditError(error, 'AUDIT_LOOKUP_UNVERIFIED')).toBe(true);
    expect(error).toMatchObject({
      name: 'AuditError',
      code: 'AUDIT_LOOKUP_UNVERIFIED',
      unverified: 2,
      undecided: { 'consent-grant': new Set([granted]), 'consent-revoke': new Set([revoked]) },
      found: { 'consent-grant': new Set(), 'consent-revoke': new Set() },
    });
    // Nothing appended, nothing taken as this device's own, nothing remembered as verified.
    expect(s.served).toHaveLength(servedBefore);
    expect(await s.log.pendingCount()).toBe(0);
    expect(await s.log.ownActions()).toEqual([]);
    s.withheld.delete(s.patient.accountId);
    expect(await s.log.recorded(lookup)).toEqual({
      'consent-grant': new Set([granted]),
      'consent-revoke': new Set([revoked]),
    });
    expect((await s.log.verify()).ok).toBe(true);
  });
});

describe("a grantee device's entries all cut, one forgery of that device served that no device can check", () => {
  const verified = async () => {
    const s = setup();
    await s.add(s.clinic, s.clinicEntry());
    await s.add(s.clinic, s.clinicEntry());
    const third = await s.add(s.clinic, s.clinicEntry());
    expect((await s.log.verify()).ok).toBe(true);
    s.cut(s.clinic.deviceId, [1, 2, 3]);
    return { ...s, third };
  };
  /** A forged entry of the clinic's device at `position`, naming the withheld account. */
  const forge = (s: Awaited<ReturnType<typeof verified>>, position: number) =>
    s.add(s.forgedClinic, s.clinicEntry(s.hidden.accountId), { seq: position - 1, hash: null });

  it('standing on the position verified before: reported deleted, not only unverified', async () => {
    const s = await verified();
    const forged = await forge(s, 3);
    // A view (over the cache verify() kept) lists none of the cut entries and says they are missing.
    const answer = await s.log.entries({ offline: 'cached' });
    expect(answer).toMatchObject({ records: [], complete: true, unverified: 1 });
    expect(s.log.issues()).toEqual([
      expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*\(unverified: 1, deleted: 2\)/),
    ]);
    const v = await s.log.verify();
    expect(kinds(v)).toEqual([
      ['unverified', s.clinic.deviceId, 3],
      ['deleted', s.clinic.deviceId, 1],
      ['deleted', s.clinic.deviceId, 3],
    ]);
    expect(v.problems[1]!.detail).toMatch(/positions 1–2 .* stored but are not served/);
    expect(v.problems[2]!.entryId).toBe(forged.id);
    expect(v.problems[2]!.detail).toMatch(/verified before is no longer served/);
  });

  it('past the position verified before: the positions below it reported deleted', async () => {
    const s = await verified();
    await forge(s, 4);
    const v = await s.log.verify();
    expect(kinds(v)).toEqual([
      ['unverified', s.clinic.deviceId, 4],
      ['deleted', s.clinic.deviceId, 1],
    ]);
    expect(v.problems[1]!.detail).toMatch(/positions 1–3 .* stored but .* not served/);
  });

  it('below it: reported deleted as before (the end cut)', async () => {
    const s = await verified();
    await forge(s, 1);
    expect(kinds(await s.log.verify())).toEqual([
      ['unverified', s.clinic.deviceId, 1],
      ['deleted', s.clinic.deviceId, 2],
    ]);
  });

  it("the genuine entries served while their account's list is withheld: unverified only", async () => {
    const s = setup();
    await s.add(s.clinic, s.clinicEntry());
    await s.add(s.clinic, s.clinicEntry());
    await s.add(s.clinic, s.clinicEntry());
    expect((await s.log.verify()).ok).toBe(true);
    s.withheld.add(s.provider.accountId);
    expect(kinds(await s.log.verify())).toEqual([
      ['unverified', s.clinic.deviceId, 1],
      ['unverified', s.clinic.deviceId, 2],
      ['unverified', s.clinic.deviceId, 3],
    ]);
    // One of them cut meanwhile: the others still cannot be checked, the cut one is missing.
    s.cut(s.clinic.deviceId, [2]);
    expect(kinds(await s.log.verify())).toEqual([
      ['unverified', s.clinic.deviceId, 1],
      ['unverified', s.clinic.deviceId, 3],
      ['deleted', s.clinic.deviceId, 2],
    ]);
  });
});

describe('verifyAuditLog: a position known stored, claimed only by an entry not checkable now', () => {
  it('is missing unless that entry is the one verified there (its link hash)', async () => {
    const s = setup();
    const genuine = await s.add(s.clinic, s.clinicEntry());
    const forged = await s.add(s.forgedClinic, s.clinicEntry(), { seq: 0, hash: null });
    const unavailable = async () => ({ unavailable: 'HTTP 503' });
    const first = await verifyAuditLog([genuine], async () => s.clinic.publicKey, ed);
    expect(first.ok).toBe(true);
    const sig = base64urlDecode(genuine.sig!);
    if (!sig.ok) throw new Error('signature');
    const hash = chainLinkHash(auditSignaturePayload({ ...genuine, audit: genuine.audit! }), sig.value);
    const reached = new Map([[s.clinic.deviceId, { seq: 1, hash }]]);
    expect(kinds(await verifyAuditLog([genuine], unavailable, ed, reached))).toEqual([
      ['unverified', s.clinic.deviceId, 1],
    ]);
    expect(kinds(await verifyAuditLog([forged], unavailable, ed, reached))).toEqual([
      ['unverified', s.clinic.deviceId, 1],
      ['deleted', s.clinic.deviceId, 1],
    ]);
    // Without its hash, a position claimed is taken as present (nothing to tell the entries apart by).
    expect(kinds(await verifyAuditLog([forged], unavailable, ed, new Map([[s.clinic.deviceId, 1]])))).toEqual(
      [['unverified', s.clinic.deviceId, 1]],
    );
  });
});
