// A check of another patient's log (`verify`) that remembers how far it verified (SEEN) while access to
// that patient ends (`accessEnded`, which removes SEEN): whichever finishes first, nothing of the patient
// stays remembered once access ended. (Today's server never lets a grantee read a patient's log, so only a
// server that serves it one reaches this; the scripted server here does.)
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceMeta } from '../store/device-meta';
import type { DeviceDirectory } from '../sync/device-directory';
import { patientKeyName } from './audit-log';
import { makeAuditEntry } from './audit-chain';
import { auditLogOpener, auditServer } from './audit-log.test-util';

const ed = createNodeEd25519();

const deferred = () => {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/**
 * A provider device that appended to a patient's log, over a server that serves it that log, and device
 * metadata whose reads or writes of the patient's SEEN can be held (`hold`) until released. The log holds
 * an access event the server signed: the provider cannot open the patient's entries (sealed to the
 * patient), but the server's chain verifies under the server's key, so a check remembers its head.
 */
const setup = async () => {
  const provider = deriveAccountKeys(generateRootSecret());
  const patient = deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const signer = generateDeviceKeys();
  const server = auditServer('serve');
  const raw = new Map<string, unknown>();
  const seenKey = patientKeyName(provider.localKey, 'audit-seen', patient.accountId);
  let held: { op: 'read' | 'write'; reached: () => void; release: Promise<void> } | null = null;
  const pass = async (op: 'read' | 'write', key: string): Promise<void> => {
    const h = held;
    if (h === null || h.op !== op || key !== seenKey) return;
    held = null;
    h.reached();
    await h.release;
  };
  const meta = createDeviceMeta({
    read: async (key) => {
      await pass('read', key);
      return structuredClone(raw.get(key));
    },
    write: async (key, value) => {
      await pass('write', key);
      raw.set(key, structuredClone(value));
    },
    remove: async (keys) => void keys.forEach((k) => raw.delete(k)),
    list: async (p) => [...raw.keys()].filter((k) => k.startsWith(p)),
  });
  const directory = {
    wrappingKey: async (accountId: string) =>
      accountId === patient.accountId ? patient.wrapping.publicKey : null,
    authorKey: async (accountId: string, deviceId: string) =>
      accountId === provider.accountId && deviceId === device.deviceId ? { key: device.publicKey } : null,
  } as unknown as DeviceDirectory;
  const log = auditLogOpener({
    keys: provider,
    device,
    ed,
    now: () => Date.parse('2026-01-01T00:00:00.000Z'),
    connection: server.connection,
    directory,
    meta,
    serverKey: async () => ({ serverId: signer.deviceId, publicKey: signer.publicKey }),
  })();
  const event = await makeAuditEntry({
    patientId: patient.accountId,
    patientWrappingKey: patient.wrapping.publicKey,
    device: { deviceId: signer.deviceId, secretKey: signer.secretKey },
    ed,
    chain: { seq: 0, hash: null },
    body: {
      kind: 'AccessEvent',
      action: 'pull',
      actorId: provider.accountId,
      actorDeviceId: device.deviceId,
      at: '2026-01-01T00:00:00.000Z',
      stream: `${patient.accountId}/allergy`,
      count: 1,
    },
    now: () => Date.parse('2026-01-01T00:00:00.000Z'),
  });
  await server.connection.request({ t: 'push', rows: [{ doc: event.doc, assumedRev: null }] });
  await log.connected('incarnation-before-0');
  await log.append(patient.accountId, { action: 'save' });
  await log.flush();
  /** Holds the next `op` of SEEN: `reached` once it is held, `release` lets it go on. */
  const hold = (op: 'read' | 'write') => {
    const reached = deferred();
    const release = deferred();
    held = { op, reached: reached.resolve, release: release.promise };
    return { reached: reached.promise, release: release.resolve };
  };
  return { log, patientId: patient.accountId, hold, seenStored: () => raw.has(seenKey) };
};

describe("a check of a patient's log and the end of access to that patient", () => {
  it('unhindered: verify remembers how far it verified, and accessEnded removes it', async () => {
    const s = await setup();
    await s.log.verify(s.patientId);
    expect(s.seenStored()).toBe(true);
    await s.log.accessEnded(s.patientId);
    expect(s.seenStored()).toBe(false);
  });

  it.each([
    ['while verify writes what it verified', 'write'],
    ['while verify reads what it verified before (before it writes)', 'read'],
  ] as const)('access ending %s leaves nothing remembered of the patient', async (_, op) => {
    const s = await setup();
    const gate = s.hold(op);
    const verifying = s.log.verify(s.patientId);
    await gate.reached;
    const ending = s.log.accessEnded(s.patientId);
    // accessEnded may wait for the check (then it removes what the check wrote) or finish first.
    await Promise.race([ending, new Promise((r) => setTimeout(r, 50))]);
    gate.release();
    await verifying;
    await ending;
    expect(s.seenStored()).toBe(false);
    // Called again for another purged stream of the patient (session.ts calls it once per stream).
    await s.log.accessEnded(s.patientId);
    expect(s.seenStored()).toBe(false);
    expect(s.log.issues()).toEqual([]);
  });
});
