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
  type DeviceKeys,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
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

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
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
        sealedName: 'c2VhbGVk',
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
  // A provider whose device (`guest`) writes its own entries in the patient's log (`guestEntry`).
  const guest = generateDeviceKeys();
  const providerWrapping = base64urlEncode(provider.wrapping.publicKey);
  const providerPayload = wrappingKeySignaturePayload({
    accountId: provider.accountId,
    identityPublicKey: base64urlEncode(provider.identity.publicKey),
    wrappingPublicKey: providerWrapping,
  });
  const providerAccount = {
    accountId: provider.accountId,
    identityPublicKey: base64urlEncode(provider.identity.publicKey),
    wrappingPublicKey: providerWrapping,
    wrappingKeySig: base64urlEncode(
      await signCanonical(ed, provider.identity.secretKey, providerPayload.label, providerPayload),
    ),
    role: 'provider' as const,
    devices: [
      await certifyDevice(
        provider.identity.secretKey,
        {
          accountId: provider.accountId,
          deviceId: guest.deviceId,
          devicePublicKey: guest.publicKey,
          sealedName: 'c2VhbGVk',
          createdAt: at(-60),
          identityPublicKey: provider.identity.publicKey,
        },
        ed,
      ),
    ],
    revokedDevices: [] as string[],
  };
  let revokedInfo: AccountDeviceInfo | null = null;
  /** `failing`: no list loads; `providerFailing`: the provider's list does not load (the patient's does). */
  const accountServer = { loads: 0, providerLoads: 0, failing: false, providerFailing: false };
  /** A directory over that server (a new one: the directory of a new session, nothing cached yet). */
  const newDirectory = () =>
    createDeviceDirectory({
      ed,
      now,
      getAccount: async (accountId) => {
        accountServer.loads++;
        if (accountServer.failing) throw new Error('connection lost');
        if (accountId === provider.accountId) {
          accountServer.providerLoads++;
          if (accountServer.providerFailing) throw new Error('connection lost');
          return structuredClone(providerAccount);
        }
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
  let pages = 0;
  let online = true;
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
    status: () => (online ? ('ready' as const) : ('offline' as const)),
    onStatusChange: () => () => undefined,
    request: async (frame: PullFrame) => {
      if (!online) throw new Error('not connected');
      pages++;
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
  /** An entry the provider's device writes in the patient's log (listed as its own claim). */
  const guestEntry = (action: string) => ({
    kind: 'AuditEntry',
    action,
    actorId: provider.accountId,
    actorDeviceId: guest.deviceId,
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
    guest,
    server,
    add,
    entry,
    guestEntry,
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
    /** Pages of the log pulled since the last call. */
    pages: (): number => {
      const n = pages;
      pages = 0;
      return n;
    },
    setOnline: (v: boolean) => void (online = v),
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

  it('an author the directory cannot answer for now: the view answers as a whole read would, from the cache', async () => {
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
    // Its entries are left out, as a whole read leaves them out, but the log is not read again whole.
    expect(s.read()).toBe(0);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*unverified: 1/)]);
  });
});

/**
 * The cache holds entries of `other`, judged when its account's device list loaded; a new session's
 * directory cannot load that list now (`failing`). Five views.
 */
const unjudgedSetup = async () => {
  const s = await revokedSetup();
  s.setClock(1);
  const before = s.grant('before');
  await s.add(s.other, before);
  await s.add(s.server, s.access(2));
  await s.add(s.server, s.access(3));
  const first = s.open();
  expect((await first.disclosures()).map((d) => d.purpose)).toEqual(['before']);
  s.read();
  s.pages();
  s.accountServer.failing = true;
  s.setClock(10);
  const directory = s.newDirectory();
  return { ...s, log: s.open({ directory }), sessionDirectory: directory, before };
};

describe('audit views: an author whose device list cannot be loaded now', () => {
  it('costs no whole-log read per view, and the directory is asked again only after a while', async () => {
    const s = await unjudgedSetup();
    const perView: Array<[number, number]> = [];
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      s.accountServer.loads = 0;
      expect((await s.log.whoAccessed()).map((a) => a.count)).toEqual([2, 3]);
      perView.push([s.pages(), s.read()]);
      loads.push(s.accountServer.loads);
    }
    // One page per view, carrying nothing (nothing new was served), not the whole log each time.
    expect(perView).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
    ]);
    // The failed look-up is not made again at every view.
    expect(loads.slice(1)).toEqual([0, 0, 0, 0]);
    // Never as the patient's grant while the device list cannot be checked.
    expect(await s.log.disclosures()).toEqual([]);
    const unverified = await s.log.verify();
    expect(unverified.problems.map((p) => p.kind)).toEqual(['unverified']);

    // The list loads again: after the retry time its entries are listed again, from the cache.
    s.accountServer.failing = false;
    s.setClock(10 + 5);
    s.read();
    expect((await s.log.disclosures()).map((d) => d.purpose)).toEqual(['before']);
    expect(s.read()).toBe(0);
  });

  it('answers offline from the verified cache, its entries left out and counted, never as verified', async () => {
    const s = await unjudgedSetup();
    expect((await s.log.whoAccessed()).map((a) => a.count)).toEqual([2, 3]);
    s.setOnline(false);
    const offline = await s.log.entries({ offline: 'cached' });
    expect(offline).toMatchObject({ complete: false, reason: 'offline', unverified: 1 });
    expect(offline.records.map((e) => e.source)).toEqual(['server', 'server']);
    expect(await s.log.disclosures({ offline: 'cached' })).toMatchObject({
      records: [],
      complete: false,
      unverified: 1,
    });
    // Online again with the list loaded: the same view is complete, with nothing left out.
    s.setOnline(true);
    s.accountServer.failing = false;
    s.setClock(10 + 5);
    const online = await s.log.disclosures({ offline: 'cached' });
    expect(online).toMatchObject({ complete: true });
    expect(online).not.toHaveProperty('unverified');
    expect(online.records.map((d) => d.purpose)).toEqual(['before']);
  });

  it('an entry it signed past the cache is not listed, nor cached past, and is listed once it can be checked', async () => {
    const s = await unjudgedSetup();
    s.setClock(11);
    const later = s.grant('later');
    await s.add(s.other, later);
    await s.add(s.server, s.access(4));
    expect(await s.log.disclosures()).toEqual([]);
    expect((await s.log.whoAccessed()).map((a) => a.count)).toEqual([2, 3, 4]);
    expect(s.log.issues().at(-1)).toMatch(/^AUDIT_LOG_PROBLEMS: .*unverified: 2/);
    // Read again from the cache's end at each view (the unchecked entry is not cached past).
    s.read();
    await s.log.whoAccessed();
    expect(s.read()).toBe(2);
    // Not answered "not recorded" for a grant whose entry is left out (cached, or past the cache); a grant
    // no entry left out names is answered.
    for (const grantId of [s.before.grantId, later.grantId])
      await expect(s.log.recorded({ 'consent-grant': [grantId] })).rejects.toThrow(/could not be checked/);
    expect(await s.log.recorded({ 'consent-grant': ['none-such'] })).toEqual({
      'consent-grant': new Set(),
      'consent-revoke': new Set(),
    });

    s.accountServer.failing = false;
    s.setClock(20);
    expect((await s.log.disclosures()).map((d) => d.purpose)).toEqual(['before', 'later']);
    expect(await s.log.entries()).toEqual(await s.whole());
  });

  it('one not cached yet, its entry past the cache: not asked again at every view, only after a while', async () => {
    const s = await revokedSetup();
    s.setClock(1);
    await s.add(s.other, s.grant('before'));
    await s.add(s.server, s.access(2));
    const log = s.open();
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([2]);
    // The provider's device writes in the log for the first time; its account's list does not load now.
    s.accountServer.providerFailing = true;
    s.setClock(2);
    await s.add(s.guest, s.guestEntry('record-viewed'));
    s.read();
    const loads: number[] = [];
    for (let i = 0; i < 4; i++) {
      s.accountServer.providerLoads = 0;
      expect((await log.whoAccessed()).map((a) => a.source)).toEqual(['server']);
      loads.push(s.accountServer.providerLoads);
      expect(log.issues().at(-1)).toMatch(/^AUDIT_LOG_PROBLEMS: .*unverified: 1/);
    }
    // Its entry is read past the cache at each view (not cached past), its author asked at the first only.
    expect(s.read()).toBe(4);
    expect(loads[0]).toBeGreaterThan(0);
    expect(loads.slice(1)).toEqual([0, 0, 0]);

    // After the retry time it is asked again; once its list loads, its entry is listed as its claim.
    s.setClock(4);
    s.accountServer.providerLoads = 0;
    await log.whoAccessed();
    expect(s.accountServer.providerLoads).toBeGreaterThan(0);
    s.accountServer.providerFailing = false;
    s.setClock(6);
    expect((await log.whoAccessed()).map((a) => a.source)).toEqual(['server', 'grantee']);
    expect(await log.entries()).toEqual(await s.whole());
  });

  it('a whole read due meanwhile keeps the cache, and the author is checked whole once its list loads', async () => {
    const s = await unjudgedSetup();
    await s.log.whoAccessed();
    s.read();
    // A day after the cache's whole check: one is due, and cannot check that author's entries either.
    s.setClock(10 + 24 * 60);
    expect((await s.log.whoAccessed()).map((a) => a.count)).toEqual([2, 3]);
    expect(s.read()).toBe(3);
    const after: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(await s.log.disclosures()).toEqual([]);
      after.push(s.read());
    }
    expect(after).toEqual([0, 0, 0]);
    // Its list loads: its cached entries were last checked whole over a day ago, so the log is read whole.
    s.accountServer.failing = false;
    s.setClock(10 + 24 * 60 + 5);
    expect((await s.log.disclosures()).map((d) => d.purpose)).toEqual(['before']);
    expect(s.read()).toBe(3);
    await s.log.whoAccessed();
    expect(s.read()).toBe(0);
  });

  it('losses accepted while it cannot be checked: the cache goes (its chain there was not held to anything)', async () => {
    const s = await unjudgedSetup();
    expect(await s.log.disclosures()).toEqual([]);
    expect((await s.log.acceptLosses()).problems.map((p) => p.kind)).toEqual(['unverified']);
    s.read();
    s.accountServer.failing = false;
    s.setClock(20);
    expect((await s.log.disclosures()).map((d) => d.purpose)).toEqual(['before']);
    expect(s.read()).toBe(3);
  });

  it('revoked meanwhile: once the directory answers, the whole log is read and what it signed since is refused', async () => {
    const s = await unjudgedSetup();
    expect(await s.log.disclosures()).toEqual([]);
    s.setClock(30);
    await s.revokeOther(at(0), at(0));
    s.accountServer.failing = false;
    s.read();
    expect(await s.log.disclosures()).toEqual([]);
    expect(s.read()).toBe(3);
    expect(s.log.issues().at(-1)).toMatch(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/);
  });
});

// An answer offline is as of `asOf`: what was served since is missing, never what was served before it.
// While an author cannot be judged, entries past the cache are not cached past; the answer offline must
// then not claim a later read than the last one the cache covered.
describe('audit views offline while an author cannot be judged: asOf', () => {
  it('entries past the cache not cached (one of them unchecked): asOf is not the later read', async () => {
    const s = await unjudgedSetup();
    s.setClock(11);
    await s.add(s.other, s.grant('later'));
    await s.add(s.server, s.access(4));
    s.setClock(12);
    expect((await s.log.whoAccessed()).map((a) => a.count)).toEqual([2, 3, 4]);
    s.setOnline(false);
    const offline = await s.log.whoAccessed({ offline: 'cached' });
    expect(offline.records.map((a) => a.count)).toEqual([2, 3]);
    // The access served at minute 11 is missing: the answer may not be as of a read after it.
    expect(Date.parse(offline.asOf)).toBeLessThan(Date.parse(at(11)));
    expect(offline).toMatchObject({ complete: false, unverified: 1 });
  });

  it('a whole read that keeps the cache as it was: asOf is not that read', async () => {
    const s = await unjudgedSetup();
    s.setClock(99);
    await s.add(s.server, s.access(4));
    s.setClock(100);
    expect((await s.log.verify()).problems.map((p) => p.kind)).toEqual(['unverified']);
    s.setOnline(false);
    const offline = await s.log.whoAccessed({ offline: 'cached' });
    expect(offline.records.map((a) => a.count)).toEqual([2, 3]);
    expect(Date.parse(offline.asOf)).toBeLessThan(Date.parse(at(99)));
    expect(offline).toMatchObject({ complete: false, unverified: 1 });
  });
});

// Two cached device authors: the provider's `guest`, whose list cannot load now, and the patient's `other`,
// revoked meanwhile. A whole read that finds only `guest` unchecked keeps the cache; it must also keep how
// it judged `other` now, or every later view finds `other` changed and reads the whole log again.
describe('audit views: one author unjudged while another changed without a problem', () => {
  const twoAuthors = async (cutoff: number) => {
    const s = await revokedSetup();
    s.setClock(1);
    await s.add(s.other, s.grant('before'));
    await s.add(s.guest, s.guestEntry('record-viewed'));
    await s.add(s.server, s.access(2));
    s.setClock(3);
    await s.add(s.other, { ...s.entry('records-changed'), summary: '1 record change(s)', changes: [] });
    expect((await s.open().disclosures()).map((d) => d.purpose)).toEqual(['before']);
    s.read();
    // A restart: `other` revoked (signed at `cutoff`, taken at minute 20), the provider's list failing.
    s.setClock(30);
    await s.revokeOther(at(cutoff), at(20));
    s.accountServer.providerFailing = true;
    return { ...s, log: s.open({ directory: s.newDirectory() }) };
  };

  it('revoked after all its entries: one whole read, then none per view, and an answer offline', async () => {
    const s = await twoAuthors(5);
    const perView: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect((await s.log.disclosures()).map((d) => d.purpose)).toEqual(['before']);
      perView.push(s.read());
    }
    // The first view reads the whole log (`other` judged otherwise now), the later ones only what is new.
    expect(perView).toEqual([4, 0, 0, 0]);
    const whoSaw = await s.log.whoAccessed();
    expect(whoSaw.map((a) => a.source)).toEqual(['server']);
    expect(s.log.issues().at(-1)).toMatch(/^AUDIT_LOG_PROBLEMS: .*unverified: 1\)/);
    s.setOnline(false);
    const offline = await s.log.entries({ offline: 'cached' });
    expect(offline).toMatchObject({ complete: false, reason: 'offline', unverified: 1 });
    expect(offline.records.map((e) => e.author)).toEqual([
      s.other.deviceId,
      s.server.deviceId,
      s.other.deviceId,
    ]);
  });

  it('revoked before its later entry: that entry is reported inserted at every view, never listed', async () => {
    const s = await twoAuthors(2);
    for (let i = 0; i < 3; i++) {
      expect((await s.log.entries()).map((e) => e.author)).toEqual([s.other.deviceId, s.server.deviceId]);
      expect(s.log.issues().at(-1)).toMatch(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/);
    }
    const problems = (await s.log.verify()).problems.map((p) => [p.kind, p.author]);
    expect(problems).toEqual(
      expect.arrayContaining([
        ['inserted', s.other.deviceId],
        ['unverified', s.guest.deviceId],
      ]),
    );
    s.setOnline(false);
    await expect(s.log.entries({ offline: 'cached' })).rejects.toThrow(/found a problem/);
  });
});
