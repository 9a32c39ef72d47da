import { describe, expect, it, vi } from 'vitest';
import { base64urlEncode, deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { newId } from '@hale/model';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta } from '../store/device-meta';
import { createAuditLog } from './audit-log';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta, providerAudit } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const DAY = 24 * 3600_000;

/**
 * A provider device appending to two patients' audit streams, against a scripted server that stores
 * what it accepts; `decide` answers each pushed row.
 */
const setup = () => {
  const f = providerAudit({ patients: 2 });
  return {
    log: f.open(),
    open: f.open,
    a: f.patients[0]!.accountId,
    b: f.patients[1]!.accountId,
    pushes: f.server.pushes,
    positions: (patientId: string) => f.server.positions(`${patientId}/audit`),
    verifyStored: f.verifyStored,
    setDecide: f.server.setDecide,
    advance: f.advance,
  };
};

describe('audit outbox', () => {
  it('keeps refused entries, holds them back with backoff, and delivers them in order later', async () => {
    const s = setup();
    s.setDecide((doc) => (doc.stream.startsWith(s.a) ? { code: 'CONSENT_EXPIRED' } : 'ok'));
    await s.log.append(s.a, { action: 'a1' });
    await s.log.append(s.a, { action: 'a2' });
    await s.log.append(s.b, { action: 'b1' });
    expect(await s.log.flush()).toBe(1);
    expect(await s.log.pendingCount()).toBe(2);
    expect(s.positions(s.b)).toEqual([1]);
    expect(s.log.issues()).toEqual([expect.stringMatching(/^CONSENT_EXPIRED/)]);

    // Within the backoff nothing is pushed again, however often flush runs.
    const before = s.pushes.length;
    for (let i = 0; i < 5; i++) await s.log.flush();
    expect(s.pushes.length).toBe(before);
    // Past it, one more attempt; the next backoff is longer (doubling).
    s.advance(31_000);
    await s.log.flush();
    expect(s.pushes.length).toBe(before + 1);
    s.advance(31_000);
    await s.log.flush();
    expect(s.pushes.length).toBe(before + 1);
    expect(await s.log.undelivered()).toEqual([
      expect.objectContaining({ patientId: s.a, entries: 2, code: 'CONSENT_EXPIRED', refusals: 2 }),
    ]);

    // New activity for the patient retries at once; access is back, so all go, in chain order.
    s.setDecide(() => 'ok');
    await s.log.append(s.a, { action: 'a3' });
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(0);
    expect(s.positions(s.a)).toEqual([1, 2, 3]);
    expect((await s.verifyStored(s.a)).ok).toBe(true);
    expect(await s.log.undelivered()).toEqual([]);
  });

  it('gives up a chain refused for good and rewinds it, so the next entry continues the stored chain', async () => {
    const s = setup();
    await s.log.append(s.a, { action: 'a1' });
    await s.log.flush();
    s.setDecide(() => ({ code: 'BAD_SIGNATURE' })); // no retry can change this answer
    await s.log.append(s.a, { action: 'a2' });
    await s.log.append(s.a, { action: 'a3' });
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(0);
    expect(s.log.issues().some((i) => i.startsWith('AUDIT_GIVEN_UP'))).toBe(true);
    s.setDecide(() => 'ok');
    await s.log.append(s.a, { action: 'a4' });
    await s.log.flush();
    expect(s.positions(s.a)).toEqual([1, 2]);
    expect((await s.verifyStored(s.a)).problems).toEqual([]);
  });

  it('gives up a chain refused for lack of consent only after a week and three refusals', async () => {
    const s = setup();
    s.setDecide(() => ({ code: 'CONSENT_REVOKED' }));
    await s.log.append(s.a, { action: 'a1' });
    await s.log.flush();
    s.advance(8 * DAY);
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(1);
    s.advance(DAY);
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(0);
    s.setDecide(() => 'ok');
    await s.log.append(s.a, { action: 'a2' });
    await s.log.flush();
    expect(s.positions(s.a)).toEqual([1]);
    expect((await s.verifyStored(s.a)).ok).toBe(true);
  });

  it("holds a chain refused RATE_LIMITED (the server's daily cap on a device's entries) and delivers it later, never giving it up at once", async () => {
    const s = setup();
    await s.log.append(s.a, { action: 'a1' });
    await s.log.flush();
    s.setDecide((doc) => (doc.stream.startsWith(s.a) ? { code: 'RATE_LIMITED' } : 'ok'));
    await s.log.append(s.a, { action: 'a2' });
    await s.log.append(s.a, { action: 'a3' });
    await s.log.flush();
    // Refused twice more, a day apart: still kept, the chain not rewound.
    for (let i = 0; i < 2; i++) {
      s.advance(DAY);
      await s.log.flush();
    }
    expect(await s.log.pendingCount()).toBe(2);
    expect(s.log.issues().some((i) => i.startsWith('AUDIT_GIVEN_UP'))).toBe(false);
    expect(await s.log.undelivered()).toEqual([
      expect.objectContaining({ patientId: s.a, entries: 2, code: 'RATE_LIMITED', refusals: 3 }),
    ]);
    // Once the server takes them again they go in chain order, the next entry after them.
    s.setDecide(() => 'ok');
    s.advance(DAY);
    await s.log.flush();
    await s.log.append(s.a, { action: 'a4' });
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(0);
    expect(s.positions(s.a)).toEqual([1, 2, 3, 4]);
    expect((await s.verifyStored(s.a)).ok).toBe(true);
  });

  it('never gives up an entry whose push went unanswered: it may be stored', async () => {
    const s = setup();
    s.setDecide(() => 'store-then-lose');
    await s.log.append(s.a, { action: 'a1' });
    await expect(s.log.flush()).rejects.toThrow(/connection lost/);
    expect(await s.log.pendingCount()).toBe(1);
    // Refused now (even in a way that would otherwise be final): kept, and the chain is not rewound.
    s.setDecide(() => ({ code: 'BAD_SIGNATURE' }));
    await s.log.flush();
    s.advance(30 * DAY);
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(1);
    expect(await s.log.undelivered()).toEqual([expect.objectContaining({ maybeStored: true })]);
    s.setDecide(() => 'ok');
    await s.log.append(s.a, { action: 'a2' });
    await s.log.flush();
    expect(await s.log.pendingCount()).toBe(0);
    // Rewinding would have put a second entry at position 1 (a fork).
    expect(s.positions(s.a)).toEqual([1, 2]);
    expect((await s.verifyStored(s.a)).ok).toBe(true);
  });

  it('never gives up an entry whose push was under way when the device stopped', async () => {
    const s = setup();
    s.setDecide(() => 'hang');
    await s.log.append(s.a, { action: 'a1' });
    void s.log.flush();
    await vi.waitFor(() => expect(s.pushes).toHaveLength(1));
    const restarted = s.open();
    s.setDecide(() => ({ code: 'BAD_SIGNATURE' }));
    await restarted.flush();
    expect(await restarted.pendingCount()).toBe(1);
    expect(await restarted.undelivered()).toEqual([expect.objectContaining({ maybeStored: true })]);
  });

  it('does not rewind over an entry a later stored entry links to', async () => {
    const s = setup();
    await s.log.append(s.a, { action: 'a1' });
    const a2 = await s.log.append(s.a, { action: 'a2' });
    await s.log.append(s.a, { action: 'a3' });
    const a4 = await s.log.append(s.a, { action: 'a4' });
    // Refusals of single rows (today's server refuses per stream, device and time, never so): a3 is
    // stored, linked to a2, so a2 and a4 can never be replaced.
    s.setDecide((doc) => (doc.id === a2.id || doc.id === a4.id ? { code: 'BAD_SIGNATURE' } : 'ok'));
    await s.log.flush();
    expect(s.positions(s.a)).toEqual([1, 3]);
    expect(await s.log.pendingCount()).toBe(2);
    expect(s.log.issues().some((i) => i.startsWith('AUDIT_HELD'))).toBe(true);
    s.setDecide(() => 'ok');
    await s.log.append(s.a, { action: 'a5' });
    await s.log.flush();
    expect(s.positions(s.a)).toEqual([1, 3, 2, 4, 5]);
    // Out of order, as it was stored; but no position is claimed twice and none is missing.
    expect((await s.verifyStored(s.a)).problems.map((p) => p.kind)).toEqual(['reordered']);
  });
});

describe('audit: record changes noted just before the session closes', () => {
  const change = (n: number) => ({
    action: 'create' as const,
    kind: 'Allergy',
    id: `01J000000000000000000000${n}0`,
  });
  const locked = () => {
    const state = { locked: false };
    const assertUnlocked = (): void => {
      if (state.locked) throw Object.assign(new Error('the account is locked'), { code: 'LOCKED' });
    };
    return { state, assertUnlocked };
  };

  it('close appends them into the outbox instead of dropping them', async () => {
    const s = setup();
    void s.log.noteRecordChange(s.a, change(1));
    void s.log.noteRecordChange(s.a, change(2));
    await s.log.close();
    expect(await s.log.pendingCount()).toBe(1);
    // The next session sends it.
    await s.open().flush();
    expect(s.positions(s.a)).toEqual([1]);
    expect((await s.verifyStored(s.a)).ok).toBe(true);
  });

  it('locked, nothing is signed: they are kept unsigned and the next session appends them, once', async () => {
    const s = setup();
    const lock = locked();
    const first = s.open({ assertUnlocked: lock.assertUnlocked });
    void first.noteRecordChange(s.a, change(1));
    void first.noteRecordChange(s.b, change(2));
    lock.state.locked = true;
    // The coalescing timer fires after the lock: refused, and the changes stay noted.
    await expect(first.flushChanges()).rejects.toMatchObject({ code: 'LOCKED' });
    await expect(first.append(s.a, { action: 'export' })).rejects.toMatchObject({ code: 'LOCKED' });
    await first.close();
    expect(await first.pendingCount()).toBe(0);

    const next = s.open();
    await next.resumeNoted();
    await next.resumeNoted();
    expect(await next.pendingCount()).toBe(2);
    await next.flush();
    expect({ a: s.positions(s.a), b: s.positions(s.b) }).toEqual({ a: [1], b: [1] });
    expect(next.issues()).toEqual([]);
  });

  it('kept changes whose append fails at the next start stay kept, and are not appended twice', async () => {
    const s = setup();
    const lock = locked();
    const first = s.open({ assertUnlocked: lock.assertUnlocked });
    void first.noteRecordChange(s.a, change(1));
    lock.state.locked = true;
    await first.close();

    const second = s.open({ assertUnlocked: lock.assertUnlocked });
    await second.resumeNoted();
    expect(second.issues()).toEqual([expect.stringMatching(/^AUDIT_NOTED_PENDING/)]);
    await second.close();

    const third = s.open();
    await third.resumeNoted();
    expect(await third.pendingCount()).toBe(1);
  });
});

describe('audit views over bodies that do not match the AuditBody schema', () => {
  it("are refused like an entry that does not open: an own device's entry is reported inserted, and no view lists it", async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const device = generateDeviceKeys();
    const now = () => Date.parse('2026-01-01T00:00:00.000Z');
    const actor = {
      actorId: patient.accountId,
      actorDeviceId: device.deviceId,
      at: new Date(now()).toISOString(),
    };
    const served: ServedDoc[] = [];
    let chain: ChainState = { seq: 0, hash: null };
    const add = async (body: AuditBody) => {
      const made = await makeAuditEntry({
        patientId: patient.accountId,
        patientWrappingKey: patient.wrapping.publicKey,
        device: { deviceId: device.deviceId, secretKey: device.secretKey },
        ed,
        chain,
        body,
        now,
      });
      chain = made.chain;
      served.push({ ...made.doc, seq: served.length + 1, at: actor.at });
      return made.doc.id;
    };
    const good = await add({ kind: 'AuditEntry', action: 'export', ...actor, count: 1 });
    // Signed by the patient's own device, so only the body's frame is wrong (a broken writer).
    const forged = { kind: 'AuditEntry', action: 'consent-grant', ...actor, at: 7 };
    const bad = await add(forged as unknown as AuditBody);
    const connection = {
      status: () => 'ready' as const,
      request: async (frame: PullFrame) => ({
        t: 'pulled',
        rid: 1,
        docs: served,
        streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
        denied: [],
      }),
    } as unknown as Connection;
    const directory = {
      authorKey: async (accountId: string, deviceId: string) =>
        accountId === patient.accountId && deviceId === device.deviceId ? { key: device.publicKey } : null,
    } as unknown as DeviceDirectory;
    const log = createAuditLog({
      accountId: patient.accountId,
      keys: patient,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      now,
      connection,
      directory,
      meta: createDeviceMeta({ read: async () => undefined, write: async () => undefined }),
      serverKey: async () => null,
    });
    const verification = await log.verify();
    expect(verification.problems).toEqual([expect.objectContaining({ kind: 'inserted', entryId: bad })]);
    expect((await log.entries()).map((e) => e.id)).toEqual([good]);
    expect(await log.disclosures()).toEqual([]);
  });
});

describe('audit append', () => {
  it.each([
    ['an oversize summary', { action: 'export', summary: 'x'.repeat(501) }],
    ['a patient id that is no account id', { action: 'export', patientId: 'not-an-account' }],
    ['an empty action', { action: '' }],
  ])(
    'refuses a body its readers would refuse (%s): VALIDATION_FAILED, nothing signed',
    async (_why, body) => {
      const s = setup();
      const error: unknown = await s.log.append(s.a, body).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'RecordError', code: 'VALIDATION_FAILED' });
      expect(await s.log.pendingCount()).toBe(0);
      // The chain did not move: the next entry is the first.
      await s.log.append(s.a, { action: 'export', count: 1 });
      await s.log.flush();
      expect(s.positions(s.a)).toEqual([1]);
      expect((await s.verifyStored(s.a)).ok).toBe(true);
    },
  );
});

/**
 * A patient device reading its log from a scripted server that serves `served` as it stands: entries by
 * the server's audit key, by another device of the patient, sealed to the patient. Device meta persists
 * across `open` (a restart of the device).
 */
const patientSetup = () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const provider = deriveAccountKeys(generateRootSecret());
  const providerDevice = generateDeviceKeys();
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const server = generateDeviceKeys();
  const now = () => Date.parse('2026-01-01T00:00:00.000Z');
  const at = new Date(now()).toISOString();
  const served: ServedDoc[] = [];
  /** Per author, its chain state after each position (index 0: before the first). */
  const states = new Map<string, ChainState[]>();
  const add = async (
    author: typeof server,
    body: unknown,
    sealedTo: Uint8Array = patient.wrapping.publicKey,
  ): Promise<ServedDoc> => {
    const chain = states.get(author.deviceId) ?? [{ seq: 0, hash: null }];
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: sealedTo,
      device: { deviceId: author.deviceId, secretKey: author.secretKey },
      ed,
      chain: chain.at(-1)!,
      // As a writer that builds another shape (a newer server, a broken one) would seal it.
      body: body as AuditBody,
      now,
    });
    states.set(author.deviceId, [...chain, made.chain]);
    const doc: ServedDoc = { ...made.doc, seq: served.length + 1, at };
    served.push(doc);
    return doc;
  };
  const access = (extra: Record<string, unknown> = {}) => ({
    kind: 'AccessEvent',
    action: 'pull',
    actorId: provider.accountId,
    actorDeviceId: providerDevice.deviceId,
    stream: `${patient.accountId}/allergy`,
    count: 2,
    at,
    ...extra,
  });
  const entry = (action: string, extra: Record<string, unknown> = {}) => ({
    kind: 'AuditEntry',
    action,
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    at,
    ...extra,
  });
  /** Takes `author`'s chain back to `position`: its later entries are no longer served. */
  const rollBack = (author: typeof server, position: number): void => {
    const keep = served.filter((d) => d.author !== author.deviceId || d.audit!.authorSeq <= position);
    served.splice(0, served.length, ...keep.map((d, i) => ({ ...d, seq: i + 1 })));
    states.set(author.deviceId, states.get(author.deviceId)!.slice(0, position + 1));
  };
  const connection = {
    status: () => 'ready' as const,
    request: async (frame: PullFrame) => ({
      t: 'pulled',
      rid: 1,
      docs: [...served],
      streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
      denied: [],
    }),
  } as unknown as Connection;
  const lookups = { failing: null as string | null };
  const directory = {
    authorKey: async (accountId: string, deviceId: string) => {
      if (accountId !== patient.accountId) return null;
      if (lookups.failing !== null) return { unavailable: lookups.failing };
      if (deviceId === other.deviceId) return { key: other.publicKey };
      return deviceId === own.deviceId ? { key: own.publicKey } : null;
    },
  } as unknown as DeviceDirectory;
  const { meta } = memoryMeta();
  const open = auditLogOpener({
    keys: patient,
    device: own,
    ed,
    now,
    connection,
    directory,
    meta,
    serverKey: async () => ({ serverId: server.deviceId, publicKey: server.publicKey }),
  });
  return { patient, provider, own, other, server, served, add, access, entry, rollBack, lookups, meta, open };
};

const problemsOf = (v: { problems: Array<{ kind: string; author: string; authorSeq: number }> }) =>
  v.problems.map((p) => [p.kind, p.author, p.authorSeq]);

describe("audit: the ends of other authors' chains", () => {
  it("cut off by the server after this device read them are reported, by verify and the views' issues; the views still answer", async () => {
    const s = patientSetup();
    for (let i = 0; i < 3; i++) await s.add(s.server, s.access());
    await s.add(s.other, s.entry('export', { count: 1 }));
    await s.add(s.other, s.entry('export', { count: 2 }));
    const log = s.open();
    // Read through a view only: what it verified is remembered too.
    expect(await log.whoAccessed()).toHaveLength(3);
    expect(log.issues()).toEqual([]);

    s.rollBack(s.server, 2);
    s.rollBack(s.other, 1);
    const v = await log.verify();
    expect(problemsOf(v)).toEqual([
      ['deleted', s.server.deviceId, 3],
      ['deleted', s.other.deviceId, 2],
    ]);
    expect(await log.whoAccessed()).toHaveLength(2);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 2/)]);
    // Asked again, the same problems are not listed twice.
    await log.disclosures();
    expect(log.issues()).toHaveLength(1);
    // Remembered across a restart of the device.
    expect(problemsOf(await s.open().verify())).toEqual(problemsOf(v));
  });

  it('rolled back and grown again past the position seen: reported, naming the restore the server announced', async () => {
    const s = patientSetup();
    await s.meta.set('incarnation', { recorded: 'incarnation-before-0' });
    const first = [await s.add(s.server, s.access()), await s.add(s.server, s.access())];
    await s.add(s.server, s.access());
    const log = s.open();
    expect((await log.verify()).ok).toBe(true);

    // The server's chain goes on from position 2 with other entries (its store restored from a backup
    // that ended there, with nothing to carry its later entries from).
    s.rollBack(s.server, 2);
    const again = [await s.add(s.server, s.access()), await s.add(s.server, s.access())];
    await s.meta.set('incarnation', { recorded: 'incarnation-after-00' });
    const v = await log.verify();
    expect(v.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: s.server.deviceId,
        authorSeq: 3,
        entryId: again[0]!.id,
      }),
    ]);
    expect(v.problems[0]!.detail).toMatch(/another entry holds its place.*restore of its store/);
    // The views still list every access that verifies, the new ones too, and report the problem.
    expect(await log.whoAccessed()).toHaveLength(first.length + again.length);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 1/)]);
    // A device that never read the longer chain has nothing to compare with.
    const fresh = patientSetup();
    expect((await fresh.open().verify()).ok).toBe(true);
  });
});

describe('audit: two served entries under one id (a server serving a copy under a genuine entry id)', () => {
  it('a forged copy served first does not hide the genuine entry from the views', async () => {
    const s = patientSetup();
    await s.add(s.other, s.entry('export', { count: 1 }));
    const genuine = await s.add(s.other, s.entry('export', { count: 2 }));
    const third = await s.add(s.other, s.entry('export', { count: 3 }));
    // The genuine entry's id, author and place, with another body: its signature does not verify.
    const forged: ServedDoc = { ...genuine, ct: third.ct };
    s.served.splice(0, s.served.length, ...[forged, ...s.served].map((d, i) => ({ ...d, seq: i + 1 })));
    const log = s.open();
    expect(problemsOf(await log.verify())).toEqual([['modified', s.other.deviceId, 2]]);
    const listed = await log.entries();
    expect(listed.map((e) => [e.authorSeq, e.body.kind === 'AuditEntry' ? e.body.count : null])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('a second copy of an entry is listed once, and the entry itself stays listed', async () => {
    const s = patientSetup();
    await s.add(s.server, s.access());
    const twice = await s.add(s.server, s.access({ count: 5 }));
    s.served.push({ ...twice, seq: s.served.length + 1 });
    const log = s.open();
    expect(problemsOf(await log.verify())).toEqual([['inserted', s.server.deviceId, 2]]);
    const who = await log.whoAccessed();
    expect(who.map((r) => r.count)).toEqual([2, 5]);
  });
});

describe('audit: server-signed entries whose body does not open or match the schema', () => {
  it('are reported (not silently left out of the views); a newer detail is dropped, the access kept', async () => {
    const s = patientSetup();
    await s.add(s.server, s.access());
    // A newer server's detail this build refuses: the frame matches, so the access is kept without it.
    const newer = await s.add(s.server, s.access({ blobId: 'not/a record id' }));
    // Sealed to another key (e.g. one the account no longer holds): nobody here can read it.
    const sealedElsewhere = await s.add(
      s.server,
      s.access(),
      deriveAccountKeys(generateRootSecret()).wrapping.publicKey,
    );
    // Its frame is wrong (no count): nothing it says can be listed.
    const { count: _count, ...uncounted } = s.access();
    const broken = await s.add(s.server, uncounted);
    const log = s.open();
    const v = await log.verify();
    expect(v.problems).toEqual([
      expect.objectContaining({ kind: 'inserted', entryId: sealedElsewhere.id, author: s.server.deviceId }),
      expect.objectContaining({ kind: 'inserted', entryId: broken.id, author: s.server.deviceId }),
    ]);
    const who = await log.whoAccessed();
    expect(who).toHaveLength(2);
    expect(who[1]).not.toHaveProperty('blobId');
    expect((await log.entries()).map((e) => e.id)).toContain(newer.id);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 2/)]);
  });
});

describe('audit: an author whose device list cannot be read now', () => {
  it('is reported unverified, not as forged, and its positions are not called missing', async () => {
    const s = patientSetup();
    const grantId = newId(() => 0);
    const absent = newId(() => 1);
    await s.add(s.other, s.entry('export', { count: 1 }));
    await s.add(s.other, s.entry('consent-grant', { grantId }));
    const log = s.open();
    expect((await log.verify()).ok).toBe(true);
    s.lookups.failing = 'GET /v1/accounts: HTTP 503';
    const v = await log.verify();
    expect(problemsOf(v)).toEqual([
      ['unverified', s.other.deviceId, 1],
      ['unverified', s.other.deviceId, 2],
    ]);
    expect(v.problems[0]!.detail).toContain('HTTP 503');
    // Whether a grant was recorded is not answered "no" meanwhile when an entry not checkable now says it
    // is that grant's (a second entry would be appended); one no such entry names is answered.
    await expect(log.recorded({ 'consent-grant': [grantId] })).rejects.toThrow(/could not be checked now/);
    expect((await log.recorded({ 'consent-grant': [absent] }))['consent-grant']).toEqual(new Set());
    s.lookups.failing = null;
    expect((await log.verify()).ok).toBe(true);
    expect((await log.recorded({ 'consent-grant': [grantId, absent] }))['consent-grant']).toEqual(
      new Set([grantId]),
    );
  });
});

describe('audit: disclosures', () => {
  it("count the recipient's server-logged accesses, not the attempts the server refused", async () => {
    const s = patientSetup();
    await s.add(
      s.other,
      s.entry('consent-grant', {
        grantId: 'g1',
        granteeId: s.provider.accountId,
        scope: [{ type: 'allergy', access: 'read' }],
        expiresAt: '2026-02-01T00:00:00.000Z',
      }),
    );
    await s.add(s.server, s.access());
    await s.add(s.server, s.access({ action: 'denied', count: 0, stream: `${s.patient.accountId}/lab` }));
    await s.add(s.server, s.access({ action: 'denied', count: 0 }));
    const [disclosure] = await s.open().disclosures();
    expect(disclosure).toMatchObject({ accesses: 1, documentsDisclosed: 2 });
  });

  it('date a grant by its signed issue, and show its revocation: when, and by which device', async () => {
    const s = patientSetup();
    const issuedAt = '2025-12-31T22:00:00.000Z';
    const start = '2025-12-31T23:00:00.000Z';
    const revokedAt = '2025-12-31T23:30:00.000Z';
    const grant = {
      v: 1 as const,
      grantId: newId(() => Date.parse(issuedAt)),
      patientId: s.patient.accountId,
      granteeId: s.provider.accountId,
      scope: [{ type: 'allergy' as const, access: 'read' as const }],
      start,
      expiresAt: '2026-02-01T00:00:00.000Z',
      purpose: 'second opinion',
      issuedAt,
    };
    const other = { ...grant, grantId: newId(() => Date.parse(issuedAt) + 1), purpose: 'lab review' };
    // This device's copy holds the first grant, revoked (consent.ts keeps it from signed copies only).
    // The copy holds the purpose sealed (as the server serves it); the audit entry holds it in clear.
    const sealedPurpose = { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' };
    await s.meta.set('grants', [
      { grant: { ...grant, purpose: sealedPurpose }, sig: base64urlEncode(new Uint8Array(64)), revokedAt },
    ]);
    const recorded = (g: typeof grant) =>
      s.entry('consent-grant', {
        grantId: g.grantId,
        granteeId: g.granteeId,
        scope: g.scope,
        expiresAt: g.expiresAt,
        purpose: g.purpose,
      });
    // Appended late (the entries' time is the appending device's clock, hours after the grant).
    await s.add(s.other, recorded(grant));
    await s.add(s.other, recorded(other));
    await s.add(s.other, s.entry('consent-revoke', { grantId: grant.grantId, deviceId: s.own.deviceId }));
    // Learnt from the server's list by another device: no device named.
    await s.add(s.other, s.entry('consent-revoke', { grantId: other.grantId }));
    const entryAt = new Date(Date.parse('2026-01-01T00:00:00.000Z')).toISOString();
    expect(await s.open().disclosures()).toEqual([
      expect.objectContaining({
        date: issuedAt,
        issuedAt,
        start,
        recordedAt: entryAt,
        revokedAt,
        revokedByDeviceId: s.own.deviceId,
        purpose: 'second opinion',
      }),
      {
        // Not in this device's copy: the entry's own time, and the revocation's entry.
        date: entryAt,
        recordedAt: entryAt,
        recipient: s.provider.accountId,
        recordTypes: ['allergy'],
        purpose: 'lab review',
        expiresAt: other.expiresAt,
        revokedAt: entryAt,
        accesses: 0,
        documentsDisclosed: 0,
      },
    ]);
  });
});
