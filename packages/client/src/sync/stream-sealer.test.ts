// Seal once, the codec's side: the sealer seals only what it may (this device's own versions of the
// account's own streams at epoch 0, the write guard agreeing), exactly as push would, and hands out no key
// for anything else, nor once the keyring is unusable.
import { describe, expect, it } from 'vitest';
import { base64urlDecode, generateStreamKey, keyId, openRecordVersion } from '@hale/crypto';
import { createStreamSealer } from './stream-sealer';
import type { CachedKey, KeyCacheStore } from './key-cache';
import { rotationKeyOf } from './rotation-keys';
import {
  patient,
  patientDevice,
  patientRoot,
  keyringFor,
  provider,
  providerDevice,
  providerRoot,
  record,
  ed,
  signedEnvelope,
} from './codec-fixture.test-util';
import type { CodecDeps } from './record-codec';

const sealerWith = (keyring: ReturnType<typeof keyringFor>) => {
  const codec: CodecDeps = {
    keyring,
    ed,
    device: { deviceId: patientDevice.deviceId, secretKey: patientDevice.secretKey },
    accountId: patient.accountId,
    lookupDeviceKey: async () => ({ status: 'unknown' }),
  };
  return createStreamSealer({ codec, keyring });
};
const state = (over: Parameters<typeof record>[0] = {}) => ({ ...record(over), _deleted: false });

describe('the stream sealer (seal once)', () => {
  it("seals this device's version of an own stream at epoch 0 as push would, signed where required", async () => {
    const keyring = keyringFor(patient, patientRoot, patientDevice);
    const sealer = sealerWith(keyring);
    const lab = state({
      id: '01J00000000000000000000009',
      stream: `${patient.accountId}/lab-result`,
      kind: 'LabResult',
    });
    const [allergy, signed] = await sealer.seal([state(), lab]);
    expect(allergy).toMatchObject({ epoch: 0, author: patientDevice.deviceId, deleted: false });
    expect(allergy?.sig).toBeUndefined();
    expect(typeof signed?.sig).toBe('string');
    const key = sealer.keyNow(state().stream, 0)!;
    const opened = openRecordVersion(key, (base64urlDecode(allergy!.ct) as { value: Uint8Array }).value, {
      stream: state().stream,
      id: state().id,
      epoch: 0,
      rev: 1,
    });
    expect(opened.ok && opened.value.tag).toBe(allergy?.rev);
    // The stream's current epoch (a meta copy keeps a version by reference only under it).
    expect([sealer.isCurrent(state().stream, 0), sealer.isCurrent(state().stream, 1)]).toEqual([true, false]);
  });

  it("seals nothing for another author, another account's stream, or once the keyring is unusable", async () => {
    let usable = true;
    const keyring = keyringFor(patient, patientRoot, patientDevice, [], { usable: () => usable });
    const sealer = sealerWith(keyring);
    const others = await sealer.seal([
      state({ author: providerDevice.deviceId }),
      state({ stream: `${provider.accountId}/allergy`, patientId: provider.accountId }),
    ]);
    expect(others).toEqual([null, null]);
    expect(sealer.keyNow(`${provider.accountId}/allergy`, 0)).toBeNull();
    expect(sealer.keyNow(state().stream, 1)).toBeNull();
    usable = false;
    expect(await sealer.seal([state()])).toEqual([null]);
    expect(sealer.keyNow(state().stream, 0)).toBeNull();
  });

  it('seals nothing under epoch 0 when the write guard says a grant ended (the stream awaits re-keying)', async () => {
    const keyring = keyringFor(patient, patientRoot, patientDevice);
    keyring.useWriteGuard({
      now: () => Date.now(),
      candidates: async () => ({ sets: [['grant-that-ended']], validUntil: Infinity }),
    });
    expect(await sealerWith(keyring).seal([state()])).toEqual([null]);
    // The same keyring with no grant ended: sealed.
    keyring.useWriteGuard({
      now: () => Date.now(),
      candidates: async () => ({ sets: [[]], validUntil: Infinity }),
    });
    expect((await sealerWith(keyring).seal([state()]))[0]?.epoch).toBe(0);
  });
});

describe('the stream sealer with kept stream keys (seal once beyond epoch 0)', () => {
  const memoryStore = () => {
    const s = { kept: [] as CachedKey[] };
    const store: KeyCacheStore = {
      load: async () => s.kept,
      save: async (all) => void (s.kept = all),
    };
    return { s, store };
  };
  const granted = `${patient.accountId}/allergy`;
  const clinicianSealer = (keyring: ReturnType<typeof keyringFor>) =>
    createStreamSealer({
      codec: {
        keyring,
        ed,
        device: { deviceId: providerDevice.deviceId, secretKey: providerDevice.secretKey },
        accountId: provider.accountId,
        lookupDeviceKey: async () => ({ status: 'unknown' }),
      },
      keyring,
    });
  const byClinician = () => state({ author: providerDevice.deviceId, by: provider.accountId });

  it("a grantee's write is sealed once only under a granted key the store keeps; kept keys open at the next start", async () => {
    const k0 = generateStreamKey();
    const envelopes = [await signedEnvelope(granted, 0, k0, provider)];
    const { s, store } = memoryStore();
    const keyring = keyringFor(provider, providerRoot, providerDevice, envelopes, { keyCache: store });
    const sealer = clinicianSealer(keyring);
    await keyring.refresh();
    // Opened this session, not saved yet: a restart would not hold it, so nothing is kept under it.
    expect(sealer.keyNow(granted, 0)).toBe(keyring.heldKey(granted, 0));
    expect(sealer.keptNow(granted, 0)).toBeNull();
    expect(await sealer.seal([byClinician()])).toEqual([null]);
    await keyring.keepKeysNow();
    expect(s.kept.map((e) => e.stream)).toEqual([granted]);
    expect(sealer.keptNow(granted, 0)).not.toBeNull();
    const [doc] = await sealer.seal([byClinician()]);
    expect(doc).toMatchObject({ stream: granted, epoch: 0, author: providerDevice.deviceId });

    // The next session, offline (no envelope served): the kept key, loaded, keeps and opens.
    const next = keyringFor(provider, providerRoot, providerDevice, [], { keyCache: store });
    await next.keptLoaded();
    const again = clinicianSealer(next);
    expect(again.keptNow(granted, 0)).not.toBeNull();
    expect(keyId(again.keyNow(granted, 0)!)).toBe(keyId(k0));

    // Purged (access ended): neither kept nor sealed under any more.
    keyring.forgetStream(granted);
    expect(sealer.keptNow(granted, 0)).toBeNull();
    expect(await sealer.seal([byClinician()])).toEqual([null]);
  });

  it("an own stream's later epoch: sealed once once its key is kept, opened at the next start, never used for writes from what was kept", async () => {
    const { store } = memoryStore();
    const ended = ['grant-that-ended'];
    const guard = {
      now: () => Date.now(),
      candidates: async () => ({ sets: [ended], validUntil: Infinity }),
    };
    // Re-keyed for the ended grant: epoch 1, claimed (published and read back by the keyring).
    const k1 = rotationKeyOf(patientRoot, granted, 1, ended);
    const served = [await signedEnvelope(granted, 1, k1, patient)];
    const ring = keyringFor(patient, patientRoot, patientDevice, served, { keyCache: store });
    ring.useWriteGuard(guard);
    ring.noteServerEpoch(granted, 1);
    await ring.refresh();
    const sealer = sealerWith(ring);
    expect(await sealer.seal([state()])).toEqual([null]);
    await ring.keepKeysNow();
    const [doc] = await sealer.seal([state()]);
    expect(doc?.epoch).toBe(1);

    // The next session, offline: the kept key opens epoch 1's versions, but is not written under.
    let fetches = 0;
    const next = keyringFor(patient, patientRoot, patientDevice, [], {
      keyCache: store,
      fetchEnvelopes: async () => {
        fetches++;
        return [];
      },
    });
    next.useWriteGuard(guard);
    next.noteServerEpoch(granted, 1);
    await next.keptLoaded();
    const nextSealer = sealerWith(next);
    expect(keyId(nextSealer.keyNow(granted, 1)!)).toBe(keyId(k1));
    expect(nextSealer.keptNow(granted, 1)).not.toBeNull();
    expect(next.heldKey(granted, 1)).toBeNull();
    // Sealing asks nothing of the server (the write path never fetches): left to the at-rest key.
    expect(await nextSealer.seal([state()])).toEqual([null]);
    expect(fetches).toBe(0);
  });

  it('a version with no content (a purge emptying it) is not sealed once', async () => {
    const sealer = sealerWith(keyringFor(patient, patientRoot, patientDevice));
    expect(await sealer.seal([{ ...state(), data: {}, conflictData: null }])).toEqual([null]);
    expect((await sealer.seal([state()]))[0]?.epoch).toBe(0);
  });
});
