// The keyring's write guard: a patient device seals writes to its own streams only under an epoch whose key
// shuts out every grant it knows to have ended, and never goes below the highest epoch it held. And its
// full refresh: an account following many streams asks for their envelopes in answers that fit a frame.
import { describe, expect, it } from 'vitest';
import { deriveInitialStreamKey, generateDeviceKeys, generateRootSecret, keyId } from '@hale/crypto';
import { STREAM_TYPES } from '@hale/model';
import { KeyEnvelope, MAX_FRAME_BYTES, validate, type KeyEnvelope as Envelope } from '@hale/protocol';
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
import {
  ENVELOPE_MAX_BYTES,
  ENVELOPE_STREAMS_PER_REQUEST,
  ENVELOPES_PER_REQUEST,
  sliceStreams,
  type WriteGuard,
} from './keyring';
import { SyncError } from './connection';

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

  it("checks a grantee's writes to a patient's stream only against the highest epoch it held", async () => {
    const k0 = deriveInitialStreamKey(patientRoot, stream);
    const k1 = generateRootSecret();
    const e0 = await signedEnvelope(stream, 0, k0, provider);
    const e1 = await signedEnvelope(stream, 1, k1, provider);
    const floor: Record<string, number> = {};
    // Not against ended grants: a grantee cannot derive rotation keys.
    const first = keyringFor(provider, providerRoot, providerDevice, [e0]);
    first.useWriteGuard(guard([REVOKED], floor));
    expect((await first.writeKey(stream))?.epoch).toBe(0);

    const held = keyringFor(provider, providerRoot, providerDevice, [e0, e1]);
    held.useWriteGuard(guard([REVOKED], floor));
    await held.refresh();
    expect((await held.writeKey(stream))?.epoch).toBe(1);
    await held.floorsSaved();
    expect(floor).toEqual({ [stream]: 1 });

    // Restarted against a server that reports epoch 0 and withholds epoch 1's envelope.
    const again = keyringFor(provider, providerRoot, providerDevice, [e0]);
    again.useWriteGuard(guard([REVOKED], floor));
    again.noteServerEpoch(stream, 0);
    expect(await again.writeKey(stream)).toBeNull();
    expect(again.currentEpoch(stream)).toBe(1);
  });
});

describe('keyring: own epochs signed by a device revoked since', () => {
  const lost = generateDeviceKeys();
  const OTHER = '01JGRANTOTHER0000000000000';

  /** The key a patient device minted for epoch `epoch` shutting out `ended` (as `claimEpoch` derives it). */
  const minted = async (epoch: number, ended: string[]): Promise<Uint8Array> => {
    const server = fakeServer();
    const ring = keyringFor(patient, patientRoot, patientDevice, [], server.deps);
    for (let e = 1; e < epoch; e++) await ring.claimEpoch(stream, ['01JGRANTFILLER000000000000']);
    await ring.claimEpoch(stream, ended);
    return (await ring.keyFor(stream, epoch))!;
  };
  const reading = (envelope: Envelope, ended: string[] | null) => {
    const rejected: string[] = [];
    const ring = keyringFor(patient, patientRoot, patientDevice, [envelope], {
      onRejectedEnvelope: (_e, reason) => rejected.push(reason),
    });
    if (ended) ring.useWriteGuard(guard(ended));
    return { ring, rejected };
  };

  it('takes the key it derives itself for the envelope key id, whoever signed it', async () => {
    const key = await minted(1, [REVOKED]);
    const { ring } = reading(await signedEnvelope(stream, 1, key, patient, lost), [REVOKED]);
    expect(keyId((await ring.keyFor(stream, 1))!)).toBe(keyId(key));
  });

  it('derives an older epoch for a subset of the grants ended since', async () => {
    const key = await minted(1, [REVOKED]);
    const { ring } = reading(await signedEnvelope(stream, 1, key, patient, lost), [REVOKED, OTHER]);
    expect(keyId((await ring.keyFor(stream, 1))!)).toBe(keyId(key));
  });

  it('refuses a key it cannot derive, and derives nothing without the write guard', async () => {
    const planted = reading(await signedEnvelope(stream, 1, generateRootSecret(), patient, lost), [REVOKED]);
    expect(await planted.ring.keyFor(stream, 1)).toBeNull();
    expect(planted.rejected).toEqual(["not signed by a device of the stream's patient known here (yet)"]);
    const key = await minted(1, [REVOKED]);
    const unguarded = reading(await signedEnvelope(stream, 1, key, patient, lost), null);
    expect(await unguarded.ring.keyFor(stream, 1)).toBeNull();
  });

  it('reads the candidates once per stream and fetch, and tries no miss again until the grants change', async () => {
    // Random keys (an older build's epochs): they never derive, whichever ids are tried.
    const envs = [
      await signedEnvelope(stream, 1, generateRootSecret(), patient, lost),
      await signedEnvelope(stream, 2, generateRootSecret(), patient, lost),
    ];
    const calls = { n: 0 };
    let now = 0;
    const ring = keyringFor(patient, patientRoot, patientDevice, envs);
    ring.useWriteGuard({
      ...guard([REVOKED, OTHER]),
      now: () => now,
      candidates: async () => {
        calls.n++;
        return { sets: [[REVOKED, OTHER]], validUntil: 100 };
      },
    });
    await ring.refresh();
    expect(calls.n).toBe(1);
    await ring.refresh();
    await ring.refresh();
    expect(calls.n).toBe(1);
    expect(await ring.keyFor(stream, 2)).toBeNull();
    ring.invalidateWriteChecks();
    await ring.refresh();
    expect(calls.n).toBe(2);
    await ring.refresh();
    expect(calls.n).toBe(2);
    // An active grant expired: the candidates' answer no longer holds.
    now = 100;
    await ring.refresh();
    expect(calls.n).toBe(3);
  });

  it("takes a grantee's envelope from a device it does not know as before: not at all", async () => {
    const k0 = deriveInitialStreamKey(patientRoot, stream);
    const ring = keyringFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(stream, 0, k0, provider, lost),
    ]);
    ring.useWriteGuard(guard([]));
    expect(await ring.keyFor(stream, 0)).toBeNull();
  });
});

describe('keyring keys at lock and close', () => {
  it('drops them at `drop` (still whole for work under way) and zeroes every one at `wipe`', async () => {
    const k0 = deriveInitialStreamKey(patientRoot, stream);
    const ring = keyringFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(stream, 0, k0, provider),
    ]);
    const held = (await ring.keyFor(stream, 0))!;
    const tag = (await ring.tagKey(stream, 0))!;
    const bytes = held.slice();
    ring.drop();
    expect(held).toEqual(bytes);
    const again = (await ring.keyFor(stream, 0))!;
    expect(again).not.toBe(held);
    ring.wipe();
    expect([held, tag, again].map((k) => k.every((b) => b === 0))).toEqual([true, true, true]);
    expect(bytes.every((b) => b === 0)).toBe(false);
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

describe('keyring full refresh of an account following many streams', () => {
  const real = `${patient.accountId}/allergy`;
  const realKey = deriveInitialStreamKey(patientRoot, real);
  /** `n` streams of other patients (unknown here: their envelopes are not taken, only counted), in order. */
  let nextPatient = 0;
  const otherStreams = (n: number): string[] =>
    Array.from({ length: n }, () => `${String(nextPatient++).padStart(22, '0')}/allergy`);
  const envelopesOf = (template: Envelope, stream: string, epochs: number): Envelope[] =>
    Array.from({ length: epochs }, (_, epoch) => ({
      ...template,
      stream: stream as Envelope['stream'],
      epoch,
    }));

  /**
   * A server that refuses, as the device's decoder does for a frame too large, any answer of more than
   * `maxAnswer` envelopes; records every request.
   */
  const sizedServer = async (streams: Record<string, number>, maxAnswer: number) => {
    const template = await signedEnvelope(real, 0, realKey, provider);
    const byStream = new Map<string, Envelope[]>([[real, [template]]]);
    for (const [stream, epochs] of Object.entries(streams))
      byStream.set(stream, envelopesOf(template, stream, epochs));
    const requests: Array<{ streams: string[] | undefined; answered: boolean }> = [];
    let fail: ((streams: string[] | undefined) => Error | null) | null = null;
    return {
      requests,
      failWith(next: (streams: string[] | undefined) => Error | null) {
        fail = next;
      },
      fetchEnvelopes: async (asked?: string[]): Promise<Envelope[]> => {
        const answer =
          asked === undefined ? [...byStream.values()].flat() : asked.flatMap((s) => byStream.get(s) ?? []);
        const error =
          fail?.(asked) ??
          (answer.length > maxAnswer
            ? new SyncError('BAD_MESSAGE', `invalid reply from server: frame exceeds MAX_FRAME_BYTES`, false)
            : null);
        requests.push({ streams: asked, answered: error === null });
        if (error) throw error;
        return answer;
      },
    };
  };
  const named = (requests: ReadonlyArray<{ streams: string[] | undefined; answered: boolean }>) =>
    requests.filter((r) => r.answered).flatMap((r) => r.streams ?? []);

  it('cuts slices at a number of streams and at an expected number of envelopes', () => {
    const small = otherStreams(ENVELOPE_STREAMS_PER_REQUEST * 2 + 1).map((stream) => ({
      stream,
      envelopes: 2,
    }));
    expect(sliceStreams(small).map((s) => s.length)).toEqual([
      ENVELOPE_STREAMS_PER_REQUEST,
      ENVELOPE_STREAMS_PER_REQUEST,
      1,
    ]);
    // Streams of many epochs: as many per slice as the envelope budget allows; one above it goes alone.
    const epochs = Math.floor(ENVELOPES_PER_REQUEST / 4);
    const many = otherStreams(9).map((stream) => ({ stream, envelopes: epochs }));
    const huge = { stream: otherStreams(1)[0]!, envelopes: ENVELOPES_PER_REQUEST * 3 };
    expect(sliceStreams([...many.slice(0, 5), huge, ...many.slice(5)]).map((s) => s.length)).toEqual([
      4, 1, 1, 4,
    ]);
    for (const slice of sliceStreams([...small, ...many, huge])) {
      expect(slice.length).toBeLessThanOrEqual(ENVELOPE_STREAMS_PER_REQUEST);
    }
  });

  it('plans for the largest envelope the schema allows within half a frame', () => {
    const longestType = [...STREAM_TYPES].sort((a, b) => b.length - a.length)[0]!;
    const id = 'A'.repeat(22);
    const widest = {
      stream: `${id}/${longestType}`,
      epoch: Number.MAX_SAFE_INTEGER,
      recipient: id,
      keyId: 'A'.repeat(KeyEnvelope.properties.keyId.maxLength ?? 0),
      wrapped: 'A'.repeat(KeyEnvelope.properties.wrapped.maxLength ?? 0),
      createdBy: id,
      sig: 'A'.repeat(86),
    };
    expect(validate(KeyEnvelope, widest).ok).toBe(true);
    expect(JSON.stringify(widest).length + 1).toBeLessThanOrEqual(ENVELOPE_MAX_BYTES);
    expect(ENVELOPES_PER_REQUEST * ENVELOPE_MAX_BYTES).toBeLessThan(MAX_FRAME_BYTES / 2);
  });

  it('asks for the envelopes of the streams the server listed in slices, never all at once', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST * 2 + 200);
    const server = await sizedServer(
      Object.fromEntries(others.map((s) => [s, 2])),
      ENVELOPE_STREAMS_PER_REQUEST * 3,
    );
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    for (const s of [real, ...others]) ring.noteServerEpoch(s, s === real ? 0 : 1);
    expect(await ring.refresh()).toBe(1);
    expect(server.requests.every((r) => r.answered && r.streams !== undefined)).toBe(true);
    expect(server.requests).toHaveLength(Math.ceil((others.length + 1) / ENVELOPE_STREAMS_PER_REQUEST));
    expect(named(server.requests).sort()).toEqual([real, ...others].sort());
    // The key came with its slice: none is fetched on demand.
    expect(keyId((await ring.keyFor(real, 0))!)).toBe(keyId(realKey));
    expect(server.requests).toHaveLength(Math.ceil((others.length + 1) / ENVELOPE_STREAMS_PER_REQUEST));
  });

  it('keys of one stream asked for at once share one request; a miss after it asks again', async () => {
    const server = await sizedServer({}, 10);
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    const [a, b, c] = await Promise.all([ring.keyFor(real, 0), ring.keyFor(real, 0), ring.keyFor(real, 0)]);
    expect([a, b, c].map((k) => keyId(k!))).toEqual([keyId(realKey), keyId(realKey), keyId(realKey)]);
    expect(server.requests).toEqual([{ streams: [real], answered: true }]);
    // An epoch the answer did not bring: the joined caller asks once more, then says there is none.
    const [one, two] = await Promise.all([ring.keyFor(real, 3), ring.keyFor(real, 3)]);
    expect([one, two]).toEqual([null, null]);
    expect(server.requests.length).toBeLessThanOrEqual(3);
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('asks for every envelope in one request when the streams fit one slice (a patient)', async () => {
    const server = await sizedServer({}, 10);
    const own = STREAM_TYPES.map((type) => `${provider.accountId}/${type}`);
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    for (const s of [real, ...own]) ring.noteServerEpoch(s, 0);
    expect(await ring.refresh()).toBe(1);
    expect(server.requests).toEqual([{ streams: undefined, answered: true }]);
  });

  it('asks for the list first when it has none, and shares one run between callers', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST + 10);
    const server = await sizedServer(
      Object.fromEntries(others.map((s) => [s, 1])),
      ENVELOPE_STREAMS_PER_REQUEST,
    );
    let listed = 0;
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
      listStreams: async () => {
        listed++;
        return [real, ...others].map((stream) => ({ stream, epoch: 0 }));
      },
    });
    // The engine's connect and the consent check at once.
    expect(await Promise.all([ring.refresh(), ring.refresh()])).toEqual([1, 1]);
    expect(listed).toBe(1);
    expect(server.requests.map((r) => r.streams?.length)).toEqual([ENVELOPE_STREAMS_PER_REQUEST, 11]);
    expect(server.requests.every((r) => r.answered)).toBe(true);
  });

  it('asks for halves of a slice whose answer is refused as too large, down to single streams', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST + 100);
    // One stream holds more envelopes than its reported epoch says (rotated since the list).
    const heavy = others[7]!;
    const max = ENVELOPE_STREAMS_PER_REQUEST * 2;
    const server = await sizedServer(
      { ...Object.fromEntries(others.map((s) => [s, 1])), [heavy]: max - ENVELOPE_STREAMS_PER_REQUEST / 4 },
      max,
    );
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    for (const s of [real, ...others]) ring.noteServerEpoch(s, 0);
    expect(await ring.refresh()).toBe(1);
    const refused = server.requests.filter((r) => !r.answered);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.streams?.includes(heavy))).toBe(true);
    // Every stream was answered exactly once.
    expect(named(server.requests).sort()).toEqual([real, ...others].sort());
    expect(server.requests.length).toBeLessThanOrEqual(2 * (others.length + 1) - 1);
  });

  it('takes every other stream before failing for a single stream whose answer never fits', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST + 100);
    const heavy = others[3]!;
    const max = ENVELOPE_STREAMS_PER_REQUEST;
    const server = await sizedServer(
      { ...Object.fromEntries(others.map((s) => [s, 1])), [heavy]: max + 1 },
      max,
    );
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    for (const s of [real, ...others]) ring.noteServerEpoch(s, 0);
    await expect(ring.refresh()).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    expect(server.requests.filter((r) => r.streams?.length === 1 && r.streams[0] === heavy)).toEqual([
      { streams: [heavy], answered: false },
    ]);
    expect(named(server.requests).sort()).toEqual([real, ...others.filter((s) => s !== heavy)].sort());
    const asked = server.requests.length;
    expect(await ring.keyFor(real, 0)).not.toBeNull();
    expect(server.requests).toHaveLength(asked);
  });

  it('fails at once, splitting nothing, for an error that is not about the answer', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST * 3);
    const server = await sizedServer(Object.fromEntries(others.map((s) => [s, 1])), Infinity);
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: server.fetchEnvelopes,
    });
    for (const s of others) ring.noteServerEpoch(s, 0);
    server.failWith(() =>
      server.requests.length === 1 ? new SyncError('NETWORK', 'socket closed', true) : null,
    );
    await expect(ring.refresh()).rejects.toMatchObject({ code: 'NETWORK' });
    expect(server.requests.map((r) => r.answered)).toEqual([true, false]);
  });

  it('also asks for streams noted while it runs, and lists again when one answer for all is refused', async () => {
    const others = otherStreams(ENVELOPE_STREAMS_PER_REQUEST + 20);
    const later = otherStreams(30);
    const server = await sizedServer(
      Object.fromEntries([...others, ...later].map((s) => [s, 1])),
      ENVELOPE_STREAMS_PER_REQUEST,
    );
    let listed = 0;
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: async (streams) => {
        // The engine's list comes in meanwhile with streams granted while this device was away.
        if (server.requests.length === 2) for (const s of later) ring.noteServerEpoch(s, 0);
        return server.fetchEnvelopes(streams);
      },
      listStreams: async () => {
        listed++;
        return [real, ...others].map((stream) => ({ stream, epoch: 0 }));
      },
    });
    // Known before: a few streams, which fit one slice; the server holds many more now.
    ring.noteServerEpoch(real, 0);
    expect(await ring.refresh()).toBe(1);
    expect(listed).toBe(1);
    expect(server.requests[0]).toEqual({ streams: undefined, answered: false });
    expect(server.requests.slice(1).every((r) => r.answered && r.streams !== undefined)).toBe(true);
    expect(named(server.requests).sort()).toEqual([real, ...others, ...later].sort());
  });
});

describe("keyring: its patients' device lists loaded ahead of the envelope checks", () => {
  /** Streams of three other patients at a high epoch (so a refresh asks in slices), each patient's own key. */
  const setup = async (options: { forgeFirst?: boolean } = {}) => {
    const patients = ['1', '2', '3'].map((n) => n.padStart(22, 'P'));
    const streams = patients.map((p) => `${p}/allergy`);
    const keys = streams.map((s) => deriveInitialStreamKey(patientRoot, s));
    const EPOCH = Math.ceil(ENVELOPES_PER_REQUEST / 2);
    const served = await Promise.all(streams.map((s, i) => signedEnvelope(s, EPOCH, keys[i]!, provider)));
    // The first stream's envelope under another envelope's signature: refused for good.
    const otherSig = served[1]!.sig;
    if (options.forgeFirst && otherSig !== undefined) served[0] = { ...served[0]!, sig: otherSig };
    const log: Array<{ preload: string[] } | { fetch: string[] | undefined } | { deviceKey: string }> = [];
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      fetchEnvelopes: async (asked) => {
        log.push({ fetch: asked });
        return served.filter((e) => asked === undefined || asked.includes(e.stream));
      },
      preloadDeviceLists: async (ids) => {
        log.push({ preload: ids });
      },
      // Every one of these patients signs with the fixture's patient device.
      deviceKey: async (accountId) => {
        log.push({ deviceKey: accountId });
        return patients.includes(accountId) ? patientDevice.publicKey : null;
      },
    });
    for (const s of streams) ring.noteServerEpoch(s, EPOCH);
    // Its own stream at epoch 0: the key is derived, no envelope is checked for it.
    ring.noteServerEpoch(`${provider.accountId}/allergy`, 0);
    return { patients, streams, keys, EPOCH, ring, log };
  };

  it('asks for the lists of every patient lacking a current key before the first slice, then of each answer', async () => {
    const { patients, streams, keys, EPOCH, ring, log } = await setup();
    expect(await ring.refresh()).toBe(3);
    expect(log.filter((e) => 'fetch' in e).length).toBeGreaterThan(1);
    // The first thing asked: every patient at once (not its own account), before any envelope was fetched.
    expect(log[0]).toEqual({ preload: [...patients].sort() });
    // Each answer's signers are asked for as soon as it came, before any of them is looked up.
    log.forEach((e, i) => {
      if (!('fetch' in e)) return;
      const signers = (e.fetch ?? streams).filter((s) => streams.includes(s)).map((s) => s.split('/')[0]);
      expect(log[i + 1]).toEqual({ preload: signers });
    });
    for (const [i, s] of streams.entries())
      expect(keyId((await ring.keyFor(s, EPOCH))!)).toBe(keyId(keys[i]!));
  });

  it('asks for no list again when every current key is held or was refused for good (a reconnect)', async () => {
    for (const forgeFirst of [false, true]) {
      const { ring, log } = await setup({ forgeFirst });
      expect(await ring.refresh()).toBe(forgeFirst ? 2 : 3);
      log.length = 0;
      expect(await ring.refresh()).toBe(0);
      expect(log.filter((e) => 'preload' in e || 'deviceKey' in e)).toEqual([]);
    }
  });

  it('checks every envelope itself: a failed preload changes no answer', async () => {
    const { streams, EPOCH, log } = await setup();
    const served = await signedEnvelope(
      streams[0]!,
      EPOCH,
      deriveInitialStreamKey(patientRoot, streams[0]!),
      provider,
    );
    const ring = keyringFor(provider, providerRoot, providerDevice, [served], {
      preloadDeviceLists: async () => {
        throw new Error('network down');
      },
      deviceKey: async (accountId) => {
        log.push({ deviceKey: accountId });
        return patientDevice.publicKey;
      },
    });
    expect(await ring.refresh()).toBe(1);
    expect(log).toContainEqual({ deviceKey: streams[0]!.split('/')[0]! });
  });
});

describe('keyring: a stream granted while a sliced refresh runs', () => {
  const others = Array.from(
    { length: ENVELOPE_STREAMS_PER_REQUEST + 5 },
    (_, i) => `${String(i).padStart(22, 'Q')}/allergy`,
  );
  const granted = `${patient.accountId}/allergy`;
  const grantedKey = deriveInitialStreamKey(patientRoot, granted);

  /** A provider keyring planning from a list without `granted`; `onFetch` runs as each request is asked. */
  const ringWith = async (onFetch: (asked: string[] | undefined, n: number) => void) => {
    const envelope = await signedEnvelope(granted, 0, grantedKey, provider);
    const asked: Array<string[] | undefined> = [];
    const ring = keyringFor(provider, providerRoot, providerDevice, [], {
      listStreams: async () => others.map((stream) => ({ stream, epoch: 0 })),
      fetchEnvelopes: async (streams) => {
        asked.push(streams);
        onFetch(streams, asked.length);
        return streams === undefined || streams.includes(granted) ? [envelope] : [];
      },
    });
    return { ring, asked };
  };

  it('takes its key in the refresh when the grant is noted after the list, while slices are asked', async () => {
    let ring: Awaited<ReturnType<typeof ringWith>>['ring'] | null = null;
    const made = await ringWith((_, n) => {
      // The engine's accessChanged for the new grant, noted while the first slice is being answered.
      if (n === 1) ring?.noteServerEpoch(granted, 0);
    });
    ring = made.ring;
    expect(await ring.refresh()).toBe(1);
    expect(made.asked.filter((s) => s?.includes(granted))).toHaveLength(1);
    const requests = made.asked.length;
    // Held: its first record needs no request of its own.
    expect(keyId((await ring.keyFor(granted, 0))!)).toBe(keyId(grantedKey));
    expect(made.asked).toHaveLength(requests);
  });

  it('noted only after the refresh ended, its key comes with the first use, in one request', async () => {
    const { ring, asked } = await ringWith(() => undefined);
    expect(await ring.refresh()).toBe(0);
    ring.noteServerEpoch(granted, 0);
    const before = asked.length;
    expect(keyId((await ring.keyFor(granted, 0))!)).toBe(keyId(grantedKey));
    expect(asked.slice(before)).toEqual([[granted]]);
  });
});

describe('keyring: heldKeyWithId', () => {
  it('finds an own stream’s epoch-0 key and a claimed epoch by key id, and asks the server for nothing', async () => {
    const server = fakeServer();
    let fetches = 0;
    const ring = keyringFor(patient, patientRoot, patientDevice, [], {
      ...server.deps,
      fetchEnvelopes: async () => {
        fetches++;
        return server.deps.fetchEnvelopes();
      },
    });
    await ring.claimEpoch(stream, [REVOKED]);
    const claimed = (await ring.keyFor(stream, 1))!;
    const before = fetches;
    const zero = deriveInitialStreamKey(patientRoot, stream);
    expect(ring.heldKeyWithId(stream, keyId(zero))).toEqual({ epoch: 0, key: zero });
    expect(ring.heldKeyWithId(stream, keyId(claimed))).toEqual({ epoch: 1, key: claimed });
    expect(ring.heldKeyWithId(stream, keyId(generateRootSecret()))).toBeNull();
    expect(fetches).toBe(before);
  });

  it('holds nothing of a stream it has no envelope of, and nothing once the session is not usable', () => {
    const ring = keyringFor(provider, providerRoot, providerDevice);
    expect(ring.heldKeyWithId(stream, keyId(deriveInitialStreamKey(patientRoot, stream)))).toBeNull();
    const state = { usable: true };
    const own = keyringFor(patient, patientRoot, patientDevice, [], { usable: () => state.usable });
    const zero = deriveInitialStreamKey(patientRoot, stream);
    expect(own.heldKeyWithId(stream, keyId(zero))).not.toBeNull();
    state.usable = false;
    expect(own.heldKeyWithId(stream, keyId(zero))).toBeNull();
  });
});
