// The keyring's kept keys (key-cache.ts): a second session takes back the keys the first opened and opens
// only new envelopes; a rotation still takes effect (a new epoch comes only from its envelope, a withheld
// one answers null, never an older kept key); a kept key contradicted by a patient-signed envelope is
// replaced, one contradicted by an envelope that does not verify is not; bad entries are skipped.
import { describe, expect, it } from 'vitest';
import { base64urlEncode, generateDeviceKeys, generateStreamKey, keyId, tweetnaclX25519 } from '@hale/crypto';
import type { KeyEnvelope } from '@hale/protocol';
import {
  keyringFor,
  patient,
  provider,
  providerDevice,
  providerRoot,
  signedEnvelope,
} from './codec-fixture.test-util';
import type { CachedKey, KeyCacheStore } from './key-cache';
import { ENVELOPE_STREAMS_PER_REQUEST } from './keyring';

const A = `${patient.accountId}/allergy`;
const B = `${patient.accountId}/medication`;

/** A store in memory, as the session's device meta key `stream-keys`. */
const memoryStore = (initial: CachedKey[] = []) => {
  const s = { kept: [...initial], saves: 0, loads: 0 };
  const store: KeyCacheStore = {
    load: async () => {
      s.loads++;
      return s.kept;
    },
    save: async (all) => {
      s.saves++;
      s.kept = all;
    },
  };
  return { s, store };
};

/** Counts X25519 operations (one per envelope opened). */
const counting = () => {
  const n = { opens: 0 };
  return {
    n,
    x25519: {
      ...tweetnaclX25519,
      sharedSecret: (sk: Uint8Array, pk: Uint8Array) => {
        n.opens++;
        return tweetnaclX25519.sharedSecret(sk, pk);
      },
    },
  };
};

/** A clinician's keyring (the provider's) reading `envelopes`, keeping keys in `store`. */
const clinician = (envelopes: KeyEnvelope[], store: KeyCacheStore, usable = () => true) => {
  const c = counting();
  const fetches = { n: 0 };
  const ring = keyringFor(provider, providerRoot, providerDevice, [], {
    keyCache: store,
    x25519: c.x25519,
    usable,
    fetchEnvelopes: async () => {
      fetches.n++;
      return envelopes;
    },
  });
  return { ring, opens: c.n, fetches };
};

const same = (a: Uint8Array | null, b: Uint8Array) => a !== null && keyId(a) === keyId(b);

describe('keyring kept keys', () => {
  it('a second session takes the kept keys back: no envelope opened, no fetch for a lookup', async () => {
    const k0 = generateStreamKey();
    const k1 = generateStreamKey();
    const envs = [await signedEnvelope(A, 0, k0, provider), await signedEnvelope(B, 0, k1, provider)];
    const { s, store } = memoryStore();
    const first = clinician(envs, store);
    expect(await first.ring.refresh()).toBe(2);
    expect(first.opens.opens).toBe(2);
    await first.ring.floorsSaved();
    expect(s.kept.map((e) => `${e.stream}|${e.epoch}`).sort()).toEqual([`${A}|0`, `${B}|0`]);

    const second = clinician(envs, store);
    expect(same(await second.ring.keyFor(A, 0), k0)).toBe(true);
    expect(second.fetches.n).toBe(0);
    expect(await second.ring.refresh()).toBe(0);
    expect(second.opens.opens).toBe(0);
    expect(same(await second.ring.keyFor(B, 0), k1)).toBe(true);
  });

  it("a rotation takes effect: the new epoch's envelope is opened, and a kept key never answers for it", async () => {
    const k0 = generateStreamKey();
    const { store } = memoryStore();
    const first = clinician([await signedEnvelope(A, 0, k0, provider)], store);
    await first.ring.refresh();
    await first.ring.floorsSaved();

    // The patient rotated (a revocation of another grant): epoch 1 wrapped for this clinician.
    const k1 = generateStreamKey();
    const envs = [await signedEnvelope(A, 0, k0, provider), await signedEnvelope(A, 1, k1, provider)];
    const second = clinician(envs, store);
    second.ring.noteServerEpoch(A, 1);
    const write = await second.ring.writeKey(A);
    expect(write?.epoch).toBe(1);
    expect(same(write!.key, k1)).toBe(true);
    expect(second.opens.opens).toBe(1); // only the new envelope
    expect(same(await second.ring.keyFor(A, 0), k0)).toBe(true); // history stays readable
  });

  it('a stale kept key after a rotation that shut this account out: the new epoch answers null', async () => {
    const k0 = generateStreamKey();
    const { store } = memoryStore();
    const first = clinician([await signedEnvelope(A, 0, k0, provider)], store);
    await first.ring.refresh();
    await first.ring.floorsSaved();

    // The grant was revoked and the stream rotated: no envelope of epoch 1 for this account.
    const second = clinician([await signedEnvelope(A, 0, k0, provider)], store);
    second.ring.noteServerEpoch(A, 1);
    expect(await second.ring.keyFor(A, 1)).toBeNull();
    expect(await second.ring.writeKey(A)).toBeNull();
    expect(await second.ring.tagKey(A, 1)).toBeNull();
    expect(second.ring.currentEpoch(A)).toBe(1);
  });

  it('a tampered kept key is replaced by the key of the patient-signed envelope, and kept so', async () => {
    const k0 = generateStreamKey();
    const bogus = generateStreamKey();
    const { s, store } = memoryStore([{ stream: A, epoch: 0, key: base64urlEncode(bogus) }]);
    const ring = clinician([await signedEnvelope(A, 0, k0, provider)], store);
    await ring.ring.refresh();
    expect(ring.opens.opens).toBe(1);
    expect(same(await ring.ring.keyFor(A, 0), k0)).toBe(true);
    await ring.ring.floorsSaved();
    expect(s.kept).toEqual([{ stream: A, epoch: 0, key: base64urlEncode(k0) }]);
  });

  it('an envelope that contradicts a kept key but is not signed by the patient does not replace it', async () => {
    const k0 = generateStreamKey();
    const { store } = memoryStore([{ stream: A, epoch: 0, key: base64urlEncode(k0) }]);
    const stranger = generateDeviceKeys();
    const planted = await signedEnvelope(A, 0, generateStreamKey(), provider, stranger);
    const ring = clinician([planted], store);
    await ring.ring.refresh();
    expect(ring.opens.opens).toBe(0);
    expect(same(await ring.ring.keyFor(A, 0), k0)).toBe(true);
  });

  it('entries that are not 32-byte keys are skipped: the envelope is opened instead', async () => {
    const k0 = generateStreamKey();
    const { store } = memoryStore([
      { stream: A, epoch: 0, key: base64urlEncode(new Uint8Array(31)) },
      { stream: B, epoch: 0, key: '!'.repeat(43) },
    ]);
    const ring = clinician([await signedEnvelope(A, 0, k0, provider)], store);
    expect(same(await ring.ring.keyFor(A, 0), k0)).toBe(true);
    expect(ring.opens.opens).toBe(1);
    expect(await ring.ring.keyFor(B, 0)).toBeNull();
  });

  it('locked: kept keys are not taken back; a lock drops them, writing what changed once more', async () => {
    const k0 = generateStreamKey();
    const envs = [await signedEnvelope(A, 0, k0, provider)];
    const kept = memoryStore([{ stream: A, epoch: 0, key: base64urlEncode(k0) }]);
    const locked = clinician(envs, kept.store, () => false);
    expect(await locked.ring.keyFor(A, 0)).toBeNull();
    expect(locked.ring.heldKey(A, 0)).toBeNull();

    let usable = true;
    const fresh = memoryStore();
    const ring = clinician(envs, fresh.store, () => usable);
    await ring.ring.refresh();
    expect(fresh.s.saves).toBe(0); // folded: written a while after the change
    usable = false;
    expect(await ring.ring.keyFor(A, 0)).toBeNull(); // the keyring notices the lock and drops its keys
    await ring.ring.floorsSaved();
    expect(fresh.s.kept).toEqual([{ stream: A, epoch: 0, key: base64urlEncode(k0) }]);
    expect(fresh.s.saves).toBe(1);
  });

  it('a full refresh of many streams asks only for those whose current epoch is not held', async () => {
    const many = Array.from({ length: ENVELOPE_STREAMS_PER_REQUEST + 100 }, (_, i) => ({
      stream: `${patient.accountId.slice(0, -4)}${String(i).padStart(4, '0')}/allergy`,
      epoch: 0,
      key: base64urlEncode(generateStreamKey()),
    }));
    // One of them the real patient's (its devices are known here), at epoch 1 on the server.
    const rotated = A;
    many[7] = { ...many[7]!, stream: A };
    const k1 = generateStreamKey();
    const { store } = memoryStore(many);
    const asked: string[][] = [];
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      keyCache: store,
      listStreams: async () => [
        ...many.map((m) => ({ stream: m.stream, epoch: m.stream === rotated ? 1 : 0 })),
      ],
      fetchEnvelopes: async (streams) => {
        asked.push(streams ?? ['(all)']);
        return streams?.includes(rotated) ? [await signedEnvelope(rotated, 1, k1, provider)] : [];
      },
    });
    expect(await ring.refresh()).toBe(1);
    expect(asked).toEqual([[rotated]]);
    expect(same(await ring.keyFor(rotated, 1), k1)).toBe(true);
  });
});
