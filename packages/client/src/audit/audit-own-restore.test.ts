import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { newId } from '@hale/model';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { DeviceDirectory } from '../sync/device-directory';
import { patientKeyName } from './audit-log';
import {
  appendAcknowledged,
  auditLogOpener,
  auditServer,
  memoryMeta,
  verifyDocs,
} from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const A = 'incarnation-before-0';
const B = 'incarnation-after-00';

/** A patient's device appending to its own log, against a server that stores and serves what it takes. */
const setup = () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const server = auditServer('serve');
  const { meta, failNextWrite } = memoryMeta();
  const directory = {
    authorKey: async (accountId: string, deviceId: string) =>
      accountId === patient.accountId && deviceId === device.deviceId ? { key: device.publicKey } : null,
  } as unknown as DeviceDirectory;
  const locked = { now: false };
  const open = auditLogOpener({
    keys: patient,
    device,
    ed,
    now: () => Date.parse('2026-01-01T00:00:00.000Z'),
    connection: server.connection,
    directory,
    meta,
    assertUnlocked: () => {
      if (locked.now) throw new Error('LOCKED');
    },
  });
  return {
    open,
    meta,
    /** The store loses this device's entries past `position` (a restore from a backup, or a cut). */
    cut: server.cut,
    positions: () => server.positions(),
    /** The log as stored, verified whole with no position known from elsewhere. */
    verifyStored: () => verifyDocs(server.served(), device, ed),
    accountId: patient.accountId,
    localKey: patient.localKey,
    deviceId: device.deviceId,
    setOnline: server.setOnline,
    setLocked: (v: boolean) => void (locked.now = v),
    failNextWrite,
  };
};

const deletedOf = (
  problems: ReadonlyArray<{ kind: string; author: string; authorSeq: number; detail: string }>,
) => problems.filter((p) => p.kind === 'deleted').map((p) => [p.author, p.authorSeq, p.detail]);

describe("audit: this device's own chain after the server lost its newest entries", () => {
  it('cut without an announced restore: reported at every check, not cleared by acceptLosses, never rewound', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.accountId, ['one', 'two']);
    expect(s.positions()).toEqual([1, 2]);
    expect((await log.verify()).ok).toBe(true);

    // The server drops position 2 and says nothing of a restore (the same incarnation).
    s.cut(1);
    await log.connected(A);
    for (let i = 0; i < 2; i++)
      expect(deletedOf((await log.verify()).problems)).toEqual([[s.deviceId, 2, expect.any(String)]]);
    expect(deletedOf((await log.acceptLosses()).problems)).toEqual([[s.deviceId, 2, expect.any(String)]]);
    expect(deletedOf((await log.verify()).problems)).toEqual([[s.deviceId, 2, expect.any(String)]]);
    // The chain goes on from where this device left it: the gap stays visible to every reader.
    await log.append(s.accountId, { action: 'three' });
    await log.flush();
    expect(s.positions()).toEqual([1, 3]);
    expect(deletedOf((await s.verifyStored()).problems).map(([, seq]) => seq)).toEqual([3]);
    expect(log.issues().some((i) => i.startsWith('AUDIT_OWN_CONTINUED'))).toBe(false);
  });

  it('lost with an announced restore: reported naming it until accepted; the chain goes on from the served end', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.accountId, ['one', 'two', 'three']);
    expect((await log.verify()).ok).toBe(true);

    // Offline, the device appends one more (it links to position 3); the store is restored from a backup
    // that ends at position 1.
    s.setOnline(false);
    await log.append(s.accountId, { action: 'offline' });
    s.cut(1);
    s.setOnline(true);
    await log.connected(B);
    // The row appended offline was re-signed after the served end, and delivered there.
    expect(s.positions()).toEqual([1, 2]);
    expect((await s.verifyStored()).ok).toBe(true);
    for (let i = 0; i < 2; i++) {
      const v = await log.verify();
      expect(deletedOf(v.problems)).toEqual([
        [s.deviceId, 2, expect.stringContaining('restore of its store')],
      ]);
      expect(v.problems[0]?.detail).toContain('positions 2–3');
    }
    // Across a restart of the device, too.
    expect(deletedOf((await s.open().verify()).problems)).toHaveLength(1);
    expect((await log.acceptLosses()).problems).toEqual([]);
    expect((await log.verify()).problems).toEqual([]);
    await log.append(s.accountId, { action: 'after' });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3]);
    expect((await s.verifyStored()).ok).toBe(true);
    expect((await log.verify()).ok).toBe(true);
    // Connecting again to the same store checks nothing more and loses nothing.
    await log.connected(B);
    expect((await log.verify()).ok).toBe(true);
  });

  it('a crash between re-signing the outbox and lowering the chain position leaves no gap', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.accountId, ['one', 'two', 'three']);
    s.setOnline(false);
    await log.append(s.accountId, { action: 'offline' });
    s.cut(1);
    s.setOnline(true);
    // The continuation re-signs the outbox, then its write of the chain position is lost.
    s.failNextWrite(patientKeyName(s.localKey, 'audit-chain', s.accountId));
    await log.connected(B);
    expect(s.positions()).toEqual([1]);
    // Before the next connection, an entry is appended from the chain position as it was (4 → 5).
    await log.append(s.accountId, { action: 'meanwhile' });
    s.setOnline(true);
    await log.connected(B);
    expect(s.positions()).toEqual([1, 2, 3]);
    expect((await s.verifyStored()).ok).toBe(true);
  });

  it('an announced restore that kept every acknowledged entry changes nothing', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.accountId, ['one', 'two']);
    await log.connected(B);
    await log.append(s.accountId, { action: 'three' });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3]);
    expect((await log.verify()).ok).toBe(true);
    // Cut later by the store of the new incarnation, unannounced: reported, never rewound.
    s.cut(2);
    await log.connected(B);
    expect(deletedOf((await log.acceptLosses()).problems)).toEqual([[s.deviceId, 3, expect.any(String)]]);
  });
});

describe('audit: noted record changes at a reconnection', () => {
  it('are appended and pushed when some are noted, and nothing is written while locked or with none', async () => {
    const s = setup();
    // Noted, then the append fails (locked while resuming): they stay noted, with no timer to send them.
    await s.meta.set('audit-noted-changes', {
      batches: [
        {
          patientId: s.accountId,
          entry: newId(),
          changes: [{ action: 'create', kind: 'allergy', id: 'rec-1' }],
        },
      ],
    });
    const log = s.open();
    s.setLocked(true);
    await log.resumeNoted();
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_NOTED_PENDING/)]);
    await log.connected(A);
    expect(await log.pendingCount()).toBe(0);
    expect(s.positions()).toEqual([]);

    s.setLocked(false);
    await log.connected(A);
    expect(s.positions()).toEqual([1]);
    const own = await log.ownActions();
    expect(own.map((o) => o.body)).toEqual([
      expect.objectContaining({
        action: 'records-changed',
        changes: [{ action: 'create', kind: 'allergy', id: 'rec-1' }],
      }),
    ]);
    // Nothing noted: a reconnection appends nothing.
    await log.connected(A);
    expect(s.positions()).toEqual([1]);
    expect(await s.meta.get('audit-noted-changes', Type.Any())).toEqual({ batches: [] });
  });
});
