// Seal once, the codec's side: the sealer seals only what it may (this device's own versions of the
// account's own streams at epoch 0, the write guard agreeing), exactly as push would, and hands out no key
// for anything else, nor once the keyring is unusable.
import { describe, expect, it } from 'vitest';
import { base64urlDecode, openRecordVersion } from '@hale/crypto';
import { createStreamSealer } from './stream-sealer';
import {
  patient,
  patientDevice,
  patientRoot,
  keyringFor,
  provider,
  providerDevice,
  record,
  ed,
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
  return createStreamSealer({ codec, keyring, accountId: patient.accountId });
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
