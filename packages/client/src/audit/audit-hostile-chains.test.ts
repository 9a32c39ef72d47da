// What a grantee or the server can serve in a patient's audit stream to blunt its verification: one signed
// entry at a huge chain position (the protocol takes positions up to 2^53 − 1, and the entry can never be
// removed), and a forgery standing on a position the device verified before, naming an account whose device
// list the server withholds. Neither may stall the device nor pass a cut chain end off as a lookup to retry.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret, type AccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { ServedDoc } from '@hale/protocol';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, verifyAuditLog, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta, servingLog } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const AT = '2026-01-01T00:00:00.000Z';

/** An export entry of `patient`'s log by `signer` (acting for `actorId`), after `chain`. */
const entryOf = (
  patient: AccountKeys,
  signer: { deviceId: string; secretKey: Uint8Array },
  chain: ChainState,
  actorId: string,
) => {
  const body: AuditBody = {
    kind: 'AuditEntry',
    action: 'export',
    actorId,
    actorDeviceId: signer.deviceId,
    at: AT,
  };
  return makeAuditEntry({
    patientId: patient.accountId,
    patientWrappingKey: patient.wrapping.publicKey,
    device: signer,
    ed,
    chain,
    body,
    now: () => Date.parse(AT),
  });
};

describe('an entry at a huge chain position', () => {
  it('is reported as the gap before it, without stepping through the positions of the gap', async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const grantee = generateDeviceKeys();
    const made = await entryOf(patient, grantee, { seq: 1e10 - 1, hash: null }, 'g'.repeat(22));
    const entries: ServedDoc[] = [{ ...made.doc, seq: 1, at: AT }];
    const started = Date.now();
    const result = await verifyAuditLog(
      entries,
      async (e) => (e.author === grantee.deviceId ? grantee.publicKey : null),
      ed,
    );
    // One step per missing position took ≈ 7 s per 10^9 here; the whole check is a few milliseconds.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.problems.map((p) => [p.kind, p.detail])).toEqual([
      ['deleted', `positions 1–${1e10 - 1} of ${grantee.deviceId}'s chain are missing before this entry`],
    ]);
  }, 120_000);
});

describe('a forgery on a position verified before, naming an account whose device list is withheld', () => {
  it('is refused as inserted (tampering), not left unverified', async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const own = generateDeviceKeys();
    const hidden = deriveAccountKeys(generateRootSecret());
    const other = generateDeviceKeys();
    const forger = generateDeviceKeys();
    const served: ServedDoc[] = [];
    const add = async (
      signer: { deviceId: string; secretKey: Uint8Array },
      actorId: string,
      chain: ChainState,
    ) => {
      const made = await entryOf(patient, signer, chain, actorId);
      served.push({ ...made.doc, seq: served.length + 1, at: AT });
      return made.chain;
    };
    const connection = servingLog(served);
    const directory = {
      authorKey: async (accountId: string, deviceId: string) => {
        // The server fails the device list of the account the forgery names (HTTP 503 for that id alone).
        if (accountId === hidden.accountId) return { unavailable: 'HTTP 503' };
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
      connection,
      directory,
      meta: memoryMeta().meta,
    })();
    let chain: ChainState = { seq: 0, hash: null };
    chain = await add(other, patient.accountId, chain);
    const afterTwo = (chain = await add(other, patient.accountId, chain));
    await add(other, patient.accountId, afterTwo);
    expect((await log.verify()).ok).toBe(true);

    // The server drops position 3 of the patient's other device and serves, in its place, an entry claiming
    // that device at 3, signed by another key, whose body names `hidden`.
    served.pop();
    await add({ deviceId: other.deviceId, secretKey: forger.secretKey }, hidden.accountId, afterTwo);
    const after = await log.verify();
    // Tampering, reported as such (the refused entry's claim stands for the end, as any refused one does).
    expect(after.problems.map((p) => [p.kind, p.author, p.authorSeq])).toEqual([
      ['inserted', other.deviceId, 3],
    ]);
  });

  it('an honest author whose own account cannot be looked up now is still only unverified', async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const own = generateDeviceKeys();
    const provider = deriveAccountKeys(generateRootSecret());
    const clinic = generateDeviceKeys();
    const made = await entryOf(patient, clinic, { seq: 0, hash: null }, provider.accountId);
    const served: ServedDoc[] = [{ ...made.doc, seq: 1, at: AT }];
    const log = auditLogOpener({
      keys: patient,
      device: own,
      ed,
      now: () => Date.parse(AT),
      connection: servingLog(served),
      directory: {
        authorKey: async (accountId: string) =>
          accountId === provider.accountId ? { unavailable: 'HTTP 503' } : null,
      } as unknown as DeviceDirectory,
      meta: memoryMeta().meta,
    })();
    expect((await log.verify()).problems.map((p) => p.kind)).toEqual(['unverified']);
  });
});

// A server can make up an account of its own whose signed device list holds a genuine device's public key
// (ids are self-certifying, lists are signed by the made-up account), and serve a forged entry naming it.
// While it withholds the genuine account's list, that must not turn the device's genuine entry from
// `unverified` (check again later) into `inserted` (tampering) through the made-up account.
describe("a made-up account holding a genuine device's key", () => {
  it("leaves that device's genuine entries unverified, and refuses the forgery", async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const own = generateDeviceKeys();
    const provider = deriveAccountKeys(generateRootSecret());
    const clinic = generateDeviceKeys();
    const madeUp = deriveAccountKeys(generateRootSecret());
    const forger = generateDeviceKeys();
    const genuine = await entryOf(patient, clinic, { seq: 0, hash: null }, provider.accountId);
    const forged = await entryOf(
      patient,
      { deviceId: clinic.deviceId, secretKey: forger.secretKey },
      genuine.chain,
      madeUp.accountId,
    );
    const served: ServedDoc[] = [genuine.doc, forged.doc].map((doc, i) => ({ ...doc, seq: i + 1, at: AT }));
    const log = auditLogOpener({
      keys: patient,
      device: own,
      ed,
      now: () => Date.parse(AT),
      connection: servingLog(served),
      directory: {
        authorKey: async (accountId: string, deviceId: string) => {
          if (accountId === provider.accountId) return { unavailable: 'HTTP 503' };
          if (accountId === madeUp.accountId && deviceId === clinic.deviceId)
            return { key: clinic.publicKey };
          return accountId === patient.accountId && deviceId === own.deviceId ? { key: own.publicKey } : null;
        },
      } as unknown as DeviceDirectory,
      meta: memoryMeta().meta,
    })();
    expect((await log.verify()).problems.map((p) => [p.kind, p.authorSeq])).toEqual([
      ['unverified', 1],
      ['modified', 2],
    ]);
  });
});

// A view past the cache meets one forged entry naming a genuine grantee device as author and, as its actor,
// an account whose device list the server withholds. Its failed look-up is that entry's own: it must change
// nothing about the device's genuine entries (cached, or served later), in this view or the next ones.
describe('a forged entry naming a genuine device and a withheld account, past the view cache', () => {
  const setup = async () => {
    const patient = deriveAccountKeys(generateRootSecret());
    const own = generateDeviceKeys();
    const provider = deriveAccountKeys(generateRootSecret());
    const clinic = generateDeviceKeys();
    const hidden = deriveAccountKeys(generateRootSecret());
    const forger = generateDeviceKeys();
    let clock = Date.parse(AT);
    const served: ServedDoc[] = [];
    const add = async (
      signer: { deviceId: string; secretKey: Uint8Array },
      actorId: string,
      chain: ChainState,
    ) => {
      const made = await entryOf(patient, signer, chain, actorId);
      served.push({ ...made.doc, seq: served.length + 1, at: AT });
      return made.chain;
    };
    const directory = {
      authorKey: async (accountId: string, deviceId: string) => {
        if (accountId === hidden.accountId) return { unavailable: 'HTTP 503' };
        if (accountId === provider.accountId && deviceId === clinic.deviceId)
          return { key: clinic.publicKey };
        return accountId === patient.accountId && deviceId === own.deviceId ? { key: own.publicKey } : null;
      },
    } as unknown as DeviceDirectory;
    const base = {
      keys: patient,
      device: own,
      ed,
      now: () => clock,
      connection: { ...servingLog(served), onStatusChange: () => () => undefined },
      directory,
    };
    const genuine = await add(clinic, provider.accountId, { seq: 0, hash: null });
    const log = auditLogOpener({ ...base, meta: memoryMeta().meta })();
    expect((await log.entries()).map((e) => [e.author, e.authorSeq, e.source])).toEqual([
      [clinic.deviceId, 1, 'grantee'],
    ]);
    return {
      clinic,
      log,
      genuine,
      forge: () => add({ deviceId: clinic.deviceId, secretKey: forger.secretKey }, hidden.accountId, genuine),
      appendGenuine: (after: ChainState) => add(clinic, provider.accountId, after),
      /** What a device that never read the log answers (a whole read). */
      whole: () => auditLogOpener({ ...base, meta: memoryMeta().meta })().entries(),
      advance: (ms: number) => void (clock += ms),
    };
  };
  const listed = (entries: ReadonlyArray<{ author: string; authorSeq: number }>) =>
    entries.map((e) => [e.author, e.authorSeq]);

  it("leaves the device's genuine entries verified, cached and new, at every view", async () => {
    const s = await setup();
    await s.forge();
    for (let view = 0; view < 3; view++) {
      // The device goes on writing (its second entry is served after the forgery, past the cache).
      if (view === 1) await s.appendGenuine(s.genuine);
      const answer = await s.log.entries({ offline: 'cached' });
      const expected =
        view === 0
          ? [[s.clinic.deviceId, 1]]
          : [
              [s.clinic.deviceId, 1],
              [s.clinic.deviceId, 2],
            ];
      expect(listed(answer.records)).toEqual(expected);
      // Only the forgery may be left out (refused as inserted, the next test, it is not counted here).
      expect(answer.unverified ?? 0).toBeLessThanOrEqual(1);
      s.advance(1000);
    }
    expect(listed(await s.log.entries())).toEqual(listed(await s.whole()));
  });

  it('is reported as a whole read reports it (inserted), not as a look-up to retry', async () => {
    const s = await setup();
    await s.forge();
    const answer = await s.log.entries({ offline: 'cached' });
    expect(listed(answer.records)).toEqual([[s.clinic.deviceId, 1]]);
    expect(answer).not.toHaveProperty('unverified');
    expect(s.log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*\(inserted: 1\)/)]);
    expect((await s.log.verify()).problems.map((p) => [p.kind, p.author, p.authorSeq])).toEqual([
      ['inserted', s.clinic.deviceId, 2],
    ]);
  });
});
