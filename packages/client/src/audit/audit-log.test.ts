import { describe, expect, it, vi } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret, tweetnaclEd25519 } from '@hale/crypto';
import type { PullFrame, PushDoc, PushFrame, PushResult, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta } from '../session/device-meta';
import { createAuditLog, type AuditLogDeps } from './audit-log';
import { makeAuditEntry, verifyAuditLog, type AuditBody, type ChainState } from './audit-chain';

const ed = tweetnaclEd25519;
const DAY = 24 * 3600_000;

type Decision = 'ok' | 'store-then-lose' | 'hang' | { code: string };

/**
 * A provider device appending to two patients' audit streams, against a scripted server that stores
 * what it accepts; `decide` answers each pushed row.
 */
const setup = () => {
  const provider = deriveAccountKeys(generateRootSecret());
  const patients = [deriveAccountKeys(generateRootSecret()), deriveAccountKeys(generateRootSecret())];
  const device = generateDeviceKeys();
  const stored: PushDoc[] = [];
  const pushes: PushDoc[][] = [];
  let decide: (doc: PushDoc) => Decision = () => 'ok';
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const connection = {
    status: () => 'ready' as const,
    async request(frame: PushFrame) {
      const rows = frame.rows.map((r) => r.doc);
      pushes.push(rows);
      // The device stops while waiting (nothing is stored, but it cannot know).
      if (rows.some((doc) => decide(doc) === 'hang')) return new Promise(() => undefined);
      let lose = false;
      const results: PushResult[] = rows.map((doc) => {
        const decision = decide(doc);
        if (decision === 'ok' || decision === 'store-then-lose' || decision === 'hang') {
          if (!stored.some((s) => s.id === doc.id)) stored.push(doc);
          lose ||= decision === 'store-then-lose';
          return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.length };
        }
        return { status: 'error', stream: doc.stream, id: doc.id, code: decision.code, message: 'refused' };
      });
      if (lose) throw new Error('connection lost before the answer');
      return { t: 'pushed', rid: 1, results };
    },
  } as unknown as Connection;
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => void raw.set(key, structuredClone(value)),
  });
  const directory = {
    wrappingKey: async (accountId: string) =>
      patients.find((p) => p.accountId === accountId)?.wrapping.publicKey ?? null,
  } as unknown as DeviceDirectory;
  /** A session of the device over its stored metadata (a second one: the device restarted). */
  const open = (extra: Partial<AuditLogDeps> = {}) =>
    createAuditLog({
      accountId: provider.accountId,
      keys: provider,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      now: () => clock,
      connection,
      directory,
      meta,
      serverKey: async () => null,
      ...extra,
    });
  const log = open();
  /** The patient's stream as stored, verified against the provider device's key. */
  const verifyStored = (patientId: string) =>
    verifyAuditLog(
      stored
        .filter((d) => d.stream === `${patientId}/audit`)
        .map((d, i): ServedDoc => ({ ...d, seq: i + 1, at: new Date(clock).toISOString() })),
      async (e) => (e.author === device.deviceId ? device.publicKey : null),
      ed,
    );
  const positions = (patientId: string) =>
    stored.filter((d) => d.stream === `${patientId}/audit`).map((d) => d.audit?.authorSeq);
  return {
    log,
    open,
    a: patients[0]!.accountId,
    b: patients[1]!.accountId,
    stored,
    pushes,
    positions,
    verifyStored,
    setDecide: (f: (doc: PushDoc) => Decision) => void (decide = f),
    advance: (ms: number) => void (clock += ms),
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
    s.log.noteRecordChange(s.a, change(1));
    s.log.noteRecordChange(s.a, change(2));
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
    first.noteRecordChange(s.a, change(1));
    first.noteRecordChange(s.b, change(2));
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
    first.noteRecordChange(s.a, change(1));
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
