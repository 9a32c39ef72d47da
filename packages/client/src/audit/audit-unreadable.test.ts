import { describe, expect, it } from 'vitest';
import { base64urlEncode, deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { newId } from '@hale/model';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta } from '../store/device-meta';
import { createAuditLog, UNREADABLE_ENTRY_ACTION } from './audit-log';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';

const ed = createNodeEd25519();
const now = () => Date.parse('2026-01-01T00:00:00.000Z');
const at = new Date(now()).toISOString();

/**
 * A patient's log served as given, read by a patient device whose grants name `grantees`; `devices` is
 * what the directory certifies (account → device → key).
 */
const patientLog = (input: {
  patient: ReturnType<typeof deriveAccountKeys>;
  served: ServedDoc[];
  grantees: string[];
  devices: Map<string, Map<string, Uint8Array>>;
}) => {
  const { patient, served } = input;
  const b = (n: number) => base64urlEncode(new Uint8Array(n).fill(7));
  const grants = input.grantees.map((granteeId) => ({
    grant: {
      v: 1,
      grantId: newId(),
      patientId: patient.accountId,
      granteeId,
      scope: [{ type: 'allergy', access: 'read' }],
      start: at,
      expiresAt: '2026-02-01T00:00:00.000Z',
      purpose: { ct: b(40), patient: b(80), grantee: b(80) },
      issuedAt: at,
    },
    sig: b(64),
  }));
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
    authorKey: async (accountId: string, deviceId: string) => {
      const key = input.devices.get(accountId)?.get(deviceId);
      return key === undefined ? null : { key };
    },
  } as unknown as DeviceDirectory;
  const own = generateDeviceKeys();
  return createAuditLog({
    accountId: patient.accountId,
    keys: patient,
    device: { deviceId: own.deviceId, secretKey: own.secretKey },
    ed,
    now,
    connection,
    directory,
    meta: createDeviceMeta({
      read: async (key) => (key === 'grants' ? structuredClone(grants) : undefined),
      write: async () => undefined,
    }),
    serverKey: async () => null,
  });
};

/** Entries of one device, appended in chain order, each sealed to `to` (the patient's key or another). */
const chainOf = (device: ReturnType<typeof generateDeviceKeys>, patientId: string, served: ServedDoc[]) => {
  let chain: ChainState = { seq: 0, hash: null };
  return async (to: Uint8Array, body: AuditBody): Promise<string> => {
    const made = await makeAuditEntry({
      patientId,
      patientWrappingKey: to,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      chain,
      body,
      now,
    });
    chain = made.chain;
    served.push({ ...made.doc, seq: served.length + 1, at });
    return made.doc.id;
  };
};

describe('audit entries whose content does not open', () => {
  it("a grantee's: named by its account and device, the log intact, its chain whole", async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const grantee = deriveAccountKeys(generateRootSecret());
    const device = generateDeviceKeys();
    const elsewhere = deriveAccountKeys(generateRootSecret());
    const served: ServedDoc[] = [];
    const add = chainOf(device, patient.accountId, served);
    const actor = { actorId: grantee.accountId, actorDeviceId: device.deviceId, at };
    const unreadable = await add(elsewhere.wrapping.publicKey, { kind: 'AuditEntry', action: 'x', ...actor });
    const readable = await add(patient.wrapping.publicKey, {
      kind: 'AuditEntry',
      action: 'viewed',
      ...actor,
    });
    const log = patientLog({
      patient,
      served,
      grantees: [grantee.accountId],
      devices: new Map([[grantee.accountId, new Map([[device.deviceId, device.publicKey]])]]),
    });
    const verification = await log.verify();
    expect(verification).toMatchObject({ ok: true, problems: [] });
    expect(verification.unreadable).toEqual([
      expect.objectContaining({
        entryId: unreadable,
        author: device.deviceId,
        authorAccountId: grantee.accountId,
        authorSeq: 1,
        at,
      }),
    ]);
    const listed = await log.entries();
    expect(listed.map((e) => [e.id, e.unreadable ?? false, e.body.action])).toEqual([
      [unreadable, true, UNREADABLE_ENTRY_ACTION],
      [readable, false, 'viewed'],
    ]);
    expect((await log.whoAccessed()).map((w) => [w.actorId, w.actorDeviceId, w.unreadable ?? false])).toEqual(
      [
        [grantee.accountId, device.deviceId, true],
        [grantee.accountId, device.deviceId, false],
      ],
    );
  });

  it('of a device no granted account certifies: still an unknown author (inserted), listed nowhere', async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const grantee = deriveAccountKeys(generateRootSecret());
    const stranger = deriveAccountKeys(generateRootSecret());
    const device = generateDeviceKeys();
    const served: ServedDoc[] = [];
    const add = chainOf(device, patient.accountId, served);
    const id = await add(grantee.wrapping.publicKey, {
      kind: 'AuditEntry',
      action: 'x',
      actorId: stranger.accountId,
      actorDeviceId: device.deviceId,
      at,
    });
    // The device is the stranger's (certified by it), but the patient never granted to the stranger.
    const log = patientLog({
      patient,
      served,
      grantees: [grantee.accountId],
      devices: new Map([[stranger.accountId, new Map([[device.deviceId, device.publicKey]])]]),
    });
    const verification = await log.verify();
    expect(verification.ok).toBe(false);
    expect(verification.problems).toEqual([expect.objectContaining({ kind: 'inserted', entryId: id })]);
    expect(verification.problems[0]?.detail).toMatch(/unknown author/);
    expect(verification.unreadable).toBeUndefined();
    expect(await log.entries()).toEqual([]);
  });

  it("a grantee's entry whose signature does not hold is refused as modified, not named as unreadable", async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const grantee = deriveAccountKeys(generateRootSecret());
    const device = generateDeviceKeys();
    const other = generateDeviceKeys();
    const served: ServedDoc[] = [];
    const add = chainOf(device, patient.accountId, served);
    await add(grantee.wrapping.publicKey, {
      kind: 'AuditEntry',
      action: 'x',
      actorId: grantee.accountId,
      actorDeviceId: device.deviceId,
      at,
    });
    // The directory certifies another key for that device id: the signature cannot hold.
    const log = patientLog({
      patient,
      served,
      grantees: [grantee.accountId],
      devices: new Map([[grantee.accountId, new Map([[device.deviceId, other.publicKey]])]]),
    });
    const verification = await log.verify();
    expect(verification.problems).toEqual([expect.objectContaining({ kind: 'modified' })]);
    expect(verification.unreadable).toBeUndefined();
  });
});
