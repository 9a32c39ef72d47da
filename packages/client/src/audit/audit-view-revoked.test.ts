// The views' cache and a device the account revokes after its entries were cached: the entries a revoked
// device signed at or after its revocation count for nothing (audit-chain.ts), and the next view after the
// device directory learns of the revocation answers as a read of the whole log does — it does not go on
// listing them from the cache as the patient's actions.
import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  certifyDevice,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  signCanonical,
  tweetnaclEd25519,
  type DeviceKeys,
} from '@hale/crypto';
import { newId } from '@hale/model';
import {
  deviceRevocationPayload,
  wrappingKeySignaturePayload,
  type PullFrame,
  type ServedDoc,
} from '@hale/protocol';
import type { Connection } from '../sync/connection';
import { createDeviceDirectory, type AccountDeviceInfo } from '../sync/device-directory';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta } from './audit-log.test-util';

const ed = tweetnaclEd25519;
const MINUTE = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (minute: number): string => new Date(T0 + minute * MINUTE).toISOString();

/**
 * A patient with two devices (this one, `own`, and `other`), a real device directory over a server whose
 * account answer can list `other` as revoked (the device route then serving its certificate, the server's
 * revocation time and the account's signed revocation), and a scripted log served from `served`.
 */
const revokedSetup = async () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const provider = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const server = generateDeviceKeys();
  let clock = T0;
  const now = () => clock;
  const cert = (d: DeviceKeys) =>
    certifyDevice(
      patient.identity.secretKey,
      {
        accountId: patient.accountId,
        deviceId: d.deviceId,
        devicePublicKey: d.publicKey,
        name: 'test device',
        createdAt: at(-60),
        identityPublicKey: patient.identity.publicKey,
      },
      ed,
    );
  const wrapping = base64urlEncode(patient.wrapping.publicKey);
  const wrappingPayload = wrappingKeySignaturePayload({
    accountId: patient.accountId,
    identityPublicKey: base64urlEncode(patient.identity.publicKey),
    wrappingPublicKey: wrapping,
  });
  const account = {
    accountId: patient.accountId,
    identityPublicKey: base64urlEncode(patient.identity.publicKey),
    wrappingPublicKey: wrapping,
    wrappingKeySig: base64urlEncode(
      await signCanonical(ed, patient.identity.secretKey, wrappingPayload.label, wrappingPayload),
    ),
    role: 'patient' as const,
    devices: [await cert(own), await cert(other)],
    revokedDevices: [] as string[],
  };
  let revokedInfo: AccountDeviceInfo | null = null;
  const accountServer = { loads: 0, failing: false };
  /** A directory over that server (a new one: the directory of a new session, nothing cached yet). */
  const newDirectory = () =>
    createDeviceDirectory({
      ed,
      now,
      getAccount: async (accountId) => {
        accountServer.loads++;
        if (accountServer.failing) throw new Error('connection lost');
        if (accountId !== patient.accountId)
          throw Object.assign(new Error('no such account'), { code: 'NOT_FOUND' });
        return structuredClone(account);
      },
      getDevice: async (accountId, deviceId) => {
        if (accountId !== patient.accountId || deviceId !== other.deviceId || revokedInfo === null)
          throw Object.assign(new Error('no such device'), { code: 'NOT_FOUND' });
        return revokedInfo;
      },
    });
  const directory = newDirectory();
  /**
   * The account revokes `other`: its signed revocation dated `signedAt`, the server's time `servedAt`
   * (the server took it later). The directory learns it at its next load (`expire()`: a reconnect).
   */
  const revokeOther = async (signedAt: string, servedAt: string): Promise<void> => {
    const revocation = {
      v: 1 as const,
      accountId: patient.accountId,
      deviceId: other.deviceId,
      revokedAt: signedAt,
    };
    const payload = deviceRevocationPayload(revocation);
    const sig = await signCanonical(ed, patient.identity.secretKey, payload.label, payload);
    revokedInfo = {
      certificate: await cert(other),
      revokedAt: servedAt,
      revocation: { revocation, sig: base64urlEncode(sig) },
    };
    account.devices = [await cert(own)];
    account.revokedDevices = [other.deviceId];
  };

  const served: ServedDoc[] = [];
  const states = new Map<string, ChainState>();
  let carried = 0;
  const add = async (author: DeviceKeys, body: Record<string, unknown>): Promise<void> => {
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: author.deviceId, secretKey: author.secretKey },
      ed,
      chain: states.get(author.deviceId) ?? { seq: 0, hash: null },
      body: { ...body, at: new Date(clock).toISOString() } as AuditBody,
      now,
    });
    states.set(author.deviceId, made.chain);
    served.push({ ...made.doc, seq: served.length + 1, at: new Date(clock).toISOString() });
  };
  const connection = {
    status: () => 'ready' as const,
    request: async (frame: PullFrame) => {
      const since = frame.streams[0]!.since;
      const docs = served.filter((d) => d.seq > since);
      carried += docs.length;
      return {
        t: 'pulled',
        rid: 1,
        docs,
        streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
        denied: [],
      };
    },
  } as unknown as Connection;
  const entry = (action: string) => ({
    kind: 'AuditEntry',
    action,
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
  });
  const grant = (purpose: string) => ({
    kind: 'AuditEntry',
    action: 'consent-grant',
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    grantId: newId(() => clock),
    granteeId: provider.accountId,
    scope: [{ type: 'allergy', access: 'read' }],
    expiresAt: at(60 * 24 * 30),
    purpose,
  });
  const access = (count: number) => ({
    kind: 'AccessEvent',
    action: 'pull',
    actorId: provider.accountId,
    actorDeviceId: generateDeviceKeys().deviceId,
    stream: `${patient.accountId}/allergy`,
    count,
  });
  const base = {
    keys: patient,
    device: own,
    ed,
    now,
    connection,
    directory,
    meta: memoryMeta().meta,
    serverKey: async () => ({ serverId: server.deviceId, publicKey: server.publicKey }),
  };
  return {
    accountId: patient.accountId,
    other,
    server,
    add,
    entry,
    grant,
    access,
    directory,
    newDirectory,
    accountServer,
    revokeOther,
    open: auditLogOpener(base),
    /** What a device that never read the log answers (a whole read), over the same directory. */
    whole: () => auditLogOpener({ ...base, meta: memoryMeta().meta })().entries(),
    /** Entries the pulls carried since the last call. */
    read: (): number => {
      const n = carried;
      carried = 0;
      return n;
    },
    setClock: (minute: number) => void (clock = T0 + minute * MINUTE),
  };
};

describe('audit views: a device revoked after its entries were cached', () => {
  it('the next view after the directory learns the revocation no longer lists what it signed since', async () => {
    const s = await revokedSetup();
    s.setClock(1);
    await s.add(s.other, s.grant('before'));
    s.setClock(3);
    await s.add(s.server, s.access(2));
    s.setClock(10);
    await s.add(s.other, s.grant('after'));
    s.setClock(11);
    await s.add(s.other, { ...s.entry('records-changed'), summary: '1 record change(s)', changes: [] });
    const log = s.open();
    expect((await log.disclosures()).map((d) => d.purpose)).toEqual(['before', 'after']);
    expect(s.read()).toBe(4);

    // Revoked at minute 5 by the account's signed revocation, taken by the server at minute 20.
    s.setClock(30);
    await s.revokeOther(at(5), at(20));
    s.directory.expire();
    expect(await s.directory.authorKey(s.accountId, s.other.deviceId)).toEqual({
      key: s.other.publicKey,
      revokedAt: at(5),
    });
    s.read();
    const after = await log.disclosures();
    expect(after.map((d) => d.purpose)).toEqual(['before']);
    expect(await log.entries()).toEqual(await s.whole());
    expect((await log.entries()).map((e) => [e.author, e.source])).toEqual([
      [s.other.deviceId, 'patient'],
      [s.server.deviceId, 'server'],
    ]);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 2/)]);
  });

  it('a revocation after all its entries: one whole read, then the views read only what is new again', async () => {
    const s = await revokedSetup();
    s.setClock(1);
    await s.add(s.other, s.grant('before'));
    await s.add(s.server, s.access(2));
    const log = s.open();
    await log.whoAccessed();
    s.read();
    await log.whoAccessed();
    expect(s.read()).toBe(0);

    s.setClock(30);
    await s.revokeOther(at(5), at(20));
    s.directory.expire();
    expect((await log.disclosures()).map((d) => d.purpose)).toEqual(['before']);
    // Judged again whole once (the cache knew the device as not revoked)…
    expect(s.read()).toBe(2);
    // …and kept with its cutoff: nothing changed since, so only what is new is read.
    await s.add(s.server, s.access(3));
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([2, 3]);
    expect(s.read()).toBe(1);
    expect(log.issues()).toEqual([]);
  });

  it('an author the directory cannot answer for now: the view answers as a whole read, not from the cache', async () => {
    const s = await revokedSetup();
    s.setClock(1);
    await s.add(s.other, s.grant('before'));
    await s.add(s.server, s.access(2));
    await s.open().whoAccessed();
    // A restart: the new session's directory has no list yet, and cannot load one now.
    s.accountServer.failing = true;
    s.setClock(10);
    const log = s.open({ directory: s.newDirectory() });
    s.read();
    expect(await log.disclosures()).toEqual([]);
    expect(s.read()).toBe(2);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*unverified: 1/)]);
  });
});
