// The keyring's write guard: a patient device seals writes to its own streams only under an epoch whose key
// shuts out every grant it knows to have ended, and never goes below the highest epoch it held.
import { describe, expect, it } from 'vitest';
import { deriveInitialStreamKey, keyId } from '@hale/crypto';
import type { KeyEnvelope as Envelope } from '@hale/protocol';
import {
  keyringFor,
  patient,
  patientDevice,
  patientRoot,
  provider,
  providerDevice,
  providerRoot,
  signedEnvelope,
} from './codec-fixture.test-util';
import type { WriteGuard } from './keyring';

const REVOKED = '01JGRANTREVOKED00000000000';
const stream = `${patient.accountId}/allergy`;

/** A server that keeps the first envelope per (stream, epoch, recipient) and can withhold what it gets. */
const fakeServer = () => {
  const stored: Envelope[] = [];
  let withhold = false;
  return {
    stored,
    withhold(on: boolean) {
      withhold = on;
    },
    deps: {
      publishEnvelopes: async (envs: Envelope[]) => {
        if (withhold) return;
        for (const e of envs) {
          if (
            !stored.some((s) => s.stream === e.stream && s.epoch === e.epoch && s.recipient === e.recipient)
          )
            stored.push(e);
        }
      },
      fetchEnvelopes: async () => (withhold ? [] : [...stored]),
    },
  };
};

const guard = (ended: string[], floor: Record<string, number> = {}, calls = { n: 0 }): WriteGuard => ({
  now: () => 0,
  candidates: async () => {
    calls.n++;
    return { sets: ended.length === 0 ? [[]] : [ended], validUntil: Infinity };
  },
  floor: {
    load: async () => ({ ...floor }),
    save: async (s, e) => {
      floor[s] = Math.max(floor[s] ?? 0, e);
    },
  },
});

describe('keyring write guard', () => {
  it('a fresh patient device with no ended grant writes at epoch 0 at once', async () => {
    const ring = keyringFor(patient, patientRoot, patientDevice);
    ring.useWriteGuard(guard([]));
    const write = await ring.writeKey(stream);
    expect(write?.epoch).toBe(0);
  });

  it('refuses the revoked epoch when the server withholds the rotation (the review repro)', async () => {
    const server = fakeServer();
    server.withhold(true);
    const ring = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    ring.useWriteGuard(guard([REVOKED]));
    ring.noteServerEpoch(stream, 0);
    await expect(ring.claimEpoch(stream, [REVOKED])).rejects.toMatchObject({ code: 'CLAIM_UNCONFIRMED' });
    expect(await ring.writeKey(stream)).toBeNull();
  });

  it('writes under the new epoch once the rotation is confirmed', async () => {
    const server = fakeServer();
    const ring = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    ring.useWriteGuard(guard([REVOKED]));
    expect(await ring.writeKey(stream)).toBeNull();
    expect(await ring.claimEpoch(stream, [REVOKED])).toEqual({ epoch: 1, won: true });
    const write = await ring.writeKey(stream);
    expect(write?.epoch).toBe(1);
    expect(keyId(write!.key)).not.toBe(keyId(deriveInitialStreamKey(patientRoot, stream)));
  });

  it('refuses an epoch minted for fewer ended grants than this device knows', async () => {
    const server = fakeServer();
    const ring = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    const calls = { n: 0 };
    const ended = [REVOKED];
    const g = guard(ended, {}, calls);
    ring.useWriteGuard(g);
    await ring.claimEpoch(stream, [REVOKED]);
    expect((await ring.writeKey(stream))?.epoch).toBe(1);
    expect((await ring.writeKey(stream))?.epoch).toBe(1);
    expect(calls.n).toBe(1); // cached per stream
    ended.push('01JGRANTEXPIRED00000000000');
    ring.invalidateWriteChecks();
    expect(await ring.writeKey(stream)).toBeNull();
  });

  it('after a restart, never goes below the highest epoch held, even if the server reports a lower one', async () => {
    const server = fakeServer();
    const floor: Record<string, number> = {};
    const first = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    first.useWriteGuard(guard([], floor));
    await first.claimEpoch(stream, [REVOKED]);
    await new Promise((r) => setTimeout(r, 0));
    expect(floor[stream]).toBe(1);

    // The server drops epoch 1; the device restarts with no grant ended as far as it knows.
    server.stored.length = 0;
    const again = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    again.useWriteGuard(guard([], floor));
    again.noteServerEpoch(stream, 0);
    expect(await again.writeKey(stream)).toBeNull();
    expect(again.currentEpoch(stream)).toBe(1);
  });

  it("does not check a grantee's writes to a patient's stream", async () => {
    const k1 = deriveInitialStreamKey(patientRoot, stream);
    const ring = keyringFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(stream, 0, k1, provider),
    ]);
    ring.useWriteGuard(guard([REVOKED]));
    expect((await ring.writeKey(stream))?.epoch).toBe(0);
  });
});

describe('keyring once the keys may not be used (account locked, session closed)', () => {
  const own = `${patient.accountId}/medication`;

  it('answers no key (and says why) instead of deriving, and fetches no envelope', async () => {
    let usable = true;
    let told = 0;
    let fetched = 0;
    const ring = keyringFor(patient, patientRoot, patientDevice, [], {
      usable: () => usable,
      onUnusable: () => told++,
      fetchEnvelopes: async () => {
        fetched++;
        return [];
      },
    });
    // Derived (and cached) while usable: dropped at the lock, not handed out afterwards.
    expect((await ring.writeKey(stream))?.epoch).toBe(0);
    usable = false;
    expect({
      cached: await ring.writeKey(stream),
      fresh: await ring.writeKey(own),
      keyFor: await ring.keyFor(own, 0),
      tagKey: await ring.tagKey(own, 0),
      refreshed: await ring.refresh(),
      fetched,
    }).toEqual({ cached: null, fresh: null, keyFor: null, tagKey: null, refreshed: 0, fetched: 0 });
    expect(told).toBeGreaterThan(0);
  });

  it('refuses grants and rotations with LOCKED, publishing nothing', async () => {
    const server = fakeServer();
    const ring = keyringFor(patient, patientRoot, patientDevice, [], { ...server.deps, usable: () => false });
    const recipient = { accountId: provider.accountId, wrappingPublicKey: provider.wrapping.publicKey };
    const refusals = await Promise.all(
      [
        ring.envelopesFor(stream, recipient),
        ring.matchRotation(stream, [[REVOKED]]),
        ring.claimEpoch(stream, [REVOKED]),
        ring.wrapEpoch(stream, 0, [recipient]),
      ].map((p) =>
        p.then(
          () => 'done',
          (e: unknown) => (e as { code?: string }).code,
        ),
      ),
    );
    expect(refusals).toEqual(['LOCKED', 'LOCKED', 'LOCKED', 'LOCKED']);
    expect(server.stored).toEqual([]);
  });

  it('never derives from an all-zero root or signs with an all-zero device key (what lock() leaves)', async () => {
    const zeroRoot = keyringFor(patient, new Uint8Array(32), patientDevice);
    expect(await zeroRoot.keyFor(own, 0)).toBeNull();
    expect(await zeroRoot.writeKey(own)).toBeNull();

    const server = fakeServer();
    const zeroDevice = { ...patientDevice, secretKey: new Uint8Array(64) };
    const ring = keyringFor(patient, patientRoot, zeroDevice, [], server.deps);
    await expect(ring.claimEpoch(stream, [REVOKED])).rejects.toMatchObject({ code: 'LOCKED' });
    expect(server.stored).toEqual([]);
  });

  it('does not count an envelope it could not open for a zeroed wrapping key as refused', async () => {
    const k1 = deriveInitialStreamKey(patientRoot, stream);
    const envelope = await signedEnvelope(stream, 0, k1, provider);
    const rejected: string[] = [];
    const wrapping = { ...provider.wrapping, secretKey: provider.wrapping.secretKey.slice() };
    const keys = { ...provider, wrapping };
    const ring = keyringFor(keys, providerRoot, providerDevice, [envelope], {
      onRejectedEnvelope: (_e, reason) => rejected.push(reason),
    });
    wrapping.secretKey.fill(0);
    expect(await ring.keyFor(stream, 0)).toBeNull();
    expect(rejected).toEqual([]);
  });
});
