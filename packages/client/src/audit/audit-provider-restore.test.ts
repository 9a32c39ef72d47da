import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { PullFrame, PushDoc, PushFrame, PushResult, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta } from '../session/device-meta';
import { createAuditLog, patientKeyName } from './audit-log';
import { verifyAuditLog } from './audit-chain';

// Node's: one test signs over 500 entries.
const ed = createNodeEd25519();
const DAY = 24 * 3600_000;
const A = 'incarnation-before-0';
const B = 'incarnation-after-00';

/**
 * A provider device appending to a patient's log, against a server that stores what it takes, answers a
 * re-push of a stored entry `ok` (as the server does), and refuses a grantee's read of the log.
 */
const setup = () => {
  const provider = deriveAccountKeys(generateRootSecret());
  const patient = deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const stream = `${patient.accountId}/audit`;
  let stored: PushDoc[] = [];
  const pushed: PushDoc[] = [];
  let reads = 0;
  let refuse: string | null = null;
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const connection = {
    status: () => 'ready' as const,
    async request(frame: PushFrame | PullFrame) {
      if (frame.t === 'pull') {
        reads++;
        return {
          t: 'pulled',
          rid: 1,
          docs: [],
          streams: [],
          denied: frame.streams.map((s) => ({ stream: s.stream, code: 'FORBIDDEN' })),
        };
      }
      const results: PushResult[] = frame.rows.map(({ doc }) => {
        pushed.push(doc);
        if (refuse !== null)
          return { status: 'error', stream: doc.stream, id: doc.id, code: refuse, message: 'refused' };
        if (!stored.some((s) => s.id === doc.id)) stored.push(doc);
        return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.length };
      });
      return { t: 'pushed', rid: 1, results };
    },
  } as unknown as Connection;
  const raw = new Map<string, unknown>();
  /** A key whose next write fails (a crash between two writes, as far as what is stored goes). */
  let failNext: string | null = null;
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      if (key === failNext) {
        failNext = null;
        throw new Error(`write of ${key} lost`);
      }
      raw.set(key, structuredClone(value));
    },
  });
  const directory = {
    wrappingKey: async (accountId: string) =>
      accountId === patient.accountId ? patient.wrapping.publicKey : null,
  } as unknown as DeviceDirectory;
  const open = () =>
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
    });
  return {
    open,
    patientId: patient.accountId,
    localKey: provider.localKey,
    /** The store loses this device's entries past `position` (a restore from a backup onto an empty disk). */
    cut: (position: number): void => {
      stored = stored.filter((d) => (d.audit?.authorSeq ?? 0) <= position);
    },
    /** Positions of the patient's log as stored, in the order stored. */
    positions: (): number[] => stored.filter((d) => d.stream === stream).map((d) => d.audit?.authorSeq ?? 0),
    /** The patient's log as stored, verified as a patient's device would (no position known from elsewhere). */
    verifyStored: () =>
      verifyAuditLog(
        stored.map((d, i): ServedDoc => ({ ...d, seq: i + 1, at: '2026-01-01T00:00:00.000Z' })),
        async (e) => (e.author === device.deviceId ? device.publicKey : null),
        ed,
      ),
    pushedCount: () => pushed.length,
    reads: () => reads,
    setRefuse: (code: string | null) => void (refuse = code),
    advance: (ms: number) => void (clock += ms),
    failNextWrite: (key: string) => void (failNext = key),
  };
};

const gaps = (v: { problems: ReadonlyArray<{ kind: string; authorSeq: number }> }): number[] =>
  v.problems.filter((p) => p.kind === 'deleted').map((p) => p.authorSeq);

describe("audit: a provider device's chain in a patient's log after a restore of the server", () => {
  it('announced: the acknowledged entries go out again ahead of the next, so the chain is whole (no read of the log)', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (const action of ['one', 'two', 'three']) await log.append(s.patientId, { action });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3]);

    // Restored from a backup that ends at position 1; the provider appends again.
    s.cut(1);
    await log.connected(B);
    // Nothing to push for the patient: nothing is sent again (a server announcing a new incarnation at
    // every connection costs no re-push each time).
    const before = s.pushedCount();
    await log.flush();
    expect(s.pushedCount()).toBe(before);
    await log.append(s.patientId, { action: 'four' });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3, 4]);
    expect((await s.verifyStored()).ok).toBe(true);
    // Sent again: the three kept (the one stored is acknowledged as before), then the new one.
    expect(s.pushedCount() - before).toBe(4);
    expect(s.reads()).toBe(0);
    expect(await log.pendingCount()).toBe(0);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_RESENT: .* 3 audit entries/)]);

    // Once per restore: the same incarnation again sends only what is new.
    await log.connected(B);
    await log.append(s.patientId, { action: 'five' });
    const again = s.pushedCount();
    await log.flush();
    expect(s.pushedCount() - again).toBe(1);
    expect(s.positions()).toEqual([1, 2, 3, 4, 5]);
  });

  it('cut with no restore announced: nothing is sent again, the gap stays for the patient to see', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (const action of ['one', 'two']) await log.append(s.patientId, { action });
    await log.flush();
    s.cut(1);
    await log.connected(A);
    await log.append(s.patientId, { action: 'three' });
    await log.flush();
    expect(s.positions()).toEqual([1, 3]);
    expect(gaps(await s.verifyStored())).toEqual([3]);
    expect(log.issues().some((i) => i.startsWith('AUDIT_RESENT'))).toBe(false);
  });

  it('entries sent again and refused for good are never given up: the chain is not rewound over them', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (const action of ['one', 'two']) await log.append(s.patientId, { action });
    await log.flush();
    s.cut(1);
    await log.connected(B);
    s.setRefuse('NO_CONSENT');
    await log.append(s.patientId, { action: 'three' });
    for (let i = 0; i < 4; i++) {
      await log.flush();
      s.advance(3 * DAY);
    }
    // Refused past the give-up bounds (7 days, 3 refusals): kept, since positions 1–2 may be stored.
    expect(await log.pendingCount()).toBe(3);
    expect(await log.undelivered()).toEqual([
      expect.objectContaining({ patientId: s.patientId, entries: 3, code: 'NO_CONSENT', maybeStored: true }),
    ]);
    expect(log.issues().some((i) => i.startsWith('AUDIT_GIVEN_UP'))).toBe(false);
    // Access is back: the chain is whole, with no position taken twice.
    s.setRefuse(null);
    await log.append(s.patientId, { action: 'four' });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3, 4]);
    expect((await s.verifyStored()).ok).toBe(true);
  });

  it('a crash between queueing the entries and recording the restore queues each once', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (const action of ['one', 'two']) await log.append(s.patientId, { action });
    await log.flush();
    s.cut(0);
    await log.append(s.patientId, { action: 'three' });
    // The outbox holds the entries queued again; the record of the restore is lost, and so is the push.
    s.failNextWrite(patientKeyName(s.localKey, 'audit-kept', s.patientId));
    await log.connected(B);
    expect(s.positions()).toEqual([]);
    expect(await log.pendingCount()).toBe(3);
    const restarted = s.open();
    await restarted.connected(B);
    expect(await restarted.pendingCount()).toBe(0);
    expect(s.positions()).toEqual([1, 2, 3]);
    expect((await s.verifyStored()).ok).toBe(true);
  });

  it('keeps only the newest acknowledged entries (500): a restore that lost older ones leaves their gap', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (let i = 1; i <= 505; i++) {
      await log.append(s.patientId, { action: `n${i}` });
      if (i % 50 === 0) await log.flush();
    }
    await log.flush();
    s.cut(0);
    await log.connected(B);
    await log.append(s.patientId, { action: 'after' });
    await log.flush();
    expect(s.positions()).toEqual(Array.from({ length: 501 }, (_, i) => i + 6));
    expect(gaps(await s.verifyStored())).toEqual([6]);
  }, 60_000);

  it('keeps at most about 512 KiB of sealed bodies per patient', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    /** A coalesced entry of 500 changes with long ids: about 100 KB sealed. */
    const large = (n: number) => ({
      action: 'records-changed',
      changes: Array.from({ length: 500 }, (_, i) => ({
        action: 'update' as const,
        kind: 'lab-result',
        id: `${n}-${i}-`.padEnd(120, 'x'),
      })),
    });
    for (let n = 1; n <= 8; n++) await log.append(s.patientId, large(n));
    await log.flush();
    s.cut(0);
    await log.connected(B);
    await log.append(s.patientId, { action: 'after' });
    await log.flush();
    const sent = s.positions();
    console.log(`8 entries of ~100 KB acknowledged; sent again after the restore: ${sent.join(',')}`);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.length).toBeLessThan(8);
    expect(sent).toEqual(sent.map((_, i) => 9 - sent.length + 1 + i));
  });
});
